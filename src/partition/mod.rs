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
//! what moves ([`analysis`]).
//!
//! # The strategies
//!
//! | strategy | lookup | balance | moved on add of 1 to m | weights | removal |
//! |---|---|---|---|---|---|
//! | [`Modulo`] | O(1) | as the hash | `m/(m+1)` | no | any node (renumbers) |
//! | [`Ring`] | O(log(m·v)) | ±1/√v per node | `1/(m+1)` | yes | any node |
//! | [`Jump`] | O(ln m) | as the hash | `1/(m+1)` | no | last-added only |
//! | [`Rendezvous`] | O(m) | as the hash | `1/(m+1)` | yes | any node |
//! | [`Maglev`] | O(1) | ±1 table entry | 1.0–1.6 × `1/(m+1)` to 100 nodes, more beyond (see [`Maglev`]) | yes | any node |
//! | [`MultiProbe`] | O(k log m) | ≈ 1.05 max/mean at k = 21 in the paper; 1.08–1.13 measured here | `1/(m+1)` | no | any node |
//! | [`BoundedLoad`] | O(1) | ≤ 1+ε by construction | `O(1/ε²)` × `1/(m+1)` | yes | any node |
//!
//! Modulo is the naive baseline whose movement problem motivated consistent
//! hashing (Karger et al., STOC 1997). The ring is that paper's answer, with
//! Dynamo's virtual nodes (`v` points per node) to even out the arcs. Jump
//! hash (Lamping & Veach, 2014) needs no memory and balances perfectly but
//! only numbers buckets, so only the last can leave. Rendezvous hashing
//! (Thaler & Ravishankar, 1998) is the simplest to state and the most
//! flexible, at O(m) per lookup.
//!
//! Three strategies that production systems chose since: Maglev (Eisenbud
//! et al., NSDI 2016; Google's load balancer) fills a prime-sized lookup
//! table so that a lookup is one memory read and balance is within one
//! entry, accepting that a membership change moves a little more than the
//! minimum. Multi-probe consistent hashing (Appleton & O'Reilly, 2015) gives
//! each node one ring point and each key `k` probes, balancing like a ring
//! of hundreds of virtual nodes in a fraction of the memory. Consistent
//! hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018)
//! caps every node at (1+ε) × the average and lets overflow walk on; what
//! "load" means for a store that must find keys again is discussed in
//! [`BoundedLoad`]. The `partitioning` bench and `replikv partitions` print
//! the measured balance, skew, movement, lookup time, memory and build time
//! of each beside the figures above ([`analysis::scaling`]).
//!
//! Each strategy gives `min(n, m)` distinct nodes for a list of `n` over `m`
//! members. [`Strategy`] names them (`"modulo"`, `"ring:256"`, `"jump"`,
//! `"rendezvous"`, `"maglev:65537"`, `"multiprobe:21"`, `"bounded:0.25"`)
//! and builds them.
//!
//! # The key hash
//!
//! Placement must not change between runs, platforms or releases, so keys are
//! hashed with [`key_hash`], XXH3-64 with seed 0 — a specified algorithm —
//! and never with `std`'s `DefaultHasher`, whose output is allowed to change.
//! Node positions are derived just as stably (see the `hash` module source).
//! `tests/partitioning.rs` freezes a table of preference lists: if it fails,
//! placement has changed and every existing cluster's data would be misplaced.

pub mod analysis;
mod bounded_load;
mod hash;
mod jump;
mod maglev;
mod members;
mod modulo;
mod multi_probe;
mod rendezvous;
mod ring;
mod ring_allocation;
mod strategy;

pub use bounded_load::{
    BOUNDED_SLOT_BITS, BOUNDED_SLOTS, BOUNDED_VNODES, BoundedLoad, DEFAULT_EPSILON, EPSILON_RANGE,
    NodeLoad,
};
pub use hash::key_hash;
pub use jump::{Jump, jump_hash};
pub use maglev::{DEFAULT_MAGLEV_TABLE, MAGLEV_MOVEMENT_BOUND, MAX_MAGLEV_TABLE, Maglev};
pub use modulo::Modulo;
pub use multi_probe::{DEFAULT_PROBES, MAX_PROBES, MultiProbe};
pub use rendezvous::Rendezvous;
pub use ring::{DEFAULT_VNODES, MAX_RING_POINTS, Ring};
pub use strategy::Strategy;

use crate::error::Result;
use crate::ids::NodeId;
use std::fmt::Debug;

/// A node taking part in placement, with its relative capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    /// The node.
    pub node: NodeId,
    /// Relative capacity (1.0 = an ordinary node). Strategies that support
    /// weights ([`Ring`], [`Rendezvous`], [`Maglev`], [`BoundedLoad`]) give a
    /// node a share of keys in proportion to it; the others ([`Modulo`],
    /// [`Jump`], [`MultiProbe`]) refuse weights other than 1.
    pub weight: f64,
}

impl Member {
    /// A member of weight 1.
    ///
    /// ```
    /// use replikv::partition::Member;
    /// use replikv::NodeId;
    /// assert_eq!(Member::new(NodeId(3)).weight, 1.0);
    /// ```
    pub fn new(node: NodeId) -> Self {
        Member { node, weight: 1.0 }
    }
}

/// A placement strategy over a fixed set of members.
///
/// ```
/// // Grow a ring by one node: keys either stay or move to the new node.
/// use replikv::partition::{Member, Partitioner, Ring};
/// use replikv::NodeId;
/// let nodes: Vec<Member> = (0..4).map(|i| Member::new(NodeId(i))).collect();
/// let before = Ring::new(&nodes, 128)?;
/// let after = before.with_node(Member::new(NodeId(4)))?;
/// for i in 0..1000 {
///     let key = format!("key-{i}");
///     let (old, new) = (before.owner(key.as_bytes()), after.owner(key.as_bytes()));
///     assert!(old == new || new == NodeId(4));
/// }
/// assert_eq!(after.members().len(), 5);
/// # Ok::<(), replikv::Error>(())
/// ```
pub trait Partitioner: Send + Sync + Debug {
    /// A short name for tables: the [`Strategy`] text that builds it
    /// (`"rendezvous"`, `"ring:256"`, ...).
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

    /// True when `node` is a member.
    ///
    /// ```
    /// use replikv::partition::{Member, Partitioner, Rendezvous};
    /// use replikv::NodeId;
    /// let p = Rendezvous::new(&[Member::new(NodeId(0))])?;
    /// assert!(p.contains(NodeId(0)) && !p.contains(NodeId(1)));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn contains(&self, node: NodeId) -> bool {
        self.members().iter().any(|m| m.node == node)
    }

    /// Bytes of placement state this partitioner holds (tables, points,
    /// member lists), for the per-node memory column of `replikv
    /// partitions`. The default counts the member list only.
    ///
    /// ```
    /// use replikv::partition::{Member, Partitioner, Strategy};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..10).map(|i| Member::new(NodeId(i))).collect();
    /// let ring = Strategy::Ring { vnodes: 256 }.build(&nodes)?;
    /// let jump = Strategy::Jump.build(&nodes)?;
    /// assert!(ring.memory_bytes() > 100 * jump.memory_bytes());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(self.members())
    }

    /// A new partitioner with `member` added.
    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>>;

    /// A new partitioner with `node` removed; an error when the strategy
    /// cannot remove that node or it is the last one.
    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>>;
}
