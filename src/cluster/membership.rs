//! Scaling out and in while clients run: [`Cluster::add_node`] and
//! [`Cluster::remove_node`].
//!
//! # How a membership change works here
//!
//! 1. New client operations are held at the gate, and the change waits for
//!    the operations in flight to return (each is bounded by its client's
//!    timeout).
//! 2. For every key stored anywhere, the old and the new preference lists
//!    are compared. Where they differ, the newest record among the old
//!    replicas (by version: the one every protocol here would pick) is copied
//!    to the new replicas, and removed from nodes that are no longer
//!    replicas. The count of keys whose replica set changed is reported.
//! 3. The new partitioner is installed, and every running node restarts:
//!    protocols keep volatile state derived from storage and placement
//!    (version indexes, anti-entropy summaries, hint queues), and a restart
//!    rebuilds it from the storage that was just rewritten.
//! 4. The gate opens.
//!
//! # What is simplified, and why it stays correct
//!
//! A real system (Dynamo's bootstrapping, Cassandra's range streaming)
//! streams the moving ranges over the network while it keeps serving, and
//! needs a careful hand-over so reads never miss data in flight. Here the
//! cluster copies store to store with client operations briefly held: every
//! operation then runs entirely under the old placement or entirely under the
//! new one, and the new replicas start with the newest version any old
//! replica held. For strong (majority-quorum) mode that keeps every
//! completed write visible: it reached a majority of the old replicas, so the
//! newest old version is at least as new. An operation whose client already
//! timed out may still be finishing inside a coordinator; it is indeterminate
//! and may take effect or not, which is what indeterminate allows.
//!
//! Jump hash can only remove the most recently added node (its buckets are
//! numbered); removing another is refused with a clear error, before anything
//! changes.

use super::{Cluster, NodeSlot};
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::node::NodeCounters;
use crate::partition::{Member, Partitioner};
use crate::storage::NodeStore;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a membership change did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rebalance {
    /// The node that joined or left.
    pub node: Option<NodeId>,
    /// Keys stored in the cluster when the change happened.
    pub keys: u64,
    /// Keys whose replica set changed.
    pub keys_moved: u64,
    /// Records written to nodes that became replicas.
    pub records_copied: u64,
    /// Records removed from nodes that stopped being replicas.
    pub records_removed: u64,
}

impl Cluster {
    /// Adds a node of weight 1 while the cluster runs; returns its id and
    /// what moved.
    ///
    /// ```
    /// use replikv::{Cluster, StorageKind};
    /// let cluster = Cluster::builder().nodes(3).replication(2).storage(StorageKind::Memory).build()?;
    /// let mut client = cluster.client()?;
    /// for i in 0..100 { client.put(format!("k{i}"), "v")?; }
    /// let moved = cluster.add_node()?;
    /// assert_eq!(cluster.nodes().len(), 4);
    /// assert!(moved.keys_moved > 0 && moved.keys_moved < 100);
    /// assert_eq!(client.get("k7")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn add_node(&self) -> Result<Rebalance> {
        self.add_node_with_weight(1.0)
    }

    /// Adds a node with a relative capacity (strategies that support weights
    /// give it a proportional share of keys; others refuse weights ≠ 1).
    pub fn add_node_with_weight(&self, weight: f64) -> Result<Rebalance> {
        let _gate = self.gate.write();
        let id = NodeId(
            self.nodes
                .lock()
                .iter()
                .map(|s| s.id.0 + 1)
                .max()
                .unwrap_or(0),
        );
        let old = self.placement.partitioner();
        let new = old.with_node(Member { node: id, weight })?;
        let engine = self.engines.open(id)?;
        self.nodes.lock().push(NodeSlot {
            id,
            store: NodeStore::new(id, engine, self.durability),
            counters: Arc::new(NodeCounters::default()),
            running: None,
            incarnation: 0,
        });
        self.network.add_node(id);
        let mut report = self.move_keys(old.as_ref(), new.as_ref())?;
        report.node = Some(id);
        self.placement.replace(new);
        self.reload_running_nodes()?;
        self.start_node(id)?;
        Ok(report)
    }

    /// Removes a node while the cluster runs: its keys move to their new
    /// replicas first, then its thread stops and its storage is dropped.
    pub fn remove_node(&self, node: NodeId) -> Result<Rebalance> {
        let _gate = self.gate.write();
        if !self.nodes().contains(&node) {
            return Err(Error::UnknownNode(node));
        }
        let old = self.placement.partitioner();
        let new = old.without_node(node)?;
        if new.members().len() < self.placement.replication() {
            return Err(Error::InvalidConfig(format!(
                "removing {node} would leave {} nodes for N = {}",
                new.members().len(),
                self.placement.replication()
            )));
        }
        let mut report = self.move_keys(old.as_ref(), new.as_ref())?;
        report.node = Some(node);
        self.placement.replace(new);
        if self.is_up(node)? {
            self.crash(node)?;
        }
        self.network.remove_node(node);
        self.nodes.lock().retain(|slot| slot.id != node);
        self.reload_running_nodes()?;
        Ok(report)
    }

    /// Restarts every running node so its protocol rebuilds its state from
    /// storage under the new placement.
    fn reload_running_nodes(&self) -> Result<()> {
        for node in self.nodes() {
            if self.is_up(node)? {
                self.crash(node)?;
                self.restart(node)?;
            }
        }
        Ok(())
    }

    /// Copies every key whose replica set changes from `old` to `new`.
    fn move_keys(&self, old: &dyn Partitioner, new: &dyn Partitioner) -> Result<Rebalance> {
        let n = self.placement.replication();
        let stores: Vec<(NodeId, NodeStore)> = self
            .nodes
            .lock()
            .iter()
            .map(|slot| (slot.id, slot.store.clone()))
            .collect();
        let store_of = |id: NodeId| stores.iter().find(|(n, _)| *n == id).map(|(_, s)| s);
        let mut keys = BTreeSet::new();
        for (_, store) in &stores {
            for (key, _) in store.records()? {
                keys.insert(key);
            }
        }
        let mut report = Rebalance {
            keys: keys.len() as u64,
            ..Rebalance::default()
        };
        for key in keys {
            let before = old.preference_list(&key, n);
            let after = new.preference_list(&key, n);
            if before == after {
                continue;
            }
            let (before_set, after_set): (BTreeSet<_>, BTreeSet<_>) = (
                before.iter().copied().collect(),
                after.iter().copied().collect(),
            );
            report.keys_moved += 1;
            let newest = before_set
                .union(&after_set)
                .filter_map(|&replica| store_of(replica))
                .map(|store| store.get_record(&key))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .max_by_key(|record| record.version);
            let Some(newest) = newest else { continue };
            // Every new replica gets the newest record, including replicas
            // that were already in the old list but may not hold the key
            // (single-copy keeps it on the primary only).
            for store in after_set.iter().filter_map(|&r| store_of(r)) {
                if store.put_if_newer(&key, &newest)? {
                    report.records_copied += 1;
                }
            }
            for store in before_set
                .difference(&after_set)
                .filter_map(|&r| store_of(r))
            {
                store.remove_record(&key)?;
                report.records_removed += 1;
            }
        }
        Ok(report)
    }
}
