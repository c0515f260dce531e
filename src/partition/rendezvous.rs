//! Rendezvous (highest-random-weight) hashing, Thaler & Ravishankar, "Using
//! name-based mappings to increase hit rates", IEEE/ACM ToN 1998.
//!
//! Every node scores every key; the key's preference list is the nodes sorted
//! by score, highest first. Adding or removing a node only moves the keys
//! whose top-N includes that node — the minimum possible. Weighted nodes use
//! the logarithmic method (Schindelhauer & Schomaker 2005): score =
//! −weight / ln(u) with u the hash mapped into (0, 1), which gives each node a
//! share of keys proportional to its weight.

use super::{Member, Partitioner, key_hash};
use crate::error::{Error, Result};
use crate::ids::NodeId;

/// Highest-random-weight partitioner.
#[derive(Clone, Debug)]
pub struct Rendezvous {
    members: Vec<Member>,
}

impl Rendezvous {
    /// A partitioner over `members` (at least one, distinct, positive weights).
    ///
    /// ```
    /// use replikv::partition::{Member, Partitioner, Rendezvous};
    /// use replikv::NodeId;
    /// let p = Rendezvous::new(&[Member::new(NodeId(0)), Member::new(NodeId(1)), Member::new(NodeId(2))])?;
    /// let list = p.preference_list(b"apple", 2);
    /// assert_eq!(list.len(), 2);
    /// assert_ne!(list[0], list[1]);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(members: &[Member]) -> Result<Self> {
        validate_members(members)?;
        Ok(Rendezvous {
            members: members.to_vec(),
        })
    }

    fn score(&self, key_hash: u64, member: &Member) -> f64 {
        let mixed = mix(key_hash ^ mix(u64::from(member.node.0) + 1));
        // Map to (0, 1): 53 random bits, never exactly 0 or 1.
        let unit = ((mixed >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        -member.weight / unit.ln()
    }
}

/// The members must be non-empty, distinct, with finite positive weights.
pub(crate) fn validate_members(members: &[Member]) -> Result<()> {
    if members.is_empty() {
        return Err(Error::InvalidConfig(
            "a partitioner needs at least one node".into(),
        ));
    }
    for (i, m) in members.iter().enumerate() {
        if !(m.weight.is_finite() && m.weight > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "node {} has weight {}: weights must be finite and positive",
                m.node, m.weight
            )));
        }
        if members[..i].iter().any(|o| o.node == m.node) {
            return Err(Error::InvalidConfig(format!(
                "node {} appears twice",
                m.node
            )));
        }
    }
    Ok(())
}

/// SplitMix64's finalizer: a fixed, well-mixed 64-bit permutation.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Partitioner for Rendezvous {
    fn name(&self) -> String {
        "rendezvous".into()
    }

    fn members(&self) -> &[Member] {
        &self.members
    }

    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let h = key_hash(key);
        let mut scored: Vec<(f64, NodeId)> = self
            .members
            .iter()
            .map(|m| (self.score(h, m), m.node))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(n).map(|(_, node)| node).collect()
    }

    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        let mut members = self.members.clone();
        members.push(member);
        Ok(Box::new(Rendezvous::new(&members)?))
    }

    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        if !self.members.iter().any(|m| m.node == node) {
            return Err(Error::UnknownNode(node));
        }
        let members: Vec<Member> = self
            .members
            .iter()
            .copied()
            .filter(|m| m.node != node)
            .collect();
        Ok(Box::new(Rendezvous::new(&members)?))
    }
}
