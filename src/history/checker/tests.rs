//! Hand-written histories with a known verdict. Times are in ns; the
//! comment above each history draws it, one client per line.

use super::*;
use crate::history::op::Operation;
use crate::history::simulate::{random_plan, simulate};
use crate::history::testkit::{del, failed, get, on, put, timed_out};

fn check(ops: Vec<Operation>) -> CheckResult {
    Checker::new().check(&History::new(ops))
}

fn linearizable(ops: Vec<Operation>) {
    let verdict = check(ops);
    assert!(verdict.is_linearizable(), "{verdict}");
}

/// Asserts a violation and returns the counterexample's history positions.
fn violation(ops: Vec<Operation>) -> Vec<usize> {
    match check(ops) {
        CheckResult::NotLinearizable(cx) => cx.ops.iter().map(|(i, _)| *i).collect(),
        other => panic!("expected a violation, got {other}"),
    }
}

#[test]
fn empty_history() {
    linearizable(vec![]);
}

#[test]
fn sequential_history() {
    // c1: get->missing  put a  get->a  put b  get->b
    linearizable(vec![
        get(1, None, 0, 1),
        put(1, "a", 2, 3),
        get(1, Some("a"), 4, 5),
        put(1, "b", 6, 7),
        get(1, Some("b"), 8, 9),
    ]);
}

#[test]
fn a_read_overlapping_a_write_may_see_either_value() {
    // c1: put a [0,10]   put b [20,40]
    // c2:                  get [25,30] -> a or b
    for seen in ["a", "b"] {
        linearizable(vec![
            put(1, "a", 0, 10),
            put(1, "b", 20, 40),
            get(2, Some(seen), 25, 30),
        ]);
    }
}

#[test]
fn concurrent_writes_may_land_in_either_order() {
    // c1: put a [0,50]
    // c2: put b [0,50]
    // c3:   get->b [10,20]   get->a [60,70]  get->a [80,90]
    // (b took effect first, then a)
    linearizable(vec![
        put(1, "a", 0, 50),
        put(2, "b", 0, 50),
        get(3, Some("b"), 10, 20),
        get(3, Some("a"), 60, 70),
        get(3, Some("a"), 80, 90),
    ]);
}

#[test]
fn a_timed_out_write_that_took_effect() {
    // c1: put a [0,10]  put b [20, ? timed out
    // c2:                          get [100,110] -> b
    linearizable(vec![
        put(1, "a", 0, 10),
        timed_out(put(1, "b", 20, 0)),
        get(2, Some("b"), 100, 110),
    ]);
}

#[test]
fn a_timed_out_write_that_did_not_take_effect() {
    // Same, but the read still sees a, and so does a much later one.
    linearizable(vec![
        put(1, "a", 0, 10),
        timed_out(put(1, "b", 20, 0)),
        get(2, Some("a"), 100, 110),
        get(2, Some("a"), 1_000, 1_010),
    ]);
    // A timed-out delete that never happened.
    linearizable(vec![
        put(1, "a", 0, 10),
        timed_out(del(1, 20, 0)),
        get(2, Some("a"), 100, 110),
    ]);
}

#[test]
fn a_timed_out_write_cannot_take_effect_before_its_call() {
    // get -> b returns at 10, before put b is even invoked at 20.
    violation(vec![
        get(2, Some("b"), 0, 10),
        timed_out(put(1, "b", 20, 0)),
    ]);
}

#[test]
fn a_timed_out_write_once_seen_stays_seen() {
    // Once a read saw b, a later read cannot see a again.
    let cx = violation(vec![
        put(1, "a", 0, 10),
        timed_out(put(1, "b", 20, 0)),
        get(2, Some("b"), 100, 110),
        get(2, Some("a"), 200, 210),
    ]);
    assert_eq!(cx, vec![0, 1, 2, 3]);
}

#[test]
fn failed_and_timed_out_reads_are_ignored() {
    // The failed put of z never happened; the timed-out get's output is unknown.
    linearizable(vec![
        put(1, "a", 0, 10),
        failed(put(1, "z", 20, 30)),
        timed_out(get(2, Some("garbage"), 25, 0)),
        failed(get(2, Some("garbage"), 40, 45)),
        get(2, Some("a"), 50, 60),
    ]);
    // ...so reading z is reading something never written.
    assert_eq!(
        violation(vec![failed(put(1, "z", 20, 30)), get(2, Some("z"), 50, 60)]),
        vec![1]
    );
}

#[test]
fn deletes() {
    linearizable(vec![
        put(1, "a", 0, 10),
        del(1, 20, 30),
        get(2, Some("a"), 21, 29), // overlaps the delete: may still see a
        get(2, None, 40, 50),
    ]);
    // After the delete completed, a is gone.
    assert_eq!(
        violation(vec![
            put(1, "a", 0, 10),
            del(1, 20, 30),
            get(2, Some("a"), 40, 50)
        ]),
        vec![0, 1, 2]
    );
}

#[test]
fn stale_read_after_a_completed_write() {
    // c1: put a [0,10]  put b [20,30]
    // c2:                              get [40,50] -> a   (b was already acknowledged)
    let history = History::new(vec![
        put(1, "a", 0, 10),
        put(1, "b", 20, 30),
        get(2, Some("a"), 40, 50),
    ]);
    let verdict = Checker::new().check(&history);
    let Some(cx) = verdict.counterexample() else {
        panic!("{verdict}")
    };
    assert_eq!(cx.key, b"x");
    assert_eq!(cx.ops.len(), 3);
    let text = verdict.to_string();
    assert!(text.starts_with("key \"x\" is not linearizable"), "{text}");
    assert!(
        text.contains("#1  c1  put \"b\"     [0.020, 0.030] µs"),
        "{text}"
    );
    assert!(
        text.contains("#2  c2  get -> \"a\"  [0.040, 0.050] µs"),
        "{text}"
    );
}

#[test]
fn two_reads_see_two_writes_in_opposite_orders() {
    // c1: put a [0,100]
    // c2: put b [0,100]
    // c3:   get->a [10,20]  get->b [30,40]
    // c4:   get->b [10,20]  get->a [30,40]
    let cx = violation(vec![
        put(1, "a", 0, 100),
        put(2, "b", 0, 100),
        get(3, Some("a"), 10, 20),
        get(4, Some("b"), 10, 20),
        get(3, Some("b"), 30, 40),
        get(4, Some("a"), 30, 40),
    ]);
    assert_eq!(cx, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn read_of_a_value_never_written() {
    let cx = violation(vec![
        put(1, "a", 0, 10),
        get(2, Some("a"), 20, 30),
        get(2, Some("ghost"), 40, 50),
        put(1, "b", 60, 70),
    ]);
    assert_eq!(cx, vec![2]);
}

#[test]
fn a_read_from_the_future_shows_the_write_it_anticipated() {
    // get -> a returned at 10, before put a was even invoked at 25. (Found by
    // the proptests: shrinking used to drop the put, so the counterexample
    // looked like a read of a value never written.)
    let cx = violation(vec![get(2, Some("a"), 0, 10), put(1, "a", 25, 30)]);
    assert_eq!(cx, vec![0, 1]);
}

#[test]
fn keys_are_checked_independently() {
    // Interleaved in time, but on different keys: no conflict.
    linearizable(vec![
        on("x", put(1, "a", 0, 10)),
        on("y", put(1, "b", 20, 30)),
        on("x", get(2, Some("a"), 40, 50)),
        on("y", get(2, Some("b"), 40, 50)),
    ]);
    let history = History::new(vec![
        on("x", put(1, "a", 0, 10)),
        on("y", get(2, Some("a"), 40, 50)),
    ]);
    let verdict = Checker::new().check(&history);
    assert_eq!(
        verdict.counterexample().map(|cx| cx.key.as_slice()),
        Some(&b"y"[..])
    );
    assert!(Checker::new().check_key(&history, b"x").is_linearizable());
    assert!(!Checker::new().check_key(&history, b"y").is_linearizable());
    assert!(
        Checker::new()
            .check_key(&history, b"absent")
            .is_linearizable()
    );
}

#[test]
fn invalid_histories_do_not_panic() {
    let backwards = put(1, "a", 50, 10);
    let no_value = Operation {
        value: None,
        ..put(1, "a", 0, 10)
    };
    // Read as "returned at its call" and "put the empty value".
    linearizable(vec![no_value, backwards, get(2, Some("a"), 60, 70)]);
}

#[test]
fn an_exhausted_step_budget_is_unknown() {
    let history = simulate(&random_plan(5, 200, 4, 2));
    match Checker::new().max_steps(1).check(&history) {
        CheckResult::Unknown { reason } => {
            assert!(
                reason.contains("1 search steps ran out on key \"k0\""),
                "{reason}"
            );
            assert!(reason.contains("0 of 2 keys"), "{reason}");
        }
        other => panic!("expected Unknown, got {other}"),
    }
    assert!(Checker::new().check(&history).is_linearizable());
}

#[test]
fn an_exhausted_time_budget_is_unknown() {
    let history = simulate(&random_plan(6, 5_000, 8, 1));
    let verdict = Checker::new().time_budget(Duration::ZERO).check(&history);
    match verdict {
        CheckResult::Unknown { reason } => assert!(reason.contains("time budget"), "{reason}"),
        other => panic!("expected Unknown, got {other}"),
    }
}

#[test]
fn a_big_simulated_history_is_linearizable() {
    let history = simulate(&random_plan(7, 10_000, 8, 10));
    let verdict = Checker::new().check(&history);
    assert!(verdict.is_linearizable(), "{verdict}");
}
