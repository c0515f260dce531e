//! Convergence checks: do all replicas of every key hold the same version?
//!
//! Eventual consistency promises one thing: once writes stop and faults
//! heal, every replica ends up with the same value. These methods check that
//! promise from the outside, by reading every node's storage directly (the
//! global observer again: no real client could do this). A crashed node
//! counts by what its storage holds.
//!
//! Hints ([`crate::protocol::eventual::hints`]) held by nodes outside a key's
//! replica set are not records and are not counted as replicas; but a hint
//! still carrying a *newer* version than the replicas agree on means the
//! cluster has not converged yet (the hint has not been handed off).

use super::Cluster;
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::eventual::hints::pending_hints;
use crate::storage::{Record, Version};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How often [`Cluster::wait_for_convergence`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// What every node holds: records per key and node, and pending hints' versions.
struct Snapshot {
    records: BTreeMap<Vec<u8>, HashMap<NodeId, Record>>,
    hinted: BTreeMap<Vec<u8>, Record>,
}

impl Cluster {
    fn snapshot(&self) -> Result<Snapshot> {
        let mut records: BTreeMap<Vec<u8>, HashMap<NodeId, Record>> = BTreeMap::new();
        let mut hinted: BTreeMap<Vec<u8>, Record> = BTreeMap::new();
        for node in self.nodes() {
            let store = self.store(node)?;
            for (key, record) in store.records()? {
                records.entry(key).or_default().insert(node, record);
            }
            for hint in pending_hints(&store)? {
                match hinted.get(&hint.key) {
                    Some(held) if held.version >= hint.record.version => {}
                    _ => {
                        hinted.insert(hint.key, hint.record);
                    }
                }
            }
        }
        Ok(Snapshot { records, hinted })
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
    /// the same version and no pending hint holds a newer one.
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
        let snapshot = self.snapshot()?;
        for (key, held) in &snapshot.records {
            let Some(agreed) = self.agreed_version(key, held) else {
                return Ok(false);
            };
            if snapshot
                .hinted
                .get(key)
                .is_some_and(|hint| hint.version > agreed)
            {
                return Ok(false);
            }
        }
        // A key known only from a hint has not reached any replica yet.
        Ok(snapshot
            .hinted
            .keys()
            .all(|key| snapshot.records.contains_key(key)))
    }

    fn agreed_version(&self, key: &[u8], held: &HashMap<NodeId, Record>) -> Option<Version> {
        let mut versions = self
            .placement()
            .replicas(key)
            .into_iter()
            .map(|node| held.get(&node).map(|r| r.version));
        let first = versions.next()??;
        versions.all(|v| v == Some(first)).then_some(first)
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

    /// The value of every key stored anywhere (`None` for a deleted key): the
    /// newest version held by any of its replicas or pending hints. Once
    /// [`Cluster::is_converged`] holds, that is the value every replica has.
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
        let snapshot = self.snapshot()?;
        let mut newest: BTreeMap<Vec<u8>, Record> = BTreeMap::new();
        for (key, held) in snapshot.records {
            let replicas = self.placement().replicas(&key);
            let best = held
                .into_iter()
                .filter(|(node, _)| replicas.contains(node))
                .map(|(_, record)| record)
                .max_by_key(|record| record.version);
            if let Some(best) = best {
                newest.insert(key, best);
            }
        }
        for (key, hint) in snapshot.hinted {
            match newest.get(&key) {
                Some(record) if record.version >= hint.version => {}
                _ => {
                    newest.insert(key, hint);
                }
            }
        }
        Ok(newest
            .into_iter()
            .map(|(key, record)| (key, record.value))
            .collect())
    }
}
