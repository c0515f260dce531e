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
//! of it: a get, or a compare-and-set expecting it; see [`Prune`].)
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
/// not swap needs anything *but* its expected state, so it can follow almost
/// any write: all of them share one extra reader list (slot `states`), and
/// rule 1 counts them as readers of every value, which is conservative.
#[derive(Debug)]
pub(super) struct Prune {
    /// Per state (and the extra slot): its readers, as `(call, op)` by call.
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
    /// The slot of the compare-and-sets that did not swap.
    failed_slot: usize,
}

/// Which reader list an action is in, if any.
fn reader_list(action: Action, failed_slot: usize) -> Option<usize> {
    match action {
        Action::CasFailed(_) => Some(failed_slot),
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
        let failed_slot = states;
        let mut read = vec![false; states];
        let mut any_failed = false;
        for op in ops {
            match op.action {
                Action::CasFailed(_) => any_failed = true,
                other => {
                    if let Some(v) = other.reads() {
                        read[v as usize] = true;
                    }
                }
            }
        }
        let kept: Vec<KeyOp> = (ops.iter())
            .filter(|o| match (o.ret, o.action.writes()) {
                (None, Some(v)) => read[v as usize] || any_failed,
                _ => true,
            })
            .copied()
            .collect();
        let mut readers = vec![Vec::new(); states + 1];
        let mut groups: HashMap<Action, usize> = HashMap::new();
        let mut twin = vec![(0, 0); kept.len()];
        let mut sizes: Vec<u32> = Vec::new();
        for (i, o) in kept.iter().enumerate() {
            if let Some(list) = reader_list(o.action, failed_slot) {
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
            first_unplaced: vec![0; states + 1],
            reader_placed: vec![false; kept.len()],
            undo: Vec::new(),
            twin,
            twins_placed: vec![0; sizes.len()],
            failed_slot,
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
                (self.reader_by(v as usize, limit) || self.reader_by(self.failed_slot, limit))
                    && v != state
                    && self.twins_placed[group] == rank
            }
            _ => true,
        }
    }

    /// Records that `op` (number `i`) was placed.
    pub(super) fn place(&mut self, i: usize, op: &KeyOp) {
        if let Some(list) = reader_list(op.action, self.failed_slot) {
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
        if reader_list(op.action, self.failed_slot).is_some() {
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
