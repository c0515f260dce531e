//! Version counters that a coordinator never hands out twice.
//!
//! ABD's correctness rests on every write having its own tag: two different
//! values stored under the same version would let replicas disagree forever
//! (each refuses the other's record as "not newer"), and two reads could then
//! return different values for the same version. The paper gets unique tags
//! from `(counter, writer id)` with one sequential writer per id. Here one
//! node coordinates many operations at once, and it restarts after crashes,
//! so two more rules are needed:
//!
//! - **Within an incarnation**, the node keeps a floor: a new counter is
//!   `max(highest seen + 1, floor)`, and the floor then moves past it — a
//!   Lamport clock. Two concurrent writes to one key through one coordinator
//!   get different counters even though their queries saw the same maximum.
//! - **Across incarnations**, the floor must survive a crash: a store sent
//!   just before the crash may still be in flight, and the new incarnation
//!   must not reuse its counter. Writing the floor to storage before every
//!   write would double the storage writes, so the node *reserves* counters
//!   in blocks ([`RESERVE_BLOCK`]), persisting only the block's end (the
//!   "hi/lo" allocator of database sequences). A restarted node starts above
//!   everything its previous incarnations could have reserved.

use crate::error::{Error, Result};
use crate::storage::NodeStore;

/// Metadata name of the persisted reservation (exclusive upper bound of every
/// counter this node has handed out).
pub(super) const META_RESERVED: &[u8] = b"strong/reserved-counter";

/// Counters reserved per storage write. Larger means fewer metadata writes
/// and bigger gaps in the counters after a restart (harmless: only their
/// order matters). 1024 makes the metadata write cost negligible.
pub(super) const RESERVE_BLOCK: u64 = 1024;

/// The coordinator's counter allocator. Loaded lazily from storage on the
/// first write, so a protocol built for a unit test needs no `on_start`.
#[derive(Debug, Default)]
pub(super) struct Tags {
    /// `(floor, reserved)` once loaded: the next counter is at least
    /// `floor`; every counter below `reserved` may have been handed out.
    state: Option<(u64, u64)>,
}

impl Tags {
    /// A counter above `seen` that this node has never handed out.
    pub(super) fn next(&mut self, store: &NodeStore, seen: u64) -> Result<u64> {
        let (floor, reserved) = match self.state {
            Some(state) => state,
            None => {
                let reserved = load(store)?;
                (reserved, reserved)
            }
        };
        let counter = seen
            .checked_add(1)
            .ok_or_else(|| Error::Protocol("version counter exhausted".into()))?
            .max(floor);
        let mut reserved = reserved;
        if counter >= reserved {
            reserved = counter.saturating_add(RESERVE_BLOCK);
            store.put_meta(META_RESERVED, &reserved.to_le_bytes())?;
        }
        self.state = Some((counter.saturating_add(1), reserved));
        Ok(counter)
    }
}

fn load(store: &NodeStore) -> Result<u64> {
    match store.get_meta(META_RESERVED)? {
        None => Ok(0),
        Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
            Ok(raw) => Ok(u64::from_le_bytes(raw)),
            Err(_) => Err(Error::Corrupt {
                node: store.node(),
                key: String::from_utf8_lossy(META_RESERVED).into_owned(),
                reason: format!("expected 8 bytes, found {}", bytes.len()),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::storage::{Durability, MemoryStorage};
    use std::sync::Arc;

    fn store() -> NodeStore {
        NodeStore::new(
            NodeId(0),
            Arc::new(MemoryStorage::new()),
            Durability::Periodic,
        )
    }

    #[test]
    fn counters_are_above_seen_and_never_repeat() -> Result<()> {
        let store = store();
        let mut tags = Tags::default();
        assert_eq!(tags.next(&store, 0)?, 1);
        // A concurrent write that saw the same maximum gets a fresh counter.
        assert_eq!(tags.next(&store, 0)?, 2);
        assert_eq!(tags.next(&store, 10)?, 11);
        assert_eq!(tags.next(&store, 3)?, 12);
        Ok(())
    }

    #[test]
    fn a_restarted_node_starts_above_its_reservation() -> Result<()> {
        let store = store();
        let mut first = Tags::default();
        let issued = first.next(&store, 5)?;
        let mut second = Tags::default(); // the node restarted
        assert!(second.next(&store, 0)? > issued);
        Ok(())
    }

    #[test]
    fn reservations_are_persisted_in_blocks() -> Result<()> {
        let store = store();
        let mut tags = Tags::default();
        for _ in 0..RESERVE_BLOCK + 1 {
            tags.next(&store, 0)?;
        }
        let raw = store.get_meta(META_RESERVED)?.map(|b| b.len());
        assert_eq!(raw, Some(8));
        assert_eq!(load(&store)?, RESERVE_BLOCK + 1 + RESERVE_BLOCK);
        Ok(())
    }

    #[test]
    fn a_garbled_reservation_is_corrupt() {
        let store = store();
        assert!(store.put_meta(META_RESERVED, b"xyz").is_ok());
        assert!(matches!(
            Tags::default().next(&store, 0),
            Err(Error::Corrupt { .. })
        ));
    }
}
