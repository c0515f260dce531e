//! Modulo placement: `owner = hash(key) mod node_count`.
//!
//! The scheme every first design reaches for, and the baseline the others are
//! measured against. With `m` members (in the order they were added), a key
//! whose hash is `h` is owned by member `h mod m`; its replicas are the next
//! members in order, wrapping around: `h mod m + 1`, `h mod m + 2`, ….
//!
//! # The movement problem
//!
//! Balance is excellent (as good as the hash), and lookup is one division.
//! But the owner depends on `m` itself: when a node joins, `h mod m` and
//! `h mod (m + 1)` agree only for `h mod m(m+1) < m`, that is for a fraction
//! `1/(m+1)` of keys. So adding one node to `m` moves `m/(m+1)` of all keys
//! (10 → 11 nodes: 91 %), where a consistent scheme moves only the `1/(m+1)`
//! that the new node must take (9 %). Removing a node is as bad, and removing
//! one in the middle also renumbers every member after it. This is the
//! problem consistent hashing was invented to solve (Karger et al., STOC
//! 1997); see [`super::Ring`], [`super::Jump`] and [`super::Rendezvous`], and
//! measure it with [`super::analysis::movement`].
//!
//! Weights are not supported: a member with weight ≠ 1 is rejected rather
//! than silently given an equal share.

use super::members::{require_unit_weights, validate_members, with_member, without_member};
use super::{Member, Partitioner, key_hash};
use crate::error::Result;
use crate::ids::NodeId;

/// `hash mod node_count` placement; replicas are the following members.
#[derive(Clone, Debug)]
pub struct Modulo {
    members: Vec<Member>,
}

impl Modulo {
    /// A partitioner over `members` (at least one, distinct, all of weight 1).
    ///
    /// ```
    /// // Modulo placement: the replicas of a key are consecutive members.
    /// use replikv::partition::{Member, Modulo, Partitioner};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..4).map(|i| Member::new(NodeId(i))).collect();
    /// let p = Modulo::new(&nodes)?;
    /// let list = p.preference_list(b"apple", 3);
    /// assert_eq!(list[1].0, (list[0].0 + 1) % 4);
    /// assert_eq!(list[2].0, (list[0].0 + 2) % 4);
    ///
    /// // Weights are refused, not ignored.
    /// assert!(Modulo::new(&[Member { node: NodeId(0), weight: 2.0 }]).is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(members: &[Member]) -> Result<Self> {
        validate_members(members)?;
        require_unit_weights("modulo", members)?;
        Ok(Modulo {
            members: members.to_vec(),
        })
    }
}

impl Partitioner for Modulo {
    fn name(&self) -> String {
        "modulo".into()
    }

    fn members(&self) -> &[Member] {
        &self.members
    }

    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let count = self.members.len();
        // u64 → usize: the remainder is below `count`, itself a usize.
        let first = (key_hash(key) % count as u64) as usize;
        (0..n.min(count))
            .map(|i| self.members[(first + i) % count].node)
            .collect()
    }

    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Modulo::new(&with_member(&self.members, member))?))
    }

    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Modulo::new(&without_member(
            &self.members,
            node,
        )?)?))
    }
}
