//! When is it worth trying to place a timed-out write?
//!
//! A timed-out write may take effect at any instant after its call, or
//! never, and it has no return to force the search's hand. Tried naively, it
//! doubles the configurations for every timed-out write whose call has
//! passed, so a few dozen of them make a history uncheckable. Three rules
//! cut that down without losing any linearization; each replaces an order
//! that uses the write "wastefully" by one that does not:
//!
//! (With compare-and-set, "a get of its value" below means any *reader*
//! that the write can help: a get of its value, a compare-and-set expecting
//! it, or a compare-and-set that did not swap and expected the value the
//! register holds *before* the write; see [`Prune`].)
//!
//! 1. **Someone must read it, next.** Right after the write, only gets of
//!    its value can be placed until the state changes again, and the first
//!    of them must be invoked before the return that stopped the walk
//!    (`limit`): nothing invoked later can be placed before that return's
//!    operation, which is not a get of the value (it would have been
//!    tried). If no get still to be placed qualifies, placing the write
//!    cannot help: no get could be placed between it and the next write,
//!    so dropping it from any order leaves a valid order. Writes whose
//!    value no get returned at all are left out of the search from the
//!    start.
//! 2. **It must change the state.** Writing the value the register already
//!    holds changes nothing; the same order without it is valid.
//! 3. **Twins go in call order.** Timed-out writes of the same value (two
//!    deletes, typically) are interchangeable once both are invoked: an
//!    order placing the later one can place the earlier one instead. So
//!    only the earliest unplaced one of each value is ever tried, which
//!    turns `2^k` choices into `k + 1`.

use super::model::{Action, KeyOp, State};
use std::collections::HashMap;

/// The bookkeeping for the rules, updated as the search places operations.
///
/// A *reader* of a state is an operation that needs exactly that state: a
/// get of it, or a compare-and-set expecting it. A compare-and-set that did
/// not swap needs anything *but* its expected state `e`, so the only write
/// it can need is one that moves the register *off* `e`: placing a write of
/// `v` in state `s` helps it only when `e == s` (in any other state it can
/// be placed as well without the write). Such compare-and-sets are kept in
/// lists by `e` (slots `states + e`), and a timed-out write is worth trying
/// in state `s` when a reader of its value, or a failed compare-and-set
/// expecting `s`, is due. (Counting them as readers of every value, as a
/// first version did, kept every timed-out write in play on a register with
/// many values and made such histories uncheckable.)
///
/// Why the narrowing loses nothing: if a valid order places the write `W`
/// in state `s` and the failed compare-and-set `X` (expecting `e != s`)
/// next, before the operation whose return stopped the walk, then `X`
/// moved before `W` is valid too (it accepts `s`; every unplaced operation
/// with a return returns at or after that return, so after `X`'s call), and
/// the search tries `X` from the current configuration itself.
#[derive(Debug)]
pub(super) struct Prune {
    /// Per state, then per state for the failed compare-and-sets expecting
    /// it: the readers, as `(call, op)` by call.
    readers: Vec<Vec<(u64, usize)>>,
    /// Per list: index of the earliest unplaced reader; all before are placed.
    first_unplaced: Vec<usize>,
    /// Per operation: whether it is a placed reader.
    reader_placed: Vec<bool>,
    /// `(list, previous first_unplaced)` for each placed reader, to undo.
    undo: Vec<(usize, usize)>,
    /// Per operation: its twin group (timed-out operations with the same
    /// action) and its rank in it.
    twin: Vec<(usize, u32)>,
    /// Per twin group: members placed so far.
    twins_placed: Vec<u32>,
    /// The number of states: failed compare-and-sets expecting `e` are in
    /// list `failed_base + e`.
    failed_base: usize,
}

/// Which reader list an action is in, if any.
fn reader_list(action: Action, failed_base: usize) -> Option<usize> {
    match action {
        Action::CasFailed(e) => Some(failed_base + e as usize),
        other => other.reads().map(|v| v as usize),
    }
}

impl Prune {
    /// Keeps the operations that can matter (rule 1, statically), and sets
    /// up the bookkeeping for them. `ops` is in invocation order.
    pub(super) fn new(ops: &[KeyOp]) -> (Vec<KeyOp>, Prune) {
        let states = (ops.iter())
            .map(|o| o.action.max_state() as usize + 1)
            .max()
            .unwrap_or(1);
        let failed_base = states;
        let mut read = vec![false; states];
        // Distinct states failed compare-and-sets expect (at most two kept:
        // enough to tell whether one differs from a given value).
        let mut failed_expect: Vec<State> = Vec::new();
        for op in ops {
            match op.action {
                Action::CasFailed(e) => {
                    if failed_expect.len() < 2 && !failed_expect.contains(&e) {
                        failed_expect.push(e);
                    }
                }
                other => {
                    if let Some(v) = other.reads() {
                        read[v as usize] = true;
                    }
                }
            }
        }
        let kept: Vec<KeyOp> = (ops.iter())
            .filter(|o| match (o.ret, o.action.writes()) {
                // A failed compare-and-set expecting another value may
                // need the register moved off that value.
                (None, Some(v)) => read[v as usize] || failed_expect.iter().any(|&e| e != v),
                _ => true,
            })
            .copied()
            .collect();
        let mut readers = vec![Vec::new(); 2 * states];
        let mut groups: HashMap<Action, usize> = HashMap::new();
        let mut twin = vec![(0, 0); kept.len()];
        let mut sizes: Vec<u32> = Vec::new();
        for (i, o) in kept.iter().enumerate() {
            if let Some(list) = reader_list(o.action, failed_base) {
                readers[list].push((o.call, i));
            }
            if o.ret.is_none() {
                let next = groups.len();
                let group = *groups.entry(o.action).or_insert(next);
                if group == sizes.len() {
                    sizes.push(0);
                }
                twin[i] = (group, sizes[group]);
                sizes[group] += 1;
            }
        }
        let prune = Prune {
            readers,
            first_unplaced: vec![0; 2 * states],
            reader_placed: vec![false; kept.len()],
            undo: Vec::new(),
            twin,
            twins_placed: vec![0; sizes.len()],
            failed_base,
        };
        (kept, prune)
    }

    /// True when the earliest unplaced reader on `list` was invoked by `limit`.
    fn reader_by(&self, list: usize, limit: u64) -> bool {
        let next = self.readers[list].get(self.first_unplaced[list]);
        next.is_some_and(|&(call, _)| call <= limit)
    }

    /// Whether the search should try placing `op` (number `i`) in `state`,
    /// the walk having stopped at a return at time `limit`.
    pub(super) fn worth_trying(&self, i: usize, op: &KeyOp, state: State, limit: u64) -> bool {
        match (op.ret, op.action.writes()) {
            (None, Some(v)) => {
                let (group, rank) = self.twin[i];
                (self.reader_by(v as usize, limit)
                    || self.reader_by(self.failed_base + state as usize, limit))
                    && v != state
                    && self.twins_placed[group] == rank
            }
            _ => true,
        }
    }

    /// Records that `op` (number `i`) was placed.
    pub(super) fn place(&mut self, i: usize, op: &KeyOp) {
        if let Some(list) = reader_list(op.action, self.failed_base) {
            self.undo.push((list, self.first_unplaced[list]));
            self.reader_placed[i] = true;
            let readers = &self.readers[list];
            let first = &mut self.first_unplaced[list];
            while readers
                .get(*first)
                .is_some_and(|&(_, g)| self.reader_placed[g])
            {
                *first += 1;
            }
        }
        if op.ret.is_none() {
            self.twins_placed[self.twin[i].0] += 1;
        }
    }

    /// Records that `op` (number `i`), the last one placed, was taken back.
    pub(super) fn unplace(&mut self, i: usize, op: &KeyOp) {
        if op.ret.is_none() {
            self.twins_placed[self.twin[i].0] -= 1;
        }
        if reader_list(op.action, self.failed_base).is_some() {
            self.reader_placed[i] = false;
            if let Some((list, first)) = self.undo.pop() {
                self.first_unplaced[list] = first;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::ABSENT;
    use super::*;

    fn op(index: usize, ret: Option<u64>, action: Action) -> KeyOp {
        KeyOp {
            index,
            call: index as u64,
            ret,
            action,
        }
    }

    #[test]
    fn unread_timed_out_writes_are_dropped() {
        let ops = [
            op(0, None, Action::Write(1)), // nobody reads 1
            op(1, None, Action::Write(2)),
            op(2, Some(9), Action::Read(2)),
            op(3, Some(9), Action::Write(3)), // returned: always kept
        ];
        let (kept, _) = Prune::new(&ops);
        assert_eq!(
            kept.iter().map(|o| o.index).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn a_failed_compare_and_set_needs_a_write_only_off_its_expected_value() {
        let ops = [
            op(0, Some(1), Action::Write(1)),
            op(1, None, Action::Write(2)), // timed out; nobody reads 2
            op(2, Some(9), Action::CasFailed(1)), // needs anything but 1
        ];
        let (kept, prune) = Prune::new(&ops);
        assert_eq!(kept.len(), 3, "2 may move the register off 1");
        assert!(prune.worth_trying(1, &kept[1], 1, 3)); // in state 1: it helps
        assert!(!prune.worth_trying(1, &kept[1], ABSENT, 3)); // not needed in state 0
        assert!(!prune.worth_trying(1, &kept[1], 1, 1)); // the CAS comes too late
        // A timed-out write of the one value failed CASes expect is never needed.
        let only_off_1 = [
            op(0, None, Action::Write(1)),
            op(1, Some(9), Action::CasFailed(1)),
        ];
        assert_eq!(Prune::new(&only_off_1).0.len(), 1);
    }

    #[test]
    fn timed_out_twins_go_in_call_order_and_only_when_useful() {
        let ops = [
            op(0, Some(1), Action::Write(1)),
            op(1, None, Action::Write(ABSENT)),
            op(2, None, Action::Write(ABSENT)),
            op(3, Some(9), Action::Read(ABSENT)), // invoked at 3
        ];
        let (kept, mut prune) = Prune::new(&ops);
        assert!(prune.worth_trying(1, &kept[1], 1, 3));
        assert!(!prune.worth_trying(1, &kept[1], 1, 2)); // the get comes too late
        assert!(!prune.worth_trying(2, &kept[2], 1, 3)); // its twin goes first
        assert!(!prune.worth_trying(1, &kept[1], ABSENT, 3)); // no change
        prune.place(1, &kept[1]);
        assert!(prune.worth_trying(2, &kept[2], 1, 3));
        prune.place(3, &kept[3]); // the last get of missing is placed
        assert!(!prune.worth_trying(2, &kept[2], 1, 3));
        prune.unplace(3, &kept[3]);
        prune.unplace(1, &kept[1]);
        assert!(prune.worth_trying(1, &kept[1], 1, 3));
    }
}
