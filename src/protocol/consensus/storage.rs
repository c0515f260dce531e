//! Raft's persistent state — the current term, the vote and the log — in
//! the node's store, written *before* the node acts on it (Figure 2:
//! "updated on stable storage before responding to RPCs").
//!
//! Layout, all in the store's protocol metadata:
//!
//! | name | value |
//! |---|---|
//! | `raft/hard` | [`HardState`]: term and vote |
//! | `raft/log/` + index (8 bytes, big-endian, so a scan is in log order) | one [`Entry`] |
//! | `raft/applied` | the index of the last entry applied to the records |
//! | `raft/snapshot` | [`Snapshot`]: the last index and term the records stand for, once the log before it is compacted |
//!
//! The state machine is the node's ordinary records (so the cluster's
//! inspection tools see it): applying an entry writes its record, then
//! `raft/applied`. A crash between the two re-applies that one entry on
//! restart, which is harmless because each command applied to its own
//! result changes nothing: a put writes the same value again, a delete
//! the same tombstone, and a compare-and-set either finds its new value
//! (and, expecting something else, does not swap; or, expecting the same,
//! writes the same value) or did not swap the first time and does not now.
//!
//! The log is also kept in memory (a `Vec`, entry `i` at position
//! `i - snapshot index - 1`); the store is the copy that survives a crash.
//!
//! # Snapshots (§7)
//!
//! The records *are* the state machine, already on disk, so compacting
//! needs no copy: once the log holds `snapshot_threshold` applied entries,
//! the node writes `raft/snapshot` = (applied index, its term) and then
//! deletes the log entries up to it. A crash between the two leaves
//! entries the snapshot covers, which recovery skips and deletes.
//!
//! Installing a leader's snapshot replaces the records, which cannot be
//! done in one write; so the snapshot's records are first written in one
//! piece, inside `raft/snapshot` (`pending`), and only then copied into the
//! records and `raft/applied` moved to the snapshot's index. A crash in the
//! middle leaves `applied` below the snapshot's index with `pending` set:
//! recovery copies the records again. Log entries after the snapshot that
//! do not follow it (a conflicting suffix, never acknowledged to the
//! leader) are deleted *before* the snapshot is written; entries it covers
//! after.

use super::messages::Entry;
use crate::codec;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::storage::{NodeStore, Record};
use serde::{Deserialize, Serialize};

const HARD: &[u8] = b"raft/hard";
const LOG: &[u8] = b"raft/log/";
const APPLIED: &[u8] = b"raft/applied";
const SNAPSHOT: &[u8] = b"raft/snapshot";

/// The point up to which the log is compacted: the records stand for every
/// entry up to `index` (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Snapshot {
    /// The last entry the snapshot includes.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// A leader's snapshot not yet copied into the records (none once it
    /// is, and for a snapshot of the node's own records).
    pub pending: Option<Vec<(Vec<u8>, Record)>>,
}

/// The term and the vote, persisted together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: u64,
    /// Who it voted for in `term`, if anyone.
    pub vote: Option<NodeId>,
}

/// A node's Raft state as read back from its store.
#[derive(Debug, Default)]
pub(super) struct Recovered {
    pub hard: HardState,
    pub snapshot: Snapshot,
    pub log: Vec<Entry>,
    pub applied: u64,
}

fn corrupt(store: &NodeStore, what: &str, reason: impl ToString) -> Error {
    Error::Corrupt {
        node: store.node(),
        key: what.to_string(),
        reason: reason.to_string(),
    }
}

fn log_name(index: u64) -> Vec<u8> {
    let mut name = LOG.to_vec();
    name.extend_from_slice(&index.to_be_bytes());
    name
}

/// Reads everything back (a fresh node reads defaults).
pub(super) fn recover(store: &NodeStore) -> Result<Recovered> {
    let hard = match store.get_meta(HARD)? {
        Some(bytes) => codec::decode(&bytes).map_err(|e| corrupt(store, "raft/hard", e))?,
        None => HardState::default(),
    };
    let applied = match store.get_meta(APPLIED)? {
        Some(bytes) => {
            let raw: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| corrupt(store, "raft/applied", "not 8 bytes"))?;
            u64::from_be_bytes(raw)
        }
        None => 0,
    };
    let snapshot: Snapshot = match store.get_meta(SNAPSHOT)? {
        Some(bytes) => codec::decode(&bytes).map_err(|e| corrupt(store, "raft/snapshot", e))?,
        None => Snapshot::default(),
    };
    if applied < snapshot.index {
        match &snapshot.pending {
            // A crash while installing a leader's snapshot: copy again.
            Some(records) => install_records(store, records, snapshot.index)?,
            None => {
                return Err(corrupt(
                    store,
                    "raft/snapshot",
                    format!(
                        "snapshot at {} but records applied only to {applied}",
                        snapshot.index
                    ),
                ));
            }
        }
    }
    let applied = applied.max(snapshot.index);
    let mut log = Vec::new();
    for (name, bytes) in store.scan_meta(LOG)? {
        let index = name
            .get(LOG.len()..)
            .and_then(|raw| <[u8; 8]>::try_from(raw).ok())
            .map(u64::from_be_bytes);
        // Covered by the snapshot: a crash between writing the snapshot and
        // deleting these.
        if let Some(index) = index
            && index <= snapshot.index
        {
            store.remove_meta(&name)?;
            continue;
        }
        // Entries are written contiguously after the snapshot and
        // truncated from the end, so a gap means damage.
        if index != Some(snapshot.index + log.len() as u64 + 1) {
            return Err(corrupt(
                store,
                "raft/log",
                format!("entry {index:?} out of sequence"),
            ));
        }
        log.push(codec::decode(&bytes).map_err(|e| corrupt(store, "raft/log", e))?);
    }
    Ok(Recovered {
        hard,
        snapshot,
        log,
        applied,
    })
}

/// Persists the term and vote.
pub(super) fn save_hard(store: &NodeStore, hard: &HardState) -> Result<()> {
    let bytes = codec::encode(hard).map_err(Error::Encode)?;
    store.put_meta(HARD, &bytes)
}

/// Persists `entries` at `first`, `first + 1`, ….
pub(super) fn save_entries(store: &NodeStore, first: u64, entries: &[Entry]) -> Result<()> {
    for (offset, entry) in entries.iter().enumerate() {
        let bytes = codec::encode(entry).map_err(Error::Encode)?;
        store.put_meta(&log_name(first + offset as u64), &bytes)?;
    }
    Ok(())
}

/// Removes the persisted entries `from..=last`.
pub(super) fn truncate(store: &NodeStore, from: u64, last: u64) -> Result<()> {
    for index in (from..=last).rev() {
        store.remove_meta(&log_name(index))?;
    }
    Ok(())
}

/// Persists the applied index.
pub(super) fn save_applied(store: &NodeStore, applied: u64) -> Result<()> {
    store.put_meta(APPLIED, &applied.to_be_bytes())
}

/// Persists `snapshot` (one write).
pub(super) fn save_snapshot(store: &NodeStore, snapshot: &Snapshot) -> Result<()> {
    let bytes = codec::encode(snapshot).map_err(Error::Encode)?;
    store.put_meta(SNAPSHOT, &bytes)
}

/// Makes the records exactly `records` and the applied index `index`.
pub(super) fn install_records(
    store: &NodeStore,
    records: &[(Vec<u8>, Record)],
    index: u64,
) -> Result<()> {
    let keep: std::collections::BTreeSet<&[u8]> =
        records.iter().map(|(k, _)| k.as_slice()).collect();
    for (key, _) in store.records()? {
        if !keep.contains(key.as_slice()) {
            store.remove_record(&key)?;
        }
    }
    for (key, record) in records {
        store.put_record(key, record)?;
    }
    save_applied(store, index)
}
