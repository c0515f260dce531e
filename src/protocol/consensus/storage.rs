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
//! The log is also kept in memory (a `Vec`, entry `i` at position `i - 1`);
//! the store is the copy that survives a crash.

use super::messages::Entry;
use crate::codec;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::storage::NodeStore;
use serde::{Deserialize, Serialize};

const HARD: &[u8] = b"raft/hard";
const LOG: &[u8] = b"raft/log/";
const APPLIED: &[u8] = b"raft/applied";

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
    let mut log = Vec::new();
    for (name, bytes) in store.scan_meta(LOG)? {
        let index = name
            .get(LOG.len()..)
            .and_then(|raw| <[u8; 8]>::try_from(raw).ok())
            .map(u64::from_be_bytes);
        // Entries are written contiguously from 1 and truncated from the
        // end, so a gap means damage.
        if index != Some(log.len() as u64 + 1) {
            return Err(corrupt(
                store,
                "raft/log",
                format!("entry {index:?} out of sequence"),
            ));
        }
        log.push(codec::decode(&bytes).map_err(|e| corrupt(store, "raft/log", e))?);
    }
    Ok(Recovered { hard, log, applied })
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
