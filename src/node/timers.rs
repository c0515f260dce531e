//! A node's pending timers: a min-heap of deadlines, with lazy cancellation.

use crate::protocol::TimerId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, TimerId, u64)>>,
    cancelled: HashSet<TimerId>,
}

impl Timers {
    pub fn set(&mut self, id: TimerId, after: Duration, token: u64) {
        // A timer set further ahead than a century never fires.
        let at = crate::clock::deadline_after(Instant::now(), after);
        self.heap.push(Reverse((at, id, token)));
    }

    pub fn cancel(&mut self, id: TimerId) {
        if self.heap.iter().any(|Reverse((_, t, _))| *t == id) {
            self.cancelled.insert(id);
        }
    }

    /// Time until the next live timer, if any.
    pub fn until_next(&mut self) -> Option<Duration> {
        while let Some(Reverse((at, id, _))) = self.heap.peek() {
            if self.cancelled.remove(id) {
                self.heap.pop();
                continue;
            }
            return Some(at.saturating_duration_since(Instant::now()));
        }
        None
    }

    /// Pops one timer due at `now`, skipping cancelled ones.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TimerId, u64)> {
        while let Some(Reverse((at, id, token))) = self.heap.peek().copied() {
            if self.cancelled.remove(&id) {
                self.heap.pop();
                continue;
            }
            if at > now {
                return None;
            }
            self.heap.pop();
            return Some((id, token));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_of_duration_max_is_pending_but_never_due() {
        let mut timers = Timers::default();
        timers.set(TimerId(1), Duration::MAX, 7);
        let wait = timers.until_next().unwrap();
        assert!(wait > Duration::from_secs(99 * 365 * 24 * 3600), "{wait:?}");
        assert_eq!(timers.pop_due(Instant::now()), None);
        timers.set(TimerId(2), Duration::ZERO, 8);
        assert_eq!(timers.pop_due(Instant::now()), Some((TimerId(2), 8)));
    }

    #[test]
    fn a_timer_set_after_the_round_started_waits_for_the_next_round() {
        let mut timers = Timers::default();
        timers.set(TimerId(1), Duration::ZERO, 1);
        let round = Instant::now();
        while Instant::now() <= round {
            std::hint::spin_loop();
        }
        // Set during the round, due at once: still not part of it.
        timers.set(TimerId(2), Duration::ZERO, 2);
        assert_eq!(timers.pop_due(round), Some((TimerId(1), 1)));
        assert_eq!(timers.pop_due(round), None);
        assert_eq!(timers.pop_due(Instant::now()), Some((TimerId(2), 2)));
    }
}
