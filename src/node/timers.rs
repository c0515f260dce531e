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

    /// Pops one timer that is due, skipping cancelled ones.
    pub fn pop_due(&mut self) -> Option<(TimerId, u64)> {
        let now = Instant::now();
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
