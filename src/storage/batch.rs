//! Group commit: the writes a node makes while it handles one batch of
//! messages, kept aside and applied to the engine at once.
//!
//! A node that handles everything waiting in its inbox in one go (see
//! `src/node/runtime.rs`) gives its [`NodeStore`](super::NodeStore) a
//! [`WriteBatch`]. The protocol writes and reads as usual; its writes land
//! here, and its reads see them first, so a handler reads what an earlier
//! handler of the same batch wrote. When the batch ends, the node core
//! applies them in one call ([`Storage::apply_batch`]; on sled one
//! insert after another, for a reason given there), flushes once under
//! [`Durability::FlushBeforeAck`](super::Durability::FlushBeforeAck), and
//! only then releases the batch's replies and messages. One flush then
//! covers every write of the batch: the *group commit* of databases since
//! IMS FastPath and System R (Gray & Reuter, *Transaction Processing*,
//! §9.4.7), and of every write-ahead log since.
//!
//! The batch is volatile, like the node's other state: a crash before the
//! commit loses it, and since nothing written in it has been acknowledged,
//! nothing acknowledged is lost.

use super::Storage;
use crate::error::Result;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Writes waiting for the commit: `Some(value)` inserts, `None` removes.
type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The open batch of one node incarnation, shared by the clones of its store
/// (the node core's, the protocol's context's, the protocol's own).
#[derive(Clone, Default)]
pub(crate) struct WriteBatch {
    writes: Arc<Mutex<Writes>>,
}

impl WriteBatch {
    /// What the batch holds for `key`: `Some(Some(value))` written,
    /// `Some(None)` removed, `None` untouched (read the engine).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.writes.lock().get(key).cloned()
    }

    pub(crate) fn insert(&self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.lock().insert(key, Some(value));
    }

    pub(crate) fn remove(&self, key: Vec<u8>) {
        self.writes.lock().insert(key, None);
    }

    /// `scanned` (the engine's entries under `prefix`, in key order) with the
    /// batch's writes under `prefix` laid over it.
    pub(crate) fn overlay(
        &self,
        prefix: &[u8],
        scanned: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let writes = self.writes.lock();
        let mut ours = writes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .peekable();
        if ours.peek().is_none() {
            return scanned;
        }
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = scanned.into_iter().collect();
        for (key, value) in ours {
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        merged.into_iter().collect()
    }

    /// Applies every write to `engine` as one engine batch and empties the
    /// batch; returns how many writes it applied. On an error the writes
    /// are gone too: the caller must not acknowledge them.
    pub(crate) fn apply_to(&self, engine: &dyn Storage) -> Result<usize> {
        let writes: Vec<_> = std::mem::take(&mut *self.writes.lock())
            .into_iter()
            .collect();
        if !writes.is_empty() {
            engine.apply_batch(&writes)?;
        }
        Ok(writes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn reads_see_the_batch_first_and_the_engine_only_after_the_commit() {
        let engine = MemoryStorage::new();
        engine.insert(b"a", b"old").unwrap();
        engine.insert(b"gone", b"x").unwrap();
        let batch = WriteBatch::default();
        batch.insert(b"a".to_vec(), b"new".to_vec());
        batch.remove(b"gone".to_vec());
        batch.insert(b"b".to_vec(), b"2".to_vec());
        assert_eq!(batch.get(b"a"), Some(Some(b"new".to_vec())));
        assert_eq!(batch.get(b"gone"), Some(None));
        assert_eq!(batch.get(b"zzz"), None);
        assert_eq!(engine.get(b"a").unwrap(), Some(b"old".to_vec()));
        let scanned = batch.overlay(b"", engine.scan_prefix(b"").unwrap());
        assert_eq!(
            scanned,
            vec![
                (b"a".to_vec(), b"new".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(batch.apply_to(&engine).unwrap(), 3);
        assert_eq!(engine.scan_prefix(b"").unwrap(), scanned);
        assert_eq!(batch.apply_to(&engine).unwrap(), 0, "the batch is empty");
    }
}
