//! The cluster's current placement: the partitioner in force and the
//! replication factor N. Shared by nodes and clients; swapped atomically when
//! a node joins or leaves.

use crate::ids::NodeId;
use crate::partition::{Member, Partitioner};
use parking_lot::RwLock;
use std::sync::Arc;

/// Current partitioner and replication factor.
#[derive(Debug)]
pub struct Placement {
    partitioner: RwLock<Arc<dyn Partitioner>>,
    replication: usize,
}

impl Placement {
    /// Placement with `partitioner` and replication factor `replication`.
    pub fn new(partitioner: Box<dyn Partitioner>, replication: usize) -> Self {
        Placement {
            partitioner: RwLock::new(Arc::from(partitioner)),
            replication,
        }
    }

    /// The replication factor N.
    pub fn replication(&self) -> usize {
        self.replication
    }

    /// The partitioner in force now.
    pub fn partitioner(&self) -> Arc<dyn Partitioner> {
        self.partitioner.read().clone()
    }

    /// Installs a new partitioner, returning the old one.
    pub fn replace(&self, next: Box<dyn Partitioner>) -> Arc<dyn Partitioner> {
        std::mem::replace(&mut *self.partitioner.write(), Arc::from(next))
    }

    /// The key's N replicas, primary first.
    pub fn replicas(&self, key: &[u8]) -> Vec<NodeId> {
        self.partitioner
            .read()
            .preference_list(key, self.replication)
    }

    /// The first `n` nodes of the key's preference list.
    pub fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        self.partitioner.read().preference_list(key, n)
    }

    /// The current members.
    pub fn members(&self) -> Vec<Member> {
        self.partitioner.read().members().to_vec()
    }
}
