//! The lab: workloads, a nemesis that injects faults on a schedule, and
//! experiments that run them on a cluster and report what happened —
//! throughput, latency, errors, staleness, linearizability, convergence,
//! lost writes — [`balancing`], coordinator policies against a slow node,
//! and [`pbs`], t-visibility measured against the WARS model's prediction;
//! [`lock`], a lease lock with fencing tokens against a GC pause.
//! On the simulator, a [`Sweep`] runs one configuration under many seeds,
//! judges each run by what its mode claims, prints the line that replays
//! each violation and [`shrink`]s the first;
//! [`Experiment::check_determinism`] checks that a seed is one run; and
//! [`Mutant`]s are known-bad variants the sweep must catch. The `replikv`
//! command and the examples are thin layers over this module, so everything
//! they print can also be computed in a test.

mod attack;
pub mod balancing;
mod determinism;
pub mod exercises;
mod experiment;
pub mod lock;
mod mutants;
mod nemesis;
pub mod pbs;
#[cfg(feature = "plot")]
mod plots;
mod replay;
mod report;
mod shrink;
mod simulated;
mod sweep;
mod timeseries;
mod workload;

pub use attack::SecurityReport;
pub use determinism::{Determinism, Divergence, first_history_difference, first_report_difference};
pub use experiment::Experiment;
pub use mutants::Mutant;
pub use nemesis::{FaultWindow, Nemesis, NemesisKind};
pub use replay::{duration_arg, replay_command};
pub use report::{
    CacheCounts, Errors, ExperimentReport, KStaleness, LatencyUs, Messages, NodePanic,
    ReportConfig, TStalenessMs,
};
pub use shrink::{Shrunk, shrink};
pub use sweep::{Claim, Sweep, SweepReport, Violation, judge};
pub use timeseries::{RunSeries, TimeSlice};
pub use workload::{KeyChooser, RunOutcome, Workload, run_workload};
