//! The cluster's one clock, and each node's skewed view of it.
//!
//! Real systems have no global clock: every node reads its own, and they
//! drift apart. The simulation keeps one monotonic process clock (the *global
//! observer's* clock, used for histories and staleness) and gives each node an
//! adjustable offset from it, so a learner can set a node's clock back and
//! watch last-writer-wins throw a later write away.
//!
//! # Real or virtual
//!
//! The threaded runtime reads the monotonic clock of the process: time
//! passes whether or not anything happens. The deterministic simulator
//! ([`crate::sim`]) keeps *virtual* time instead, which moves only when the
//! simulator moves it to the next event. Everything that reads time — the
//! protocols through their `Context`, the history, the cache's TTL, the
//! metrics — reads it here, so the same code runs on either.

use crate::ids::NodeId;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the global time comes from.
#[derive(Debug)]
enum Source {
    /// The process's monotonic clock, from this instant.
    Real(Instant),
    /// Nanoseconds set by the simulator.
    Virtual(AtomicU64),
}

/// The shared clock: a time source and a per-node skew in nanoseconds.
#[derive(Debug)]
pub struct Clock {
    source: Source,
    skews: RwLock<Vec<i64>>,
}

impl Clock {
    /// A real clock started now, for `nodes` nodes with no skew.
    pub fn new(nodes: usize) -> Self {
        Clock {
            source: Source::Real(Instant::now()),
            skews: RwLock::new(vec![0; nodes]),
        }
    }

    /// A virtual clock at zero, moved only by [`Clock::advance_to`].
    ///
    /// ```
    /// let clock = replikv::Clock::simulated(1);
    /// assert_eq!(clock.now_ns(), 0);
    /// clock.advance_to(1_500);
    /// assert_eq!(clock.now_ns(), 1_500);
    /// clock.advance_to(10); // never backwards
    /// assert_eq!(clock.now_ns(), 1_500);
    /// ```
    pub fn simulated(nodes: usize) -> Self {
        Clock {
            source: Source::Virtual(AtomicU64::new(0)),
            skews: RwLock::new(vec![0; nodes]),
        }
    }

    /// True for a virtual clock.
    pub fn is_virtual(&self) -> bool {
        matches!(self.source, Source::Virtual(_))
    }

    /// Moves a virtual clock forward to `ns` (never back); does nothing to a
    /// real clock.
    pub fn advance_to(&self, ns: u64) {
        if let Source::Virtual(now) = &self.source {
            now.fetch_max(ns, Ordering::AcqRel);
        }
    }

    /// Nanoseconds since the cluster started, on the global observer's clock.
    pub fn now_ns(&self) -> u64 {
        match &self.source {
            Source::Real(start) => u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Source::Virtual(now) => now.load(Ordering::Acquire),
        }
    }

    /// Converts an instant to nanoseconds since the start (a virtual clock
    /// answers its own time: instants mean nothing to it).
    pub fn ns_at(&self, at: Instant) -> u64 {
        match &self.source {
            Source::Real(start) => {
                u64::try_from(at.saturating_duration_since(*start).as_nanos()).unwrap_or(u64::MAX)
            }
            Source::Virtual(_) => self.now_ns(),
        }
    }

    /// What `node`'s clock reads now: the global clock plus its skew, in
    /// nanoseconds (never below zero). The simulated wall clock starts at
    /// one hour so that a node set back by less than that still reads a
    /// positive time.
    pub fn node_now_ns(&self, node: NodeId) -> u64 {
        let skew = self.skews.read().get(node.index()).copied().unwrap_or(0);
        let base = self.now_ns().saturating_add(WALL_CLOCK_OFFSET_NS);
        base.saturating_add_signed(skew)
    }

    /// Sets `node`'s skew (positive = ahead of the global clock).
    pub(crate) fn set_skew(&self, node: NodeId, skew: i64) {
        let mut skews = self.skews.write();
        if skews.len() <= node.index() {
            skews.resize(node.index() + 1, 0);
        }
        skews[node.index()] = skew;
    }

    /// `node`'s skew in nanoseconds.
    pub fn skew(&self, node: NodeId) -> i64 {
        self.skews.read().get(node.index()).copied().unwrap_or(0)
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now_ns())
    }
}

/// See [`Clock::node_now_ns`].
const WALL_CLOCK_OFFSET_NS: u64 = 3_600_000_000_000;

/// The longest wait anything in replikv measures: a century. A timeout,
/// timer, message delay or convergence deadline longer than this (up to
/// [`Duration::MAX`]) means "never" and is treated as this long, because an
/// [`Instant`] cannot be set arbitrarily far ahead: `Instant::now() +
/// Duration::MAX` panics.
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `after` past `from`, with `after` capped at [`FOREVER`]:
/// never panics, whatever duration a user passes.
pub(crate) fn deadline_after(from: Instant, after: Duration) -> Instant {
    // A century past any instant fits every platform's `Instant` (the
    // narrowest, a u64 of nanoseconds, spans 584 years), so the loop ends at
    // once; on a platform where it did not, the farthest instant that fits
    // is the next best "never".
    let mut after = after.min(FOREVER);
    loop {
        match from.checked_add(after) {
            Some(at) => return at,
            None if after.is_zero() => return from,
            None => after /= 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::MAX), now + FOREVER);
        assert_eq!(deadline_after(now, FOREVER * 2), now + FOREVER);
        let short = Duration::from_millis(5);
        assert_eq!(deadline_after(now, short), now + short);
        assert_eq!(deadline_after(now, Duration::ZERO), now);
    }
}
