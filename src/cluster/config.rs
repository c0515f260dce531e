//! What a cluster is built from: consistency mode and storage kind, and how
//! the storage kind becomes an engine per node.

use crate::clock::Clock;
use crate::error::Result;
use crate::ids::NodeId;
use crate::storage::{
    Durability, LoseUnflushed, MemoryStorage, SledStorage, Storage, StorageFactory,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The built-in consistency modes. A protocol of your own goes in with
/// [`crate::ClusterBuilder::protocol`] instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Consistency {
    /// One copy per key, on the head of its preference list
    /// ([`crate::protocol::SingleCopy`]). The baseline: no replication.
    #[default]
    SingleCopy,
    /// Linearizable reads and writes per key: majority quorums of the key's
    /// N replicas, ABD ([`crate::protocol::Strong`]). Survives any minority
    /// of crashed or partitioned replicas per key.
    Strong,
    /// Dynamo-style eventual consistency ([`crate::protocol::Eventual`]):
    /// N copies per key (the cluster's replication factor), reads wait for
    /// `r` replicas and writes for `w` acknowledgements; sloppy quorums,
    /// read repair, anti-entropy, last-writer-wins. Both must be in `1..=N`.
    Eventual {
        /// Read quorum R.
        r: usize,
        /// Write quorum W.
        w: usize,
    },
    /// Raft consensus ([`crate::protocol::Consensus`]): one group over all
    /// the nodes, with a leader, a replicated log, and a linearizable
    /// [`compare_and_set`](crate::Client::compare_and_set). Survives any
    /// minority of crashed or partitioned nodes. The replication factor
    /// does not apply: every node holds every key.
    Consensus,
}

impl std::fmt::Display for Consistency {
    /// `single`, `strong`, `consensus`, or `eventual:R:W` — what `replikv compare --modes`
    /// accepts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Consistency::SingleCopy => write!(f, "single"),
            Consistency::Strong => write!(f, "strong"),
            Consistency::Eventual { r, w } => write!(f, "eventual:{r}:{w}"),
            Consistency::Consensus => write!(f, "consensus"),
        }
    }
}

/// Where each node keeps its data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StorageKind {
    /// A temporary sled database per node, removed when the cluster drops.
    #[default]
    Temporary,
    /// A sled database per node under `dir/node-<id>`, kept after the
    /// cluster drops and recovered when a cluster is built on it again.
    Directory(PathBuf),
    /// An in-memory map per node (no sled): fastest, for unit tests.
    Memory,
    /// An engine of your own per node, made by the factory (see
    /// [`StorageFactory`] for an example). Kept across crash and restart;
    /// the engine learns of a crash through [`Storage::on_crash`](crate::storage::Storage::on_crash).
    Custom(StorageFactory),
}

/// How often [`LoseUnflushed`] flushes under [`Durability::Periodic`] when
/// the builder makes it: sled's own default (`flush_every_ms` = 500), so the
/// wrapper loses what sled would.
const PERIODIC_FLUSH: Duration = Duration::from_millis(500);

/// How the cluster makes each node's engine: where it lives, and whether a
/// crash loses unflushed writes
/// ([`crate::ClusterBuilder::lose_unflushed_on_crash`]).
#[derive(Clone, Debug)]
pub(super) struct Engines {
    pub(super) kind: StorageKind,
    pub(super) durability: Durability,
    pub(super) lose_unflushed: bool,
    /// The cluster clock when it is virtual (the simulator): the periodic
    /// flush then runs on it instead of on a thread.
    pub(super) virtual_clock: Option<Arc<Clock>>,
    /// Seals every stored value under this key
    /// ([`crate::ClusterBuilder::encrypt_at_rest`]).
    pub(super) data_key: Option<crate::security::DataKey>,
}

impl Engines {
    /// Opens (or creates) the engine of `node`.
    pub(super) fn open(&self, node: NodeId) -> Result<Arc<dyn Storage>> {
        let engine: Arc<dyn Storage> = match &self.kind {
            StorageKind::Memory => Arc::new(MemoryStorage::new()),
            StorageKind::Temporary => Arc::new(SledStorage::temporary()?),
            StorageKind::Directory(dir) => {
                Arc::new(SledStorage::open(&dir.join(format!("node-{}", node.0)))?)
            }
            StorageKind::Custom(factory) => factory.make(node)?,
        };
        // Innermost, so that only ciphertext reaches the engine.
        // On disk, the number of the last flushed write is kept beside the
        // node's directory, so records that vanish from sled's files are
        // reported when the node opens (`Encrypted::with_high_water`).
        let engine: Arc<dyn Storage> = match (&self.data_key, &self.kind) {
            (Some(key), StorageKind::Directory(dir)) => {
                Arc::new(crate::security::Encrypted::with_high_water(
                    engine,
                    key.clone(),
                    node,
                    &dir.join(format!("node-{}.high-water", node.0)),
                )?)
            }
            (Some(key), _) => Arc::new(crate::security::Encrypted::new(engine, key.clone(), node)),
            (None, _) => engine,
        };
        if !self.lose_unflushed {
            return Ok(engine);
        }
        Ok(match self.durability {
            // Every write flushes before it is acknowledged: no thread needed.
            Durability::FlushBeforeAck => Arc::new(LoseUnflushed::new(engine)),
            Durability::Periodic => match &self.virtual_clock {
                Some(clock) => Arc::new(LoseUnflushed::flushing_on_clock(
                    engine,
                    PERIODIC_FLUSH,
                    clock.clone(),
                )),
                None => Arc::new(LoseUnflushed::flushing_every(engine, PERIODIC_FLUSH)?),
            },
        })
    }
}
