//! Write timestamps: a hybrid-logical-clock stamp from the coordinator's own
//! (skewable) clock, packed into [`Version::counter`](crate::storage::Version);
//! received stamps are merged only when the protocol asks for it.
//!
//! # Packing
//!
//! ```text
//!  63                              16 15            0
//! +----------------------------------+---------------+
//! |  physical: node clock in µs      | logical (16b) |
//! +----------------------------------+---------------+
//! ```
//!
//! The high 48 bits hold the coordinator's clock in microseconds (2^48 µs is
//! about 8.9 years, far beyond any simulated run); the low 16 bits hold a
//! logical counter that keeps stamps strictly increasing when the clock has
//! not moved (two writes in the same microsecond) or has moved *backwards*
//! (the node's skew was set back). A stamp is
//! `max(physical << 16, last + 1)`: when the logical part overflows it simply
//! carries into the physical part, which keeps the order strict. The
//! coordinator's [`NodeId`](crate::NodeId) sits in [`Version::node`](crate::storage::Version)
//! and breaks ties between coordinators.
//!
//! # Why received timestamps are not merged by default
//!
//! A full hybrid logical clock (Kulkarni et al., *Logical Physical Clocks*,
//! 2014) also advances on every message received (`last = max(last, remote)`,
//! [`WriteClock::observe`]), which makes timestamps respect causality: a write
//! issued after its coordinator has *seen* another is always stamped later.
//! Cassandra's write timestamps do not do that — they are the coordinator's
//! (or client's) wall clock, full stop — and by default neither does the
//! eventual protocol. With a node whose clock is set ten seconds back, its
//! writes are stamped ten seconds in the past, and last-writer-wins silently
//! throws them away whenever an "earlier" (by the global observer's clock)
//! write from a correct node exists. That lost write is the lesson: LWW is
//! only as good as the clocks behind it.
//!
//! [`EventualConfig::hybrid_clock`](super::EventualConfig::hybrid_clock)
//! switches the merge on, which makes the second half of the lesson visible:
//! the skewed node's write now wins whenever the node had already stored the
//! earlier write, yet still loses when the earlier write had not reached it —
//! a hybrid clock orders what a node has heard of, not what happened first.
//!
//! # Surviving a crash
//!
//! The last stamp is volatile. A restarted node continues above the highest
//! stamp it finds on its own records ([`WriteClock::starting_after`]), and
//! above its clock, which (being the cluster's monotonic clock plus a skew)
//! has moved on while it was down. So stamps stay strictly increasing per
//! node across restarts — except in one case, documented rather than
//! prevented: a coordinator that is *not* a replica of the key (so keeps no
//! record of its stamp) whose skew was set back while it was down.
//!
//! Rejected alternative: persisting an upper bound ahead of the last stamp
//! (a lease, as CockroachDB does). It costs a metadata write now and then,
//! and a node restarted within the lease stamps writes in the *future*,
//! making correct nodes' later writes lose under LWW — a skew artifact the
//! simulation would then show even with perfect clocks.

/// Bits of the logical counter in a packed stamp.
pub const LOGICAL_BITS: u32 = 16;

/// Packs a physical time in microseconds and a logical counter into a stamp.
///
/// ```
/// use replikv::protocol::eventual::hlc;
/// let stamp = hlc::pack(1_500, 3);
/// assert_eq!(hlc::unpack(stamp), (1_500, 3));
/// assert!(hlc::pack(1_501, 0) > hlc::pack(1_500, u16::MAX));
/// ```
pub fn pack(physical_us: u64, logical: u16) -> u64 {
    (physical_us << LOGICAL_BITS) | u64::from(logical)
}

/// Splits a stamp into its physical microseconds and logical counter.
pub fn unpack(stamp: u64) -> (u64, u16) {
    (stamp >> LOGICAL_BITS, (stamp & 0xFFFF) as u16)
}

/// A coordinator's write clock: strictly increasing stamps from its node clock.
///
/// ```
/// use replikv::protocol::eventual::hlc::WriteClock;
/// let mut clock = WriteClock::starting_after(0);
/// let a = clock.stamp(5_000_000_000);
/// // The node clock went backwards (skew set back): still strictly increasing.
/// let b = clock.stamp(1_000_000_000);
/// assert!(b > a);
/// // A restarted clock continues above the last stamp it knows of.
/// let mut restarted = WriteClock::starting_after(b);
/// assert!(restarted.stamp(0) > b);
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteClock {
    last: u64,
}

impl WriteClock {
    /// A clock whose stamps are all above `last` (the highest stamp this
    /// node is known to have issued; 0 for none).
    pub fn starting_after(last: u64) -> Self {
        WriteClock { last }
    }

    /// The next stamp, given the node clock reading `now_ns` (nanoseconds):
    /// `max(physical, last + 1)`, where `last` includes whatever
    /// [`WriteClock::observe`] took in (nothing, unless the protocol runs
    /// with a hybrid clock: see the module docs).
    pub fn stamp(&mut self, now_ns: u64) -> u64 {
        let physical = pack((now_ns / 1_000).min(u64::MAX >> LOGICAL_BITS), 0);
        self.last = physical.max(self.last.saturating_add(1));
        self.last
    }

    /// Takes in a stamp received from another node: every later stamp is
    /// above it (the receive rule of a hybrid logical clock).
    ///
    /// ```
    /// use replikv::protocol::eventual::hlc::WriteClock;
    /// let mut clock = WriteClock::starting_after(0);
    /// let remote = WriteClock::starting_after(0).stamp(9_000_000_000);
    /// clock.observe(remote);
    /// // The local clock reads 1 s, far behind the remote 9 s: still later.
    /// assert!(clock.stamp(1_000_000_000) > remote);
    /// ```
    pub fn observe(&mut self, remote: u64) {
        self.last = self.last.max(remote);
    }

    /// The last stamp issued (or the starting point).
    pub fn last(&self) -> u64 {
        self.last
    }
}
