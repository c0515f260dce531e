//! When is it worth trying to place a timed-out write?
//!
//! A timed-out write may take effect at any instant after its call, or
//! never, and it has no return to force the search's hand. Tried naively, it
//! doubles the configurations for every timed-out write whose call has
//! passed, so a few dozen of them make a history uncheckable. Three rules
//! cut that down without losing any linearization; each replaces an order
//! that uses the write "wastefully" by one that does not:
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

/// The bookkeeping for the rules, updated as the search places operations.
#[derive(Debug)]
pub(super) struct Prune {
    /// Per state: the gets that returned it, as `(call, op)` by call.
    gets: Vec<Vec<(u64, usize)>>,
    /// Per state: index in `gets` of the earliest unplaced get; all before
    /// it are placed.
    first_unplaced: Vec<usize>,
    /// Per operation: whether it is a placed get.
    get_placed: Vec<bool>,
    /// `(state, previous first_unplaced)` for each placed get, to undo.
    undo: Vec<(State, usize)>,
    /// Per operation: its rank among the timed-out writes of its value.
    twin_rank: Vec<u32>,
    /// Per state: timed-out writes of that value placed so far.
    twins_placed: Vec<u32>,
}

impl Prune {
    /// Keeps the operations that can matter (rule 1, statically), and sets
    /// up the bookkeeping for them. `ops` is in invocation order.
    pub(super) fn new(ops: &[KeyOp]) -> (Vec<KeyOp>, Prune) {
        let states = (ops.iter())
            .map(|o| match o.action {
                Action::Read(v) | Action::Write(v) => v as usize + 1,
            })
            .max()
            .unwrap_or(1);
        let mut read = vec![false; states];
        for op in ops {
            if let Action::Read(v) = op.action {
                read[v as usize] = true;
            }
        }
        let kept: Vec<KeyOp> = (ops.iter())
            .filter(|o| match (o.ret, o.action) {
                (None, Action::Write(v)) => read[v as usize],
                _ => true,
            })
            .copied()
            .collect();
        let mut gets = vec![Vec::new(); states];
        let mut twins = vec![0u32; states];
        let mut twin_rank = vec![0; kept.len()];
        for (i, o) in kept.iter().enumerate() {
            match (o.ret, o.action) {
                (_, Action::Read(v)) => gets[v as usize].push((o.call, i)),
                (None, Action::Write(v)) => {
                    twin_rank[i] = twins[v as usize];
                    twins[v as usize] += 1;
                }
                (Some(_), Action::Write(_)) => {}
            }
        }
        let prune = Prune {
            gets,
            first_unplaced: vec![0; states],
            get_placed: vec![false; kept.len()],
            undo: Vec::new(),
            twin_rank,
            twins_placed: vec![0; states],
        };
        (kept, prune)
    }

    /// Whether the search should try placing `op` (number `i`) in `state`,
    /// the walk having stopped at a return at time `limit`.
    pub(super) fn worth_trying(&self, i: usize, op: &KeyOp, state: State, limit: u64) -> bool {
        match (op.ret, op.action) {
            (None, Action::Write(v)) => {
                let v = v as usize;
                let next_get = self.gets[v].get(self.first_unplaced[v]);
                next_get.is_some_and(|&(call, _)| call <= limit)
                    && v != state as usize
                    && self.twins_placed[v] == self.twin_rank[i]
            }
            _ => true,
        }
    }

    /// Records that `op` (number `i`) was placed.
    pub(super) fn place(&mut self, i: usize, op: &KeyOp) {
        match (op.ret, op.action) {
            (_, Action::Read(v)) => {
                let (v, list) = (v as usize, &self.gets[v as usize]);
                self.undo.push((v as State, self.first_unplaced[v]));
                self.get_placed[i] = true;
                let first = &mut self.first_unplaced[v];
                while list.get(*first).is_some_and(|&(_, g)| self.get_placed[g]) {
                    *first += 1;
                }
            }
            (None, Action::Write(v)) => self.twins_placed[v as usize] += 1,
            (Some(_), Action::Write(_)) => {}
        }
    }

    /// Records that `op` (number `i`), the last one placed, was taken back.
    pub(super) fn unplace(&mut self, i: usize, op: &KeyOp) {
        match (op.ret, op.action) {
            (_, Action::Read(_)) => {
                self.get_placed[i] = false;
                if let Some((v, first)) = self.undo.pop() {
                    self.first_unplaced[v as usize] = first;
                }
            }
            (None, Action::Write(v)) => self.twins_placed[v as usize] -= 1,
            (Some(_), Action::Write(_)) => {}
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
