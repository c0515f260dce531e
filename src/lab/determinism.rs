//! The determinism check (see [`Determinism`]).

use super::experiment::Experiment;
use super::report::ExperimentReport;
use crate::StorageKind;
use crate::error::{Error, Result};
use crate::history::{History, Operation, op_json};
use crate::sim::Runtime;
use crate::sim::trace::TraceEvent;
use std::fmt;

/// Where two runs that should be the same first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Which event, operation or field, e.g. `event 1234 of the world`,
    /// `history operation 17`, `report field latency_us.p50`.
    pub at: String,
    /// What the first run had there (`(none)` when it had ended).
    pub first: String,
    /// What the second run had there.
    pub second: String,
}

impl fmt::Display for Divergence {
    /// ```
    /// use replikv::lab::Divergence;
    /// let d = Divergence { at: "report field ops".into(), first: "117".into(), second: "120".into() };
    /// assert_eq!(d.to_string(), "the runs differ at report field ops:\n  first run:  117\n  second run: 120");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the runs differ at {}:\n  first run:  {}\n  second run: {}",
            self.at, self.first, self.second
        )
    }
}

/// What [`Experiment::check_determinism`] found: whether two runs of one
/// configuration on the simulator were the same run, and if not, where
/// they first parted.
///
/// The simulator promises that a seed *is* a run (see [`crate::sim`]). The
/// promise breaks quietly — a `HashMap` iterated where its order reaches a
/// message, a random number drawn from the wrong generator, a thread — and
/// a broken promise makes every replay command a lie. madsim's
/// `MADSIM_TEST_CHECK_DETERMINISM` answers this by running each seed twice;
/// so does [`Experiment::check_determinism`] (`replikv run --runtime sim
/// --check-determinism`). It compares, in order:
///
/// 1. the world's **event trace** — every message delivery, timer and
///    wake-up, with its virtual time, endpoints and a digest of the
///    message — so a difference is named where it started, often long
///    before a client sees anything;
/// 2. the **history**, operation by operation, as the history JSON has them;
/// 3. the **report**, field by field.
///
/// The first difference found is a [`Divergence`]: where, and both
/// versions.
#[derive(Clone, Debug)]
pub struct Determinism {
    /// The first run's report.
    pub report: ExperimentReport,
    /// The first run's history.
    pub history: History,
    /// Events the world processed in the first run.
    pub events: usize,
    /// Where the second run departed from the first; `None`: byte for byte
    /// the same run.
    pub divergence: Option<Divergence>,
}

/// The first position at which `a` and `b` differ, with both items shown.
fn first_difference<T: PartialEq>(
    a: &[T],
    b: &[T],
    show: impl Fn(&T) -> String,
) -> Option<(usize, String, String)> {
    let shown = |item: Option<&T>| item.map_or_else(|| "(none: the run had ended)".into(), &show);
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| (i, shown(a.get(i)), shown(b.get(i))))
}

/// The first operation at which two histories differ, as the history JSON
/// shows it; `None` when they are equal.
///
/// ```
/// use replikv::history::{History, OpKind, Operation};
/// use replikv::lab::first_history_difference;
/// use replikv::ClientId;
/// let op = |value: &str| Operation {
///     client: ClientId(1), key: b"k".to_vec(), kind: OpKind::Put,
///     value: Some(value.as_bytes().to_vec()), output: None,
///     expected: None, swapped: None, ok: true,
///     call_ns: 10, return_ns: Some(20), cached: false,
/// };
/// let a = History::new(vec![op("a"), op("b")]);
/// let b = History::new(vec![op("a"), op("c")]);
/// let d = first_history_difference(&a, &b).expect("they differ");
/// assert_eq!(d.at, "history operation 1");
/// assert!(d.first.contains(r#""value":"b""#) && d.second.contains(r#""value":"c""#));
/// assert!(first_history_difference(&a, &a).is_none());
/// ```
pub fn first_history_difference(a: &History, b: &History) -> Option<Divergence> {
    let show = |op: &Operation| {
        let cached = if op.cached {
            " (answered by a cache)"
        } else {
            ""
        };
        format!("{}{cached}", op_json(op))
    };
    first_difference(&a.ops, &b.ops, show).map(|(i, first, second)| Divergence {
        at: format!("history operation {i}"),
        first,
        second,
    })
}

/// The first field at which two reports differ (nested fields as
/// `latency_us.p50`); `None` when they are equal.
pub fn first_report_difference(a: &ExperimentReport, b: &ExperimentReport) -> Option<Divergence> {
    let value = |r: &ExperimentReport| serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
    first_value_difference("", &value(a), &value(b)).map(|(path, first, second)| Divergence {
        at: format!("report field {path}"),
        first,
        second,
    })
}

fn first_value_difference(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| {
                let (x, y) = (x.get(key), y.get(key));
                match (x, y) {
                    (Some(x), Some(y)) => first_value_difference(&join(key), x, y),
                    _ => Some((join(key), show_value(x), show_value(y))),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| first_value_difference(&join(&i.to_string()), x, y)),
        _ if a == b => None,
        _ => Some((path.to_string(), a.to_string(), b.to_string())),
    }
}

fn show_value(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "(absent)".into(), |v| v.to_string())
}

/// The first event at which two world traces differ.
pub(crate) fn first_trace_difference(a: &[TraceEvent], b: &[TraceEvent]) -> Option<Divergence> {
    first_difference(a, b, |e| e.to_string()).map(|(i, first, second)| Divergence {
        at: format!("event {i} of the simulated world"),
        first,
        second,
    })
}

impl Experiment {
    /// Runs the experiment twice on the simulator and compares the runs:
    /// the world's events, the histories and the reports, in that order
    /// ([`Determinism::divergence`] names the first difference). Fails with [`Error::InvalidConfig`] on threads,
    /// whose runs are not meant to repeat, and with a storage directory,
    /// which the first run would leave data in.
    ///
    /// ```
    /// use replikv::lab::{Experiment, Workload};
    /// use replikv::Runtime;
    /// let experiment = Experiment {
    ///     runtime: Runtime::Simulated,
    ///     workload: Workload { clients: 2, ops_per_client: 20, ..Workload::default() },
    ///     drop: 0.1,
    ///     ..Experiment::default()
    /// };
    /// let check = experiment.check_determinism(&mut |_| {})?;
    /// assert_eq!(check.divergence, None);
    /// assert_eq!(check.report.ops, 40);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn check_determinism(&self, progress: &mut dyn FnMut(u64)) -> Result<Determinism> {
        if self.runtime != Runtime::Simulated {
            return Err(Error::InvalidConfig(
                "the determinism check runs the simulator (runtime sim): on threads the \
                 operating system's scheduling makes every run different"
                    .into(),
            ));
        }
        if let StorageKind::Directory(dir) = &self.storage {
            return Err(Error::InvalidConfig(format!(
                "the determinism check runs twice, and the second run would find the first \
                 run's data in {}: leave the storage directory out",
                dir.display()
            )));
        }
        let one = self.run_inner(progress, true, false)?;
        let two = self.run_inner(progress, true, false)?;
        let divergence = first_trace_difference(&one.trace, &two.trace)
            .or_else(|| first_history_difference(&one.history, &two.history))
            .or_else(|| first_report_difference(&one.report, &two.report));
        Ok(Determinism {
            events: one.trace.len(),
            report: one.report,
            history: one.history,
            divergence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientId, Endpoint, NodeId};
    use crate::sim::trace::TraceKind;

    #[test]
    fn the_first_differing_event_is_named_with_both_versions() {
        let event = |at_ns, to| TraceEvent {
            at_ns,
            kind: TraceKind::Deliver {
                from: Endpoint::Client(ClientId(1)),
                to: Endpoint::Node(NodeId(to)),
                what: "request",
                digest: 7,
            },
        };
        let a = [event(1_000, 0), event(2_000, 1), event(3_000, 2)];
        let b = [event(1_000, 0), event(2_000, 2), event(3_000, 2)];
        let d = first_trace_difference(&a, &b).expect("the traces differ");
        assert_eq!(d.at, "event 1 of the simulated world");
        assert!(
            d.first.contains("c1 → n1") && d.second.contains("c1 → n2"),
            "{d}"
        );
        assert!(d.first.starts_with("at 0.002000 ms"), "{d}");
        // A run that stopped early differs where it stopped.
        let d = first_trace_difference(&a, &a[..2]).expect("one is shorter");
        assert_eq!(d.at, "event 2 of the simulated world");
        assert!(d.second.contains("ended"), "{d}");
        assert_eq!(first_trace_difference(&a, &a), None);
    }

    #[test]
    fn the_first_differing_report_field_is_named_by_its_path() {
        let a = serde_json::json!({"ops": 10, "latency_us": {"p50": 5, "p99": 9}});
        let b = serde_json::json!({"ops": 10, "latency_us": {"p50": 5, "p99": 11}});
        assert_eq!(
            first_value_difference("", &a, &b),
            Some(("latency_us.p99".into(), "9".into(), "11".into()))
        );
        assert_eq!(first_value_difference("", &a, &a), None);
    }
}
