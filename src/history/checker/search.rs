//! The Wing & Gong search with Lowe's memoisation, for one key.
//!
//! The history is turned into a list of *events*, each operation's call and
//! return, sorted by time (a call before a return at the same instant, so
//! that touching intervals count as concurrent). The search walks the list
//! from the front:
//!
//! - at a **call**, it tries to linearize that operation *now*: if the model
//!   accepts it, the operation's call and return are unlinked from the list,
//!   the choice is pushed on a stack, and the walk restarts from the front;
//! - at a **return**, the operation it belongs to should already have been
//!   linearized but was not. After a last chance for the timed-out writes
//!   (below), the last choice was wrong: it is popped, relinked, and the
//!   walk continues with the next candidate after it;
//! - when every operation with a return has been linearized, the history is
//!   linearizable; when a return is reached with nothing left to undo, no
//!   order works.
//!
//! Timed-out writes never return, so nothing ever forces them in: they sit
//! in a side list, in invocation order, and are tried only once the walk
//! reaches a return, i.e. after every order that leaves them out has been
//! tried from that configuration (those with an invocation before that
//! return are eligible). A timed-out write left out to the end is one that
//! never took effect. Trying them last makes the search meet the cheaper
//! configurations (fewer timed-out writes placed) first, which lets the memo
//! skip the costlier ones they subsume; which timed-out writes are worth
//! trying at all is decided in `prune.rs`.
//!
//! This differs from the papers' presentation, which knows no timed-out
//! operations; Porcupine gives them a return at infinity instead, which is
//! equivalent but lets them be tried before the operations that must go.
//!
//! On its own this is exponential. Lowe's observation (Testing for
//! linearizability, 2017) is that two paths reaching the same *set* of
//! linearized operations with the same model state have the same future, so
//! a configuration `(set, state)` is explored at most once (see `memo.rs`
//! for how the set is stored compactly). Unlinking uses the dancing-links
//! trick (Knuth): a removed node keeps its own pointers, so relinking in
//! reverse order restores the list in O(1).

use super::memo::{Linearized, Mark, Memo};
use super::model::{ABSENT, KeyOp, State};
use super::prune::Prune;
use std::time::Instant;

/// What one search concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// An order was found.
    Linearizable,
    /// No order exists.
    Violation,
    /// The budget ran out first.
    OutOfBudget,
}

/// Steps and wall-clock time left, shared by successive searches.
#[derive(Debug)]
pub(super) struct Budget {
    /// Search steps left.
    pub(super) steps_left: u64,
    /// When to give up, if ever.
    pub(super) deadline: Option<Instant>,
    /// Set when a search stopped because the deadline passed (rather than
    /// the step limit), for the `Unknown` message.
    pub(super) timed_out: bool,
}

impl Budget {
    /// Spends one step; false when the budget is gone. The clock is read
    /// every 1024 steps only: `Instant::now` costs more than a step.
    fn spend(&mut self) -> bool {
        if self.steps_left == 0 {
            return false;
        }
        self.steps_left -= 1;
        if self.steps_left.is_multiple_of(1024)
            && let Some(deadline) = self.deadline
            && Instant::now() >= deadline
        {
            self.timed_out = true;
            self.steps_left = 0;
            return false;
        }
        true
    }
}

/// The event list as arrays: node `e < events.len()` is an event, then the
/// two sentinels.
struct Links {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Links {
    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        self.prev[n] = p;
    }
    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        self.prev[n] = e;
    }
}

/// Where the walk is.
#[derive(Clone, Copy, Debug)]
enum Cursor {
    /// At this node of the event list.
    Events(usize),
    /// At this position of the timed-out list, trying those invoked no
    /// later than `limit` (the time of the return that stopped the walk).
    TimedOut { pos: usize, limit: u64 },
}

/// Searches for a linearization of `ops` (one key) starting from the empty
/// register.
pub(super) fn search(ops: &[KeyOp], budget: &mut Budget) -> Outcome {
    search_order(ops, budget, &mut Vec::new())
}

/// [`search`], also filling `order` — when the outcome is
/// [`Outcome::Linearizable`] — with the history positions of the operations
/// the order found placed, first to last. Operations left out (failed ones,
/// timed-out gets, timed-out writes that never took effect) are not in it.
pub(super) fn search_order(ops: &[KeyOp], budget: &mut Budget, order: &mut Vec<usize>) -> Outcome {
    let (kept, mut prune) = Prune::new(ops);
    let ops = kept.as_slice();
    // Events of operations that returned: (time, is_return, op). Calls sort
    // before returns at equal times.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
    // Timed-out writes, in invocation order (`ops` is sorted by call).
    let mut timed_out: Vec<usize> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op.ret {
            Some(ret) => events.extend([(op.call, false, i), (ret, true, i)]),
            None => timed_out.push(i),
        }
    }
    events.sort_unstable();
    let m = events.len();
    let (head, tail) = (m, m + 1);
    // Chain head -> 0 -> 1 -> ... -> m-1 -> tail.
    let mut links = Links {
        next: vec![tail; m + 2],
        prev: vec![head; m + 2],
    };
    let mut last = head;
    for e in (0..m).chain([tail]) {
        links.next[last] = e;
        links.prev[e] = last;
        last = e;
    }
    // Per operation that returned: its call and return nodes.
    let mut call_ev = vec![0; ops.len()];
    let mut ret_ev = vec![0; ops.len()];
    for (e, &(_, is_return, i)) in events.iter().enumerate() {
        if is_return {
            ret_ev[i] = e;
        } else {
            call_ev[i] = e;
        }
    }
    let mut is_placed = vec![false; ops.len()];

    let mut placed = Linearized::new(ops);
    let mut memo = Memo::default();
    // (operation, state before it, set mark, cursor to resume from after it)
    let mut stack: Vec<(usize, State, Mark, Cursor)> = Vec::new();
    let mut state: State = ABSENT;
    let mut pending = m / 2;
    let mut cursor = Cursor::Events(links.next[head]);

    loop {
        if pending == 0 {
            // Every operation that returned is placed; timed-out writes not
            // placed are the ones that never took effect.
            order.extend(stack.iter().map(|&(i, ..)| ops[i].index));
            return Outcome::Linearizable;
        }
        // Pick the operation to try here, or move on.
        let i = match cursor {
            Cursor::Events(entry) => match events.get(entry) {
                Some(&(_, false, i)) => i,
                Some(&(limit, true, _)) => {
                    cursor = Cursor::TimedOut { pos: 0, limit };
                    continue;
                }
                None => return Outcome::Linearizable, // unreachable: pending > 0
            },
            Cursor::TimedOut { pos, limit } => match timed_out.get(pos) {
                Some(&i) if ops[i].call <= limit => i,
                _ => {
                    // Nothing left to try before that return: undo the last choice.
                    if !budget.spend() {
                        return Outcome::OutOfBudget;
                    }
                    let Some((j, previous, mark, resume)) = stack.pop() else {
                        return Outcome::Violation;
                    };
                    placed.remove(j, mark);
                    state = previous;
                    prune.unplace(j, &ops[j]);
                    is_placed[j] = false;
                    if ops[j].ret.is_some() {
                        links.relink(ret_ev[j]);
                        links.relink(call_ev[j]);
                        pending += 1;
                    }
                    cursor = resume;
                    continue;
                }
            },
        };
        let (next, limit) = match cursor {
            Cursor::Events(entry) => (Cursor::Events(links.next[entry]), u64::MAX),
            Cursor::TimedOut { pos, limit } => (
                Cursor::TimedOut {
                    pos: pos + 1,
                    limit,
                },
                limit,
            ),
        };
        if !is_placed[i]
            && prune.worth_trying(i, &ops[i], state, limit)
            && let Some(next_state) = ops[i].action.step(state)
        {
            if !budget.spend() {
                return Outcome::OutOfBudget;
            }
            let mark = placed.insert(i);
            if memo.first_visit(placed.key(next_state)) {
                stack.push((i, state, mark, next));
                state = next_state;
                prune.place(i, &ops[i]);
                is_placed[i] = true;
                if ops[i].ret.is_some() {
                    links.unlink(call_ev[i]);
                    links.unlink(ret_ev[i]);
                    pending -= 1;
                }
                cursor = Cursor::Events(links.next[head]);
                continue;
            }
            placed.remove(i, mark);
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Action;
    use super::*;

    fn budget() -> Budget {
        Budget {
            steps_left: 1_000_000,
            deadline: None,
            timed_out: false,
        }
    }

    fn op(index: usize, call: u64, ret: Option<u64>, action: Action) -> KeyOp {
        KeyOp {
            index,
            call,
            ret,
            action,
        }
    }

    #[test]
    fn empty_and_trivial_histories() {
        assert_eq!(search(&[], &mut budget()), Outcome::Linearizable);
        let read_missing = [op(0, 1, Some(2), Action::Read(ABSENT))];
        assert_eq!(search(&read_missing, &mut budget()), Outcome::Linearizable);
        let read_ghost = [op(0, 1, Some(2), Action::Read(7))];
        assert_eq!(search(&read_ghost, &mut budget()), Outcome::Violation);
    }

    #[test]
    fn backtracks_out_of_a_wrong_first_choice() {
        // put 1 [0,10] overlaps get->missing [2,3]: the put must go second.
        let ops = [
            op(0, 0, Some(10), Action::Write(1)),
            op(1, 2, Some(3), Action::Read(ABSENT)),
            op(2, 11, Some(12), Action::Read(1)),
        ];
        assert_eq!(search(&ops, &mut budget()), Outcome::Linearizable);
    }

    #[test]
    fn touching_intervals_are_concurrent() {
        let ops = [
            op(0, 5, Some(10), Action::Read(1)),
            op(1, 10, Some(12), Action::Write(1)),
        ];
        assert_eq!(search(&ops, &mut budget()), Outcome::Linearizable);
    }

    #[test]
    fn the_step_budget_is_honoured() {
        let ops = [
            op(0, 0, Some(1), Action::Write(1)),
            op(1, 2, Some(3), Action::Read(1)),
        ];
        let mut one = Budget {
            steps_left: 1,
            ..budget()
        };
        assert_eq!(search(&ops, &mut one), Outcome::OutOfBudget);
    }
}
