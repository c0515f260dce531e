//! Scaling out and in while clients run: [`Cluster::add_node`] and
//! [`Cluster::remove_node`].
//!
//! # How a membership change works here
//!
//! 1. New client operations are held at the gate, and the change waits for
//!    the operations in flight to return (each is bounded by its client's
//!    timeout). [`Cluster::crash`] and [`Cluster::restart`] wait at the same
//!    gate, so no node starts or stops behind the change's back.
//! 2. **Every running node stops** (as in a crash: its thread ends, its
//!    volatile state and queued messages are dropped; its storage stays).
//!    The copy below writes into the nodes' stores, and a protocol running
//!    beside it would race it: a hint handed off, an anti-entropy push or a
//!    read repair landing between the cluster's read of a store and its
//!    write could be overwritten or left behind. Every node, not only those
//!    gaining or losing keys, because any node may hold a hint for a moving
//!    key or finish a write whose client already gave up.
//! 3. For every key stored anywhere, the old and the new preference lists
//!    are compared. Where they differ, every copy on the old and new replicas
//!    is gathered, together with any record a protocol holds aside for the
//!    key ([`Protocol::pending_records`]: the eventual protocol's hints, held
//!    by nodes that are not replicas). The protocol's merge rule
//!    ([`Protocol::reconcile`]; by default the highest version, the rule of
//!    every built-in protocol) picks the record the new replicas get.
//!    Pending records of keys that do not move are handed to their replicas
//!    the same way. See [`crate::protocol::rebalance`].
//! 4. The new partitioner is installed; the key is removed from nodes that
//!    are no longer replicas, and each pending record's metadata entry is
//!    deleted (it has reached its replicas). The count of keys whose replica
//!    set changed is reported.
//! 5. The stopped nodes restart (a joining node starts): their protocols
//!    rebuild their volatile state (version indexes, anti-entropy summaries)
//!    from the storage that was just rewritten, under the new placement.
//! 6. The gate opens.
//!
//! Stopping is a crash rather than a pause because the nodes would be
//! restarted afterwards anyway, to rebuild state derived from placement; and
//! every protocol must already survive a crash at any point, so no protocol
//! needs new code for it. A pause would keep queued messages, which were
//! addressed under the old placement.
//!
//! Node ids are never reused: a node that joins after one left gets a new
//! id. State a protocol keeps per node (the strong protocol's tag
//! reservations) stays with its node and needs no moving, since no later
//! node can stamp versions with a departed node's id.
//!
//! # What is simplified, and why it stays correct
//!
//! A real system (Dynamo's bootstrapping, Cassandra's range streaming)
//! streams the moving ranges over the network while it keeps serving, and
//! needs a careful hand-over so reads never miss data in flight. Here the
//! cluster stops the world and copies store to store: every operation runs
//! entirely under the old placement or entirely under the new one, and the
//! new replicas start with what the protocol's own rule makes of every copy
//! an old replica or a hint held. For strong (majority-quorum) mode that
//! keeps every completed write visible: it reached a majority of the old
//! replicas, so the newest old version is at least as new. For eventual
//! mode, a write acknowledged by W nodes is on a replica or in a hint, and
//! both are gathered. An operation whose client already timed out may still
//! be pending inside a coordinator; stopping the node ends it, which is what
//! indeterminate allows.
//!
//! Consensus mode keeps the gate and the stop but not the copy of steps
//! 3–4: every node holds every key, and the Raft state must move as a
//! whole, so every member of the new group becomes a copy of the most
//! up-to-date node instead
//! ([`crate::protocol::consensus::membership`] says why that is safe).
//!
//! Jump hash can only remove the most recently added node (its buckets are
//! numbered); removing another is refused with a clear error, before anything
//! changes.

use super::{Cluster, NodeSlot};
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::node::NodeCounters;
use crate::partition::{Member, Partitioner};
use crate::protocol::PendingRecord;
#[cfg(doc)]
use crate::protocol::Protocol;
use crate::storage::NodeStore;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a membership change did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rebalance {
    /// The node that joined or left.
    pub node: Option<NodeId>,
    /// Keys stored in the cluster when the change happened.
    pub keys: u64,
    /// Keys whose replica set changed.
    pub keys_moved: u64,
    /// Records written to replicas whose copy differed from the merged one.
    pub records_copied: u64,
    /// Records removed from nodes that stopped being replicas.
    pub records_removed: u64,
    /// Records a protocol held aside ([`Protocol::pending_records`]: the
    /// eventual protocol's hints) that were merged into their key's
    /// replicas and deleted.
    pub pending_settled: u64,
}

/// What phase 2 of a change must delete once the new placement is in force.
#[derive(Default)]
struct Cleanup {
    /// (node, key): copies on nodes that stopped being the key's replicas.
    records: Vec<(NodeId, Vec<u8>)>,
    /// (holder, metadata name): pending records that reached their replicas.
    pending: Vec<(NodeId, Vec<u8>)>,
}

impl Cluster {
    /// Adds a node of weight 1 while the cluster runs; returns its id and
    /// what moved.
    ///
    /// While it runs, new client operations wait and every running node is
    /// stopped (crashed, then restarted under the new placement), so no
    /// protocol handler races the copy. Each key whose replica set changes
    /// gets, on its new replicas, what the protocol's merge rule
    /// ([`Protocol::reconcile`]) makes of every copy on its old and new
    /// replicas and of the records the protocol holds aside for it
    /// ([`Protocol::pending_records`], the eventual protocol's hints, which
    /// are all handed on); see [`crate::protocol::rebalance`].
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
    ///
    /// In [`Consistency::Consensus`](crate::Consistency::Consensus) mode the
    /// same gate stops every node, and instead of moving keys the cluster
    /// makes every member of the new Raft group a copy of the most
    /// up-to-date one ([`crate::protocol::consensus::reconfigure`], whose
    /// docs say why that is safe); nothing moves between replicas, since
    /// every node holds every key.
    pub fn add_node(&self) -> Result<Rebalance> {
        self.add_node_with_weight(1.0)
    }

    /// Adds a node with a relative capacity (strategies that support weights
    /// give it a proportional share of keys; others refuse weights ≠ 1).
    /// The new node gets an id no node of this cluster has had before.
    pub fn add_node_with_weight(&self, weight: f64) -> Result<Rebalance> {
        let _gate = self.gate.write();
        let id = NodeId(self.next_node.load(Ordering::Relaxed));
        let old = self.placement.partitioner();
        let new = old.with_node(Member { node: id, weight })?;
        let engine = self.engines.open(id)?;
        self.next_node.store(id.0 + 1, Ordering::Relaxed);
        let mut report = self.with_nodes_stopped(|| {
            self.nodes.lock().push(NodeSlot {
                id,
                store: NodeStore::new(id, engine, self.durability),
                counters: Arc::new(NodeCounters::default()),
                running: None,
                incarnation: 0,
            });
            self.network.add_node(id);
            if self.fixed_membership {
                let result = self.reconfigure_consensus(None);
                if result.is_err() {
                    self.nodes.lock().retain(|slot| slot.id != id);
                    self.network.remove_node(id);
                } else {
                    self.placement.replace(new);
                }
                return result;
            }
            let (report, cleanup) = match self.copy_keys_guarded(old.as_ref(), new.as_ref()) {
                Ok(copied) => copied,
                Err(e) => {
                    // Nothing was removed yet: the old placement still holds.
                    self.nodes.lock().retain(|slot| slot.id != id);
                    self.network.remove_node(id);
                    return Err(e);
                }
            };
            self.placement.replace(new);
            self.clean_up(cleanup)?;
            Ok(report)
        })?;
        report.node = Some(id);
        self.start_node(id)?;
        Ok(report)
    }

    /// Consensus mode, every node stopped: every member (all nodes but
    /// `leaving`) becomes a copy of the most up-to-date Raft state.
    fn reconfigure_consensus(&self, leaving: Option<NodeId>) -> Result<Rebalance> {
        let stores: Vec<NodeStore> = self.nodes.lock().iter().map(|s| s.store.clone()).collect();
        let (gone, members): (Vec<NodeStore>, Vec<NodeStore>) =
            stores.into_iter().partition(|s| Some(s.node()) == leaving);
        crate::protocol::consensus::reconfigure(&members, &gone)?;
        let keys = members
            .first()
            .map_or(Ok(0), |s| s.records().map(|r| r.len()))?;
        Ok(Rebalance {
            keys: keys as u64,
            ..Rebalance::default()
        })
    }

    /// Removes a node while the cluster runs: its keys move to their new
    /// replicas first (and every hint to its key's replicas), then its
    /// storage is dropped. Works as [`Cluster::add_node`] does.
    pub fn remove_node(&self, node: NodeId) -> Result<Rebalance> {
        let _gate = self.gate.write();
        if !self.nodes().contains(&node) {
            return Err(Error::UnknownNode(node));
        }
        let old = self.placement.partitioner();
        let new = old.without_node(node)?;
        if self.fixed_membership {
            if new.members().is_empty() {
                return Err(Error::InvalidConfig(format!(
                    "removing {node} would leave the Raft group empty"
                )));
            }
            let mut report = self.with_nodes_stopped(|| {
                let report = self.reconfigure_consensus(Some(node))?;
                self.placement.replace(new);
                self.network.remove_node(node);
                self.nodes.lock().retain(|slot| slot.id != node);
                Ok(report)
            })?;
            report.node = Some(node);
            return Ok(report);
        }
        if new.members().len() < self.placement.replication() {
            return Err(Error::InvalidConfig(format!(
                "removing {node} would leave {} nodes for N = {}",
                new.members().len(),
                self.placement.replication()
            )));
        }
        let mut report = self.with_nodes_stopped(|| {
            let (report, cleanup) = self.copy_keys_guarded(old.as_ref(), new.as_ref())?;
            self.placement.replace(new);
            self.network.remove_node(node);
            self.nodes.lock().retain(|slot| slot.id != node);
            self.clean_up(cleanup)?;
            Ok(report)
        })?;
        report.node = Some(node);
        Ok(report)
    }

    /// Stops every running node, runs `change`, and restarts the stopped
    /// nodes that are still members, whether or not `change` succeeded.
    fn with_nodes_stopped<T>(&self, change: impl FnOnce() -> Result<T>) -> Result<T> {
        let stopped = self.stop_all_nodes();
        let result = change();
        let members = self.nodes();
        let mut restarted = Ok(());
        for node in stopped.into_iter().filter(|n| members.contains(n)) {
            let outcome = self.restart_node(node);
            if restarted.is_ok() {
                restarted = outcome;
            }
        }
        let value = result?;
        restarted.map(|()| value)
    }

    /// [`Cluster::copy_keys`], with a panic in the protocol's hooks
    /// ([`Protocol::reconcile`](crate::protocol::Protocol::reconcile),
    /// `pending_records`) turned into an error: nothing was removed yet, so
    /// the old placement still holds and the nodes restart under it.
    fn copy_keys_guarded(
        &self,
        old: &dyn Partitioner,
        new: &dyn Partitioner,
    ) -> Result<(Rebalance, Cleanup)> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.copy_keys(old, new)))
            .unwrap_or_else(|payload| {
                Err(Error::Protocol(format!(
                    "the protocol's rebalancing hook panicked: {}",
                    crate::node::panic_message(payload.as_ref())
                )))
            })
    }

    /// Phase 1, with every node stopped: writes each moving key's merged
    /// record to its new replicas, and hands pending records to theirs.
    /// Removes nothing, so the old placement stays valid if it fails.
    fn copy_keys(
        &self,
        old: &dyn Partitioner,
        new: &dyn Partitioner,
    ) -> Result<(Rebalance, Cleanup)> {
        let n = self.placement.replication();
        let hooks = self.spawner.hooks();
        let stores: BTreeMap<NodeId, NodeStore> = self
            .nodes
            .lock()
            .iter()
            .map(|slot| (slot.id, slot.store.clone()))
            .collect();
        let mut keys = BTreeSet::new();
        let mut pending: BTreeMap<Vec<u8>, Vec<(NodeId, PendingRecord)>> = BTreeMap::new();
        for (&node, store) in &stores {
            for (key, _) in store.records()? {
                keys.insert(key);
            }
            for held in hooks.pending_records(store)? {
                pending
                    .entry(held.key.clone())
                    .or_default()
                    .push((node, held));
            }
        }
        let mut report = Rebalance {
            keys: keys.len() as u64,
            ..Rebalance::default()
        };
        let mut cleanup = Cleanup::default();
        keys.extend(pending.keys().cloned());
        for key in keys {
            let before = old.preference_list(&key, n);
            let after = new.preference_list(&key, n);
            let held = pending.remove(&key).unwrap_or_default();
            let moved = before != after;
            if !moved && held.is_empty() {
                continue;
            }
            report.keys_moved += u64::from(moved);
            // Old replicas first, then the new ones: a merge rule that
            // breaks ties by position sees the same order on every run.
            let mut holders = before.clone();
            holders.extend(after.iter().filter(|node| !before.contains(node)));
            let mut copies = Vec::new();
            for store in holders.iter().filter_map(|node| stores.get(node)) {
                copies.extend(store.get_record(&key)?);
            }
            copies.extend(held.iter().map(|(_, p)| p.record.clone()));
            if copies.is_empty() {
                continue;
            }
            // Every new replica gets the merged record, including replicas
            // that were already in the old list but may not hold the key
            // (single-copy keeps it on the primary only).
            if let Some(merged) = hooks.reconcile(&key, &copies) {
                for store in after.iter().filter_map(|node| stores.get(node)) {
                    if store.get_record(&key)?.as_ref() != Some(&merged) {
                        store.put_record(&key, &merged)?;
                        report.records_copied += 1;
                    }
                }
            }
            for &gone in before.iter().filter(|node| !after.contains(node)) {
                cleanup.records.push((gone, key.clone()));
            }
            for (holder, held) in held {
                cleanup.pending.push((holder, held.name));
            }
        }
        report.records_removed = cleanup.records.len() as u64;
        report.pending_settled = cleanup.pending.len() as u64;
        Ok((report, cleanup))
    }

    /// Phase 2, under the new placement: deletes copies on nodes that
    /// stopped being replicas and the pending records that were handed on.
    /// (A node that left is no longer in the list; its storage goes with it.)
    fn clean_up(&self, cleanup: Cleanup) -> Result<()> {
        let stores: BTreeMap<NodeId, NodeStore> = self
            .nodes
            .lock()
            .iter()
            .map(|slot| (slot.id, slot.store.clone()))
            .collect();
        for (node, key) in cleanup.records {
            if let Some(store) = stores.get(&node) {
                store.remove_record(&key)?;
            }
        }
        for (node, name) in cleanup.pending {
            if let Some(store) = stores.get(&node) {
                store.remove_meta(&name)?;
            }
        }
        Ok(())
    }
}
