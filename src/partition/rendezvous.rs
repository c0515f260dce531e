//! Rendezvous (highest-random-weight) hashing, Thaler & Ravishankar, "Using
//! name-based mappings to increase hit rates", IEEE/ACM ToN 1998.
//!
//! Every node scores every key; the key's preference list is the nodes sorted
//! by score, highest first. Adding or removing a node only moves the keys
//! whose top-N includes that node — the minimum possible — and any node, not
//! just the last, can leave. The price is lookup cost: `O(m)` hashes per key
//! for `m` nodes, against `O(log m)` for [`super::Ring`] and [`super::Jump`],
//! which is fine for the tens of nodes this crate simulates.
//!
//! A node's score for a key is `mix(key_hash ^ mix(node + 1))` (see
//! [`super::hash`]), mapped to `u` in (0, 1). Weighted nodes use the
//! logarithmic method (Schindelhauer & Schomaker, 2005): score =
//! −weight / ln(u). Since −ln(u)/weight is exponentially distributed with
//! rate `weight`, the node with the smallest such value — the highest score —
//! is node `i` with probability `weightᵢ / Σ weight`.
//!
//! When all members have the same weight, the order by that formula is the
//! order of `u` itself, so the scores are compared as integers instead: the
//! same placement, several times faster, and independent of how the
//! platform's `ln` rounds.

use super::hash::mix;
use super::members::{validate_members, with_member, without_member};
use super::{Member, Partitioner, key_hash};
use crate::error::Result;
use crate::ids::NodeId;
use std::cmp::Ordering;

/// Highest-random-weight partitioner.
#[derive(Clone, Debug)]
pub struct Rendezvous {
    members: Vec<Member>,
    /// `mix(node + 1)` per member, computed once instead of per lookup.
    seeds: Vec<u64>,
    /// True when every weight is equal: compare integer scores.
    uniform: bool,
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
        let uniform = members.iter().all(|m| m.weight == members[0].weight);
        Ok(Rendezvous {
            members: members.to_vec(),
            seeds: members
                .iter()
                .map(|m| mix(u64::from(m.node.0) + 1))
                .collect(),
            uniform,
        })
    }
}

/// The 53 random bits of a member's score, the integer behind `u`.
fn score_bits(key_hash: u64, seed: u64) -> u64 {
    mix(key_hash ^ seed) >> 11
}

/// The weighted score −weight / ln(u), with `u` = the bits mapped into (0, 1)
/// (never exactly 0 or 1, so the logarithm is finite and negative).
fn weighted_score(bits: u64, weight: f64) -> f64 {
    let unit = (bits as f64 + 0.5) / (1u64 << 53) as f64;
    -weight / unit.ln()
}

/// The `n` best of `scored` under `better` (ties broken by lower node id),
/// best first. Selects before sorting: `O(m + n log n)` instead of `O(m log m)`.
fn top_n<S>(
    mut scored: Vec<(S, NodeId)>,
    n: usize,
    better: impl Fn(&S, &S) -> Ordering,
) -> Vec<NodeId> {
    let cmp = |a: &(S, NodeId), b: &(S, NodeId)| better(&a.0, &b.0).then(a.1.cmp(&b.1));
    let n = n.min(scored.len());
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        // The owner alone: one pass, no sorting.
        return scored
            .iter()
            .min_by(|a, b| cmp(a, b))
            .map(|s| s.1)
            .into_iter()
            .collect();
    }
    if n < scored.len() {
        scored.select_nth_unstable_by(n - 1, cmp);
        scored.truncate(n);
    }
    scored.sort_unstable_by(cmp);
    scored.into_iter().map(|(_, node)| node).collect()
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
        let nodes = self.members.iter().zip(&self.seeds);
        if self.uniform {
            let scored = nodes.map(|(m, &s)| (score_bits(h, s), m.node)).collect();
            top_n(scored, n, |a: &u64, b: &u64| b.cmp(a))
        } else {
            let scored = nodes
                .map(|(m, &s)| (weighted_score(score_bits(h, s), m.weight), m.node))
                .collect();
            top_n(scored, n, |a: &f64, b: &f64| b.total_cmp(a))
        }
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(self.members.as_slice())
            + std::mem::size_of_val(self.seeds.as_slice())
    }

    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Rendezvous::new(&with_member(
            &self.members,
            member,
        ))?))
    }

    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Rendezvous::new(&without_member(
            &self.members,
            node,
        )?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The integer fast path must agree with the weighted formula when all
    /// weights are equal, or placement would jump when a weight changes.
    #[test]
    fn uniform_path_agrees_with_weighted_formula() {
        let plain: Vec<Member> = (0..7).map(|i| Member::new(NodeId(i))).collect();
        // Equal but not 1: the uniform path. Versus one weight nudged by an
        // amount too small to reorder anything: the weighted path.
        let mut nudged = plain.clone();
        nudged[3].weight = 1.0 + 1e-12;
        let fast = Rendezvous::new(&plain).unwrap();
        let slow = Rendezvous::new(&nudged).unwrap();
        assert!(fast.uniform && !slow.uniform);
        for i in 0..2000 {
            let key = format!("key-{i}");
            assert_eq!(
                fast.preference_list(key.as_bytes(), 7),
                slow.preference_list(key.as_bytes(), 7),
                "{key}"
            );
        }
    }
}
