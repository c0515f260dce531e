//! Write timestamps: a hybrid-logical-clock-style stamp from the coordinator's
//! own (skewable) clock, packed into [`Version::counter`](crate::storage::Version).
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
//! # Why received timestamps are *not* merged
//!
//! A full hybrid logical clock (Kulkarni et al., *Logical Physical Clocks*,
//! 2014) also advances on every message received (`last = max(last, remote)`),
//! which makes timestamps respect causality: a write issued after seeing
//! another would always be stamped later. Cassandra's write timestamps do not
//! do that — they are the coordinator's (or client's) wall clock, full stop —
//! and neither does this module, deliberately. With a node whose clock is set
//! ten seconds back, its writes are stamped ten seconds in the past, and
//! last-writer-wins silently throws them away whenever an "earlier" (by the
//! global observer's clock) write from a correct node exists. That lost write
//! is the lesson: LWW is only as good as the clocks behind it.
//!
//! # Surviving a crash
//!
//! Strict increase must hold across restarts too, although the last stamp is
//! volatile. The clock therefore persists an upper bound (a *lease*, as
//! CockroachDB does for its HLC): before issuing a stamp at or above the
//! stored bound it stores `stamp + LEASE` (10 ms worth) with
//! [`NodeStore::put_meta`](crate::storage::NodeStore::put_meta), and a restarted node starts from that bound.
//! The cost is one metadata write per 10 ms of writing, not one per write.

use crate::codec;
use crate::error::{Error, Result};
use crate::storage::NodeStore;

/// Bits of the logical counter in a packed stamp.
pub const LOGICAL_BITS: u32 = 16;

/// Metadata name of the persisted upper bound.
const BOUND_META: &[u8] = b"eventual/clock-bound";

/// How far ahead of the last stamp the persisted bound is placed: 10 ms in
/// packed units. Larger means fewer metadata writes but, after a restart
/// within the lease, stamps up to this far ahead of the node's clock.
const LEASE: u64 = 10_000 << LOGICAL_BITS;

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
/// # use replikv::storage::{Durability, MemoryStorage, NodeStore};
/// # use std::sync::Arc;
/// # let store = NodeStore::new(replikv::NodeId(0), Arc::new(MemoryStorage::new()), Durability::Periodic);
/// let mut clock = WriteClock::recover(&store)?;
/// let a = clock.stamp(5_000_000, &store)?;
/// // The node clock went backwards (skew set back): still strictly increasing.
/// let b = clock.stamp(1_000_000, &store)?;
/// assert!(b > a);
/// // A restarted clock continues above everything issued.
/// let mut restarted = WriteClock::recover(&store)?;
/// assert!(restarted.stamp(0, &store)? > b);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteClock {
    last: u64,
    bound: u64,
}

impl WriteClock {
    /// A clock that continues above every stamp issued by earlier incarnations.
    pub fn recover(store: &NodeStore) -> Result<Self> {
        let bound = match store.get_meta(BOUND_META)? {
            None => 0,
            Some(bytes) => codec::decode::<u64>(&bytes).map_err(|reason| Error::Corrupt {
                node: store.node(),
                key: String::from_utf8_lossy(BOUND_META).into_owned(),
                reason,
            })?,
        };
        Ok(WriteClock { last: bound, bound })
    }

    /// The next stamp, given the node clock reading `now_ns` (nanoseconds).
    /// Never merges anything received from other nodes: see the module docs.
    pub fn stamp(&mut self, now_ns: u64, store: &NodeStore) -> Result<u64> {
        let physical = pack((now_ns / 1_000).min(u64::MAX >> LOGICAL_BITS), 0);
        let next = physical.max(self.last.saturating_add(1));
        if next >= self.bound {
            let bound = next.saturating_add(LEASE);
            store.put_meta(BOUND_META, &codec::encode(&bound).map_err(Error::Encode)?)?;
            self.bound = bound;
        }
        self.last = next;
        Ok(next)
    }

    /// The last stamp issued (or the recovered bound).
    pub fn last(&self) -> u64 {
        self.last
    }
}
