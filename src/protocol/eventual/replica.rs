//! A replica's local state: its records (in storage) and an in-memory index
//! of their versions, with the per-peer bucket hashes anti-entropy compares.
//!
//! The index is volatile: [`Replica::load`] rebuilds it from storage when the
//! node (re)starts. Every record write goes through [`Replica::apply`], which
//! keeps storage and index in step; only this node's thread writes its records.

use super::anti_entropy::{BUCKETS, bucket_of, entry_hash};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::Context;
use crate::storage::{Record, Version};
use std::collections::BTreeMap;

/// One node's records, indexed by key with their versions.
#[derive(Debug, Default)]
pub(super) struct Replica {
    /// Version of every record stored on this node (the digest source).
    versions: BTreeMap<Vec<u8>, Version>,
    /// Per peer: `BUCKETS` XOR-combined hashes of the `(key, version)` pairs
    /// of keys that both this node and the peer replicate. Updated
    /// incrementally on every write (XOR out the old pair, XOR in the new),
    /// so a digest costs nothing to build. Rejected alternative: rescanning
    /// every record per anti-entropy round, O(data) every 100 ms.
    summaries: BTreeMap<NodeId, Vec<u64>>,
}

impl Replica {
    /// Rebuilds the index from the node's storage.
    pub(super) fn load<M>(ctx: &Context<M>) -> Result<Self> {
        let mut replica = Replica::default();
        for (key, record) in ctx.store().records()? {
            replica.index(ctx, key, record.version);
        }
        Ok(replica)
    }

    /// The highest version counter among records this node coordinated.
    pub(super) fn highest_own_stamp(&self, me: NodeId) -> u64 {
        self.versions
            .values()
            .filter(|v| v.node == me)
            .map(|v| v.counter)
            .max()
            .unwrap_or(0)
    }

    /// The highest version counter among all records on this node.
    pub(super) fn highest_stamp(&self) -> u64 {
        self.versions.values().map(|v| v.counter).max().unwrap_or(0)
    }

    /// The version stored for `key`.
    pub(super) fn version(&self, key: &[u8]) -> Option<Version> {
        self.versions.get(key).copied()
    }

    /// Stores `record` if it is newer than what this node holds (persisting
    /// it before returning); true when stored. Older or equal: nothing happens.
    pub(super) fn apply<M>(
        &mut self,
        ctx: &Context<M>,
        key: &[u8],
        record: &Record,
    ) -> Result<bool> {
        if self.version(key).is_some_and(|v| v >= record.version) {
            return Ok(false);
        }
        ctx.store().put_record(key, record)?;
        self.index(ctx, key.to_vec(), record.version);
        Ok(true)
    }

    /// The stored record for `key`.
    pub(super) fn get<M>(&self, ctx: &Context<M>, key: &[u8]) -> Result<Option<Record>> {
        if !self.versions.contains_key(key) {
            return Ok(None);
        }
        ctx.store().get_record(key)
    }

    /// The bucket hashes of the keys shared with `peer`.
    pub(super) fn summary(&self, peer: NodeId) -> Vec<u64> {
        self.summaries
            .get(&peer)
            .cloned()
            .unwrap_or_else(|| vec![0; BUCKETS])
    }

    /// Keys in `buckets` that this node and `peer` both replicate, with versions.
    pub(super) fn shared_entries<M>(
        &self,
        ctx: &Context<M>,
        peer: NodeId,
        buckets: &[u16],
    ) -> Vec<(Vec<u8>, Version)> {
        let mut wanted = [false; BUCKETS];
        for &b in buckets {
            if let Some(slot) = wanted.get_mut(usize::from(b)) {
                *slot = true;
            }
        }
        self.versions
            .iter()
            .filter(|(key, _)| wanted[bucket_of(key)] && ctx.replicas(key).contains(&peer))
            .map(|(key, version)| (key.clone(), *version))
            .collect()
    }

    fn index<M>(&mut self, ctx: &Context<M>, key: Vec<u8>, version: Version) {
        let bucket = bucket_of(&key);
        let old = self.versions.get(&key).map(|v| entry_hash(&key, *v));
        let new = entry_hash(&key, version);
        let me = ctx.node();
        for peer in ctx.replicas(&key) {
            if peer == me {
                continue;
            }
            let sums = self
                .summaries
                .entry(peer)
                .or_insert_with(|| vec![0; BUCKETS]);
            sums[bucket] ^= new ^ old.unwrap_or(0);
        }
        self.versions.insert(key, version);
    }
}
