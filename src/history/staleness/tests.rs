//! One hand-written history per rule. Times in ns; every op on key "x".

use super::*;
use crate::history::op::{History, Operation};
use crate::history::simulate::{random_plan, simulate};
use crate::history::testkit::{cached, del, failed, get, on, put, timed_out};
use std::collections::BTreeMap;

fn report(ops: Vec<Operation>) -> StalenessReport {
    StalenessReport::from_history(&History::new(ops))
}

/// (k, t_ns) of the read at history position `i`.
fn of(r: &StalenessReport, i: usize) -> (u64, Option<u64>) {
    let e = r
        .entries
        .iter()
        .find(|e| e.index == i)
        .expect("an entry for the read");
    (e.k, e.t_ns)
}

#[test]
fn a_fresh_read_has_k_zero() {
    let r = report(vec![
        put(1, "a", 0, 10),
        put(1, "b", 20, 30),
        get(2, Some("b"), 40, 50),
    ]);
    assert_eq!(of(&r, 2), (0, None));
    assert_eq!(r.entries[0].read_from, ValueOrigin::Write(1));
    assert_eq!((r.reads, r.stale_reads), (1, 0));
}

#[test]
fn one_write_behind() {
    // b acknowledged at 30; the read, invoked at 45, still saw a.
    let r = report(vec![
        put(1, "a", 0, 10),
        put(1, "b", 20, 30),
        get(2, Some("a"), 45, 50),
    ]);
    assert_eq!(of(&r, 2), (1, Some(15)));
    assert_eq!(r.stale_reads, 1);
}

#[test]
fn two_writes_behind_measures_t_from_the_first() {
    let r = report(vec![
        put(1, "a", 0, 10),
        put(1, "b", 20, 30),
        put(1, "c", 40, 60),
        get(2, Some("a"), 100, 110),
    ]);
    assert_eq!(of(&r, 3), (2, Some(70)));
    assert_eq!(r.k_max, 2);
}

#[test]
fn writes_not_yet_acknowledged_or_concurrent_are_not_counted() {
    let r = report(vec![
        put(1, "a", 0, 10),
        put(2, "b", 5, 20),            // overlaps a: not definitely newer
        put(3, "c", 30, 60),           // acknowledged after the read was invoked
        timed_out(put(4, "d", 30, 0)), // never acknowledged
        failed(put(4, "e", 31, 32)),   // never took effect
        get(5, Some("a"), 40, 50),
    ]);
    assert_eq!(of(&r, 5), (0, None));
}

#[test]
fn reading_a_timed_out_write_is_never_stale() {
    let r = report(vec![
        timed_out(put(1, "a", 0, 0)),
        put(1, "b", 20, 30),
        get(2, Some("a"), 40, 50),
    ]);
    assert_eq!(of(&r, 2), (0, None));
}

#[test]
fn the_initial_state() {
    let r = report(vec![
        get(2, None, 0, 5), // fresh: nothing written yet
        put(1, "a", 10, 20),
        get(2, None, 15, 25), // a not yet acknowledged: fresh
        get(2, None, 30, 40), // missed a
    ]);
    assert_eq!(of(&r, 0), (0, None));
    assert_eq!(of(&r, 2), (0, None));
    assert_eq!(of(&r, 3), (1, Some(10)));
    assert_eq!(r.entries[2].read_from, ValueOrigin::Initial);
    // No write to the key at all.
    assert_eq!(of(&report(vec![get(1, None, 0, 1)]), 0), (0, None));
}

#[test]
fn deletes_are_versions_too() {
    let r = report(vec![
        put(1, "a", 0, 10),
        del(1, 20, 30),
        put(1, "b", 40, 50),
        get(2, None, 35, 38),      // saw the delete: fresh
        get(2, None, 60, 70),      // saw the delete, missed b
        get(2, Some("a"), 60, 70), // missed the delete and b
    ]);
    assert_eq!(of(&r, 3), (0, None));
    assert_eq!(of(&r, 4), (1, Some(10)));
    assert_eq!(r.entries[1].read_from, ValueOrigin::Write(1));
    assert_eq!(of(&r, 5), (2, Some(30)));
}

#[test]
fn the_most_charitable_matching_version_is_chosen() {
    // Two deletes: reading missing after both is fresh via the second.
    let r = report(vec![
        put(1, "a", 0, 10),
        del(1, 20, 30),
        put(1, "b", 40, 50),
        del(1, 60, 70),
        get(2, None, 80, 90),
    ]);
    assert_eq!(of(&r, 4), (0, None));
    assert_eq!(r.entries[0].read_from, ValueOrigin::Write(3));
}

#[test]
fn unexplained_reads_are_counted_apart() {
    let r = report(vec![
        failed(put(1, "z", 0, 10)),
        get(2, Some("z"), 20, 30),     // z never took effect
        get(2, Some("ghost"), 20, 30), // never written
        get(2, Some("late"), 40, 50),  // written only after the read returned
        put(1, "late", 60, 70),
        on("y", get(2, Some("q"), 1, 2)), // no writes to y at all
    ]);
    assert_eq!(r.unexplained, vec![1, 2, 3, 5]);
    assert_eq!(r.reads, 0);
}

#[test]
fn summary_statistics() {
    // Ten reads of a after b was acknowledged at 100 (k = 1, t = 1..=10 ns),
    // four of them from the cache; and ten fresh reads of b, half cached.
    let mut ops = vec![put(1, "a", 0, 10), put(1, "b", 20, 100)];
    for i in 1..=10u64 {
        let read = get(2, Some("a"), 100 + i, 200);
        ops.push(if i <= 4 { cached(read) } else { read });
    }
    for i in 0..10u64 {
        let read = get(3, Some("b"), 300 + i, 400);
        ops.push(if i % 2 == 0 { cached(read) } else { read });
    }
    let r = report(ops);
    assert_eq!((r.reads, r.stale_reads, r.k_max), (20, 10, 1));
    assert_eq!(r.stale_fraction(), 0.5);
    assert_eq!(r.k_mean(), 0.5);
    assert_eq!(r.k_histogram, BTreeMap::from([(0, 10), (1, 10)]));
    assert_eq!(
        (r.t_p50_ns, r.t_p99_ns, r.t_max_ns),
        (Some(5), Some(10), Some(10))
    );
    assert_eq!((r.cached_reads, r.stale_hits), (9, 4));
    assert_eq!((r.uncached_reads, r.uncached_stale_reads), (11, 6));
    let text = r.to_string();
    assert!(
        text.starts_with("20 reads, 10 stale (50.0 %); k max 1, mean 0.500"),
        "{text}"
    );
}

#[test]
fn an_empty_report() {
    let r = report(vec![]);
    assert_eq!((r.reads, r.t_p50_ns, r.stale_fraction()), (0, None, 0.0));
}

#[test]
fn a_perfect_register_is_never_stale() {
    for seed in 0..5 {
        let history = simulate(&random_plan(seed, 2_000, 8, 3));
        let r = StalenessReport::from_history(&history);
        assert_eq!((r.stale_reads, r.unexplained.len()), (0, 0), "seed {seed}");
        assert!(r.reads > 500);
    }
}

fn finals(v: Option<&str>) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    BTreeMap::from([(b"x".to_vec(), v.map(|v| v.as_bytes().to_vec()))])
}

#[test]
fn a_write_started_after_the_winner_finished_is_lost() {
    // Clock skew: a (finished at 10) beat b (started at 20).
    let history = History::new(vec![
        put(1, "a", 0, 10),
        put(2, "b", 20, 30),
        put(2, "c", 40, 50),
    ]);
    let lost = lost_writes(&history, &finals(Some("a")));
    let positions: Vec<_> = lost.iter().map(|l| (l.lost, l.winner)).collect();
    assert_eq!(
        positions,
        vec![(1, ValueOrigin::Write(0)), (2, ValueOrigin::Write(0))]
    );
    assert_eq!(lost[0].key, b"x");
    // Converged to the last write: nothing lost.
    assert!(lost_writes(&history, &finals(Some("c"))).is_empty());
}

#[test]
fn concurrent_writes_may_lose_without_being_lost() {
    let history = History::new(vec![put(1, "a", 0, 30), put(2, "b", 10, 20)]);
    assert!(lost_writes(&history, &finals(Some("a"))).is_empty());
    assert!(lost_writes(&history, &finals(Some("b"))).is_empty());
}

#[test]
fn failed_and_timed_out_writes_are_never_lost() {
    let history = History::new(vec![
        put(1, "a", 0, 10),
        failed(put(2, "b", 20, 30)),
        timed_out(put(2, "c", 40, 0)),
    ]);
    assert!(lost_writes(&history, &finals(Some("a"))).is_empty());
    // ...and a timed-out winner finished "never", so nothing is lost to it.
    assert!(lost_writes(&history, &finals(Some("c"))).is_empty());
}

#[test]
fn missing_final_values() {
    // Converged to missing: the delete won, the later put is lost.
    let history = History::new(vec![
        put(1, "a", 0, 10),
        del(1, 20, 30),
        put(2, "b", 40, 50),
    ]);
    let lost = lost_writes(&history, &finals(None));
    assert_eq!(
        lost.iter().map(|l| (l.lost, l.winner)).collect::<Vec<_>>(),
        vec![(2, ValueOrigin::Write(1))]
    );
    // No delete at all: the initial state "won", every write is lost.
    let history = History::new(vec![put(1, "a", 0, 10)]);
    let lost = lost_writes(&history, &finals(None));
    assert_eq!(
        lost.iter().map(|l| (l.lost, l.winner)).collect::<Vec<_>>(),
        vec![(0, ValueOrigin::Initial)]
    );
}

#[test]
fn unknown_final_values_and_skipped_keys() {
    let history = History::new(vec![put(1, "a", 0, 10), on("y", put(1, "b", 0, 10))]);
    let lost = lost_writes(&history, &finals(Some("never written")));
    assert_eq!(
        lost.iter().map(|l| (l.lost, l.winner)).collect::<Vec<_>>(),
        vec![(0, ValueOrigin::Unknown)]
    );
    // Key y is absent from the final values, key z has no writes.
    let mut f = finals(Some("a"));
    f.insert(b"z".to_vec(), None);
    assert!(lost_writes(&history, &f).is_empty());
}
