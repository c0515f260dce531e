//! Partitioning: which nodes hold a key.
//!
//! A [`Partitioner`] maps a key to its *preference list*: an ordered list of
//! distinct nodes, the first of which is the key's primary ("owner") and the
//! next N−1 its other replicas (Dynamo, DeCandia et al., SOSP 2007, §4.3).
//! Protocols read the list through their context; the client uses it to pick
//! a coordinator.
//!
//! Partitioners are immutable values: adding or removing a node makes a new
//! partitioner ([`Partitioner::with_node`], [`Partitioner::without_node`]),
//! so that the old and the new placement can be compared key by key to count
//! what moves.
//!
//! # The key hash
//!
//! Placement must not change between runs, platforms or releases, so keys are
//! hashed with [`key_hash`], XXH3-64 with seed 0 — a specified algorithm —
//! and never with `std`'s `DefaultHasher`, whose output is allowed to change.

mod rendezvous;

pub use rendezvous::Rendezvous;

use crate::error::Result;
use crate::ids::NodeId;
use std::fmt::Debug;

/// The stable 64-bit hash of a key: XXH3-64 with seed 0.
///
/// ```
/// assert_eq!(replikv::partition::key_hash(b"user:42"), 0x9fc1e605fa7174aa);
/// ```
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key, 0)
}

/// A node taking part in placement, with its relative capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    /// The node.
    pub node: NodeId,
    /// Relative capacity (1.0 = an ordinary node). Strategies that support
    /// weights give a node a share of keys in proportion to it.
    pub weight: f64,
}

impl Member {
    /// A member of weight 1.
    pub fn new(node: NodeId) -> Self {
        Member { node, weight: 1.0 }
    }
}

/// A placement strategy over a fixed set of members.
pub trait Partitioner: Send + Sync + Debug {
    /// A short name for tables ("rendezvous", "ring/256", ...).
    fn name(&self) -> String;

    /// The members, in the order they were added.
    fn members(&self) -> &[Member];

    /// The first `min(n, members)` distinct nodes for `key`, primary first.
    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId>;

    /// The key's primary node (the head of its preference list).
    fn owner(&self, key: &[u8]) -> NodeId {
        let list = self.preference_list(key, 1);
        assert!(
            !list.is_empty(),
            "a partitioner always has at least one member"
        );
        list[0]
    }

    /// A new partitioner with `member` added.
    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>>;

    /// A new partitioner with `node` removed; an error when the strategy
    /// cannot remove that node or it is the last one.
    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>>;
}

/// The strategies the cluster builder knows by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Highest random weight (Thaler & Ravishankar, 1998).
    #[default]
    Rendezvous,
}

impl Strategy {
    /// Builds this strategy over `members` (at least one).
    pub fn build(self, members: &[Member]) -> Result<Box<dyn Partitioner>> {
        match self {
            Strategy::Rendezvous => Ok(Box::new(Rendezvous::new(members)?)),
        }
    }
}
