//! [`StorageFactory`]: an engine of your own for every node, through
//! [`StorageKind::Custom`](crate::StorageKind::Custom).

use super::Storage;
use crate::error::Result;
use crate::ids::NodeId;
use std::sync::Arc;

/// The signature behind a [`StorageFactory`].
type MakeEngine = dyn Fn(NodeId) -> Result<Arc<dyn Storage>> + Send + Sync;

/// Makes the engine of one node: called once per node when the cluster
/// starts and when [`Cluster::add_node`](crate::Cluster::add_node) adds one.
///
/// The engine is kept across a crash and restart, as temporary and
/// in-memory storage are: the cluster calls [`Storage::on_crash`] on it, and
/// the engine decides what a crash loses. Two factories are equal when they
/// are clones of one another.
///
/// ```
/// // Every node on an in-memory engine that loses unflushed writes on a crash,
/// // with no background flush: only an explicit flush persists anything.
/// use replikv::storage::{LoseUnflushed, MemoryStorage, StorageFactory};
/// use replikv::{Cluster, NodeId, StorageKind};
///
/// let lossy = StorageFactory::new(|_node: NodeId| Ok(LoseUnflushed::new(MemoryStorage::new())));
/// let cluster = Cluster::builder().nodes(1).storage(StorageKind::Custom(lossy)).build()?;
/// let mut client = cluster.client()?;
/// client.put("kept", "1")?;
/// cluster.flush()?;
/// client.put("lost", "2")?;
/// cluster.crash(NodeId(0))?;
/// cluster.restart(NodeId(0))?;
/// assert_eq!(client.get("kept")?, Some(b"1".to_vec()));
/// assert_eq!(client.get("lost")?, None);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone)]
pub struct StorageFactory(Arc<MakeEngine>);

impl StorageFactory {
    /// A factory calling `make` with the id of each node to create.
    pub fn new<S, F>(make: F) -> Self
    where
        S: Storage,
        F: Fn(NodeId) -> Result<S> + Send + Sync + 'static,
    {
        StorageFactory(Arc::new(move |node| {
            make(node).map(|engine| Arc::new(engine) as Arc<dyn Storage>)
        }))
    }

    /// The engine for `node`.
    pub fn make(&self, node: NodeId) -> Result<Arc<dyn Storage>> {
        (self.0)(node)
    }
}

impl std::fmt::Debug for StorageFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageFactory(..)")
    }
}

impl PartialEq for StorageFactory {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for StorageFactory {}
