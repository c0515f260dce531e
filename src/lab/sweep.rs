//! Sweeps: one configuration, many seeds (see [`Sweep`]).

use super::experiment::Experiment;
use super::nemesis::NemesisKind;
use super::replay::replay_command;
use super::report::ExperimentReport;
use super::shrink::{Shrunk, shrink};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Consistency, StorageKind};
use crate::error::{Error, Result};
use crate::sim::Runtime;
use std::fmt;
use std::ops::Range;
use std::time::{Duration, Instant};

/// What a configuration promises, and so what a sweep calls a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Every history is linearizable (strong, single-copy, the mutants).
    Linearizable,
    /// Replicas agree after healing, and — without clock skew — no
    /// acknowledged write is lost (eventual).
    Convergent,
}

impl Claim {
    /// The claim of `experiment`'s mode (or of the mode its mutant imitates
    /// and is held to).
    ///
    /// ```
    /// use replikv::lab::{Claim, Experiment, Mutant};
    /// use replikv::Consistency;
    /// let eventual = Experiment { consistency: Consistency::Eventual { r: 1, w: 1 }, ..Experiment::default() };
    /// assert_eq!(Claim::of(&eventual), Claim::Convergent);
    /// assert_eq!(Claim::of(&eventual.with_mutant(Mutant::EventualAsLinearizable)), Claim::Linearizable);
    /// ```
    pub fn of(experiment: &Experiment) -> Claim {
        match (experiment.mutant, experiment.consistency) {
            (Some(_), _) => Claim::Linearizable,
            (None, Consistency::Eventual { .. }) => Claim::Convergent,
            (None, _) => Claim::Linearizable,
        }
    }
}

/// Whether a run broke its claim: the violation in one line, or `None`.
///
/// A run that failed outright (`Err`) is a violation too: the simulator
/// stalling, say, is a bug to replay like any other.
pub fn judge(experiment: &Experiment, run: &Result<ExperimentReport>) -> Option<String> {
    let report = match run {
        Ok(report) => report,
        Err(e) => return Some(format!("the run failed: {e}")),
    };
    match Claim::of(experiment) {
        Claim::Linearizable => {
            (report.linearizable == Some(false)).then(|| "not linearizable".to_string())
        }
        Claim::Convergent => {
            let skew = matches!(
                experiment.nemesis.kind,
                NemesisKind::Skew | NemesisKind::All
            );
            match (report.converged, report.lost_writes) {
                (Some(false), _) => Some(format!(
                    "replicas did not converge within {:?} after healing",
                    experiment.convergence_deadline
                )),
                (_, Some(lost)) if lost > 0 && !skew => Some(format!(
                    "{lost} acknowledged write{} lost without clock skew",
                    if lost == 1 { "" } else { "s" }
                )),
                _ => None,
            }
        }
    }
}

/// Runs `experiment` on the simulator at `seed` (for the cluster, the
/// workload and the nemesis alike) and judges it.
pub(crate) fn run_seed(
    experiment: &Experiment,
    seed: u64,
) -> (Experiment, Option<String>, Result<ExperimentReport>) {
    let e = at_seed(experiment, seed);
    let run = e.run(&mut |_| {});
    (e.clone(), judge(&e, &run), run)
}

/// [`run_seed`], twice: a difference between the runs is the violation.
fn run_seed_twice(
    experiment: &Experiment,
    seed: u64,
) -> (Experiment, Option<String>, Result<ExperimentReport>) {
    let e = at_seed(experiment, seed);
    let run = e.check_determinism(&mut |_| {});
    let (verdict, run) = match run {
        Ok(check) => match check.divergence {
            Some(d) => (Some(format!("not deterministic: {d}")), Ok(check.report)),
            None => {
                let run = Ok(check.report);
                (judge(&e, &run), run)
            }
        },
        Err(err) => {
            let run = Err(err);
            (judge(&e, &run), run)
        }
    };
    (e, verdict, run)
}

/// `experiment` with every seed set to `seed`.
pub(crate) fn at_seed(experiment: &Experiment, seed: u64) -> Experiment {
    let mut e = experiment.clone();
    e.seed = seed;
    e.workload.seed = seed;
    e.nemesis.seed = seed;
    e
}

/// One schedule that broke its claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// The seed.
    pub seed: u64,
    /// What went wrong, in one line.
    pub what: String,
    /// The command that replays it ([`replay_command`]).
    pub replay: String,
}

/// Many seeds of one configuration, on the simulator: every violation,
/// with the line that replays it.
///
/// # Why
///
/// One run under faults explores one schedule. Bugs in distributed
/// protocols live in rare interleavings — a duplicate that arrives after a
/// restart, a read that meets a write half-way — so finding them is a
/// matter of running *many* schedules, and fixing them a matter of seeing
/// the failing one again. The simulator gives both: thousands of schedules a
/// minute on virtual time, each replayed bit for bit from its seed
/// (FoundationDB's simulation testing, Jepsen's many runs, QuickCheck's
/// shrinking, together).
///
/// # What counts as a violation
///
/// What the configuration *claims* ([`Claim::of`]):
///
/// - strong and single-copy, and every [`Mutant`](super::Mutant), claim
///   **linearizability**: the checker's verdict must not be "not
///   linearizable" (a verdict the checker's budget cut short is counted as
///   unknown, not as a violation);
/// - eventual mode claims **convergence**: after the faults heal the
///   replicas must agree, and no acknowledged write may be lost — unless
///   the nemesis skews clocks, which makes last-writer-wins lose writes by
///   design (`NemesisKind::Skew` and `All`).
///
/// # Shrinking
///
/// With [`Sweep::shrink`] on, the first violation is made smaller while it
/// still fails ([`shrink`](super::shrink())): the faults go first (the
/// nemesis, then drop and duplication, then latency), then clients,
/// operations and keys. What remains names what the bug needs.
///
/// ```
/// use replikv::lab::{Experiment, Mutant, Nemesis, NemesisKind, Sweep, Workload};
/// use replikv::network::Latency;
/// use replikv::CoordinatorPolicy;
/// use std::time::Duration;
/// // Strong mode whose reads skip the write-back, under heavy-tailed
/// // latency, duplication and a nemesis that strikes every 5 ms: caught.
/// let experiment = Experiment {
///     nodes: 5,
///     workload: Workload { clients: 4, ops_per_client: 50, keys: 2, ..Workload::default() },
///     latency: Latency::Pareto { scale: Duration::from_millis(1), shape: 1.1 },
///     duplicate: 0.5,
///     nemesis: Nemesis { kind: NemesisKind::All, interval: Duration::from_millis(5), seed: 0 },
///     coordinator: CoordinatorPolicy::Random,
///     client_timeout: Duration::from_millis(200),
///     ..Experiment::default()
/// }
/// .with_mutant(Mutant::AbdWithoutWriteBack);
/// let report = Sweep { experiment, seeds: 1..11, shrink: false, ..Sweep::default() }.run(&mut |_, _| {})?;
/// assert!(!report.violations.is_empty(), "{report}");
/// assert!(report.violations[0].replay.contains("--protocol abd-without-write-back"));
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// The configuration; its seeds are replaced by each of `seeds`, and
    /// it runs on the simulator whatever its `runtime` says.
    pub experiment: Experiment,
    /// The seeds to run.
    pub seeds: Range<u64>,
    /// Whether to shrink the first violation (default on).
    pub shrink: bool,
    /// Most runs the shrinking may take (default 60).
    pub shrink_budget: u32,
    /// Whether to run every seed twice and count a difference between the
    /// runs as a violation ([`Experiment::check_determinism`]; default off).
    pub check_determinism: bool,
}

impl Default for Sweep {
    fn default() -> Self {
        Sweep {
            experiment: Experiment::default(),
            seeds: 1..101,
            shrink: true,
            shrink_budget: 60,
            check_determinism: false,
        }
    }
}

/// What a sweep found.
#[derive(Clone, Debug)]
pub struct SweepReport {
    /// What the configuration claims.
    pub claim: Claim,
    /// Schedules run.
    pub schedules: u64,
    /// Wall time the sweep took (shrinking excluded).
    pub wall: Duration,
    /// Every violation, in seed order.
    pub violations: Vec<Violation>,
    /// Runs whose checker verdict was cut short by its budget: neither
    /// passed nor failed.
    pub unknown: u64,
    /// The smallest failing configuration shrinking found, when asked for
    /// and something failed.
    pub shrunk: Option<Shrunk>,
}

impl SweepReport {
    /// Schedules per second of wall time.
    pub fn schedules_per_second(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.schedules as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} schedules in {:.2} s ({:.1} schedules/s), claim: {}; {} violation{}{}",
            self.schedules,
            self.wall.as_secs_f64(),
            self.schedules_per_second(),
            match self.claim {
                Claim::Linearizable => "linearizable",
                Claim::Convergent => "converges, loses no acknowledged write",
            },
            self.violations.len(),
            if self.violations.len() == 1 { "" } else { "s" },
            if self.unknown > 0 {
                format!(", {} verdicts unknown (checker budget)", self.unknown)
            } else {
                String::new()
            },
        )?;
        for v in &self.violations {
            writeln!(f, "seed {}: {}\n  replay: {}", v.seed, v.what, v.replay)?;
        }
        if let Some(shrunk) = &self.shrunk {
            write!(f, "{shrunk}")?;
        }
        Ok(())
    }
}

impl Sweep {
    /// Runs every seed, then shrinks the first violation (when asked);
    /// `progress(done, total)` hears of each seed. Fails only when the
    /// configuration is invalid.
    pub fn run(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<SweepReport> {
        if self.seeds.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "the seed range {}..{} is empty",
                self.seeds.start, self.seeds.end
            )));
        }
        if let CoordinatorPolicy::Fixed(_) = self.experiment.coordinator {
            return Err(Error::InvalidConfig(
                "a sweep prints a command line to replay each violation, and the command line \
                 has no fixed coordinator: use first, random or round-robin"
                    .into(),
            ));
        }
        if !matches!(
            self.experiment.storage,
            StorageKind::Temporary | StorageKind::Memory
        ) {
            return Err(Error::InvalidConfig(
                "a sweep keeps nodes' data in memory: a storage directory would carry one \
                 seed's data into the next, and its replay commands could not name a custom \
                 engine"
                    .into(),
            ));
        }
        let mut experiment = self.experiment.clone();
        experiment.runtime = Runtime::Simulated;
        experiment.check_linearizability = Claim::of(&experiment) == Claim::Linearizable;
        experiment.validate()?;
        let total = self.seeds.end - self.seeds.start;
        let started = Instant::now();
        let (mut violations, mut unknown, mut first_failure) = (Vec::new(), 0, None);
        for (done, seed) in self.seeds.clone().enumerate() {
            let (e, verdict, run) = if self.check_determinism {
                run_seed_twice(&experiment, seed)
            } else {
                run_seed(&experiment, seed)
            };
            if let (Claim::Linearizable, Ok(report)) = (Claim::of(&e), &run)
                && report.linearizable.is_none()
            {
                unknown += 1;
            }
            if let Some(what) = verdict {
                violations.push(Violation {
                    seed,
                    what: what.clone(),
                    replay: replay_command(&e),
                });
                first_failure.get_or_insert(e);
            }
            progress(done as u64 + 1, total);
        }
        let wall = started.elapsed();
        let shrunk = match (self.shrink, first_failure) {
            (true, Some(failing)) => shrink(&failing, self.shrink_budget),
            _ => None,
        };
        Ok(SweepReport {
            claim: Claim::of(&experiment),
            schedules: total,
            wall,
            violations,
            unknown,
            shrunk,
        })
    }
}
