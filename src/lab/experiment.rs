//! One experiment: build a cluster, run a workload under faults, heal, and
//! judge the outcome with the global observer's tools.

use super::attack::SecurityReport;
use super::mutants::Mutant;
use super::nemesis::{FaultLog, Nemesis};
use super::report::{ExperimentReport, ReportInputs};
use super::simulated::run_simulated;
use super::workload::{Workload, run_workload};
use crate::cache::CacheConfig;
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, ClusterBuilder, Consistency, StorageKind};
use crate::error::{Error, Result};
use crate::history::{CheckResult, Checker, StalenessReport, lost_writes};
use crate::network::{FaultScope, Latency, MessageKind};
use crate::partition::Strategy;
use crate::protocol::ConsensusConfig;
use crate::protocol::eventual::ReadStrategy;
use crate::security::{AttackKind, Attacker, LinkKey};
use crate::sim::Runtime;
use crate::sim::trace::TraceEvent;
use crate::storage::Durability;
use std::time::Duration;

/// Everything an experiment is made of. `Default` is a small strong-mode
/// run with no faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Replication factor N.
    pub replicas: usize,
    /// Consistency mode.
    pub consistency: Consistency,
    /// A hybrid logical clock for eventual mode
    /// ([`crate::ClusterBuilder::hybrid_clock`]; default off).
    pub hybrid_clock: bool,
    /// Which replicas an eventual-mode read asks: exactly R (default) or
    /// all N ([`crate::ClusterBuilder::read_strategy`]).
    pub read_strategy: ReadStrategy,
    /// Settings of consensus mode: read mode, snapshot threshold
    /// ([`crate::ClusterBuilder::consensus`]; default
    /// [`ConsensusConfig::default`], the only value other modes accept).
    pub consensus: ConsensusConfig,
    /// Placement strategy.
    pub partitioning: Strategy,
    /// What the clients do.
    pub workload: Workload,
    /// Latency of every link without a more specific setting below.
    pub latency: Latency,
    /// Latency of node-to-node messages by kind, overriding `latency`
    /// ([`crate::network::Network::set_kind_latency`]; later entries win).
    pub kind_latencies: Vec<(MessageKind, Latency)>,
    /// Latency of client ↔ node links, overriding `latency`
    /// ([`crate::network::Network::set_client_latency`]).
    pub client_latency: Option<Latency>,
    /// Message loss probability on every link.
    pub drop: f64,
    /// Message duplication probability on every link.
    pub duplicate: f64,
    /// Which links drop, duplicate and latency act on (default: all,
    /// client links too).
    pub fault_scope: FaultScope,
    /// Faults injected on a schedule.
    pub nemesis: Nemesis,
    /// A read cache in front of every client.
    pub cache: Option<CacheConfig>,
    /// Where nodes keep data.
    pub storage: StorageKind,
    /// When a replica's writes become durable (default
    /// [`Durability::Periodic`]: a killed process loses the writes since
    /// the engine's last background flush).
    pub durability: Durability,
    /// Per-operation client timeout.
    pub client_timeout: Duration,
    /// How clients pick coordinators (default: a random replica, so that a
    /// key's reads and writes go through different nodes, as behind a load
    /// balancer).
    pub coordinator: CoordinatorPolicy,
    /// Whether to run the linearizability checker on the history.
    pub check_linearizability: bool,
    /// Time budget for the checker (then the verdict is "unknown").
    pub checker_budget: Duration,
    /// How long to wait for replicas to converge after healing.
    pub convergence_deadline: Duration,
    /// Seed for the cluster (network faults, coordinators); the workload
    /// and nemesis have their own seeds, usually the same.
    pub seed: u64,
    /// Which driver runs the nodes (default: threads). On the simulator the
    /// run is replayed bit for bit from the seeds, durations are virtual,
    /// and `StorageKind::Temporary` means in-memory storage.
    pub runtime: Runtime,
    /// A known-bad variant to run in place of the built-in mode (default
    /// none); `consistency` must be the mode it imitates
    /// ([`Experiment::with_mutant`] sets both).
    pub mutant: Option<Mutant>,
    /// A network attacker for the length of the workload (default none;
    /// see [`crate::security::Attacker`]); removed before convergence.
    pub attack: Option<AttackKind>,
    /// The chance the attacker acts on each node message it sees.
    pub attack_probability: f64,
    /// Authenticated node links under a key derived from the seed
    /// ([`crate::ClusterBuilder::authenticate_links`]; default off).
    pub authenticate_links: bool,
}

/// What one run produced, the world's trace included when asked for.
pub(crate) struct Traced {
    pub report: ExperimentReport,
    pub history: crate::history::History,
    /// Every event the simulated world processed (empty on threads, or
    /// when not asked for).
    pub trace: Vec<TraceEvent>,
    /// The message trace, when asked for (see [`crate::trace`]).
    pub messages: Option<crate::trace::Trace>,
}

impl Default for Experiment {
    fn default() -> Self {
        Experiment {
            nodes: 3,
            replicas: 3,
            consistency: Consistency::Strong,
            hybrid_clock: false,
            read_strategy: ReadStrategy::default(),
            consensus: ConsensusConfig::default(),
            partitioning: Strategy::default(),
            workload: Workload::default(),
            latency: Latency::Zero,
            kind_latencies: Vec::new(),
            client_latency: None,
            drop: 0.0,
            duplicate: 0.0,
            fault_scope: FaultScope::AllLinks,
            nemesis: Nemesis::default(),
            cache: None,
            storage: StorageKind::Temporary,
            durability: Durability::Periodic,
            client_timeout: Duration::from_secs(1),
            coordinator: CoordinatorPolicy::Random,
            check_linearizability: true,
            checker_budget: Duration::from_secs(10),
            convergence_deadline: Duration::from_secs(10),
            seed: 0,
            runtime: Runtime::Threads,
            mutant: None,
            attack: None,
            attack_probability: 0.2,
            authenticate_links: false,
        }
    }
}

impl Experiment {
    /// The storage to build: on the simulator, the default temporary sled
    /// becomes memory (nothing to gain from a disk there, and its flusher
    /// thread's timing is not the simulator's).
    fn storage_for_runtime(&self) -> StorageKind {
        match (self.runtime, &self.storage) {
            (Runtime::Simulated, StorageKind::Temporary) => StorageKind::Memory,
            (_, storage) => storage.clone(),
        }
    }

    /// The same experiment with a [`Mutant`] in place of its built-in mode:
    /// `consistency` becomes the mode the mutant imitates.
    ///
    /// `replicas` stays: a single-copy mutant keeps one copy per key
    /// whatever it says, but with more than one replica clients choose a
    /// coordinator among them, and the coordinator forwards to the key's
    /// owner — the forwards [`Mutant::SingleCopyUnfilteredForwards`] gets
    /// wrong.
    ///
    /// ```
    /// use replikv::lab::{Experiment, Mutant};
    /// use replikv::Consistency;
    /// let e = Experiment::default().with_mutant(Mutant::SingleCopyUnfilteredForwards);
    /// assert_eq!((e.consistency, e.replicas), (Consistency::SingleCopy, 3));
    /// ```
    pub fn with_mutant(self, mutant: Mutant) -> Self {
        Experiment {
            consistency: mutant.consistency(),
            mutant: Some(mutant),
            ..self
        }
    }

    /// Runs the experiment; `progress` hears the operations done so far.
    ///
    /// ```
    /// use replikv::lab::{Experiment, Workload};
    /// use replikv::StorageKind;
    /// let experiment = Experiment {
    ///     workload: Workload { clients: 2, ops_per_client: 50, ..Workload::default() },
    ///     storage: StorageKind::Memory,
    ///     ..Experiment::default()
    /// };
    /// let report = experiment.run(&mut |_| {})?;
    /// assert_eq!(report.ops, 100);
    /// assert_eq!(report.linearizable, Some(true));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn run(&self, progress: &mut dyn FnMut(u64)) -> Result<ExperimentReport> {
        self.run_with_history(progress).map(|(report, _)| report)
    }

    /// Checks every setting without starting anything; the error names the
    /// bad one. [`Experiment::run`] checks the same before it starts.
    ///
    /// ```
    /// use replikv::lab::Experiment;
    /// use replikv::Consistency;
    /// assert!(Experiment::default().validate().is_ok());
    /// let bad = Experiment { consistency: Consistency::Eventual { r: 4, w: 1 }, ..Experiment::default() };
    /// assert!(bad.validate().is_err());
    /// let bad = Experiment { drop: 1.5, ..Experiment::default() };
    /// assert!(bad.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.workload.validate()?;
        self.builder().validate()?;
        if let Some(mutant) = self.mutant
            && mutant.consistency() != self.consistency
        {
            return Err(Error::InvalidConfig(format!(
                "the mutant {mutant} imitates {} mode, but the experiment says {}",
                mutant.consistency(),
                self.consistency
            )));
        }
        if self.nemesis.kind != super::NemesisKind::None && self.nemesis.interval.is_zero() {
            return Err(Error::InvalidConfig(
                "the nemesis interval must be positive: a fault and its healing take time".into(),
            ));
        }
        for (name, p) in [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("attack", self.attack_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidConfig(format!(
                    "{name} probability must be between 0 and 1, got {p}"
                )));
            }
        }
        Ok(())
    }

    /// The cluster this experiment runs on, not yet built.
    fn builder(&self) -> ClusterBuilder {
        let builder = Cluster::builder()
            .nodes(self.nodes)
            .replication(self.replicas)
            .consistency(self.consistency)
            .hybrid_clock(self.hybrid_clock)
            .read_strategy(self.read_strategy)
            .consensus(self.consensus.clone())
            .partitioning(self.partitioning)
            .storage(self.storage_for_runtime())
            .runtime(self.runtime)
            .durability(self.durability)
            .client_timeout(self.client_timeout)
            .coordinator(self.coordinator)
            .latency(self.latency)
            .seed(self.seed);
        let mut builder = match self.mutant {
            Some(mutant) => mutant.apply(builder),
            None => builder,
        };
        for &(kind, latency) in &self.kind_latencies {
            builder = builder.kind_latency(kind, latency);
        }
        if let Some(latency) = self.client_latency {
            builder = builder.client_latency(latency);
        }
        if self.authenticate_links {
            builder = builder.authenticate_links(LinkKey::for_experiment(self.seed));
        }
        match self.cache {
            Some(cache) => builder.read_cache(cache),
            None => builder,
        }
    }

    /// Like [`Experiment::run`], also returning the recorded history.
    pub fn run_with_history(
        &self,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(ExperimentReport, crate::history::History)> {
        self.run_inner(progress, false, false)
            .map(|run| (run.report, run.history))
    }

    /// Like [`Experiment::run_with_history`], also recording the run's
    /// message trace (see [`crate::trace`]): exact on the simulator, best
    /// effort on threads. The trace covers the workload, the nemesis and the
    /// convergence wait after it; recording it changes nothing in a
    /// simulated run.
    ///
    /// ```
    /// use replikv::lab::{Experiment, Workload};
    /// use replikv::{Runtime, StorageKind};
    /// let experiment = Experiment {
    ///     workload: Workload { clients: 2, ops_per_client: 20, ..Workload::default() },
    ///     runtime: Runtime::Simulated,
    ///     ..Experiment::default()
    /// };
    /// let (report, history, trace) = experiment.run_traced(&mut |_| {})?;
    /// assert_eq!(history.len(), 40);
    /// assert!(trace.exact);
    /// assert_eq!(report.linearizable, Some(true));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn run_traced(
        &self,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(
        ExperimentReport,
        crate::history::History,
        crate::trace::Trace,
    )> {
        let run = self.run_inner(progress, false, true)?;
        let trace = run
            .messages
            .ok_or_else(|| Error::Protocol("the trace was not recorded".into()))?;
        Ok((run.report, run.history, trace))
    }

    /// Runs the experiment, keeping the simulated world's event log when
    /// `events` is true (the determinism check compares them) and the
    /// message trace when `messages` is.
    pub(crate) fn run_inner(
        &self,
        progress: &mut dyn FnMut(u64),
        events: bool,
        messages: bool,
    ) -> Result<Traced> {
        self.validate()?;
        let cluster = self.builder().build()?;
        if let Some(mutant) = self.mutant {
            mutant.after_build(&cluster);
        }
        if let (true, Some(world)) = (events, cluster.world()) {
            world.record_trace();
        }
        if messages {
            cluster.network().record_trace();
        }
        let mut faults = FaultLog::default();
        cluster.network().set_drop_probability(self.drop)?;
        cluster
            .network()
            .set_duplicate_probability(self.duplicate)?;
        cluster.network().set_fault_scope(self.fault_scope);
        let attacker = match self.attack {
            Some(kind) => {
                let attacker = std::sync::Arc::new(Attacker::new(
                    kind,
                    self.consistency,
                    self.attack_probability,
                    self.seed ^ 0xA77A_C4ED,
                )?);
                cluster.network().set_adversary(attacker.clone());
                Some(attacker)
            }
            None => None,
        };

        let outcome = match cluster.world() {
            Some(world) => {
                run_simulated(
                    &cluster,
                    world,
                    &self.workload,
                    &self.nemesis,
                    progress,
                    &mut faults,
                )?
                .0
            }
            None => {
                let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
                let log = &mut faults;
                let (outcome, faults) = std::thread::scope(|s| {
                    let nemesis = s.spawn(|| self.nemesis.run_logged(&cluster, &stop_rx, log));
                    let outcome = run_workload(&cluster, &self.workload, progress);
                    drop(stop_tx);
                    let faults = nemesis.join().unwrap_or_else(|_| {
                        Err(crate::Error::Protocol("the nemesis thread panicked".into()))
                    });
                    (outcome, faults)
                });
                faults?;
                outcome?
            }
        };

        // Heal everything (the attacker leaves too), then let the replicas
        // catch up.
        cluster.network().clear_adversary();
        cluster.network().clear_faults();
        if self.attack.is_some() {
            // Let what the attacker sent last arrive, so that every
            // injection is either applied or refused (and counted).
            cluster.run_until_quiet(self.convergence_deadline);
        }
        let converged = match self.consistency {
            Consistency::Eventual { .. } => {
                Some(cluster.wait_for_convergence(self.convergence_deadline)?)
            }
            _ => None,
        };
        let history = cluster.history();
        let trace = cluster.world().map(|w| w.trace()).unwrap_or_default();
        let staleness = StalenessReport::from_history(&history);
        let lost = match converged {
            Some(true) => Some(lost_writes(&history, &cluster.final_values()?).len() as u64),
            _ => None,
        };
        let linearizable = if self.check_linearizability {
            match Checker::new()
                .time_budget(self.checker_budget)
                .check(&history)
            {
                CheckResult::Linearizable => Some(true),
                CheckResult::NotLinearizable(_) => Some(false),
                CheckResult::Unknown { .. } => None,
            }
        } else {
            None
        };
        let security = if self.attack.is_some() || self.authenticate_links {
            Some(SecurityReport::measure(
                &cluster,
                &history,
                self.attack,
                self.authenticate_links,
                attacker.as_ref().map_or(0, |a| a.injected()),
            )?)
        } else {
            None
        };
        let report = ExperimentReport::new(ReportInputs {
            security,
            experiment: self,
            outcome: &outcome,
            metrics: &cluster.metrics(),
            staleness: &staleness,
            lost_writes: lost,
            linearizable,
            converged,
            faults: &faults.windows,
        });
        Ok(Traced {
            report,
            history,
            trace,
            messages: cluster.network().trace(),
        })
    }
}
