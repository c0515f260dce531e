//! Anti-entropy: replicas compare what they hold in the background and copy
//! the newer records to each other, so that every replica converges even for
//! keys nobody reads again (Dynamo §4.7, which uses Merkle trees).
//!
//! # The exchange (push-pull, one peer per round)
//!
//! Every [`EventualConfig::anti_entropy`](super::EventualConfig::anti_entropy)
//! (100 ms by default) a node picks the next peer in round-robin order and:
//!
//! 1. `SyncDigest`: sends [`BUCKETS`] hashes, one per bucket of the keys the
//!    two nodes both replicate. A bucket's hash is the XOR of a 64-bit hash of
//!    each `(key, version)` pair in it, maintained incrementally on every write.
//! 2. `SyncKeys`: the peer compares with its own hashes for the sender; for
//!    the buckets that differ it answers with its `(key, version)` list.
//! 3. `SyncPush`: the initiator sends the records the peer is missing or holds
//!    older, and asks for the keys where the peer is newer.
//! 4. `SyncPush` (final): the peer sends those.
//!
//! This is a hash tree of depth one: a quiet, converged pair exchanges 64
//! numbers per round and nothing else; a pair that differs exchanges only the
//! key lists of the differing buckets. Dynamo's Merkle trees recurse further
//! (log-many rounds, less data per difference) — simplified here because the
//! simulated keyspaces are small. XOR is a weak set hash (two differences can
//! cancel) — acceptable for teaching, where a later write to either key
//! breaks the tie. Each push carries at most [`MAX_SYNC_RECORDS`] records; the
//! rest go in the next rounds.

use super::Eventual;
use super::messages::EventualMessage;
use crate::error::Result;
use crate::ids::NodeId;
use crate::partition::key_hash;
use crate::protocol::Context;
use crate::storage::{Record, Version};
use std::collections::BTreeMap;

/// Number of digest buckets per peer.
pub const BUCKETS: usize = 64;

/// At most this many records travel in one `SyncPush` (keeps messages far
/// below the codec's decode limit even with large values).
pub const MAX_SYNC_RECORDS: usize = 256;

/// The digest bucket of a key.
pub(super) fn bucket_of(key: &[u8]) -> usize {
    // Use the high bits: the partitioner may already use the low ones.
    (key_hash(key) >> 58) as usize % BUCKETS
}

/// SplitMix64's finaliser: a cheap, well-mixed 64-bit permutation.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of one `(key, version)` pair in a bucket.
pub(super) fn entry_hash(key: &[u8], version: Version) -> u64 {
    mix(key_hash(key) ^ mix(version.counter ^ mix(u64::from(version.node.0) + 1)))
}

type Msg = EventualMessage;

impl Eventual {
    /// Step 1: starts a round with the next peer.
    pub(super) fn start_anti_entropy(&mut self, ctx: &mut Context<Msg>) {
        let me = ctx.node();
        let peers: Vec<NodeId> = ctx.members().into_iter().filter(|&n| n != me).collect();
        if peers.is_empty() {
            return;
        }
        self.sync_cursor = self.sync_cursor.wrapping_add(1);
        let peer = peers[self.sync_cursor % peers.len()];
        let buckets = self.replica.summary(peer);
        ctx.send(peer, Msg::SyncDigest { buckets });
    }

    /// Step 2: answers a digest with the key lists of the differing buckets.
    pub(super) fn on_sync_digest(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeId,
        theirs: Vec<u64>,
    ) {
        let mine = self.replica.summary(from);
        let differing: Vec<u16> = (0..BUCKETS)
            .filter(|&b| theirs.get(b) != mine.get(b))
            .map(|b| b as u16)
            .collect();
        if differing.is_empty() {
            return;
        }
        let entries = self.replica.shared_entries(ctx, from, &differing);
        ctx.send(
            from,
            Msg::SyncKeys {
                buckets: differing,
                entries,
            },
        );
    }

    /// Step 3: pushes what the peer lacks, asks for what it has newer.
    pub(super) fn on_sync_keys(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeId,
        buckets: Vec<u16>,
        entries: Vec<(Vec<u8>, Version)>,
    ) -> Result<()> {
        let theirs: BTreeMap<Vec<u8>, Version> = entries.into_iter().collect();
        let mut want = Vec::new();
        for (key, version) in &theirs {
            if self.replica.version(key).is_none_or(|mine| mine < *version) {
                want.push(key.clone());
            }
        }
        let mut records = Vec::new();
        for (key, mine) in self.replica.shared_entries(ctx, from, &buckets) {
            if records.len() >= MAX_SYNC_RECORDS {
                break;
            }
            if theirs.get(&key).is_none_or(|theirs| *theirs < mine)
                && let Some(record) = self.replica.get(ctx, &key)?
            {
                records.push((key, record));
            }
        }
        want.truncate(MAX_SYNC_RECORDS);
        if !records.is_empty() || !want.is_empty() {
            ctx.send(from, Msg::SyncPush { records, want });
        }
        Ok(())
    }

    /// Steps 3 and 4 at the receiver: stores newer records, sends what was asked.
    pub(super) fn on_sync_push(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeId,
        records: Vec<(Vec<u8>, Record)>,
        want: Vec<Vec<u8>>,
    ) -> Result<()> {
        for (key, record) in &records {
            self.replica.apply(ctx, key, record)?;
        }
        let mut reply = Vec::new();
        for key in want.into_iter().take(MAX_SYNC_RECORDS) {
            if let Some(record) = self.replica.get(ctx, &key)? {
                reply.push((key, record));
            }
        }
        if !reply.is_empty() {
            ctx.send(
                from,
                Msg::SyncPush {
                    records: reply,
                    want: Vec::new(),
                },
            );
        }
        Ok(())
    }
}
