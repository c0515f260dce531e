//! Convergence checks: do all replicas of every key hold the same version?
//!
//! Eventual consistency promises one thing: once writes stop and faults
//! heal, every replica ends up with the same value. These methods check that
//! promise from the outside, by reading every node's storage directly (the
//! global observer again: no real client could do this). A crashed node
//! counts by what its storage holds.
//!
//! What "agree" means is the protocol's to say, through the hooks of
//! [`crate::protocol::rebalance`]. Records a protocol holds aside for a
//! key's replicas ([`Protocol::pending_records`]: the eventual protocol's
//! hints, held by nodes outside the key's replica set) are not counted as
//! replicas; but one that would still change what the replicas agree on, by
//! the protocol's merge rule ([`Protocol::reconcile`]), means the cluster
//! has not converged yet: it has not been handed off. No protocol's
//! metadata layout is known here.

use super::Cluster;
use crate::error::Result;
use crate::ids::NodeId;
#[cfg(doc)]
use crate::protocol::Protocol;
use crate::storage::{Record, Version};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How often [`Cluster::wait_for_convergence`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// What every node holds: records per key and node, and pending records per key.
struct Snapshot {
    records: BTreeMap<Vec<u8>, HashMap<NodeId, Record>>,
    pending: BTreeMap<Vec<u8>, Vec<Record>>,
}

impl Cluster {
    fn snapshot(&self) -> Result<Snapshot> {
        let hooks = self.spawner.hooks();
        let mut records: BTreeMap<Vec<u8>, HashMap<NodeId, Record>> = BTreeMap::new();
        let mut pending: BTreeMap<Vec<u8>, Vec<Record>> = BTreeMap::new();
        for node in self.nodes() {
            let store = self.store(node)?;
            for (key, record) in store.records()? {
                records.entry(key).or_default().insert(node, record);
            }
            for held in hooks.pending_records(&store)? {
                pending.entry(held.key).or_default().push(held.record);
            }
        }
        Ok(Snapshot { records, pending })
    }

    /// What each of `key`'s N replicas stores for it (`None`: nothing, not
    /// even a tombstone), primary first. Crashed replicas are read from storage.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, StorageKind};
    /// let cluster = Cluster::builder().storage(StorageKind::Memory)
    ///     .consistency(Consistency::Eventual { r: 1, w: 3 }).build()?;
    /// cluster.client()?.put("k", "v")?;
    /// // W = N = 3: every replica acknowledged before `put` returned.
    /// let copies = cluster.replica_records(b"k")?;
    /// assert_eq!(copies.len(), 3);
    /// assert!(copies.iter().all(|(_, r)| r.as_ref().and_then(|r| r.value.as_deref()) == Some(&b"v"[..])));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn replica_records(&self, key: &[u8]) -> Result<Vec<(NodeId, Option<Record>)>> {
        self.placement()
            .replicas(key)
            .into_iter()
            .map(|node| Ok((node, self.store(node)?.get_record(key)?)))
            .collect()
    }

    /// True when, for every key stored anywhere, all of its N replicas hold
    /// the same version and no pending record (eventual mode: a hint) would
    /// change it by the protocol's merge rule ([`Protocol::reconcile`]).
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, StorageKind};
    /// let cluster = Cluster::builder().storage(StorageKind::Memory)
    ///     .consistency(Consistency::Eventual { r: 1, w: 3 }).build()?;
    /// assert!(cluster.is_converged()?); // nothing stored: trivially
    /// cluster.client()?.put("k", "v")?;
    /// assert!(cluster.is_converged()?);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn is_converged(&self) -> Result<bool> {
        let hooks = self.spawner.hooks();
        let snapshot = self.snapshot()?;
        for (key, held) in &snapshot.records {
            let Some(agreed) = self.agreed_record(key, held) else {
                return Ok(false);
            };
            for pending in snapshot.pending.get(key).into_iter().flatten() {
                let merged = hooks.reconcile(key, &[agreed.clone(), pending.clone()]);
                if merged.as_ref() != Some(agreed) {
                    return Ok(false);
                }
            }
        }
        // A key known only from a pending record has not reached any replica yet.
        Ok(snapshot
            .pending
            .keys()
            .all(|key| snapshot.records.contains_key(key)))
    }

    /// The record every one of `key`'s replicas holds, if they all hold one
    /// of the same version.
    fn agreed_record<'a>(
        &self,
        key: &[u8],
        held: &'a HashMap<NodeId, Record>,
    ) -> Option<&'a Record> {
        let mut copies = self
            .placement()
            .replicas(key)
            .into_iter()
            .map(|node| held.get(&node));
        let first = copies.next()??;
        let version: Version = first.version;
        copies
            .all(|copy| copy.is_some_and(|c| c.version == version))
            .then_some(first)
    }

    /// Polls [`Cluster::is_converged`] every 10 ms until it is true (returns
    /// `true`) or `deadline` has passed (returns `false`). A deadline over a
    /// century, up to [`Duration::MAX`], means "until it converges".
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, NodeId, StorageKind};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder().storage(StorageKind::Memory)
    ///     .consistency(Consistency::Eventual { r: 1, w: 1 }).build()?;
    /// cluster.network().isolate(NodeId(2))?;
    /// let mut client = cluster.client()?;
    /// for i in 0..10 { client.put(format!("k{i}"), "v")?; }
    /// cluster.network().heal();
    /// // Retransmission, hints and anti-entropy bring node 2 up to date.
    /// assert!(cluster.wait_for_convergence(Duration::from_secs(10))?);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn wait_for_convergence(&self, deadline: Duration) -> Result<bool> {
        if self.world.is_some() {
            // Simulated: let virtual time pass, a poll interval at a time.
            let until = self.clock.now_ns().saturating_add(nanos(deadline));
            loop {
                if self.is_converged()? {
                    return Ok(true);
                }
                let now = self.clock.now_ns();
                if now >= until {
                    return Ok(false);
                }
                self.run_for(Duration::from_nanos(nanos(POLL).min(until - now)));
            }
        }
        let until = crate::clock::deadline_after(Instant::now(), deadline);
        loop {
            if self.is_converged()? {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(false);
            }
            std::thread::sleep(POLL.min(until - now));
        }
    }

    /// The value of every key stored anywhere (`None` for a deleted key):
    /// what the protocol's merge rule ([`Protocol::reconcile`]; by default,
    /// the newest version) makes of the copies on its replicas and its
    /// pending records (eventual mode: hints). Once [`Cluster::is_converged`]
    /// holds, that is the value every replica has.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, StorageKind};
    /// let cluster = Cluster::builder().storage(StorageKind::Memory)
    ///     .consistency(Consistency::Eventual { r: 2, w: 2 }).build()?;
    /// let mut client = cluster.client()?;
    /// client.put("a", "1")?;
    /// client.put("b", "2")?;
    /// client.delete("b")?;
    /// let values = cluster.final_values()?;
    /// assert_eq!(values.get(b"a".as_slice()), Some(&Some(b"1".to_vec())));
    /// assert_eq!(values.get(b"b".as_slice()), Some(&None));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn final_values(&self) -> Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>> {
        let hooks = self.spawner.hooks();
        let Snapshot {
            mut records,
            mut pending,
        } = self.snapshot()?;
        let mut keys: Vec<Vec<u8>> = records.keys().cloned().collect();
        keys.extend(
            pending
                .keys()
                .filter(|k| !records.contains_key(*k))
                .cloned(),
        );
        let mut values = BTreeMap::new();
        for key in keys {
            // Replicas in preference order, then pending records: the same
            // order on every call.
            let held = records.remove(&key).unwrap_or_default();
            let mut copies: Vec<Record> = self
                .placement()
                .replicas(&key)
                .into_iter()
                .filter_map(|node| held.get(&node).cloned())
                .collect();
            copies.extend(pending.remove(&key).unwrap_or_default());
            if copies.is_empty() {
                continue;
            }
            if let Some(merged) = hooks.reconcile(&key, &copies) {
                values.insert(key, merged.value);
            }
        }
        Ok(values)
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
