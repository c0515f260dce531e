//! Exercise 3, strong consistency: write a protocol whose histories are
//! linearizable.
//!
//! Linearizability is the precise meaning of "all nodes see the same data":
//! every operation appears to take effect at one instant between its call
//! and its return, in one order that all clients agree on. The grader runs
//! the learner's [`Protocol`] on 3 nodes (N = 3) with several clients that
//! send each request to a random replica, over a network that delays every
//! message independently — 0–2 ms between clients and nodes, 10–30 ms
//! between nodes, so messages overtake each other — and judges the recorded
//! history with the [`Checker`].
//!
//! A protocol that never answers would produce a history of timed-out
//! (indeterminate) operations, which is trivially linearizable; so at least
//! 80 % of the operations must also succeed. Messages are delayed and
//! reordered but not lost or duplicated: tolerating those is exercise 4's
//! subject (and duplicated client requests need the deduplication that
//! [`crate::protocol::strong`] describes).

use super::{Grade, set_node_link_latency};
use crate::CoordinatorPolicy;
use crate::cluster::{Cluster, StorageKind};
use crate::error::Result;
use crate::history::{CheckResult, Checker};
use crate::lab::workload::{Workload, run_workload};
use crate::network::Latency;
use crate::protocol::{NodeSetup, Protocol};
use std::time::Duration;

const EXERCISE: &str = "exercise 3: a linearizable protocol";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 3;
/// Client ↔ node messages take 0 to this long.
const CLIENT_LINK_MAX: Duration = Duration::from_millis(2);
/// Node → node messages take from `NODE_LINK_MIN` to `NODE_LINK_MAX`: longer
/// than a client's round trip, so a copy sent in the background is still
/// travelling when the same client's next request reaches another replica —
/// even on a loaded machine.
const NODE_LINK_MIN: Duration = Duration::from_millis(10);
const NODE_LINK_MAX: Duration = Duration::from_millis(30);
/// Fraction of operations that must succeed.
const MIN_OK: f64 = 0.8;

/// Grades a protocol, given as the factory the cluster builder takes, by
/// whether its history is linearizable.
///
/// ```no_run
/// use replikv::lab::exercises::grade_linearizable;
/// use replikv::protocol::SingleCopy;
/// // One copy per key is trivially linearizable (but not fault tolerant).
/// assert!(grade_linearizable(|_| SingleCopy::new()).passed);
/// ```
pub fn grade_linearizable<P, F>(factory: F) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    match run(factory) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "the cluster must start with your protocol"),
    }
}

fn run<P, F>(factory: F) -> Result<Grade>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .protocol(factory)
        .coordinator(CoordinatorPolicy::Random)
        .latency(Latency::Uniform {
            min: Duration::ZERO,
            max: CLIENT_LINK_MAX,
        })
        .client_timeout(Duration::from_secs(1))
        .seed(SEED)
        .build()?;
    set_node_link_latency(
        &cluster,
        Latency::Uniform {
            min: NODE_LINK_MIN,
            max: NODE_LINK_MAX,
        },
    )?;
    let workload = Workload {
        clients: 3,
        ops_per_client: 30,
        keys: 2,
        read_ratio: 0.5,
        seed: SEED,
        ..Workload::default()
    };
    let outcome = run_workload(&cluster, &workload, &mut |_| {})?;
    let history = cluster.history();
    let verdict = Checker::new()
        .time_budget(Duration::from_secs(5))
        .check(&history);
    let handler_errors: u64 = cluster
        .metrics()
        .nodes
        .iter()
        .map(|n| n.handler_errors)
        .sum();
    let ok_fraction = super::ratio(outcome.ok as f64, outcome.ops as f64);
    let enough = ok_fraction >= MIN_OK;
    let measured = format!(
        "{} operations by 3 clients on 2 keys, {} ok, {} timed out, {} refused, {} other errors, \
         {handler_errors} handler errors; checker: {}",
        outcome.ops,
        outcome.ok,
        outcome.timeouts,
        outcome.unavailable,
        outcome.other_errors,
        match &verdict {
            CheckResult::Linearizable => "linearizable".to_string(),
            CheckResult::NotLinearizable(cx) => format!("NOT linearizable —\n{cx}"),
            other => other.to_string(),
        }
    );
    let (passed, explanation) = match (&verdict, enough) {
        (CheckResult::Linearizable, true) => (
            true,
            "every operation can be placed at one instant within its call and return, in an \
             order all clients agree on: the replicas behave like a single copy",
        ),
        (CheckResult::Linearizable, false) => (
            false,
            "the history is linearizable, but fewer than 80 % of the operations succeeded: \
             a store that does not answer is consistent and useless",
        ),
        (CheckResult::NotLinearizable(_), _) => (
            false,
            "no single order of the operations explains what the clients saw (see the \
             counterexample): some read returned a value that a completed write had already \
             replaced, or values appeared and then disappeared",
        ),
        _ => (
            false,
            "the checker ran out of time before it could decide; a protocol that answers \
             promptly produces a history it can decide",
        ),
    };
    let grade = Grade {
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [seed {SEED}]"),
        explanation: explanation.into(),
        hint: "one node per key must order every read and write of it, and a write may only be \
               acknowledged once every node that can answer reads of the key has it"
            .into(),
    };
    Ok(grade.unless_panicked(&cluster.metrics().node_panics()))
}
