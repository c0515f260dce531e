//! Consistent hashing on a ring with virtual nodes.
//!
//! Karger, Lehman, Leighton, Panigrahy, Levine & Lewin, "Consistent Hashing
//! and Random Trees", STOC 1997: hash both keys and nodes onto the same
//! circle of 2⁶⁴ positions; a key belongs to the first node point found
//! walking clockwise from the key's position. A joining node takes over only
//! the arcs just before its own points, so only the keys it now owns move —
//! `1/(m+1)` of them on average, against `m/(m+1)` for [`super::Modulo`].
//!
//! # Virtual nodes
//!
//! With one point per node the arcs are very unequal (the largest of `m` arcs
//! is about `ln m` times the mean). Dynamo (DeCandia et al., SOSP 2007, §4.2)
//! gives each node many points, *virtual nodes*: node `x` has points at
//! `hash(x, 0)`, `hash(x, 1)`, …, `hash(x, v−1)`, and its share becomes a sum
//! of `v` arcs, whose relative spread shrinks like `1/√v`. With 256 virtual
//! nodes on 10 nodes the busiest node holds about 1.1 × the mean (see the
//! `partitioning` bench). A weighted member gets `round(v × weight)` points,
//! at least one, so its share is proportional to its weight.
//!
//! # Preference lists
//!
//! The preference list walks clockwise from the key and collects the owners
//! of the points it passes, skipping nodes already collected, until it has
//! `min(n, m)` distinct nodes — Dynamo's rule, which is why a node's points
//! need not be spread out for replicas to land on distinct nodes. Lookup is a
//! binary search over the sorted point positions (`O(log(m·v))`), then a
//! short walk.
//!
//! # Joining nodes
//!
//! A ring built from a member list hashes every point. A node that *joins*
//! an existing ring ([`Partitioner::with_node`]) instead gets points
//! allocated in the largest arcs until it holds exactly its weighted fair
//! share, as Cassandra's token allocation does: with hashed points alone its
//! share, and so the number of keys that move, would be off by about
//! `1/√v` (±6 % at 256 virtual nodes). A ring is therefore a function of its
//! history (who joined when), not just of its member set.
//!
//! Simplifications against Dynamo: no token/partition strategies (Dynamo's
//! §6.2 strategies 2 and 3), and no skipping of same-rack nodes.

use super::hash::ring_point;
use super::members::{validate_members, with_member, without_member};
use super::ring_allocation::{fair_share_points, insert_points};
use super::{Member, Partitioner, key_hash};
use crate::error::{Error, Result};
use crate::ids::NodeId;
use std::fmt;

/// The virtual nodes per member used when a strategy says just `"ring"`.
///
/// 256 keeps the busiest of 10 nodes within about 10 % of the mean while the
/// whole ring of 10 nodes stays 2,560 points (30 KiB), searched in 12 steps.
/// Fewer points (Dynamo's early deployment used ~100) visibly unbalance small
/// clusters; many more cost memory and cache misses for little gain.
pub const DEFAULT_VNODES: u32 = 256;

/// The most points a ring may hold (about 4 million, 48 MiB). A larger
/// request is almost certainly a mistyped `vnodes` or weight, and refusing it
/// is better than exhausting memory.
pub const MAX_RING_POINTS: u64 = 1 << 22;

/// A consistent-hash ring with `vnodes` points per unit of weight.
#[derive(Clone)]
pub struct Ring {
    vnodes: u32,
    members: Vec<Member>,
    /// Point positions, ascending. Kept apart from `owners` so that the
    /// binary search touches only the positions (struct-of-arrays: twice as
    /// many positions per cache line as `(u64, NodeId)` pairs would give).
    positions: Vec<u64>,
    /// `owners[i]` is the node whose point sits at `positions[i]`.
    owners: Vec<NodeId>,
}

impl Ring {
    /// A ring over `members` (at least one, distinct, positive weights) with
    /// `vnodes` points per unit of weight.
    ///
    /// Errors with [`Error::InvalidConfig`] when `vnodes` is 0 or when the
    /// ring would exceed [`MAX_RING_POINTS`].
    ///
    /// ```
    /// // A ring of 3 nodes; replicas are distinct nodes met walking clockwise.
    /// use replikv::partition::{Member, Partitioner, Ring};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..3).map(|i| Member::new(NodeId(i))).collect();
    /// let ring = Ring::new(&nodes, 64)?;
    /// let list = ring.preference_list(b"apple", 3);
    /// assert_eq!(list.len(), 3);
    /// assert!(list.iter().all(|n| list.iter().filter(|m| *m == n).count() == 1));
    /// assert_eq!(ring.name(), "ring:64");
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(members: &[Member], vnodes: u32) -> Result<Self> {
        validate_members(members)?;
        if vnodes == 0 {
            return Err(Error::InvalidConfig(
                "a ring needs at least 1 virtual node per node (vnodes = 0)".into(),
            ));
        }
        let counts = point_counts(members, vnodes)?;
        let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        let mut points: Vec<(u64, NodeId)> = Vec::with_capacity(total as usize);
        for (member, &count) in members.iter().zip(&counts) {
            points.extend((0..count).map(|i| (ring_point(member.node.0, i), member.node)));
        }
        // Ties (two points at one position, about one chance in 2⁶⁴/points²)
        // are broken by node id so that placement stays deterministic.
        points.sort_unstable();
        let (positions, owners) = points.into_iter().unzip();
        Ok(Ring {
            vnodes,
            members: members.to_vec(),
            positions,
            owners,
        })
    }

    /// The virtual nodes per unit of weight.
    ///
    /// ```
    /// use replikv::partition::{Member, Ring};
    /// use replikv::NodeId;
    /// assert_eq!(Ring::new(&[Member::new(NodeId(0))], 32)?.vnodes(), 32);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn vnodes(&self) -> u32 {
        self.vnodes
    }

    /// The number of points on the ring (all members' virtual nodes).
    ///
    /// ```
    /// use replikv::partition::{Member, Ring};
    /// use replikv::NodeId;
    /// let ring = Ring::new(&[Member::new(NodeId(0)), Member { node: NodeId(1), weight: 2.0 }], 10)?;
    /// assert_eq!(ring.point_count(), 10 + 20);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn point_count(&self) -> usize {
        self.positions.len()
    }
}

/// Points per member: `round(vnodes × weight)`, at least 1, within the cap.
fn point_counts(members: &[Member], vnodes: u32) -> Result<Vec<u32>> {
    let mut total = 0.0;
    let counts: Vec<f64> = members
        .iter()
        .map(|m| (f64::from(vnodes) * m.weight).round().max(1.0))
        .inspect(|c| total += c)
        .collect();
    // Compared as f64 so that a huge weight cannot overflow an integer sum.
    if total > MAX_RING_POINTS as f64 {
        return Err(Error::InvalidConfig(format!(
            "a ring with {vnodes} virtual nodes over these weights needs {total} points, \
             over the limit of {MAX_RING_POINTS}: lower vnodes or the weights"
        )));
    }
    // Each count is an integer in 1..=MAX_RING_POINTS, so the cast is exact.
    Ok(counts.into_iter().map(|c| c as u32).collect())
}

impl fmt::Debug for Ring {
    /// Members and point count, not the (thousands of) points themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("vnodes", &self.vnodes)
            .field("members", &self.members)
            .field("points", &self.positions.len())
            .finish()
    }
}

impl Partitioner for Ring {
    fn name(&self) -> String {
        format!("ring:{}", self.vnodes)
    }

    fn members(&self) -> &[Member] {
        &self.members
    }

    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let want = n.min(self.members.len());
        let mut list = Vec::with_capacity(want);
        if want == 0 {
            return list;
        }
        let len = self.positions.len();
        let h = key_hash(key);
        // The first point at or after the key's position, wrapping to 0.
        let mut i = self.positions.partition_point(|&p| p < h);
        for _ in 0..len {
            if i == len {
                i = 0;
            }
            let node = self.owners[i];
            if !list.contains(&node) {
                list.push(node);
                if list.len() == want {
                    return list;
                }
            }
            i += 1;
        }
        assert!(
            list.len() == want,
            "every member has at least one point, so a full turn finds them all"
        );
        list
    }

    fn memory_bytes(&self) -> usize {
        self.positions.len() * (std::mem::size_of::<u64>() + std::mem::size_of::<NodeId>())
            + std::mem::size_of_val(self.members.as_slice())
    }

    /// The newcomer's points are not hashed but allocated: they split the
    /// largest arcs until it holds exactly its weighted fair share (see
    /// `ring_allocation.rs`), so joining moves `1/(m+1)` of the keys, not
    /// `1/(m+1) ± 1/√v`.
    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        let members = with_member(&self.members, member);
        validate_members(&members)?;
        let total_weight: f64 = members.iter().map(|m| m.weight).sum();
        let budget = point_counts(&members, self.vnodes)?
            .last()
            .copied()
            .unwrap_or(1) as usize;
        let points = fair_share_points(&self.positions, member.weight / total_weight, budget);
        let (mut positions, mut owners) = (self.positions.clone(), self.owners.clone());
        insert_points(&mut positions, &mut owners, member.node, &points);
        Ok(Box::new(Ring {
            vnodes: self.vnodes,
            members,
            positions,
            owners,
        }))
    }

    /// Removes the node's points (whether hashed or allocated), so removing
    /// the last node to join restores the ring it joined exactly.
    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        let members = without_member(&self.members, node)?;
        let (positions, owners) = self
            .positions
            .iter()
            .zip(&self.owners)
            .filter(|(_, owner)| **owner != node)
            .map(|(&p, &o)| (p, o))
            .unzip();
        Ok(Box::new(Ring {
            vnodes: self.vnodes,
            members,
            positions,
            owners,
        }))
    }
}
