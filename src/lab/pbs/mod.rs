//! Probabilistically Bounded Staleness: how eventual is eventual
//! consistency, measured on a cluster and predicted by the WARS model.
//!
//! # The question
//!
//! With partial quorums — `R + W ≤ N`, say R = W = 1 of N = 3 — a read's
//! replicas need not overlap the write's, so a read started just after a
//! write was acknowledged may miss it. "Eventually consistent" promises only
//! that it will not miss it *forever*. Bailis, Venkataraman, Franklin,
//! Hellerstein and Stoica, *Probabilistically Bounded Staleness for
//! Practical Partial Quorums* (VLDB 2012), ask for a number instead: the
//! **t-visibility** `P(consistent | t)`, the probability that a read started
//! `t` after a write commits returns that write (or a newer one). They
//! predict it with the **WARS** model, named after the four message delays
//! that decide a race between a write and a read:
//!
//! - **W**: the write travelling from the coordinator to a replica;
//! - **A**: the replica's acknowledgement travelling back;
//! - **R**: the read request travelling to a replica;
//! - **S**: the replica's response travelling back.
//!
//! The write commits when W acknowledgements are back; the read starts `t`
//! later and returns the newest of R answers. Replica `j` answers with the
//! write if the write reached it before the read request did:
//! `w_j ≤ commit + t + r_j`. Drawing the delays from distributions and
//! counting fresh reads over many simulated trials gives the curve; the
//! paper did this with delays fitted to LinkedIn's and Yammer's production
//! latencies and checked it against Cassandra. This module does the same
//! against replikv: [`WarsModel`] (in [`wars`]) predicts, a real cluster
//! measures, and a [`StalenessCurve`] puts the measurement beside **two**
//! predictions.
//!
//! ```
//! use replikv::lab::pbs::StalenessExperiment;
//! use std::time::Duration;
//! let experiment = StalenessExperiment {
//!     times: vec![Duration::ZERO, Duration::from_millis(4)],
//!     trials_per_t: 20,
//!     ..StalenessExperiment::default()
//! };
//! let curve = experiment.run()?;
//! for point in &curve.points {
//!     assert!((0.0..=1.0).contains(&point.measured));
//!     assert!((0.0..=1.0).contains(&point.predicted)); // this system's model
//!     assert!((0.0..=1.0).contains(&point.paper)); // the paper's model
//! }
//! println!("{curve}");
//! # Ok::<(), replikv::Error>(())
//! ```
//!
//! # Two models: which number belongs to which system
//!
//! The same WARS recipe gives very different numbers for two legitimate
//! systems, so every prediction here says which one it models
//! ([`WarsVariant`]):
//!
//! - **The paper's model** ([`WarsVariant::Paper`], [`WarsModel::paper`],
//!   the `paper %` column): the coordinator holds no copy of the key, sends
//!   the write to all N replicas and the read to all N, and uses the first
//!   R read answers — Dynamo's and Cassandra's reads.
//! - **The system's model** ([`WarsVariant::System`],
//!   [`StalenessExperiment::system_model`], the `system %` column): the
//!   cluster as configured. replikv's default is not the paper's setting:
//!   the client picks one of the key's replicas as coordinator
//!   ([`CoordinatorPolicy`]), which stores the write at once — no W, no A:
//!   its own acknowledgement counts — and a read asks exactly R replicas,
//!   the coordinator's own copy first ([`ReadStrategy::AskR`]).
//!
//! For N = 3, R = W = 1 and exponential 1 ms delays the two differ by 42
//! points at `t` = 0: replikv's default reads are fresh 33 % of the time
//! (only when the read lands on the write's coordinator), the paper's 75 %
//! (three replicas race to answer, and the one the write reached first
//! tends to answer first). Both are measured on the simulator and match
//! their own model to within a point (`tests/pbs_simulated.rs`).
//!
//! The paper's setting runs as it is: one node more than N, a coordinator
//! outside the key's replicas ([`CoordinatorPolicy::NonReplica`]) and reads
//! to all N ([`ReadStrategy::AskAll`]); then the two models coincide.
//! `replikv staleness --coordinator non-replica --read-strategy all
//! --model paper` does that from the command line; `--model` chooses which
//! prediction the `--tolerance` verdict compares with, and both are always
//! printed.
//!
//! # What the system's model includes
//!
//! - **Who coordinates.** With [`CoordinatorPolicy::Random`] (what
//!   [`StalenessExperiment`] uses by default) the write's and the read's
//!   coordinators are independent uniform picks among the key's replicas,
//!   equal with probability 1/N. [`Coordinators`] also models `First`
//!   (always the same node: every read is fresh), `RoundRobin`, and
//!   `NonReplica` (the paper's external coordinator).
//! - **Which replicas a read asks** ([`ReadFanout`], from the protocol's
//!   [`ReadStrategy`]): exactly R — the coordinator itself at no cost, then
//!   the next ones in preference-list order — which makes **S irrelevant**
//!   to freshness (the answers used do not depend on who answers first), or
//!   all N, first R answers.
//! - **The four delays by message kind.** The eventual protocol labels its
//!   messages ([`crate::protocol::Protocol::message_kind`]: `Store` is W,
//!   `StoreAck` A, `Read` R, `ReadReply` S), the network gives each kind its
//!   own distribution ([`crate::network::Network::set_kind_latency`]), and
//!   [`StalenessExperiment::kind_latencies`] sets them, mixtures included
//!   ([`crate::network::Latency::Mixture`]), for the measurement and both
//!   models alike.
//! - **The client hops are not in the model, and not in the measurement.**
//!   [`StalenessExperiment`] puts its latency on node-to-node messages only;
//!   client links are instant ([`crate::network::Network::set_client_latency`]).
//!   `t` is measured from the moment `put` returns to the client, on the
//!   cluster's clock, to the moment `get` is called.
//!
//! # The paper's production table
//!
//! [`production`] holds the paper's LinkedIn and Yammer latency fits and
//! its published t-visibility, each with the source it was copied from;
//! [`reproduce`] ([`PbsReproduction`], `replikv staleness --reproduce-pbs`)
//! measures, on the simulator in the paper's setting, the `t` at which
//! 99.9 % of reads are fresh for N = 3 and (R, W) ∈ {(1, 1), (2, 1),
//! (1, 2)}, beside the WARS prediction and the published value.
//!
//! # Threads or simulator
//!
//! [`StalenessExperiment::runtime`] chooses the driver of the measured
//! cluster. On the **simulator** ([`crate::Runtime::Simulated`]) every
//! message takes exactly the delay it drew and nothing else: the
//! measurement must follow the model up to sampling error, it is the same
//! on every machine for a seed, and seconds-long tails cost no real time.
//! On **threads** (the default) real hand-offs add tens of microseconds per
//! message, which the experiment calibrates and adds to the models
//! ([`Overheads`], below).
//!
//! # k-staleness
//!
//! [`StalenessExperiment::ks`] also measures the probability that a read
//! started at once after k committed writes returns one of those k
//! versions, beside the paper's closed form
//! `1 − (C(N−W, R) / C(N, R))^k` for writes that stop at W replicas
//! ([`k_staleness_closed_form`]; a lower bound for replikv, whose writes go
//! on to all N — see [`KPoint`]).
//!
//! # What is left out, and how the measurement keeps it out
//!
//! The WARS model has no read repair, no anti-entropy, no hinted handoff, no
//! retransmission, and no processing time but a calibrated constant. The
//! measured cluster is set up so that none of the others can change a
//! measured read:
//!
//! - **Read repair** writes the newest version back to stale replicas *after*
//!   a read. Each trial uses a fresh key and reads it once, so a repair only
//!   ever helps reads that never happen.
//! - **Anti-entropy** is switched off (`EventualConfig { anti_entropy: None, .. }`).
//!   On a cluster that keeps serving the same keys it would raise the curve
//!   at large `t`; at 100 ms rounds it would not matter at millisecond `t`.
//! - **Hinted handoff** only happens when a replica is silent for
//!   `hint_after`; there are no faults, and `hint_after` is set to seconds.
//! - **Retransmission and read widening**: the protocol's periodic tick
//!   resends unacknowledged writes and widens unanswered reads to all N
//!   replicas, which would make some of them faster than modelled (a
//!   resent store draws a second, perhaps shorter, delay). The tick is set
//!   to 1 s on threads and to an hour on the simulator, so no operation of
//!   a trial ever sees one — not even in the seconds-long tails of the
//!   paper's production fits.
//! - **Processing and scheduling time** (threads only: the simulator has
//!   none). Every message also crosses a
//!   channel into a thread that must wake up, and the network's delay thread
//!   wakes a little after each message is due: tens of microseconds per hop
//!   on top of the drawn delay. The pure model leaves them out; the
//!   experiment measures them and adds them as constant [`Overheads`] (see
//!   below). The table's *read lag* column shows how late reads started;
//!   values are stored in memory ([`crate::StorageKind::Memory`]) so that
//!   storage adds as little as possible.
//! - **Delays are independent** draws per message, as in WARS; real
//!   networks have correlated, load-dependent delays, which the paper also
//!   sets aside.
//! - **Versions.** Last-writer-wins timestamps and clock skew do not enter:
//!   each t-visibility key is written once, so any value a read returns is
//!   the write (a k-staleness key is written k times, and any of the k
//!   values counts).
//!
//! With R + W > N the model gives 1 at every `t`, as it must: the W replicas
//! that acknowledged and the R that answer share one, and it stored the
//! write before the commit.
//!
//! # What the numbers say
//!
//! For N = 3, R = W = 1 and exponential delays with mean 1 ms, replikv's
//! default (the system's model) is fresh at once only if the read lands on
//! the write's coordinator (1/3), and otherwise when one W delay has
//! elapsed: `P(t) = 1/3 + 2/3·(1 − e^(−t/1ms))` — 33 % at 0, 91 % at 2 ms,
//! 99.98 % at 8 ms. The paper's model of the same N, R, W and delays gives
//! 75 % at 0, 97 % at 2 ms. On the simulator, 3000 trials per `t` land
//! within about a point of each model on its own setting at every `t` in
//! {0, 0.25, 0.5, 1, 2, 4, 8} ms (`tests/pbs_simulated.rs`). On threads,
//! `cargo bench --bench staleness` measures the default (2000 trials per
//! `t`); on the 2-core machine it was written on, every `t` in
//! {0, 0.5, 1, 2, 4, 8} ms came out within 1.5 percentage points of the
//! system's prediction (and within 3 pp of the pure model below).
//! `cargo run --release --example staleness_curve` draws the curves for
//! several R and W.
//!
//! # Overheads: the one calibrated input
//!
//! WARS models message delays; the threads add processing delays of their
//! own, and they have a sign:
//!
//! - With *fixed* 1 ms delays the pure model predicts a step from 1/3 to 1
//!   at `t` = 1 ms. The measured step is spread over 1.00–1.10 ms: the
//!   write's `Store` pays the delay thread's lateness and the replica
//!   thread's wake-up, more than the read's path (client wake-up,
//!   coordinator wake-up). So R = W = 1 measures slightly staler than the
//!   pure model, by up to 2–3 pp near `t` = 0.5 ms.
//! - With W = 2 the commit itself waits for a remote acknowledgement, which
//!   pays those hand-offs too, so the read starts later than the pure model
//!   says and the measurement comes out *fresher*: about +2.6 pp at `t` = 0.
//!
//! So, as the paper fed WARS with latencies measured on the systems it
//! predicted, [`StalenessExperiment::run`] first measures these
//! [`Overheads`] on a private network ([`Overheads::calibrate`]: the median
//! lateness of a message with a fixed delay, and of one on an instant link)
//! and adds them to every hop of both models. On the machine this was written
//! on that was about +80 µs per node-to-node message and +10 µs per client
//! hop; it brings the largest difference for R = W = 1 from about 3 pp to
//! about 1.3 pp. The calibration is rough — it runs on an idle network,
//! the measurement on a busy one — and tens of microseconds is the
//! resolution of the whole exercise. Set
//! [`StalenessExperiment::calibrate`] to `false` for the pure model.
//!
//! # On the simulator
//!
//! With [`StalenessExperiment::runtime`] set to
//! [`Runtime::Simulated`] (`replikv staleness --runtime sim`) there are no
//! threads to wake and no delay thread to be late: a message takes exactly
//! its drawn delay, and a read starts exactly `t` after `put` returned, on
//! virtual time. Nothing is calibrated, the measurement meets the *pure*
//! model to within its sampling error, and the same seed gives the same
//! curve. The thread runtime is the experiment about a real-ish system;
//! the simulator is the check that the model and the protocol agree.

mod calibrate;
mod curve;
mod kstale;
mod measure;
pub mod production;
pub mod reproduce;
pub mod wars;

pub use calibrate::Overheads;
pub use curve::{CurvePoint, StalenessCurve};
pub use kstale::{KPoint, k_staleness_closed_form};
pub use measure::Measurement;
pub use production::{ProductionFit, operation_latency};
pub use reproduce::{PbsCell, PbsReproduction, PbsTable, TimeEstimate};
pub use wars::{Coordinators, ReadFanout, WarsLatencies, WarsModel, WarsSamples, WarsVariant};

use crate::client::CoordinatorPolicy;
use crate::error::{Error, Result};
use crate::network::{Latency, MessageKind};
use crate::protocol::eventual::ReadStrategy;
use crate::sim::Runtime;
use std::time::Duration;

/// Messages of each kind timed by the calibration: about 0.3 s.
const CALIBRATION_SAMPLES: u32 = 300;

/// The largest number of measured trials one experiment may run, so a typo
/// cannot start a run of days.
pub const MAX_TRIALS: u64 = 10_000_000;

/// Mixed into the seed of the paper's model, so its draws are not the
/// system model's (two models of one setting then agree by the setting,
/// not by sharing random numbers).
const PAPER_SALT: u64 = 0x9A9E_5EED;

/// A t-visibility experiment: the cluster to measure, the `t`s, the number
/// of trials, and the two WARS models of the same setting.
///
/// The default is the classic case: 3 nodes, N = 3, R = W = 1, exponential
/// node-to-node delays with mean 1 ms, random coordinators, reads that ask
/// exactly R, `t` ∈ {0, 0.5, 1, 2, 4, 8} ms, 1000 trials per `t` from 4
/// client threads, no k-staleness (set [`StalenessExperiment::ks`]; the
/// command line measures k ∈ {1, 2, 3}), 200 000 model trials.
///
/// The PBS paper's own setting — a coordinator that holds no copy, reads
/// to all N — is one more node and two settings away:
///
/// ```
/// use replikv::lab::pbs::{StalenessExperiment, WarsVariant};
/// use replikv::protocol::eventual::ReadStrategy;
/// use replikv::{CoordinatorPolicy, Runtime};
/// use std::time::Duration;
/// let paper = StalenessExperiment {
///     nodes: 4,
///     coordinator: CoordinatorPolicy::NonReplica,
///     read_strategy: ReadStrategy::AskAll,
///     model: WarsVariant::Paper,
///     runtime: Runtime::Simulated,
///     times: vec![Duration::ZERO],
///     trials_per_t: 300,
///     ks: vec![],
///     ..StalenessExperiment::default()
/// };
/// let curve = paper.run()?;
/// // Both models describe this cluster now: they agree, and so does the measurement.
/// let p = curve.points[0];
/// assert!((p.predicted - p.paper).abs() < 0.01, "{p:?}");
/// assert!(curve.within(8.0), "{curve}");
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StalenessExperiment {
    /// Nodes in the cluster (at least `n`; more than `n` for
    /// [`CoordinatorPolicy::NonReplica`]).
    pub nodes: usize,
    /// Replication factor N.
    pub n: usize,
    /// Read quorum R.
    pub r: usize,
    /// Write quorum W.
    pub w: usize,
    /// Delay of every node-to-node message whose kind has no entry in
    /// [`StalenessExperiment::kind_latencies`]; client links are instant.
    pub latency: Latency,
    /// Delays of node-to-node messages by kind, overriding `latency`: the
    /// WARS legs W ([`MessageKind::WriteRequest`]), A, R and S. Later
    /// entries win. Empty by default.
    pub kind_latencies: Vec<(MessageKind, Latency)>,
    /// How clients pick coordinators (modelled by [`Coordinators::from`]).
    pub coordinator: CoordinatorPolicy,
    /// Which replicas a read asks (modelled by [`ReadFanout::from`]).
    pub read_strategy: ReadStrategy,
    /// Which prediction the verdict compares the measurement with
    /// ([`StalenessCurve::within`]); both are always computed and shown.
    pub model: WarsVariant,
    /// The `t`s to measure and predict.
    pub times: Vec<Duration>,
    /// Measured trials per `t` (and per `k`). 1000 gives a 95 % confidence
    /// interval of about ±3 percentage points where P is near 1/2, less
    /// near 0 or 1.
    pub trials_per_t: u64,
    /// The `k`s at which to measure k-staleness (default empty: none).
    pub ks: Vec<u32>,
    /// Client threads running trials in parallel, each on its own keys.
    /// More finish sooner; too many for the cores delay the node threads and
    /// bend the measurement. The simulator runs one client.
    pub clients: usize,
    /// Monte Carlo trials of each model (cheap: several million per second
    /// in a release build).
    pub model_trials: u64,
    /// Seed of the cluster, the trial schedule and the models.
    pub seed: u64,
    /// Whether [`StalenessExperiment::run`] first measures the threads'
    /// per-message [`Overheads`] and adds them to the models (default on).
    /// Off: the pure WARS models, a percentage point or two off in places.
    /// The simulator has no overheads: it never calibrates.
    pub calibrate: bool,
    /// Which driver runs the measured cluster. Threads (default): real
    /// concurrency and real waits, with the overheads above. The simulator
    /// ([`Runtime::Simulated`]): virtual time, no processing delay, the same
    /// numbers for the same seed on any machine — and heavy tails seconds
    /// long cost no real time.
    pub runtime: Runtime,
}

impl Default for StalenessExperiment {
    fn default() -> Self {
        StalenessExperiment {
            nodes: 3,
            n: 3,
            r: 1,
            w: 1,
            latency: Latency::Exponential {
                mean: Duration::from_millis(1),
            },
            kind_latencies: Vec::new(),
            coordinator: CoordinatorPolicy::Random,
            read_strategy: ReadStrategy::AskR,
            model: WarsVariant::System,
            times: [0, 500, 1000, 2000, 4000, 8000]
                .into_iter()
                .map(Duration::from_micros)
                .collect(),
            trials_per_t: 1000,
            ks: Vec::new(),
            clients: 4,
            model_trials: 200_000,
            seed: 0,
            calibrate: true,
            runtime: Runtime::Threads,
        }
    }
}

impl StalenessExperiment {
    /// Checks every setting; the error names the bad one.
    ///
    /// ```
    /// use replikv::lab::pbs::StalenessExperiment;
    /// use replikv::CoordinatorPolicy;
    /// let bad = StalenessExperiment { r: 4, ..StalenessExperiment::default() };
    /// assert!(bad.validate().is_err());
    /// assert!(StalenessExperiment::default().validate().is_ok());
    /// // A coordinator outside the replicas needs a node outside them.
    /// let outside = StalenessExperiment { coordinator: CoordinatorPolicy::NonReplica, ..StalenessExperiment::default() };
    /// assert!(outside.validate().is_err());
    /// assert!(StalenessExperiment { nodes: 4, ..outside }.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        self.system_model().validate()?;
        for (_, latency) in &self.kind_latencies {
            latency.validate()?;
        }
        if self.nodes < self.n {
            return bad(format!(
                "replication factor N = {} is larger than the {} nodes",
                self.n, self.nodes
            ));
        }
        if self.coordinator == CoordinatorPolicy::NonReplica && self.nodes <= self.n {
            return bad(format!(
                "a coordinator outside the replicas needs more nodes than N = {}: use {} nodes",
                self.n,
                self.n + 1
            ));
        }
        if self.times.is_empty() {
            return bad("a staleness experiment needs at least one t".into());
        }
        if self.clients == 0 {
            return bad("a staleness experiment needs at least one client".into());
        }
        if self.model_trials == 0 {
            return bad("the model needs at least one trial".into());
        }
        if self.ks.contains(&0) {
            return bad("k-staleness needs k of at least 1".into());
        }
        let k_writes: u64 = self.ks.iter().map(|&k| u64::from(k)).sum();
        let total = self
            .trials_per_t
            .saturating_mul(self.times.len() as u64)
            .saturating_add(self.trials_per_t.saturating_mul(k_writes));
        if total > MAX_TRIALS {
            return bad(format!(
                "{total} measured trials (k-staleness counting one per write) is over the \
                 limit of {MAX_TRIALS}"
            ));
        }
        Ok(())
    }

    /// The four WARS delays: `latency` with the kind overrides applied.
    pub fn latencies(&self) -> WarsLatencies {
        self.kind_latencies
            .iter()
            .fold(WarsLatencies::all(self.latency), |l, &(kind, latency)| {
                l.with(kind, latency)
            })
    }

    /// The pure WARS model of this experiment's cluster as configured (no
    /// overheads): its coordinators, its read strategy, its latencies.
    pub fn system_model(&self) -> WarsModel {
        WarsModel {
            coordinators: self.coordinator.into(),
            fanout: self.read_strategy.into(),
            latencies: self.latencies(),
            ..WarsModel::replikv(self.n, self.r, self.w, self.latency)
        }
    }

    /// The pure WARS model of the PBS paper on this experiment's N, R, W and
    /// latencies: a coordinator that holds no copy, reads to all N.
    pub fn paper_model(&self) -> WarsModel {
        WarsModel::paper(self.n, self.r, self.w, self.latencies())
    }

    /// The pure model the verdict uses ([`StalenessExperiment::model`]).
    pub fn model(&self) -> WarsModel {
        match self.model {
            WarsVariant::System => self.system_model(),
            WarsVariant::Paper => self.paper_model(),
        }
    }

    /// A short description, e.g. `N=3 R=1 W=1, exp:1ms links`.
    pub fn title(&self) -> String {
        format!(
            "N={} R={} W={}, {} links",
            self.n,
            self.r,
            self.w,
            self.latencies()
        )
    }

    /// The system's model in words (for the curve's legend).
    fn system_label(&self) -> String {
        let model = self.system_model();
        format!("{}, {}", model.coordinators, model.fanout)
    }

    /// The predictions of both pure models alone (no cluster, no
    /// calibration): `measured` is `NaN` and `trials` 0 in every point.
    ///
    /// ```
    /// use replikv::lab::pbs::StalenessExperiment;
    /// let curve = StalenessExperiment { r: 2, w: 2, ..StalenessExperiment::default() }.predict()?;
    /// assert!(curve.points.iter().all(|p| p.predicted == 1.0 && p.paper == 1.0));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn predict(&self) -> Result<StalenessCurve> {
        self.predict_with(Overheads::NONE)
    }

    /// The predictions of both models with the given per-message overheads.
    pub fn predict_with(&self, overheads: Overheads) -> Result<StalenessCurve> {
        self.validate()?;
        let system = WarsModel {
            overheads,
            ..self.system_model()
        }
        .simulate(self.model_trials, self.seed)?;
        let paper = WarsModel {
            overheads,
            ..self.paper_model()
        }
        .simulate(self.model_trials, self.seed ^ PAPER_SALT)?;
        Ok(StalenessCurve {
            title: self.title(),
            overheads,
            model: self.model,
            system: self.system_label(),
            points: self
                .times
                .iter()
                .map(|&t| CurvePoint {
                    t,
                    measured: f64::NAN,
                    predicted: system.probability(t),
                    paper: paper.probability(t),
                    trials: 0,
                    errors: 0,
                    lag: Duration::ZERO,
                })
                .collect(),
            k: self
                .ks
                .iter()
                .map(|&k| KPoint {
                    k,
                    trials: 0,
                    within: 0,
                    errors: 0,
                    closed_form: k_staleness_closed_form(self.n, self.r, self.w, k),
                })
                .collect(),
        })
    }

    /// The measurement alone: builds the cluster, runs every trial, and
    /// reports per `t` (and per `k`, in [`StalenessExperiment::measure_all`]).
    /// `progress(done, total)` is called every 100 ms or so on threads,
    /// every few hundred trials on the simulator.
    pub fn measure(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Vec<Measurement>> {
        measure::measure(self, progress).map(|(t, _)| t)
    }

    /// The measurement of t-visibility and of k-staleness.
    pub fn measure_all(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(Vec<Measurement>, Vec<KPoint>)> {
        measure::measure(self, progress)
    }

    /// Calibrates (on threads, when [`StalenessExperiment::calibrate`] is
    /// on), measures and predicts.
    pub fn run(&self) -> Result<StalenessCurve> {
        self.run_with_progress(&mut |_, _| {})
    }

    /// Measures and predicts, reporting measurement progress as
    /// `progress(done, total)`.
    pub fn run_with_progress(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<StalenessCurve> {
        self.validate()?;
        let overheads = if self.calibrate && self.runtime == Runtime::Threads {
            Overheads::calibrate(CALIBRATION_SAMPLES)?
        } else {
            Overheads::NONE
        };
        let mut curve = self.predict_with(overheads)?;
        let (measured, k) = self.measure_all(progress)?;
        for (point, m) in curve.points.iter_mut().zip(measured) {
            point.measured = m.probability();
            point.trials = m.trials;
            point.errors = m.errors;
            point.lag = m.lag;
        }
        for (point, m) in curve.k.iter_mut().zip(k) {
            point.trials = m.trials;
            point.within = m.within;
            point.errors = m.errors;
        }
        Ok(curve)
    }
}
