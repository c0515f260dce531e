//! Shrinking a violation to a handful of operations a learner can read.
//!
//! A key with a violation may hold thousands of operations; the mistake
//! usually involves three or four. Shrinking keeps removing operations as
//! long as what is left is *still* not linearizable, in the style of
//! delta debugging (Zeller & Hildebrandt, "Simplifying and isolating
//! failure-inducing input", 2002). Only *sound* removals are made, ones that
//! cannot turn a linearizable history into a non-linearizable one, so "what
//! is left is not linearizable" still proves "the whole history is not":
//!
//! - **Drop a get.** A get constrains nothing else; nor does a
//!   compare-and-set that did not swap. (When a key has compare-and-sets,
//!   these are the only removals besides cutting the future: a write can
//!   then enable or disable what follows it, so the rules for writes below
//!   do not hold.)
//! - **Drop a write nobody read.** If no remaining get returned a write's
//!   value, then in any linearization no remaining get sits between that
//!   write and the next one, so deleting it breaks nothing.
//! - **Drop an overwritten write.** The same holds if some remaining write
//!   `w'` was invoked after the write returned, and returned before every
//!   remaining get of the write's value was invoked: in any linearization
//!   `w'` then separates the write from all those gets. This is what clears
//!   away old deletes, since a delete "writes" missing and gets of missing
//!   are common. It is only used while those gets keep another source
//!   (another write of the value, or for missing the initial state):
//!   otherwise a stale read would shrink into a read of a value "never
//!   written", a valid proof that explains the wrong thing. (A timed-out
//!   write may take effect at any time, so only the first rule drops one.)
//! - **Cut the future.** Keep only what had happened by some instant `T`:
//!   operations invoked after `T` go, gets still running at `T` go, and
//!   writes still running at `T` become timed out (they may or may not have
//!   taken effect by then). Any linearization of the whole history,
//!   truncated at `T`, linearizes this prefix. One exception, for the
//!   reader's sake: a later put of a value some remaining get returned
//!   stays, so that a read "from the future" shows the write it
//!   anticipated (placed after everything else, it changes nothing).
//!
//! They are applied in three passes (on a key with compare-and-sets, after
//! a first cut of the future, see pass 0 in `shrink`):
//!
//! 1. **Cut the past**: drop the removable operations among the first `k`,
//!    for the largest `k` (binary search) at which the violation survives.
//!    This comes first because *proving* a violation means exhausting every
//!    order of the operations before it, so each later check gets cheaper.
//! 2. **Cut the future** at the earliest failing `T` (binary search over
//!    return instants).
//! 3. **Remove chunks** of halving size, then single operations until a
//!    whole pass removes nothing.
//!
//! Shrinking has its own step allowance; if it runs out, the counterexample
//! found so far is returned: larger, but still a valid proof.

use super::model::{ABSENT, Action, KeyOp, State};
use super::search::{Budget, Outcome, search};
use std::collections::{HashMap, HashSet};

/// True when `ops` is definitely not linearizable. An exhausted budget
/// counts as "not known to fail", which only makes shrinking stop earlier.
fn fails(ops: &[KeyOp], budget: &mut Budget) -> bool {
    search(ops, budget) == Outcome::Violation
}

/// What had happened by instant `t` (see the module docs).
fn prefix(ops: &[KeyOp], t: u64) -> Vec<KeyOp> {
    let done = |o: &KeyOp| o.call <= t && o.ret.is_some_and(|r| r <= t);
    let read: HashSet<State> = (ops.iter())
        .filter(|o| done(o))
        .filter_map(|o| match o.action {
            Action::Read(v) => Some(v),
            _ => None,
        })
        .collect();
    (ops.iter())
        .filter_map(|o| match o.action {
            _ if done(o) => Some(*o),
            // Still running at `t`: it may or may not have taken effect.
            Action::Write(_) | Action::Cas { .. } if o.call <= t => Some(KeyOp { ret: None, ..*o }),
            Action::Write(v) if v != ABSENT && read.contains(&v) => Some(*o),
            _ => None,
        })
        .collect()
}

/// `ops` without the removable operations among `ops[range]`.
fn without(ops: &[KeyOp], range: std::ops::Range<usize>) -> Vec<KeyOp> {
    let outside = || {
        ops.iter()
            .enumerate()
            .filter(|(i, _)| !range.contains(i))
            .map(|(_, o)| o)
    };
    // Per state: the earliest invocation among the gets that stay.
    let mut first_read: HashMap<State, u64> = HashMap::new();
    for o in outside() {
        if let Action::Read(v) = o.action {
            let first = first_read.entry(v).or_insert(o.call);
            *first = (*first).min(o.call);
        }
    }
    // Writes that stay and returned, by invocation, and the earliest
    // return among each one and those invoked after it.
    let mut stay: Vec<(u64, u64)> = (outside())
        .filter_map(|o| match (o.action, o.ret) {
            (Action::Write(_) | Action::Cas { .. }, Some(ret)) => Some((o.call, ret)),
            _ => None,
        })
        .collect();
    stay.sort_unstable();
    let mut earliest_return: Vec<u64> = stay.iter().map(|&(_, ret)| ret).collect();
    for k in (1..earliest_return.len()).rev() {
        earliest_return[k - 1] = earliest_return[k - 1].min(earliest_return[k]);
    }
    // States that a staying write writes, so that gets of them keep a source.
    let written: HashSet<State> = outside().filter_map(|o| o.action.writes()).collect();
    let removable_write = |o: &KeyOp, v: State| {
        let Some(&first) = first_read.get(&v) else {
            return true;
        }; // nobody reads it
        // Overwritten: a staying write invoked after it returned, itself
        // returned before any staying get of its value was invoked.
        (v == ABSENT || written.contains(&v))
            && o.ret.is_some_and(|ret| {
                let after = stay.partition_point(|&(call, _)| call <= ret);
                earliest_return.get(after).is_some_and(|&r| r < first)
            })
    };
    // With compare-and-sets, a write can enable or disable what follows
    // it, so the write rules above do not hold: only reads go.
    let has_cas = ops.iter().any(|o| o.action.is_cas());
    ops.iter()
        .enumerate()
        .filter(|(i, o)| match o.action {
            _ if !range.contains(i) => true,
            Action::Read(_) | Action::CasFailed(_) => false,
            Action::Cas { .. } => true,
            Action::Write(_) if has_cas => true,
            Action::Write(v) => !removable_write(o, v),
        })
        .map(|(_, o)| *o)
        .collect()
}

/// The shortest failing prefix of `current`, which fails (at its last
/// return, everything is in).
fn cut_future(current: Vec<KeyOp>, budget: &mut Budget) -> Vec<KeyOp> {
    let mut times: Vec<u64> = current.iter().filter_map(|o| o.ret).collect();
    times.sort_unstable();
    times.dedup();
    let (mut lo, mut hi) = (0, times.len()); // times[hi] fails (hi = len: all)
    let whole = current.clone();
    let mut current = current;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let candidate = prefix(&whole, times[mid]);
        if fails(&candidate, budget) {
            hi = mid;
            current = candidate;
        } else {
            lo = mid + 1;
        }
    }
    current
}

/// Shrinks the operations of a key known to fail; returns the history
/// positions of a small failing subset, in invocation order.
pub(super) fn shrink(ops: &[KeyOp], budget: &mut Budget) -> Vec<usize> {
    // 0. With compare-and-sets only gets (and compare-and-sets that did not
    //    swap) can go in pass 1, so it cuts little and each of its checks
    //    must exhaust the orders of almost the whole history. Cutting the
    //    future first makes them cheap: on a single-key CAS register with
    //    many timed-out operations, a violation early in a long history
    //    otherwise used up the whole shrinking budget in pass 1.
    let cut;
    let ops = if ops.iter().any(|o| o.action.is_cas()) {
        cut = cut_future(ops.to_vec(), budget);
        &cut
    } else {
        ops
    };
    // 1. Drop the longest removable front: the largest k such that `ops`
    //    without what is removable among its first k operations still fails.
    //    This comes first because proving a violation means exhausting every
    //    order of what precedes it, so every later check gets cheaper.
    //    (Monotone in k: each larger cut is a relaxation of a smaller one.)
    let mut current = ops.to_vec();
    let (mut lo, mut hi) = (0, ops.len()); // cutting lo fails
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let candidate = without(ops, 0..mid);
        if fails(&candidate, budget) {
            lo = mid;
            current = candidate;
        } else {
            hi = mid - 1;
        }
    }

    // 2. The shortest failing prefix of what is left.
    let mut current = cut_future(current, budget);

    // 3. Remove chunks, halving their size, then single operations until
    //    a whole pass removes nothing.
    let mut chunk = (current.len() / 2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0;
        while start < current.len() && budget.steps_left > 0 {
            let end = (start + chunk).min(current.len());
            let candidate = without(&current, start..end);
            if candidate.len() < current.len() && fails(&candidate, budget) {
                current = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if budget.steps_left == 0 || (chunk == 1 && !removed_any) {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
    current.iter().map(|o| o.index).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget {
            steps_left: 1_000_000,
            deadline: None,
            timed_out: false,
        }
    }

    fn op(index: usize, call: u64, ret: u64, action: Action) -> KeyOp {
        KeyOp {
            index,
            call,
            ret: Some(ret),
            action,
        }
    }

    #[test]
    fn a_stale_read_shrinks_to_its_two_writes_and_the_read() {
        let mut ops = vec![
            op(0, 0, 10, Action::Write(1)),  // put a
            op(1, 20, 30, Action::Write(2)), // put b
            op(2, 40, 50, Action::Read(1)),  // get -> a: stale
        ];
        // Plenty of noise around it that is fine on its own.
        for i in 3..40 {
            let t = 100 * i as u64;
            ops.push(op(i, t, t + 5, Action::Write(i as u32)));
            ops.push(op(100 + i, t + 10, t + 15, Action::Read(i as u32)));
        }
        ops.sort_by_key(|o| o.call);
        assert_eq!(shrink(&ops, &mut budget()), vec![0, 1, 2]);
    }

    #[test]
    fn a_read_of_nothing_written_shrinks_to_the_read() {
        let ops = vec![
            op(0, 0, 10, Action::Write(1)),
            op(1, 5, 15, Action::Read(ABSENT)),
            op(2, 20, 30, Action::Read(9)),
            op(3, 40, 50, Action::Read(1)),
        ];
        assert_eq!(shrink(&ops, &mut budget()), vec![2]);
    }

    #[test]
    fn old_deletes_are_dropped_once_overwritten() {
        let ops = vec![
            op(0, 0, 10, Action::Write(ABSENT)), // delete, overwritten by put 1
            op(1, 20, 30, Action::Write(1)),     // put 1
            op(2, 25, 35, Action::Write(ABSENT)), // delete, concurrent with put 1: stays
            op(3, 40, 50, Action::Read(ABSENT)),
            op(4, 60, 70, Action::Read(1)),
        ];
        let kept: Vec<usize> = without(&ops, 0..1).iter().map(|o| o.index).collect();
        assert_eq!(kept, vec![1, 2, 3, 4]);
        assert_eq!(shrink(&ops, &mut budget()), vec![1, 2, 3, 4]);
    }

    #[test]
    fn prefixes_turn_running_writes_into_timed_out_ones() {
        let ops = vec![
            op(0, 0, 10, Action::Write(1)),
            op(1, 2, 20, Action::Read(1)),
        ];
        let cut = prefix(&ops, 10);
        assert_eq!(cut, vec![ops[0]]);
        let cut = prefix(&ops, 5);
        assert_eq!(
            cut,
            vec![KeyOp {
                ret: None,
                ..ops[0]
            }]
        );
    }
}
