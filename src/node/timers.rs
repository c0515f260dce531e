//! A node's pending timers, as data: a min-heap of deadlines on the cluster
//! clock (nanoseconds), with lazy cancellation. The driver says what time it
//! is; the timers never read a clock, so the threaded runtime (monotonic
//! time) and the simulator (virtual time) share them.

use crate::protocol::TimerId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

#[derive(Default)]
pub(crate) struct Timers {
    /// (deadline, id, token); ties fire in the order the timers were set.
    heap: BinaryHeap<Reverse<(u64, TimerId, u64)>>,
    cancelled: HashSet<TimerId>,
}

impl Timers {
    /// Arms timer `id` to fire at `at_ns` (saturated: a timer set "forever"
    /// from now simply never fires).
    pub fn set(&mut self, id: TimerId, at_ns: u64, token: u64) {
        self.heap.push(Reverse((at_ns, id, token)));
    }

    pub fn cancel(&mut self, id: TimerId) {
        if self.heap.iter().any(|Reverse((_, t, _))| *t == id) {
            self.cancelled.insert(id);
        }
    }

    /// The deadline of the next live timer, if any.
    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some(Reverse((at, id, _))) = self.heap.peek() {
            if self.cancelled.remove(id) {
                self.heap.pop();
                continue;
            }
            return Some(*at);
        }
        None
    }

    /// Pops one timer due at `now_ns`, skipping cancelled ones.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<(TimerId, u64)> {
        while let Some(Reverse((at, id, token))) = self.heap.peek().copied() {
            if self.cancelled.remove(&id) {
                self.heap.pop();
                continue;
            }
            if at > now_ns {
                return None;
            }
            self.heap.pop();
            return Some((id, token));
        }
        None
    }

    /// The live timers as (deadline, token), earliest first.
    pub fn pending(&self) -> Vec<(u64, u64)> {
        let mut live: Vec<(u64, TimerId, u64)> = (self.heap.iter())
            .map(|Reverse(timer)| *timer)
            .filter(|(_, id, _)| !self.cancelled.contains(id))
            .collect();
        live.sort_unstable();
        live.into_iter().map(|(at, _, token)| (at, token)).collect()
    }

    /// Takes the earliest live timer whose token is `token`, whether due or
    /// not: its id and deadline.
    pub fn take(&mut self, token: u64) -> Option<(TimerId, u64)> {
        let (at, id, _) = (self.heap.iter())
            .map(|Reverse(timer)| *timer)
            .filter(|(_, id, t)| *t == token && !self.cancelled.contains(id))
            .min()?;
        self.heap.retain(|Reverse((_, other, _))| *other != id);
        Some((id, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_deadline_order_and_cancelled_ones_never() {
        let mut timers = Timers::default();
        timers.set(TimerId(1), 30, 10);
        timers.set(TimerId(2), 10, 20);
        timers.set(TimerId(3), 20, 30);
        timers.cancel(TimerId(3));
        assert_eq!(timers.next_deadline(), Some(10));
        assert_eq!(timers.pop_due(5), None, "nothing is due before 10");
        assert_eq!(timers.pop_due(25), Some((TimerId(2), 20)));
        assert_eq!(
            timers.pop_due(25),
            None,
            "the cancelled timer at 20 is skipped"
        );
        assert_eq!(timers.next_deadline(), Some(30));
        assert_eq!(timers.pop_due(u64::MAX), Some((TimerId(1), 10)));
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn a_timer_can_be_taken_by_token_before_it_is_due() {
        let mut timers = Timers::default();
        timers.set(TimerId(1), 30, 7);
        timers.set(TimerId(2), 10, 8);
        timers.set(TimerId(3), 20, 7);
        timers.cancel(TimerId(3));
        assert_eq!(timers.pending(), vec![(10, 8), (30, 7)]);
        assert_eq!(
            timers.take(7),
            Some((TimerId(1), 30)),
            "not the cancelled one"
        );
        assert_eq!(timers.take(7), None);
        assert_eq!(timers.pending(), vec![(10, 8)]);
    }

    #[test]
    fn a_timer_set_at_the_end_of_time_waits_there() {
        let mut timers = Timers::default();
        timers.set(TimerId(1), u64::MAX, 1);
        assert_eq!(timers.pop_due(u64::MAX - 1), None);
        assert_eq!(timers.next_deadline(), Some(u64::MAX));
    }
}
