//! Hinted handoff: writes held on behalf of an unreachable replica.
//!
//! When a key's replica does not acknowledge a write in time (or is already
//! suspected to be down), the coordinator sends the write to the next node
//! beyond the key's first N in its preference list, naming the intended
//! replica (Dynamo §4.6, *sloppy quorum*). That *hint holder* stores the write
//! as a [`Hint`] — in its protocol metadata, not among its records, because it
//! is not a replica of the key and must not answer reads for it or confuse a
//! convergence check — acknowledges it (the ack counts toward W), and every
//! [`EventualConfig::handoff`](super::EventualConfig::handoff) sends its hints
//! to their intended replicas. A hint is deleted only once the intended
//! replica acknowledges a version at least as new. Hints live in storage, so
//! they survive a crash of the holder.
//!
//! One hint is kept per (intended replica, key): a newer write for the same
//! pair replaces the older hint, since last-writer-wins would discard it anyway.
//!
//! When nodes join or leave, the cluster hands every hint to its key's
//! replicas under the new placement and deletes it
//! ([`Protocol::pending_records`](crate::protocol::Protocol::pending_records) is
//! how it finds them): the intended replica may no longer be one, and a
//! holder that leaves would otherwise take the only copy of a write with it.

use super::Eventual;
use super::messages::EventualMessage;
use crate::codec;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::protocol::{Context, PendingRecord};
use crate::storage::{NodeStore, Record, Version};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metadata prefix under which hints are stored.
pub const HINT_PREFIX: &[u8] = b"eventual/hint/";

/// At most this many hints are handed to one replica per handoff round.
const MAX_HANDOFF_BATCH: usize = 256;

/// A write held for a replica that could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// The replica the write is meant for.
    pub target: NodeId,
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The record to hand over.
    pub record: Record,
}

fn hint_name(target: NodeId, key: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(HINT_PREFIX.len() + 4 + key.len());
    name.extend_from_slice(HINT_PREFIX);
    name.extend_from_slice(&target.0.to_be_bytes());
    name.extend_from_slice(key);
    name
}

fn decode_hint(store: &NodeStore, name: &[u8], bytes: &[u8]) -> Result<Hint> {
    codec::decode(bytes).map_err(|reason| Error::Corrupt {
        node: store.node(),
        key: String::from_utf8_lossy(name).into_owned(),
        reason,
    })
}

/// Stores `hint` durably unless a hint at least as new is already held for
/// the same replica and key.
pub fn store_hint(store: &NodeStore, hint: &Hint) -> Result<()> {
    let name = hint_name(hint.target, &hint.key);
    if let Some(bytes) = store.get_meta(&name)? {
        let held = decode_hint(store, &name, &bytes)?;
        if held.record.version >= hint.record.version {
            return Ok(());
        }
    }
    store.put_meta(&name, &codec::encode(hint).map_err(Error::Encode)?)
}

/// Every hint stored on a node (for handoff and for convergence checks).
///
/// ```
/// use replikv::protocol::eventual::hints::{Hint, pending_hints, store_hint};
/// use replikv::storage::{Durability, MemoryStorage, NodeStore, Record, Version};
/// use replikv::NodeId;
/// use std::sync::Arc;
///
/// let store = NodeStore::new(NodeId(3), Arc::new(MemoryStorage::new()), Durability::Periodic);
/// let hint = Hint { target: NodeId(1), key: b"k".to_vec(), record: Record::value(Version::new(9, NodeId(0)), b"v".to_vec()) };
/// store_hint(&store, &hint)?;
/// assert_eq!(pending_hints(&store)?, vec![hint]);
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn pending_hints(store: &NodeStore) -> Result<Vec<Hint>> {
    store
        .scan_meta(HINT_PREFIX)?
        .into_iter()
        .map(|(name, bytes)| decode_hint(store, &name, &bytes))
        .collect()
}

/// Every hint on a node as a [`PendingRecord`]: what
/// [`Protocol::pending_records`](crate::protocol::Protocol::pending_records)
/// reports for the eventual protocol, so that a membership change hands
/// hints to their key's replicas and a convergence check waits for them.
pub(super) fn pending_records(store: &NodeStore) -> Result<Vec<PendingRecord>> {
    store
        .scan_meta(HINT_PREFIX)?
        .into_iter()
        .map(|(name, bytes)| {
            let hint = decode_hint(store, &name, &bytes)?;
            Ok(PendingRecord {
                name,
                key: hint.key,
                record: hint.record,
            })
        })
        .collect()
}

/// Deletes the hint for (`target`, `key`) if `delivered` is at least its version.
fn remove_delivered(
    store: &NodeStore,
    target: NodeId,
    key: &[u8],
    delivered: Version,
) -> Result<()> {
    let name = hint_name(target, key);
    if let Some(bytes) = store.get_meta(&name)? {
        let held = decode_hint(store, &name, &bytes)?;
        if held.record.version <= delivered {
            store.remove_meta(&name)?;
        }
    }
    Ok(())
}

type Msg = EventualMessage;

impl Eventual {
    /// A hint holder's periodic round: offer every held hint to its replica.
    pub(super) fn hand_off(&mut self, ctx: &mut Context<Msg>) -> Result<()> {
        let mut by_target: BTreeMap<NodeId, Vec<(Vec<u8>, Record)>> = BTreeMap::new();
        for hint in pending_hints(ctx.store())? {
            let batch = by_target.entry(hint.target).or_default();
            if batch.len() < MAX_HANDOFF_BATCH {
                batch.push((hint.key, hint.record));
            }
        }
        for (target, records) in by_target {
            ctx.send(target, Msg::Handoff { records });
        }
        Ok(())
    }

    /// A hint holder receives a `Store` meant for another replica.
    pub(super) fn hold_hint(
        &mut self,
        ctx: &mut Context<Msg>,
        target: NodeId,
        key: Vec<u8>,
        record: Record,
    ) -> Result<()> {
        store_hint(
            ctx.store(),
            &Hint {
                target,
                key,
                record,
            },
        )
    }

    /// The intended replica receives handed-off records.
    pub(super) fn on_handoff(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeId,
        records: Vec<(Vec<u8>, Record)>,
    ) -> Result<()> {
        let mut delivered = Vec::with_capacity(records.len());
        for (key, record) in records {
            self.replica.apply(ctx, &key, &record)?;
            delivered.push((key, record.version));
        }
        ctx.send(from, Msg::HandoffAck { delivered });
        Ok(())
    }

    /// The hint holder learns which hints were delivered.
    pub(super) fn on_handoff_ack(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeId,
        delivered: Vec<(Vec<u8>, Version)>,
    ) -> Result<()> {
        for (key, version) in delivered {
            remove_delivered(ctx.store(), from, &key, version)?;
        }
        Ok(())
    }
}
