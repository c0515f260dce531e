//! Maglev hashing: a lookup table of prime size, filled by the nodes' own
//! permutations in turn.
//!
//! Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
//! Balancer", NSDI 2016, §3.4. Google's load balancer must pick a backend
//! for every packet in a few nanoseconds and spread connections evenly over
//! hundreds of backends, so it trades a little of consistent hashing's
//! minimal disruption for near-perfect balance and one memory read per
//! lookup:
//!
//! * the table has `M` entries, `M` prime and much larger than the node
//!   count (the paper uses 65,537 for under a few hundred backends);
//! * each node `i` has a permutation of `0..M`: `offset_i + j·skip_i (mod M)`
//!   for `j = 0, 1, 2, …`, with `offset_i` and `skip_i ≥ 1` derived from a
//!   hash of its id (`skip` is below the prime `M`, so the sequence visits
//!   every entry);
//! * the nodes take turns: each claims the next entry of its permutation
//!   that nobody has claimed yet, until the table is full. So every node
//!   owns ⌊M/m⌋ or ⌈M/m⌉ entries — balance as good as the table is fine;
//! * a key's owner is `table[hash(key) mod M]`.
//!
//! # Disruption on membership change
//!
//! The paper's claim is *minimal disruption* in a weaker sense than Karger's:
//! when a node joins or leaves, most entries keep their owner, but not only
//! the newcomer's (or the leaver's) entries change. Removing node `x` lets
//! every other node's permutation go further before it meets a claimed
//! entry, so some entries pass from one surviving node to another. The paper
//! (Fig. 11) measures a few percent of entries changing beyond the minimum;
//! here the owners that move when one node joins `m` are 1.0–1.3 × the
//! ideal `1/(m+1)` for 5 to 50 nodes at the default size, 1.6 × at 100 and
//! 5.9 × at 1,000 (65 entries per node)
//! (`replikv partitions --scaling` prints the ratio, and
//! `tests/partitioning.rs` holds it under [`MAGLEV_MOVEMENT_BOUND`] × the
//! ideal up to 31 nodes). The fewer entries per node — a table closer in
//! size to the node count — the more it disrupts, and the worse it
//! balances: keep `M` ≥ 100 × the node count, as the paper does, and more
//! for many nodes. At 1,000 nodes (100,000 keys placed, measured by
//! `tests/partitioning.rs::maglev_disrupts_less_with_a_finer_table_at_a_thousand_nodes`)
//! the default table moves 5.9 × the ideal, `maglev:1000003` (1,000
//! entries per node) 3.4 ×: disruption beyond the minimum is Maglev's
//! price for O(1) lookups and near-perfect balance, and a bigger table
//! lowers it without removing it. The table size is fixed for the life of a
//! placement (changing it moves almost every key), so choose it for the
//! largest cluster you expect: `"maglev:<prime>"`.
//!
//! # Weights
//!
//! Supported, as the paper suggests: in each round a node of weight `w`
//! earns `w / max weight` turns, so the heaviest node takes a turn every
//! round and a half-weight one every other round. Every node takes its first
//! turn in round 0, so every node owns at least one entry (which is why the
//! table must have at least as many entries as there are nodes).
//!
//! # Preference lists: this crate's extension
//!
//! Maglev picks one backend. For a list of `n` distinct nodes this crate
//! walks the table from the key's entry, `table[h], table[h+1], …`, keeping
//! the first `n` distinct nodes met. Neighbouring entries were claimed by
//! unrelated permutations, so the replicas are spread like random picks; a
//! walk to the `n`-th distinct node takes about `m·ln(m/(m−n+1))` entries.

use super::hash::maglev_offset_skip;
use super::members::{validate_members, with_member, without_member};
use super::{Member, Partitioner, key_hash};
use crate::error::{Error, Result};
use crate::ids::NodeId;
use std::fmt;

/// The table size of `"maglev"`: 65,537, the paper's, a prime.
pub const DEFAULT_MAGLEV_TABLE: u32 = 65_537;

/// The largest table accepted (a prime just under 2²⁴: 64 MiB of entries).
/// A larger request is almost certainly a typo.
pub const MAX_MAGLEV_TABLE: u32 = 16_777_213;

/// Owners moved when one node joins, as a multiple of the ideal `1/(m+1)`,
/// that `tests/partitioning.rs` holds Maglev to at the default table size
/// for up to 31 nodes (measured: 1.0–1.3 for 5 to 50 nodes, 1.6 at 100).
pub const MAGLEV_MOVEMENT_BOUND: f64 = 1.6;

/// Maglev lookup-table placement.
#[derive(Clone)]
pub struct Maglev {
    members: Vec<Member>,
    table_size: u32,
    /// `table[i]` is the node owning entry `i`.
    table: Vec<NodeId>,
}

/// True when `n` is prime (trial division; `n` is at most 2²⁴).
pub(crate) fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    let n = u64::from(n);
    let mut d = 2u64;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// Checks a table size: prime, and within [`MAX_MAGLEV_TABLE`].
pub(crate) fn validate_table_size(size: u32) -> Result<()> {
    if size > MAX_MAGLEV_TABLE {
        return Err(Error::InvalidConfig(format!(
            "a Maglev table of {size} entries is over the limit of {MAX_MAGLEV_TABLE}"
        )));
    }
    if !is_prime(size) {
        return Err(Error::InvalidConfig(format!(
            "a Maglev table size must be prime (so that every node's permutation visits \
             every entry), and {size} is not: try {DEFAULT_MAGLEV_TABLE} or 251"
        )));
    }
    Ok(())
}

impl Maglev {
    /// A Maglev table of `table_size` entries (a prime, at least the member
    /// count) over `members`.
    ///
    /// ```
    /// // 65,537 entries over 5 nodes: each owns 13,107 or 13,108 of them.
    /// use replikv::partition::{Maglev, Member, Partitioner};
    /// use replikv::NodeId;
    /// let nodes: Vec<Member> = (0..5).map(|i| Member::new(NodeId(i))).collect();
    /// let p = Maglev::new(&nodes, 65_537)?;
    /// assert_eq!(p.name(), "maglev:65537");
    /// assert_eq!(p.preference_list(b"apple", 3).len(), 3);
    /// assert!((13_107..=13_108).contains(&p.entries_of(NodeId(2))));
    ///
    /// // Sizes that are not prime, or smaller than the node count, are refused.
    /// assert!(Maglev::new(&nodes, 65_536).is_err());
    /// assert!(Maglev::new(&nodes, 3).is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(members: &[Member], table_size: u32) -> Result<Self> {
        validate_members(members)?;
        validate_table_size(table_size)?;
        if (table_size as usize) < members.len() {
            return Err(Error::InvalidConfig(format!(
                "a Maglev table of {table_size} entries cannot give each of {} nodes an \
                 entry: use a prime at least 100 × the node count",
                members.len()
            )));
        }
        Ok(Maglev {
            members: members.to_vec(),
            table_size,
            table: populate(members, table_size),
        })
    }

    /// The number of table entries `node` owns (0 for a non-member).
    ///
    /// ```
    /// use replikv::partition::{Maglev, Member};
    /// use replikv::NodeId;
    /// let p = Maglev::new(&[Member::new(NodeId(0)), Member { node: NodeId(1), weight: 3.0 }], 251)?;
    /// assert_eq!(p.entries_of(NodeId(0)) + p.entries_of(NodeId(1)), 251);
    /// assert!(p.entries_of(NodeId(1)) > 2 * p.entries_of(NodeId(0)));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn entries_of(&self, node: NodeId) -> usize {
        self.table.iter().filter(|&&n| n == node).count()
    }

    /// The table size `M`.
    pub fn table_size(&self) -> u32 {
        self.table_size
    }
}

/// Fills the table (the paper's Pseudocode 1, with weighted turns).
fn populate(members: &[Member], size: u32) -> Vec<NodeId> {
    let m = size as usize;
    let perms: Vec<(u64, u64)> = members
        .iter()
        .map(|member| {
            let (offset, skip) = maglev_offset_skip(member.node.0, size);
            (u64::from(offset), u64::from(skip))
        })
        .collect();
    let max_weight = members.iter().map(|x| x.weight).fold(0.0, f64::max);
    let mut next = vec![0u64; members.len()];
    // Everyone's first turn is in round 0: every node owns an entry.
    let mut credit = vec![1.0f64; members.len()];
    let mut claimed: Vec<Option<NodeId>> = vec![None; m];
    let mut filled = 0usize;
    while filled < m {
        for (i, member) in members.iter().enumerate() {
            while credit[i] >= 1.0 && filled < m {
                credit[i] -= 1.0;
                let (offset, skip) = perms[i];
                // Some entry is free (filled < m) and the permutation visits
                // all, so this terminates within m steps.
                loop {
                    let c = ((offset + next[i] * skip) % u64::from(size)) as usize;
                    next[i] += 1;
                    if claimed[c].is_none() {
                        claimed[c] = Some(member.node);
                        filled += 1;
                        break;
                    }
                }
            }
            credit[i] += member.weight / max_weight;
        }
    }
    claimed
        .into_iter()
        .map(|c| c.unwrap_or(members[0].node))
        .collect()
}

impl fmt::Debug for Maglev {
    /// Members and table size, not the table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maglev")
            .field("table_size", &self.table_size)
            .field("members", &self.members)
            .finish()
    }
}

impl Partitioner for Maglev {
    fn name(&self) -> String {
        format!("maglev:{}", self.table_size)
    }

    fn members(&self) -> &[Member] {
        &self.members
    }

    fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        let want = n.min(self.members.len());
        let mut list = Vec::with_capacity(want);
        let len = self.table.len();
        let start = (key_hash(key) % len as u64) as usize;
        for step in 0..len {
            if list.len() == want {
                return list;
            }
            let node = self.table[(start + step) % len];
            if !list.contains(&node) {
                list.push(node);
            }
        }
        // Every member owns at least one entry, so a full walk found them.
        list
    }

    fn memory_bytes(&self) -> usize {
        self.table.len() * std::mem::size_of::<NodeId>()
            + self.members.len() * std::mem::size_of::<Member>()
    }

    fn with_node(&self, member: Member) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Maglev::new(
            &with_member(&self.members, member),
            self.table_size,
        )?))
    }

    fn without_node(&self, node: NodeId) -> Result<Box<dyn Partitioner>> {
        Ok(Box::new(Maglev::new(
            &without_member(&self.members, node)?,
            self.table_size,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes() {
        let primes: Vec<u32> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(DEFAULT_MAGLEV_TABLE));
        assert!(is_prime(MAX_MAGLEV_TABLE));
        assert!(!is_prime(65_536));
    }

    /// Unweighted turns give every node ⌊M/m⌋ or ⌈M/m⌉ entries.
    #[test]
    fn unweighted_tables_are_balanced_to_one_entry() {
        for m in [1u32, 3, 7, 64] {
            let members: Vec<Member> = (0..m).map(|i| Member::new(NodeId(i * 3))).collect();
            let p = Maglev::new(&members, 65_537).unwrap();
            let floor = 65_537 / m as usize;
            for member in &members {
                let e = p.entries_of(member.node);
                assert!(e == floor || e == floor + 1, "{m}: {e}");
            }
        }
    }

    /// A weight-2 node gets twice the entries of a weight-1 node.
    #[test]
    fn weighted_turns_are_proportional() {
        let members = [
            Member::new(NodeId(0)),
            Member {
                node: NodeId(1),
                weight: 2.0,
            },
            Member::new(NodeId(2)),
        ];
        let p = Maglev::new(&members, 65_537).unwrap();
        let heavy = p.entries_of(NodeId(1)) as f64;
        let light = p.entries_of(NodeId(0)) as f64;
        assert!((heavy / light - 2.0).abs() < 0.01, "{heavy} {light}");
    }

    /// A node of tiny weight still owns an entry, so it appears in lists.
    #[test]
    fn every_node_owns_an_entry() {
        let members = [
            Member::new(NodeId(0)),
            Member {
                node: NodeId(1),
                weight: 1e-9,
            },
        ];
        let p = Maglev::new(&members, 13).unwrap();
        assert_eq!(p.entries_of(NodeId(1)), 1);
        assert_eq!(p.preference_list(b"k", 2).len(), 2);
    }
}
