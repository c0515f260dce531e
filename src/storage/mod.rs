//! Per-node storage: a narrow byte-level [`Storage`] trait, with sled and
//! in-memory engines behind it, and the [`NodeStore`] that protocols use to
//! read and write versioned [`Record`]s.
//!
//! # Why so narrow
//!
//! Following toydb's storage engine, the trait is just `get/insert/remove/
//! scan_prefix/flush` on bytes. Everything about *versions* lives one level up
//! in [`NodeStore`], and everything about *consistency* lives in the protocol:
//! storage decides nothing. A learner can swap in another engine by
//! implementing five methods.
//!
//! # Layout
//!
//! One keyspace per node, split by a one-byte prefix: `r` + user key holds a
//! bincode-encoded [`Record`]; `m` + name holds protocol metadata (hints,
//! clocks) that a protocol wants to survive a crash.
//!
//! # Durability contract
//!
//! sled, like most engines, buffers writes and makes them durable on
//! `flush` (sled's `Tree::flush` documents this). [`Durability::FlushBeforeAck`]
//! flushes after every write, so a record a replica has acknowledged survives
//! a crash of the whole process. [`Durability::Periodic`] leaves it to sled's
//! background flusher (every 500 ms): faster, but a process crash may lose the
//! last writes.
//!
//! A simulated node crash inside one process loses nothing by itself: the
//! engine outlives the node thread, and sled hands back unflushed writes as
//! if they were durable. To make a crash cost what a real one costs, wrap
//! the engine in [`LoseUnflushed`] (or ask the builder for it with
//! [`ClusterBuilder::lose_unflushed_on_crash`](crate::ClusterBuilder::lose_unflushed_on_crash)):
//! the cluster tells the engine about every crash ([`Storage::on_crash`]),
//! and the wrapper then drops every write since the last flush.
//! `tests/durability.rs` uses it to show both sides of the contract.
//!
//! # Group commit
//!
//! A node on threads handles a whole inbox of messages per wake-up, and
//! its store then holds the batch's writes aside (`batch.rs`) until the
//! node core applies them as one engine batch ([`Storage::apply_batch`]),
//! flushes once under [`Durability::FlushBeforeAck`], and only then
//! releases the batch's acknowledgements. A write is still flushed before
//! it is acknowledged; what changes is that one flush pays for the whole
//! batch. [`ClusterBuilder::batching`](crate::ClusterBuilder::batching)
//! turns it off (one flush per write, as above), for comparison.

mod batch;
mod factory;
mod lose_unflushed;
mod memory;
mod record;
mod sled_store;

pub use factory::StorageFactory;
pub use lose_unflushed::LoseUnflushed;
pub use memory::MemoryStorage;
pub use record::{Record, Version};
pub use sled_store::SledStorage;

pub(crate) use batch::WriteBatch;

use crate::codec;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use std::sync::Arc;

/// A byte-level ordered key-value engine holding one node's data.
///
/// Implementations must be safe to share between the node thread and the
/// cluster (which inspects replicas for convergence checks).
pub trait Storage: Send + Sync + 'static {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key`, replacing what was there.
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes `key` (no error when absent).
    fn remove(&self, key: &[u8]) -> Result<()>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;
    /// Applies `writes` in order — `Some(value)` stores, `None` removes —
    /// in one call, so an engine can apply them at once (the in-memory
    /// engine takes its lock once; sled applies them one by one, see
    /// [`SledStorage`]). This is how a node commits the writes of
    /// one batch of messages (see the module docs on group commit). The
    /// default applies them one by one, stopping at the first error.
    ///
    /// ```
    /// use replikv::storage::{MemoryStorage, Storage};
    /// let engine = MemoryStorage::new();
    /// engine.insert(b"old", b"0")?;
    /// engine.apply_batch(&[(b"new".to_vec(), Some(b"1".to_vec())), (b"old".to_vec(), None)])?;
    /// assert_eq!(engine.get(b"new")?, Some(b"1".to_vec()));
    /// assert_eq!(engine.get(b"old")?, None);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn apply_batch(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        for (key, value) in writes {
            match value {
                Some(value) => self.insert(key, value)?,
                None => self.remove(key)?,
            }
        }
        Ok(())
    }
    /// The node owning this engine has crashed (its thread has stopped):
    /// forget whatever a real crash would lose. The default forgets nothing,
    /// as a disk would; [`LoseUnflushed`] forgets every unflushed write.
    fn on_crash(&self) {}
}

/// A shared engine is an engine, so wrappers such as [`LoseUnflushed`] can
/// go around an `Arc<dyn Storage>`.
impl<S: Storage + ?Sized> Storage for Arc<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        (**self).get(key)
    }
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        (**self).insert(key, value)
    }
    fn remove(&self, key: &[u8]) -> Result<()> {
        (**self).remove(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        (**self).scan_prefix(prefix)
    }
    fn flush(&self) -> Result<()> {
        (**self).flush()
    }
    fn apply_batch(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        (**self).apply_batch(writes)
    }
    fn on_crash(&self) {
        (**self).on_crash()
    }
}

/// When a write becomes durable. See the module docs for what each promises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Flush after every write, before the replica acknowledges it.
    FlushBeforeAck,
    /// Let the engine flush in the background (sled, and [`LoseUnflushed`]
    /// as the cluster builds it: every 500 ms).
    #[default]
    Periodic,
}

const RECORD_PREFIX: u8 = b'r';
const META_PREFIX: u8 = b'm';

/// One node's view of its storage: versioned records and protocol metadata.
#[derive(Clone)]
pub struct NodeStore {
    node: NodeId,
    engine: Arc<dyn Storage>,
    durability: Durability,
    /// The open write batch of a node that commits in groups (see the
    /// module docs); `None`: every write goes straight to the engine.
    batch: Option<WriteBatch>,
}

impl std::fmt::Debug for NodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStore")
            .field("node", &self.node)
            .field("durability", &self.durability)
            .field("batched", &self.batch.is_some())
            .finish_non_exhaustive()
    }
}

fn prefixed(prefix: u8, key: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(key.len() + 1);
    full.push(prefix);
    full.extend_from_slice(key);
    full
}

impl NodeStore {
    /// Wraps `engine` as the storage of `node`.
    ///
    /// ```
    /// use replikv::storage::{Durability, MemoryStorage, NodeStore, Record, Version};
    /// use replikv::NodeId;
    /// use std::sync::Arc;
    ///
    /// let store = NodeStore::new(NodeId(0), Arc::new(MemoryStorage::new()), Durability::Periodic);
    /// let record = Record::value(Version::new(1, NodeId(0)), b"blue".to_vec());
    /// store.put_record(b"sky", &record)?;
    /// assert_eq!(store.get_record(b"sky")?, Some(record));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(node: NodeId, engine: Arc<dyn Storage>, durability: Durability) -> Self {
        NodeStore {
            node,
            engine,
            durability,
            batch: None,
        }
    }

    /// A store on the same engine whose writes wait in a fresh write batch
    /// until [`NodeStore::commit`] (the node core's group commit). Its
    /// clones share the batch; the original store does not see it.
    pub(crate) fn batched(&self) -> NodeStore {
        NodeStore {
            batch: Some(WriteBatch::default()),
            ..self.clone()
        }
    }

    /// Applies the open write batch as one engine batch and, under
    /// [`Durability::FlushBeforeAck`], flushes once; returns how many writes
    /// it committed. Nothing to do (`Ok(0)`) for a store without a batch,
    /// whose writes were applied (and flushed) as they came. An error means
    /// the batch may not be durable, so its acknowledgements must not go out.
    pub(crate) fn commit(&self) -> Result<usize> {
        let Some(batch) = &self.batch else {
            return Ok(0);
        };
        let written = batch.apply_to(self.engine.as_ref())?;
        if written > 0 {
            self.sync()?;
        }
        Ok(written)
    }

    /// Reads `full` (an engine key), through the open batch if any.
    fn read(&self, full: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.batch.as_ref().and_then(|batch| batch.get(full)) {
            Some(batched) => Ok(batched),
            None => self.engine.get(full),
        }
    }

    /// Stores `value` under `full`: into the open batch, or into the engine
    /// (flushed under [`Durability::FlushBeforeAck`]).
    fn write(&self, full: Vec<u8>, value: Option<&[u8]>) -> Result<()> {
        match (&self.batch, value) {
            (Some(batch), Some(value)) => batch.insert(full, value.to_vec()),
            (Some(batch), None) => batch.remove(full),
            (None, Some(value)) => {
                self.engine.insert(&full, value)?;
                self.sync()?;
            }
            (None, None) => {
                self.engine.remove(&full)?;
                self.sync()?;
            }
        }
        Ok(())
    }

    /// The engine's entries under `prefix`, through the open batch if any.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let scanned = self.engine.scan_prefix(prefix)?;
        Ok(match &self.batch {
            Some(batch) => batch.overlay(prefix, scanned),
            None => scanned,
        })
    }

    /// The node this store belongs to.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The record stored under `key`; [`Error::Corrupt`] if it does not decode.
    pub fn get_record(&self, key: &[u8]) -> Result<Option<Record>> {
        match self.read(&prefixed(RECORD_PREFIX, key))? {
            None => Ok(None),
            Some(bytes) => self.decode_record(key, &bytes).map(Some),
        }
    }

    /// Stores `record` under `key` unconditionally (flushing first under
    /// [`Durability::FlushBeforeAck`], or, on a node that commits in groups,
    /// at the end of the batch, before any acknowledgement leaves).
    pub fn put_record(&self, key: &[u8], record: &Record) -> Result<()> {
        let bytes = codec::encode(record).map_err(Error::Encode)?;
        self.write(prefixed(RECORD_PREFIX, key), Some(&bytes))
    }

    /// Stores `record` only if it is newer than what is stored; returns
    /// whether it was stored. This is the "merge" every replicated register
    /// uses: versions only move forward.
    pub fn put_if_newer(&self, key: &[u8], record: &Record) -> Result<bool> {
        match self.get_record(key)? {
            Some(current) if current.version >= record.version => Ok(false),
            _ => {
                self.put_record(key, record)?;
                Ok(true)
            }
        }
    }

    /// Removes the record for `key` (used when a key moves off this node;
    /// protocols delete with tombstones, never with this).
    pub fn remove_record(&self, key: &[u8]) -> Result<()> {
        self.write(prefixed(RECORD_PREFIX, key), None)
    }

    /// Every record on this node, in key order. A corrupt record fails the scan.
    pub fn records(&self) -> Result<Vec<(Vec<u8>, Record)>> {
        self.scan(&[RECORD_PREFIX])?
            .into_iter()
            .map(|(full, bytes)| {
                let key = full[1..].to_vec();
                let record = self.decode_record(&key, &bytes)?;
                Ok((key, record))
            })
            .collect()
    }

    /// Protocol metadata stored under `name`.
    pub fn get_meta(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        self.read(&prefixed(META_PREFIX, name))
    }

    /// Stores protocol metadata under `name`.
    pub fn put_meta(&self, name: &[u8], value: &[u8]) -> Result<()> {
        self.write(prefixed(META_PREFIX, name), Some(value))
    }

    /// Removes protocol metadata under `name`.
    pub fn remove_meta(&self, name: &[u8]) -> Result<()> {
        self.write(prefixed(META_PREFIX, name), None)
    }

    /// Every metadata entry whose name starts with `prefix`.
    pub fn scan_meta(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .scan(&prefixed(META_PREFIX, prefix))?
            .into_iter()
            .map(|(full, value)| (full[1..].to_vec(), value))
            .collect())
    }

    /// Makes every write so far durable, whatever the [`Durability`]
    /// (committing the open write batch first, if any).
    pub fn flush(&self) -> Result<()> {
        if let Some(batch) = &self.batch {
            batch.apply_to(self.engine.as_ref())?;
        }
        self.engine.flush()
    }

    /// The raw engine, for tests that need to corrupt a record on purpose.
    pub fn engine(&self) -> &Arc<dyn Storage> {
        &self.engine
    }

    /// The raw engine key under which the record for `key` lives.
    pub fn record_key(key: &[u8]) -> Vec<u8> {
        prefixed(RECORD_PREFIX, key)
    }

    fn sync(&self) -> Result<()> {
        match self.durability {
            Durability::FlushBeforeAck => self.engine.flush(),
            Durability::Periodic => Ok(()),
        }
    }

    fn decode_record(&self, key: &[u8], bytes: &[u8]) -> Result<Record> {
        codec::decode(bytes).map_err(|reason| Error::Corrupt {
            node: self.node,
            key: String::from_utf8_lossy(key).into_owned(),
            reason,
        })
    }
}
