//! Multi-probe consistent hashing: one point per node, `k` probes per key.
//!
//! Appleton & O'Reilly, "Multi-Probe Consistent Hashing", arXiv:1505.00062,
//! 2015. Virtual nodes even out a ring by giving each node hundreds of
//! points, at hundreds of points' memory per node. Multi-probe turns this
//! around: each node has **one** point, and each key is hashed `k` times;
//! every probe finds its successor point on the ring, and the key belongs to
//! the node whose point is *closest* after its probe. A node's chance of
//! winning grows with the arc before its point, but less than linearly (a
//! long arc catches probes that usually have a closer point elsewhere), so
//! arcs of unequal length even out. The paper reports a peak-to-mean load of
//! 1.05 with `k = 21`, the default here, against about 1.1 for a ring with
//! 256 virtual nodes — with 256 × less memory, for `k` binary searches per
//! lookup.
//!
//! # Consistency
//!
//! A joining node's point can only shorten a probe's distance to its
//! successor, so a key's winner either stays or becomes the newcomer: the
//! strategy is consistent, and a joining node takes about `1/(m+1)` of the
//! keys. Any node can leave.
//!
//! # Weights
//!
//! Not supported: the algorithm's point is one position per node, and
//! giving a heavy node several points would make it a ring with virtual
//! nodes again. A member with weight ≠ 1 is refused.
//!
//! # Preference lists
//!
//! The owner is the winning probe's node; the replicas are the next
//! distinct nodes walking clockwise from the winning point, as on a ring.
//! With one point per node those are simply the next `n−1` points. One
//! cost of this rule: when a newcomer wins a key, the whole list moves to
//! follow the newcomer's point, so adding a node copies 1.3–1.5 × the
//! minimum number of replicas (the `partitioning` bench's "replica copies"
//! column), though owners move only to the newcomer.

use super::hash::{multi_probe_point, probe_hash};
use super::members::{require_unit_weights, validate_members, with_member, without_member};
use super::{Member, Partitioner, key_hash};
use crate::error::{Error, Result};
use crate::ids::NodeId;

/// The probes per key of `"multiprobe"`: the paper's 21.
pub const DEFAULT_PROBES: u32 = 21;

/// The most probes accepted: beyond a few hundred balance no longer
/// improves, and each probe is a binary search.
pub const MAX_PROBES: u32 = 1024;

/// Multi-probe consistent hashing.
#[derive(Clone, Debug)]
pub struct MultiProbe {
    members: Vec<Member>,
    probes: u32,
    /// One point per member, ascending.
    positions: Vec<u64>,
    /// `owners[i]` owns `positions[i]`.
    owners: Vec<NodeId>,
}

/// Checks a probe count: 1 to [`MAX_PROBES`].
pub(crate) fn validate_probes(probes: u32) -> Result<()> {
    if probes == 0 || probes > MAX_PROBES {
        return Err(Error::InvalidConfig(format!(
            "multi-probe hashing needs 1 to {MAX_PROBES} probes per key, got {probes}"
        )));
    }
    Ok(())
}

impl MultiProbe {
    /// A multi-probe ring over `members` (all of weight 1) with `probes`
    /// probes per key (1 to [`MAX_PROBES`]).
    ///
    /// ```
    /// use replikv::partition::{Member, MultiProbe, Partitioner};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..5).map(|i| Member::new(NodeId(i))).collect();
    /// let p = MultiProbe::new(&nodes, 21)?;
    /// assert_eq!(p.name(), "multiprobe:21");
    /// assert_eq!(p.preference_list(b"apple", 3).len(), 3);
    /// // One point per node: weights cannot be honoured, so they are refused.
    /// assert!(MultiProbe::new(&[Member { node: NodeId(0), weight: 2.0 }], 21).is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(members: &[Member], probes: u32) -> Result<Self> {
        validate_members(members)?;
        require_unit_weights("multiprobe", members)?;
        validate_probes(probes)?;
        let mut points: Vec<(u64, NodeId)> = members
            .iter()
            .map(|m| (multi_probe_point(m.node.0), m.node))
            .collect();
        points.sort_unstable();
        let (positions, owners) = points.into_iter().unzip();
        Ok(MultiProbe {
            members: members.to_vec(),
            probes,
            positions,
            owners,
        })
    }

    /// The index of the point that wins `key_hash`: the smallest clockwise
    /// distance from a probe to its successor point (ties to the earlier
    /// probe).
    fn winner(&self, h: u64) -> usize {
        let len = self.positions.len();
        let mut best = (u64::MAX, 0usize);
        for probe in 0..u64::from(self.probes) {
            let p = probe_hash(h, probe);
            let mut i = self.positions.partition_point(|&x| x < p);
            if i == len {
                i = 0;
            }
            let distance = self.positions[i].wrapping_sub(p);
            if distance < best.0 {
                best = (distance, i);
            }
        }
        best.1
    }
}

impl Partitioner for MultiProbe {
    fn name(&self) -> String {
        format!("multiprobe:{}", self.probes)
    }

    fn members(&self) -> &[Member] {
        &self.members
    }

    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let len = self.positions.len();
        let want = n.min(len);
        let start = self.winner(key_hash(key));
        // One point per node: the next `want` points are distinct nodes.
        (0..want).map(|i| self.owners[(start + i) % len]).collect()
    }

    fn memory_bytes(&self) -> usize {
        self.positions.len() * (std::mem::size_of::<u64>() + std::mem::size_of::<NodeId>())
            + self.members.len() * std::mem::size_of::<Member>()
    }

    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(MultiProbe::new(
            &with_member(&self.members, member),
            self.probes,
        )?))
    }

    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(MultiProbe::new(
            &without_member(&self.members, node)?,
            self.probes,
        )?))
    }
}
