//! Jump consistent hash.
//!
//! Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
//! arXiv:1406.2294, 2014. Buckets are numbered `0..m`. Think of a key
//! following a pseudo-random sequence seeded by its hash: when the bucket
//! count grows from `b` to `b + 1`, the key must *jump* to the new bucket `b`
//! with probability `1/(b+1)`, and otherwise stay. The algorithm computes,
//! with a 64-bit linear congruential generator, where the next jump lands,
//! so it takes `O(ln m)` steps, no memory and no per-node state — and it is
//! perfectly balanced and exactly minimal in movement on add: a key moves
//! only when it moves *to* the new bucket.
//!
//! # Only the last bucket can come or go
//!
//! The price is that buckets are numbers, not names. Here bucket `i` is the
//! `i`-th member in the order the members were added. Adding a node appends
//! bucket `m`; removing the *last-added* node removes bucket `m−1`, the exact
//! reverse. But removing any other node would renumber every later bucket
//! and move far more keys than the removed node held, so
//! [`Partitioner::without_node`] refuses it with an [`Error::InvalidConfig`]
//! saying so. (Systems built on jump hash keep a fixed set of *shards* and
//! map shards to machines separately; use [`super::Rendezvous`] or
//! [`super::Ring`] when arbitrary nodes must leave.)
//!
//! Weights are not supported either — every bucket gets `1/m` of the keys —
//! so a member with weight ≠ 1 is refused rather than silently ignored.
//!
//! # Replicas: this crate's extension
//!
//! The paper computes one bucket per key. For a preference list of `n`
//! distinct nodes this crate *probes*: probe 0 is jump hash of the key hash
//! (so the owner is exactly the paper's bucket), probe `k ≥ 1` is jump hash
//! of the key hash rehashed with `k`, and the list is the first `n` distinct
//! buckets among probes 0, 1, 2, …. Every probe is itself a jump hash, so on
//! adding bucket `m` each probe either stays or moves to `m`: the list
//! changes only when it takes in the new node (for `n/(m+1)` of keys, as
//! for any consistent scheme), and the owner moves for `1/(m+1)` of keys.
//! One imperfection: when a second probe of the same key also moves to the
//! new node, the old node that probe used to supply can be replaced by
//! another old node, so jump copies a few percent more replicas than the
//! minimum (the `partitioning` bench prints the ratio).
//! Collecting `n` distinct buckets among `m` takes about `m·ln(m/(m−n+1))`
//! probes; after `64 + 16·n` probes, a bound never reached in practice, the
//! list is completed with the next unchosen buckets in order so that lookup
//! always terminates.

use super::hash::probe_hash;
use super::members::{require_unit_weights, validate_members, with_member, without_member};
use super::{Member, Partitioner, key_hash};
use crate::error::{Error, Result};
use crate::ids::NodeId;

/// The bucket in `0..buckets` for `key`, by Lamping & Veach's jump consistent
/// hash; `None` when there are no buckets.
///
/// ```
/// // The reference vectors shared by the paper's ports.
/// use replikv::partition::jump_hash;
/// assert_eq!(jump_hash(1, 1), Some(0));
/// assert_eq!(jump_hash(42, 57), Some(43));
/// assert_eq!(jump_hash(0xDEAD10CC, 666), Some(361));
/// assert_eq!(jump_hash(256, 1024), Some(520));
/// assert_eq!(jump_hash(7, 0), None);
/// ```
pub fn jump_hash(mut key: u64, buckets: u32) -> Option<u32> {
    if buckets == 0 {
        return None;
    }
    let buckets = i64::from(buckets);
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // IEEE-754 division and multiplication are correctly rounded, so this
        // gives the same bucket on every platform.
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // The loop ran at least once (0 < buckets), so b is in 0..buckets.
    u32::try_from(b).ok()
}

/// Jump-hash placement over members numbered in the order they were added.
#[derive(Clone, Debug)]
pub struct Jump {
    members: Vec<Member>,
}

impl Jump {
    /// A partitioner over `members` (at least one, distinct, all of weight 1,
    /// fewer than 2³¹ as in the paper).
    ///
    /// ```
    /// // Jump hash: the owner is the paper's bucket; only the last node may leave.
    /// use replikv::partition::{Jump, Member, Partitioner, jump_hash, key_hash};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..5).map(|i| Member::new(NodeId(i))).collect();
    /// let p = Jump::new(&nodes)?;
    /// assert_eq!(p.owner(b"apple").0, jump_hash(key_hash(b"apple"), 5).unwrap_or(0));
    /// assert!(p.without_node(NodeId(4)).is_ok());
    /// assert!(p.without_node(NodeId(2)).is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(members: &[Member]) -> Result<Self> {
        validate_members(members)?;
        require_unit_weights("jump", members)?;
        if members.len() > i32::MAX as usize {
            return Err(Error::InvalidConfig(format!(
                "jump hash supports at most {} buckets, not {}",
                i32::MAX,
                members.len()
            )));
        }
        Ok(Jump {
            members: members.to_vec(),
        })
    }

    /// The bucket count, which `new` keeps within `u32`.
    fn buckets(&self) -> u32 {
        u32::try_from(self.members.len()).unwrap_or(u32::MAX)
    }
}

impl Partitioner for Jump {
    fn name(&self) -> String {
        "jump".into()
    }

    fn members(&self) -> &[Member] {
        &self.members
    }

    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let count = self.members.len();
        let want = n.min(count);
        let buckets = self.buckets();
        let h = key_hash(key);
        // Node ids are distinct, so the list itself records which buckets
        // are taken: no second vector.
        let mut list: Vec<NodeId> = Vec::with_capacity(want);
        let max_probes = 64 + 16 * want as u64;
        let mut probe = 0;
        let mut last = 0;
        while list.len() < want && probe < max_probes {
            if let Some(b) = jump_hash(probe_hash(h, probe), buckets) {
                let node = self.members[b as usize].node;
                if !list.contains(&node) {
                    list.push(node);
                    last = b as usize;
                }
            }
            probe += 1;
        }
        // Fallback, for termination only: the next untaken buckets in order.
        let mut next = last + 1;
        while list.len() < want {
            let node = self.members[next % count].node;
            if !list.contains(&node) {
                list.push(node);
            }
            next += 1;
        }
        list
    }

    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Jump::new(&with_member(&self.members, member))?))
    }

    /// Only the last-added node can be removed; see the module docs.
    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        let remaining = without_member(&self.members, node)?;
        if let Some(last) = self.members.last()
            && last.node != node
        {
            return Err(Error::InvalidConfig(format!(
                "the jump strategy can only remove the last-added node ({}), not {node}: \
                 jump hash numbers nodes as buckets 0..{} and only the highest bucket \
                 can go without renumbering the others and moving far more than {node}'s \
                 keys; use the ring or rendezvous strategy to remove arbitrary nodes",
                last.node,
                self.members.len()
            )));
        }
        Ok(Box::new(Jump::new(&remaining)?))
    }
}
