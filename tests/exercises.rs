//! Every exercise grader is honest: it FAILS the starter answer shipped in
//! `examples/exercise_NN_*.rs` (so no exercise passes before the learner
//! has done anything) and PASSES a reference solution kept here or in
//! `tests/exercise_solutions/`.
//!
//! The starters are the examples' own `// YOUR ANSWER` items, included with
//! `#[path]`, so a starter changed by mistake in the repository is caught.
//! The graders use fixed seeds (printed in their `measured` text on
//! failure, with everything they measured).

#[path = "../examples/exercise_01_quorums.rs"]
#[allow(dead_code)]
mod ex01;
#[path = "../examples/exercise_02_partitioning.rs"]
#[allow(dead_code)]
mod ex02;
#[path = "../examples/exercise_03_linearizable.rs"]
#[allow(dead_code)]
mod ex03;
#[path = "../examples/exercise_04_convergence.rs"]
#[allow(dead_code)]
mod ex04;
#[path = "../examples/exercise_05_load_balancing.rs"]
#[allow(dead_code)]
mod ex05;
#[path = "../examples/exercise_06_caching.rs"]
#[allow(dead_code)]
mod ex06;
#[path = "../examples/exercise_07_fault_tolerance.rs"]
#[allow(dead_code)]
mod ex07;
#[path = "../examples/exercise_08_cap.rs"]
#[allow(dead_code)]
mod ex08;
#[path = "../examples/exercise_09_lost_writes.rs"]
#[allow(dead_code)]
mod ex09;

#[path = "../examples/primary_backup/protocol.rs"]
#[allow(dead_code)]
mod primary_backup;
#[path = "exercise_solutions/retransmit.rs"]
#[allow(dead_code)]
mod retransmit;

use replikv::history::History;
use replikv::lab::exercises::{
    CacheChoice, Grade, ReplicationChoice, grade_bank_balance, grade_cache, grade_converges,
    grade_linearizable, grade_load_balance, grade_lost_writes, grade_partitioning, grade_quorums,
    grade_survives_two_crashes,
};
use replikv::partition::Strategy;
use replikv::{Consistency, CoordinatorPolicy};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Asserts the starter fails and every reference passes, printing each
/// grade and how long the grader took.
fn assert_honest(starter: impl FnOnce() -> Grade, references: Vec<Box<dyn FnOnce() -> Grade>>) {
    let started = Instant::now();
    let grade = starter();
    eprintln!("starter ({:.1?}):\n{grade}", started.elapsed());
    assert!(!grade.passed, "the starter answer must fail:\n{grade}");
    for reference in references {
        let started = Instant::now();
        let grade = reference();
        eprintln!("reference ({:.1?}):\n{grade}", started.elapsed());
        assert!(grade.passed, "the reference answer must pass:\n{grade}");
    }
}

#[test]
fn exercise_01_quorums() {
    let (r, w) = ex01::answer();
    assert_honest(
        move || grade_quorums(r, w),
        vec![
            Box::new(|| grade_quorums(2, 2)),
            Box::new(|| grade_quorums(1, 3)),
        ],
    );
    // Fresh, but more than needed.
    assert!(!grade_quorums(3, 3).passed);
}

#[test]
fn exercise_02_partitioning() {
    assert_honest(
        || grade_partitioning(ex02::answer()),
        vec![
            Box::new(|| grade_partitioning(Strategy::Jump)),
            Box::new(|| grade_partitioning(Strategy::Rendezvous)),
            Box::new(|| grade_partitioning(Strategy::Ring { vnodes: 256 })),
        ],
    );
    // Consistent, but one point per node leaves the ring lopsided.
    assert!(!grade_partitioning(Strategy::Ring { vnodes: 1 }).passed);
}

#[test]
fn exercise_03_linearizable() {
    assert_honest(
        || grade_linearizable(ex03::answer),
        vec![Box::new(|| {
            grade_linearizable(|_| primary_backup::PrimaryBackup::default())
        })],
    );
}

#[test]
fn exercise_04_convergence() {
    assert_honest(
        || grade_converges(ex04::answer),
        vec![Box::new(|| grade_converges(retransmit::solution))],
    );
}

#[test]
fn exercise_05_load_balancing() {
    assert_honest(
        || grade_load_balance(ex05::answer()),
        vec![
            Box::new(|| grade_load_balance(CoordinatorPolicy::Random)),
            Box::new(|| grade_load_balance(CoordinatorPolicy::RoundRobin)),
        ],
    );
}

#[test]
fn exercise_06_caching() {
    assert_honest(
        || grade_cache(ex06::answer()),
        vec![Box::new(|| {
            grade_cache(CacheChoice {
                ttl: Duration::from_secs(10),
                shared: true,
            })
        })],
    );
    // Turning the cache off is consistent, and fails the hit-rate floor.
    assert!(
        !grade_cache(CacheChoice {
            ttl: Duration::ZERO,
            shared: true
        })
        .passed
    );
}

#[test]
fn exercise_07_fault_tolerance() {
    assert_honest(
        || grade_survives_two_crashes(ex07::answer()),
        vec![
            Box::new(|| {
                grade_survives_two_crashes(ReplicationChoice {
                    replication: 5,
                    consistency: Consistency::Strong,
                })
            }),
            Box::new(|| {
                grade_survives_two_crashes(ReplicationChoice {
                    replication: 3,
                    consistency: Consistency::Eventual { r: 1, w: 3 },
                })
            }),
        ],
    );
    // Three copies, but strong mode needs a majority of them to read.
    assert!(
        !grade_survives_two_crashes(ReplicationChoice {
            replication: 3,
            consistency: Consistency::Strong,
        })
        .passed
    );
    // Three copies, but a write the cut-off pair alone confirmed dies with it.
    for w in [1, 2] {
        let grade = grade_survives_two_crashes(ReplicationChoice {
            replication: 3,
            consistency: Consistency::Eventual { r: 1, w },
        });
        assert!(!grade.passed, "W = {w}: {}", grade.measured);
        assert!(
            grade.measured.contains("20 of 20 writes acknowledged"),
            "{}",
            grade.measured
        );
    }
}

#[test]
fn exercise_08_cap() {
    assert_honest(
        || grade_bank_balance(ex08::answer()),
        vec![Box::new(|| grade_bank_balance(Consistency::Strong))],
    );
}

/// Reference solution to exercise 9, written from the definition rather
/// than by calling `lost_writes`.
fn find_lost_writes(
    history: &History,
    final_values: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Vec<usize> {
    // When a version finished: -1 for the initial state, the return instant,
    // or "never" (i128::MAX) for a write whose outcome is unknown.
    let mut lost = Vec::new();
    for (key, last) in final_values {
        let writes = || {
            history
                .ops
                .iter()
                .enumerate()
                .filter(move |(_, op)| op.is_write() && &op.key == key)
        };
        // Writes that may have produced the final value: not refused, and
        // writing that value (a delete writes "missing").
        let winner_finished = writes()
            .filter(|(_, op)| op.ok || op.return_ns.is_none())
            .filter(|(_, op)| &op.value == last)
            .map(|(_, op)| op.return_ns.map_or(i128::MAX, i128::from))
            .chain(last.is_none().then_some(-1))
            .max()
            .unwrap_or(-1);
        lost.extend(
            writes()
                .filter(|(_, op)| op.ok && op.return_ns.is_some())
                .filter(|(_, op)| i128::from(op.call_ns) > winner_finished)
                .map(|(i, _)| i),
        );
    }
    lost
}

#[test]
fn exercise_09_lost_writes() {
    assert_honest(
        || grade_lost_writes(ex09::find_lost_writes),
        vec![
            Box::new(|| grade_lost_writes(find_lost_writes)),
            Box::new(|| {
                grade_lost_writes(|h, f| {
                    replikv::history::lost_writes(h, f)
                        .iter()
                        .map(|l| l.lost)
                        .collect()
                })
            }),
        ],
    );
    // "Nothing is ever lost" is wrong too.
    assert!(!grade_lost_writes(|_, _| Vec::new()).passed);
}
