//! Exercise 9, no global clock: find the acknowledged writes that clock
//! skew made disappear.
//!
//! Eventual mode resolves conflicts by last-writer-wins on timestamps from
//! each coordinator's own clock. Clocks drift: a coordinator whose clock
//! runs behind stamps its writes in the past, and a write it makes *after*
//! another — by the global observer's clock — loses to it. The client was
//! told "done", and the write is gone.
//!
//! The learner writes the detector: given the recorded [`History`] and the
//! value each key converged to, return the history positions of the
//! acknowledged writes that were lost. The definition is the one
//! [`lost_writes`] documents: the *winner* is the write that produced the
//! final value (the one that returned last if several did; the initial
//! state if the key is missing and nothing deleted it), and an acknowledged
//! write is lost iff it was **invoked after the winner returned** — it came
//! later in real time and should have overwritten it. A write concurrent
//! with the winner may legitimately lose.
//!
//! The grader compares the learner's answer with [`lost_writes`] on two
//! histories: a real run of a 3-node eventual cluster with one node's clock
//! 2 s behind and two clients writing concurrently, and a small hand-made
//! history in which one write overlaps the winner.

use super::Grade;
use super::concurrent::{Script, put, run_clients};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::Result;
use crate::history::{History, OpKind, Operation, lost_writes};
use crate::ids::{ClientId, NodeId};
use crate::sim::Runtime;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const EXERCISE: &str = "exercise 9: lost writes under clock skew";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 9;

/// Writes each of the two clients makes.
const WRITES_PER_CLIENT: usize = 15;
/// Each client's pause between one write's answer and its next write: with
/// instant links an operation takes no virtual time, and writes must be
/// ordered in time for a write to come "after" the winner.
const THINK: Duration = Duration::from_millis(1);

/// Final values: each key's converged value (`None`: missing).
type Finals = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Grades a lost-write detector: `finder(history, final_values)` must return
/// the positions in `history.ops` of the acknowledged writes that were lost
/// (in any order).
///
/// ```no_run
/// use replikv::lab::exercises::grade_lost_writes;
/// // "Nothing is ever lost" is wrong once clocks are skewed.
/// assert!(!grade_lost_writes(|_, _| Vec::new()).passed);
/// ```
pub fn grade_lost_writes<F>(finder: F) -> Grade
where
    F: Fn(&History, &Finals) -> Vec<usize>,
{
    grade_lost_writes_with_seed(finder, None)
}

/// [`grade_lost_writes`] with another seed for the skewed run (`None`: the
/// exercise's own, 9) — what `cargo run --release --example
/// exercise_09_lost_writes -- --seed N` runs.
pub fn grade_lost_writes_with_seed<F>(finder: F, seed: Option<u64>) -> Grade
where
    F: Fn(&History, &Finals) -> Vec<usize>,
{
    let seed = seed.unwrap_or(SEED);
    let (skewed, panics) = match skewed_run(seed) {
        Ok(run) => run,
        Err(e) => {
            return Grade::could_not_run(EXERCISE, &e, "the skewed cluster run failed to start");
        }
    };
    let cases = [
        ("skewed cluster run", skewed),
        ("overlapping writes", overlapping()),
    ];
    let mut lines = Vec::new();
    let mut passed = true;
    let mut expected_total = 0;
    let (mut missed_total, mut extra_total) = (0, 0);
    for (name, (history, finals)) in &cases {
        let expected: BTreeSet<usize> = lost_writes(history, finals)
            .iter()
            .map(|l| l.lost)
            .collect();
        let answered: BTreeSet<usize> = finder(history, finals).into_iter().collect();
        expected_total += expected.len();
        let missed: Vec<_> = expected.difference(&answered).collect();
        let extra: Vec<_> = answered.difference(&expected).collect();
        passed &= missed.is_empty() && extra.is_empty();
        missed_total += missed.len();
        extra_total += extra.len();
        lines.push(format!(
            "{name}: {} ops, {} acknowledged writes lost; you found {} — missed {missed:?}, \
             wrongly flagged {extra:?}",
            history.len(),
            expected.len(),
            answered.len()
        ));
    }
    let explanation = if passed {
        format!(
            "you found exactly the {expected_total} acknowledged writes that came after the \
             winner in real time yet lost to it: the price of ordering writes by clocks that \
             disagree"
        )
    } else {
        "a write is lost only if it started after the winning write had returned; earlier \
         writes were legitimately overwritten, and writes that overlapped the winner may lose \
         to it (no one can say which came first)"
            .into()
    };
    let grade = Grade {
        replay: Some(super::replay_command("exercise_09_lost_writes", seed)),
        history: None,
        exercise: EXERCISE,
        passed,
        measured: format!("{} [simulated, seed {seed}]", lines.join("; ")),
        explanation,
        hint: hint(missed_total, extra_total),
    };
    grade.unless_panicked(&panics)
}

/// The hint for what the answer got wrong: writes it missed, writes it
/// flagged that were not lost, or both.
fn hint(missed: usize, extra: usize) -> String {
    let winner = "per key, find the write that produced the final value (the latest to return; \
                  the initial state if the key is missing and no delete explains it)";
    match (missed > 0, extra > 0) {
        (false, true) => format!(
            "you flagged writes that were not lost: an acknowledged write that was simply \
             overwritten later, or that overlapped the winner, lost legitimately — {winner}, \
             then flag only the acknowledged writes whose call_ns is after its return_ns"
        ),
        (true, false) => format!(
            "you missed lost writes — {winner}, then flag every acknowledged write whose \
             call_ns is after its return_ns, including writes to a key that ended up missing"
        ),
        _ => format!(
            "{winner}, then flag the acknowledged writes whose call_ns is after its return_ns"
        ),
    }
}

/// Two clients write three keys concurrently on a 3-node eventual cluster
/// whose node 0 runs 2 s behind; the history and converged values, and
/// the nodes' panics ([`crate::metrics::Report::node_panics`]).
fn skewed_run(seed: u64) -> Result<((History, Finals), Vec<String>)> {
    let cluster = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Memory)
        .consistency(Consistency::Eventual { r: 2, w: 2 })
        .coordinator(CoordinatorPolicy::Random)
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    cluster.set_clock_skew(NodeId(0), -2_000_000_000)?;
    let clients = (0..2)
        .map(|_| cluster.client())
        .collect::<Result<Vec<_>>>()?;
    let clients = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let mut i = 0;
            let script: Script<'_> = Box::new(move |_, _| {
                (i < WRITES_PER_CLIENT).then(|| {
                    i += 1;
                    put(format!("key-{}", (i - 1) % 3), format!("c{c}-{}", i - 1))
                })
            });
            (client, script)
        })
        .collect();
    // Errors are the point: the history records them.
    run_clients(&cluster, clients, THINK, &mut |_, _| Ok(()))?;
    cluster.wait_for_convergence(Duration::from_secs(5))?;
    Ok((
        (cluster.history(), cluster.final_values()?),
        cluster.metrics().node_panics(),
    ))
}

/// A hand-made history on one key: `a`, then `b` and `c` overlapping, `b`
/// wins, then `d` after `b` returned (lost), plus a key that converged to
/// missing although it was written (every acknowledged write lost).
fn overlapping() -> (History, Finals) {
    let put = |client, key: &str, v: &str, call_ns, return_ns| Operation {
        client: ClientId(client),
        key: key.as_bytes().to_vec(),
        kind: OpKind::Put,
        value: Some(v.as_bytes().to_vec()),
        output: None,
        expected: None,
        swapped: None,
        ok: true,
        call_ns,
        return_ns: Some(return_ns),
        cached: false,
    };
    let history = History::new(vec![
        put(1, "x", "a", 0, 10),
        put(2, "x", "b", 5, 30),
        put(1, "x", "c", 20, 25),
        put(3, "y", "p", 22, 28),
        put(1, "x", "d", 40, 50),
    ]);
    let finals = BTreeMap::from([(b"x".to_vec(), Some(b"b".to_vec())), (b"y".to_vec(), None)]);
    (history, finals)
}
