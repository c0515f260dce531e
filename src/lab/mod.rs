//! The lab: workloads, a nemesis that injects faults on a schedule, and
//! experiments that run them on a cluster and report what happened —
//! throughput, latency, errors, staleness, linearizability, convergence,
//! lost writes — and [`pbs`], t-visibility measured against the WARS
//! model's prediction. The `replikv` command and the examples are thin layers over
//! this module, so everything they print can also be computed in a test.

pub mod exercises;
mod experiment;
mod nemesis;
pub mod pbs;
#[cfg(feature = "plot")]
mod plots;
mod report;
mod simulated;
mod timeseries;
mod workload;

pub use experiment::Experiment;
pub use nemesis::{FaultWindow, Nemesis, NemesisKind};
pub use report::{
    CacheCounts, Errors, ExperimentReport, KStaleness, LatencyUs, Messages, NodePanic,
    ReportConfig, TStalenessMs,
};
pub use timeseries::{RunSeries, TimeSlice};
pub use workload::{KeyChooser, RunOutcome, Workload, run_workload};
