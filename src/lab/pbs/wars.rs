//! The WARS model, computed by Monte Carlo.
//!
//! One simulated *trial* is one write followed, `t` after it commits, by one
//! read of the same key. Each message of the two operations draws its delay
//! from one of four distributions (Bailis et al., §4):
//!
//! | letter | hop | in replikv |
//! |---|---|---|
//! | **W** | write request, coordinator → replica | `Store` |
//! | **A** | write acknowledgement, replica → coordinator | `StoreAck` |
//! | **R** | read request, coordinator → replica | `Read` |
//! | **S** | read response, replica → coordinator | `ReadReply` |
//!
//! Rather than run the trial once per `t`, each trial yields the *threshold*
//! `τ`: the smallest `t` at which its read would have returned the write.
//! Replica `j`, asked by a read sent at `commit + t`, answers with the write
//! when the write reached it first, `w_j ≤ commit + t + r_j`, that is when
//! `t ≥ w_j − commit − r_j`; the read is fresh when any replica whose answer
//! it uses is, so `τ = min_j (w_j − commit − r_j)`. Which replicas' answers
//! are used depends on `R`, `S` and the fan-out, never on `t`. So one batch
//! of trials gives the whole curve: `P(consistent at t) = P(τ ≤ t)`, the
//! empirical distribution function of the thresholds ([`WarsSamples`]).
//!
//! See the [module docs](super) for which hops replikv has and why the
//! default [`WarsModel::replikv`] differs from the paper's
//! [`WarsModel::paper`].

use super::Overheads;
use crate::client::CoordinatorPolicy;
use crate::error::{Error, Result};
use crate::network::{Latency, MessageKind};
use crate::protocol::eventual::ReadStrategy;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

/// The four WARS delay distributions.
///
/// ```
/// use replikv::lab::pbs::WarsLatencies;
/// use replikv::network::Latency;
/// use std::time::Duration;
/// let exp = Latency::Exponential { mean: Duration::from_millis(1) };
/// let l = WarsLatencies::all(exp);
/// assert_eq!((l.write, l.ack, l.read, l.response), (exp, exp, exp, exp));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarsLatencies {
    /// W: a write request from the coordinator to a replica.
    pub write: Latency,
    /// A: a write acknowledgement from a replica back to the coordinator.
    pub ack: Latency,
    /// R: a read request from the coordinator to a replica.
    pub read: Latency,
    /// S: a read response from a replica back to the coordinator.
    pub response: Latency,
}

impl std::fmt::Display for WarsLatencies {
    /// The one latency when all four legs share it, else `W=… A=… R=… S=…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_uniform() {
            write!(f, "{}", self.write)
        } else {
            write!(
                f,
                "W={} A={} R={} S={}",
                self.write, self.ack, self.read, self.response
            )
        }
    }
}

impl WarsLatencies {
    /// The same distribution for all four hops: what a replikv cluster
    /// with one latency on every node-to-node link has (give each kind its
    /// own with [`WarsLatencies::with`] and
    /// [`crate::network::Network::set_kind_latency`]).
    pub fn all(latency: Latency) -> Self {
        WarsLatencies {
            write: latency,
            ack: latency,
            read: latency,
            response: latency,
        }
    }

    /// These latencies with `kind`'s replaced by `latency` (a
    /// [`MessageKind::Other`] has no WARS leg: nothing changes).
    ///
    /// ```
    /// use replikv::lab::pbs::WarsLatencies;
    /// use replikv::network::{Latency, MessageKind};
    /// use std::time::Duration;
    /// let slow_acks = WarsLatencies::all(Latency::Zero)
    ///     .with(MessageKind::WriteAck, Latency::Fixed(Duration::from_millis(5)));
    /// assert_eq!(slow_acks.ack, Latency::Fixed(Duration::from_millis(5)));
    /// assert_eq!(slow_acks.write, Latency::Zero);
    /// ```
    pub fn with(mut self, kind: MessageKind, latency: Latency) -> Self {
        match kind {
            MessageKind::WriteRequest => self.write = latency,
            MessageKind::WriteAck => self.ack = latency,
            MessageKind::ReadRequest => self.read = latency,
            MessageKind::ReadResponse => self.response = latency,
            MessageKind::Other => {}
        }
        self
    }

    /// True when all four legs have the same distribution.
    pub fn is_uniform(&self) -> bool {
        [self.ack, self.read, self.response]
            .iter()
            .all(|l| *l == self.write)
    }

    pub(super) fn validate(&self) -> Result<()> {
        for latency in [self.write, self.ack, self.read, self.response] {
            latency.validate()?;
        }
        Ok(())
    }
}

/// Which node coordinates the write and which coordinates the read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Coordinators {
    /// replikv with [`CoordinatorPolicy::Random`]: each operation's
    /// coordinator is one of the key's N replicas, drawn uniformly and
    /// independently, so write and read share a coordinator with
    /// probability 1/N. The coordinator's own copy costs no network hop.
    #[default]
    Random,
    /// replikv with [`CoordinatorPolicy::First`]: the key's primary
    /// coordinates both operations, so a read always sees its own node's
    /// copy of the write — with R ≥ 1 every read is fresh.
    Primary,
    /// replikv with [`CoordinatorPolicy::RoundRobin`] and a client that
    /// alternates one write and one read: the read's coordinator is the
    /// replica after the write's, never the same one.
    NextReplica,
    /// The paper's model: the coordinator holds no copy, so every one of the
    /// N replicas is reached over the network, with all four delays.
    External,
}

impl From<CoordinatorPolicy> for Coordinators {
    /// The model of a client policy (round robin assumes each client
    /// alternates one write and one read, as the measurement does; a fixed
    /// coordinator is modelled as the primary — the same node coordinates
    /// both operations — which is exact when that node is one of the key's
    /// replicas).
    fn from(policy: CoordinatorPolicy) -> Self {
        match policy {
            CoordinatorPolicy::First | CoordinatorPolicy::Fixed(_) => Coordinators::Primary,
            // With no load to avoid (the model's replicas are alike), the
            // load-aware policies pick a uniformly random replica.
            CoordinatorPolicy::Random
            | CoordinatorPolicy::LeastOutstanding
            | CoordinatorPolicy::PowerOfTwoChoices => Coordinators::Random,
            CoordinatorPolicy::RoundRobin => Coordinators::NextReplica,
            CoordinatorPolicy::NonReplica => Coordinators::External,
        }
    }
}

impl std::fmt::Display for Coordinators {
    /// Who coordinates, in words, for the labels of a curve.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Coordinators::Random => "coordinator a random replica (its own copy is free)",
            Coordinators::Primary => "the key's primary coordinates everything",
            Coordinators::NextReplica => "the read's coordinator is the replica after the write's",
            Coordinators::External => "coordinator outside the replicas (all N over the network)",
        })
    }
}

/// Which replicas a read asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadFanout {
    /// replikv: ask exactly R replicas (the coordinator first, when it is
    /// one, then the preference list in order) and wait for all R. The
    /// response delay S then changes how long a read takes, never what it
    /// returns.
    #[default]
    Quorum,
    /// The paper's (and Cassandra's without speculative reads): ask all N,
    /// use the first R responses to arrive.
    All,
}

impl From<ReadStrategy> for ReadFanout {
    /// The model of the eventual protocol's [`ReadStrategy`].
    fn from(strategy: ReadStrategy) -> Self {
        match strategy {
            ReadStrategy::AskR => ReadFanout::Quorum,
            ReadStrategy::AskAll => ReadFanout::All,
        }
    }
}

impl std::fmt::Display for ReadFanout {
    /// Which replicas a read asks, in words, for the labels of a curve.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadFanout::Quorum => "reads ask exactly R",
            ReadFanout::All => "reads ask all N and use the first R answers",
        })
    }
}

/// Which of the two WARS models a prediction comes from, and which one a
/// measurement is judged against (`replikv staleness --model`).
///
/// ```
/// use replikv::lab::pbs::WarsVariant;
/// assert_eq!("paper".parse::<WarsVariant>()?, WarsVariant::Paper);
/// assert_eq!(WarsVariant::default(), WarsVariant::System);
/// assert!("mine".parse::<WarsVariant>().is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WarsVariant {
    /// The model of the system as configured: its coordinator policy
    /// (a replica coordinator stores the write at once and reads its own
    /// copy for free) and its read strategy (R or all N) —
    /// [`WarsModel::replikv`] with the experiment's settings.
    #[default]
    System,
    /// The model of the PBS paper (Bailis et al., VLDB 2012): a coordinator
    /// that holds no copy sends the write and the read to all N replicas
    /// and uses the first R read answers — [`WarsModel::paper`].
    Paper,
}

impl std::fmt::Display for WarsVariant {
    /// `system` or `paper`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WarsVariant::System => "system",
            WarsVariant::Paper => "paper",
        })
    }
}

impl std::str::FromStr for WarsVariant {
    type Err = Error;

    /// `system` or `paper`.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "system" => Ok(WarsVariant::System),
            "paper" => Ok(WarsVariant::Paper),
            _ => Err(Error::InvalidConfig(format!(
                "unknown model {text:?}: expected system (the configured cluster's variant) or \
                 paper (Bailis et al.'s WARS: reads to all N, first R answers)"
            ))),
        }
    }
}

/// A WARS model: replication factor, quorums, delays, and who coordinates.
///
/// ```
/// use replikv::lab::pbs::WarsModel;
/// use replikv::network::Latency;
/// use std::time::Duration;
/// let exp = Latency::Exponential { mean: Duration::from_millis(1) };
/// // Overlapping quorums: every read is fresh, at every t.
/// let strict = WarsModel::replikv(3, 2, 2, exp).simulate(10_000, 1)?;
/// assert_eq!(strict.probability(Duration::ZERO), 1.0);
/// // R = W = 1: right after the commit only 1 read in 3 (the write's own
/// // coordinator) is fresh; a few mean delays later nearly all are.
/// let partial = WarsModel::replikv(3, 1, 1, exp).simulate(10_000, 1)?;
/// assert!((partial.probability(Duration::ZERO) - 1.0 / 3.0).abs() < 0.03);
/// assert!(partial.probability(Duration::from_millis(8)) > 0.99);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarsModel {
    /// Replication factor N.
    pub n: usize,
    /// Read quorum R, in `1..=n`.
    pub r: usize,
    /// Write quorum W, in `1..=n`.
    pub w: usize,
    /// The four delay distributions.
    pub latencies: WarsLatencies,
    /// Who coordinates the write and the read.
    pub coordinators: Coordinators,
    /// Which replicas a read asks.
    pub fanout: ReadFanout,
    /// Processing time added to every hop beyond the drawn delays
    /// ([`Overheads::NONE`] in the pure model).
    pub overheads: Overheads,
}

impl WarsModel {
    /// replikv's eventual protocol with random coordinators
    /// ([`Coordinators::Random`], [`ReadFanout::Quorum`]) and one latency on
    /// every node-to-node hop.
    pub fn replikv(n: usize, r: usize, w: usize, latency: Latency) -> Self {
        WarsModel {
            n,
            r,
            w,
            latencies: WarsLatencies::all(latency),
            coordinators: Coordinators::Random,
            fanout: ReadFanout::Quorum,
            overheads: Overheads::NONE,
        }
    }

    /// The paper's model: an external coordinator sends the write to all N
    /// replicas and the read to all N, using the first R responses.
    pub fn paper(n: usize, r: usize, w: usize, latencies: WarsLatencies) -> Self {
        WarsModel {
            n,
            r,
            w,
            latencies,
            coordinators: Coordinators::External,
            fanout: ReadFanout::All,
            overheads: Overheads::NONE,
        }
    }

    /// Checks N, R, W and the distributions.
    ///
    /// ```
    /// use replikv::lab::pbs::WarsModel;
    /// use replikv::network::Latency;
    /// assert!(WarsModel::replikv(3, 4, 1, Latency::Zero).validate().is_err());
    /// assert!(WarsModel::replikv(0, 1, 1, Latency::Zero).validate().is_err());
    /// assert!(WarsModel::replikv(3, 1, 3, Latency::Zero).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.n == 0 {
            return Err(Error::InvalidConfig(
                "WARS: replication factor N must be at least 1".into(),
            ));
        }
        for (name, quorum) in [("read quorum R", self.r), ("write quorum W", self.w)] {
            if quorum == 0 || quorum > self.n {
                return Err(Error::InvalidConfig(format!(
                    "WARS: {name} = {quorum} must be between 1 and N = {}",
                    self.n
                )));
            }
        }
        self.latencies.validate()
    }

    /// Runs `trials` seeded trials; the same seed gives the same samples.
    pub fn simulate(&self, trials: u64, seed: u64) -> Result<WarsSamples> {
        self.validate()?;
        if trials == 0 {
            return Err(Error::InvalidConfig(
                "WARS: at least one trial is needed".into(),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut scratch = Scratch::new(self.n);
        let capacity = usize::try_from(trials).unwrap_or(usize::MAX).min(1 << 24);
        let mut thresholds = Vec::with_capacity(capacity);
        for _ in 0..trials {
            thresholds.push(self.trial(&mut rng, &mut scratch));
        }
        thresholds.sort_unstable();
        Ok(WarsSamples { thresholds })
    }

    /// `P(consistent)` at each of `times`, from `trials` seeded trials.
    ///
    /// ```
    /// use replikv::lab::pbs::WarsModel;
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    /// let model = WarsModel::replikv(3, 1, 1, Latency::Fixed(Duration::from_millis(1)));
    /// let p = model.probabilities(&[Duration::ZERO, Duration::from_millis(1)], 30_000, 7)?;
    /// // Fixed 1 ms: stale unless the read's coordinator wrote, until t = 1 ms.
    /// assert!((p[0] - 1.0 / 3.0).abs() < 0.02);
    /// assert_eq!(p[1], 1.0);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn probabilities(&self, times: &[Duration], trials: u64, seed: u64) -> Result<Vec<f64>> {
        let samples = self.simulate(trials, seed)?;
        Ok(times.iter().map(|&t| samples.probability(t)).collect())
    }

    /// One trial's threshold τ in nanoseconds (see the module docs).
    fn trial(&self, rng: &mut ChaCha8Rng, s: &mut Scratch) -> i64 {
        let n = self.n;
        let (write_coordinator, read_coordinator) = match self.coordinators {
            Coordinators::Random => (Some(rng.random_range(0..n)), Some(rng.random_range(0..n))),
            Coordinators::Primary => (Some(0), Some(0)),
            Coordinators::NextReplica => {
                let cw = rng.random_range(0..n);
                (Some(cw), Some((cw + 1) % n))
            }
            Coordinators::External => (None, None),
        };
        let l = &self.latencies;
        let extra = nanos(self.overheads.network);
        let hop = |latency: &Latency, rng: &mut ChaCha8Rng| nanos(latency.sample(rng)) + extra;
        // The write: the coordinator's own copy is stored at time 0 and
        // acknowledged at once; every other replica costs a W and an A.
        for j in 0..n {
            if Some(j) == write_coordinator {
                s.arrive[j] = 0;
                s.round_trip[j] = 0;
            } else {
                let w = hop(&l.write, rng);
                s.arrive[j] = w;
                s.round_trip[j] = w.saturating_add(hop(&l.ack, rng));
            }
        }
        // Commit: the W-th acknowledgement, counting the coordinator's own.
        let (_, &mut commit, _) = s.round_trip.select_nth_unstable(self.w - 1);
        // The read: R (request) delays, and which answers it uses.
        s.used.clear();
        match self.fanout {
            ReadFanout::Quorum => {
                // replikv's order: the coordinator first, then the
                // preference list (replica 0, 1, …) without it.
                let first = read_coordinator.into_iter();
                let rest = (0..n).filter(|&j| Some(j) != read_coordinator);
                for j in first.chain(rest).take(self.r) {
                    let request = if Some(j) == read_coordinator {
                        0
                    } else {
                        hop(&l.read, rng)
                    };
                    s.used.push((0, j, request));
                }
            }
            ReadFanout::All => {
                for j in 0..n {
                    let (request, response) = if Some(j) == read_coordinator {
                        (0, 0)
                    } else {
                        (hop(&l.read, rng), hop(&l.response, rng))
                    };
                    s.used.push((request.saturating_add(response), j, request));
                }
                // The first R responses to arrive are the ones used.
                s.used.sort_unstable();
                s.used.truncate(self.r);
            }
        }
        // The read reaches its coordinator two client hops after the
        // commit plus t: the acknowledgement to the client, the read request.
        let client_hops = 2 * nanos(self.overheads.client);
        s.used
            .iter()
            .map(|&(_, j, request)| s.arrive[j] - commit - request - client_hops)
            .min()
            .unwrap_or(i64::MAX)
    }
}

/// Reused buffers, so a trial allocates nothing.
struct Scratch {
    /// When the write reached each replica (ns after the write started).
    arrive: Vec<i64>,
    /// When each replica's acknowledgement reached the coordinator.
    round_trip: Vec<i64>,
    /// The replicas whose read answers count: (arrival, replica, R delay).
    used: Vec<(i64, usize, i64)>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            arrive: vec![0; n],
            round_trip: vec![0; n],
            used: Vec::with_capacity(n),
        }
    }
}

/// A delay in nanoseconds; `Latency::sample` caps draws at one hour, far
/// below `i64::MAX` nanoseconds (292 years), and longer overheads are capped
/// too, so sums of a few never overflow.
fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos())
        .unwrap_or(i64::MAX)
        .min(i64::MAX / 16)
}

/// The thresholds of a batch of WARS trials: the probability of a fresh read
/// at any `t` is read off them without simulating again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarsSamples {
    /// Per trial, the smallest `t` (ns; negative: fresh even at once) at
    /// which the read returns the write. Sorted.
    thresholds: Vec<i64>,
}

impl WarsSamples {
    /// How many trials were run.
    pub fn trials(&self) -> u64 {
        self.thresholds.len() as u64
    }

    /// The estimated probability that a read started `t` after the write
    /// committed returns the write (or something newer): the paper's
    /// t-visibility, `P(consistent)`.
    pub fn probability(&self, t: Duration) -> f64 {
        if self.thresholds.is_empty() {
            return 0.0;
        }
        let t = nanos(t);
        let fresh = self.thresholds.partition_point(|&tau| tau <= t);
        fresh as f64 / self.thresholds.len() as f64
    }

    /// The smallest `t` after which at least a fraction `p` of reads are
    /// fresh (the paper's "t-visibility for p"); `None` when `p` is outside
    /// `0..=1`.
    ///
    /// ```
    /// use replikv::lab::pbs::WarsModel;
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    /// let exp = Latency::Exponential { mean: Duration::from_millis(1) };
    /// let samples = WarsModel::replikv(3, 1, 1, exp).simulate(50_000, 3)?;
    /// // P = 1/3 + 2/3·(1 − e^(−t/1ms)) reaches 0.999 at t = ln(666.7) ms ≈ 6.5 ms.
    /// let t = samples.time_for(0.999).unwrap_or_default();
    /// assert!(t > Duration::from_millis(5) && t < Duration::from_millis(9), "{t:?}");
    /// assert_eq!(samples.time_for(0.3), Some(Duration::ZERO));
    /// assert_eq!(samples.time_for(1.5), None);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn time_for(&self, p: f64) -> Option<Duration> {
        if !(0.0..=1.0).contains(&p) || self.thresholds.is_empty() {
            return None;
        }
        let count = self.thresholds.len();
        let needed = ((p * count as f64).ceil() as usize).clamp(1, count);
        let tau = self.thresholds[needed - 1];
        Some(Duration::from_nanos(u64::try_from(tau).unwrap_or(0)))
    }
}
