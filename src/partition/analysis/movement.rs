//! How many keys change place between two partitioners, and how many theory
//! says should.

use crate::partition::{Partitioner, Strategy};

/// What changed between two partitioners, over a key set.
///
/// Three measures, from coarsest to finest:
///
/// * *owner moved*: the head of the preference list (the primary, which
///   coordinates writes in many designs) is a different node;
/// * *list changed*: the preference list of `n`, **taken as a set**, differs:
///   at least one replica must receive a copy. A list that holds the same
///   nodes in another order counts as unchanged, because every replica
///   already holds the data (only the coordinator changes, which *owner
///   moved* reports);
/// * *replicas moved*: the number of (key, node) placements in the new lists
///   that were not in the old ones — the copies to make. When a node joins
///   `m` others, the minimum is one copy per changed list, a fraction
///   `1/(m+1)` of all placements.
#[derive(Clone, Debug, PartialEq)]
pub struct Movement {
    /// Keys compared.
    pub keys: u64,
    /// The preference-list length compared (at least 1).
    pub n: usize,
    /// Keys whose owner changed.
    pub owners_moved: u64,
    /// Keys whose set of `n` replicas changed.
    pub lists_changed: u64,
    /// New (key, node) placements.
    pub replicas_moved: u64,
    /// `owners_moved / keys` (0 with no keys).
    pub owner_moved_fraction: f64,
    /// `lists_changed / keys` (0 with no keys).
    pub list_changed_fraction: f64,
    /// `replicas_moved` over all placements of the new lists (0 with none).
    pub replica_moved_fraction: f64,
}

/// Compares the placement of every key in `keys` under `before` and `after`,
/// with preference lists of `n` (raised to 1 if 0).
///
/// ```
/// // Adding an 11th node to a ring moves about 1/11 of the owners.
/// use replikv::partition::analysis::{movement, sample_keys};
/// use replikv::partition::{Member, Strategy};
/// use replikv::NodeId;
/// let nodes: Vec<Member> = (0..10).map(|i| Member::new(NodeId(i))).collect();
/// let before = Strategy::Ring { vnodes: 256 }.build(&nodes)?;
/// let after = before.with_node(Member::new(NodeId(10)))?;
/// let m = movement(before.as_ref(), after.as_ref(), 3, sample_keys(20_000));
/// assert!((m.owner_moved_fraction - 1.0 / 11.0).abs() < 0.02, "{m:?}");
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn movement<K: AsRef<[u8]>>(
    before: &dyn Partitioner,
    after: &dyn Partitioner,
    n: usize,
    keys: impl IntoIterator<Item = K>,
) -> Movement {
    let n = n.max(1);
    let (mut total, mut owners, mut lists, mut replicas, mut placements) = (0u64, 0, 0, 0, 0);
    for key in keys {
        let old = before.preference_list(key.as_ref(), n);
        let new = after.preference_list(key.as_ref(), n);
        total += 1;
        if old.first() != new.first() {
            owners += 1;
        }
        let added = new.iter().filter(|node| !old.contains(node)).count() as u64;
        replicas += added;
        placements += new.len() as u64;
        if added > 0 || old.len() != new.len() {
            lists += 1;
        }
    }
    let fraction = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    Movement {
        keys: total,
        n,
        owners_moved: owners,
        lists_changed: lists,
        replicas_moved: replicas,
        owner_moved_fraction: fraction(owners, total),
        list_changed_fraction: fraction(lists, total),
        replica_moved_fraction: fraction(replicas, placements),
    }
}

/// A change of membership, for the expected movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// One node of weight 1 joins.
    Add,
    /// The last-added node leaves: the only removal jump hash allows, and the
    /// mildest one for modulo (removing an earlier member also renumbers the
    /// later ones). For ring and rendezvous any node gives the same figure.
    RemoveLast,
}

/// The fraction of owners that theory expects to move when `change` happens
/// to `nodes_before` equally weighted nodes under `strategy`.
///
/// * every strategy but modulo: the ideal, only the joining node's share,
///   `1/(m+1)`; on removal only the leaving node's share, `1/m`. Ring,
///   jump, rendezvous and multi-probe meet it (they are consistent); Maglev
///   and bounded loads move somewhat more, and the ratio of measured to this
///   ideal is how much ([`crate::partition::analysis::scaling`]);
/// * modulo: a key stays only if `h mod m = h mod (m±1)`, so `m/(m+1)` moves
///   on add and `(m−1)/m` on removal of the last node.
///
/// Degenerate changes (adding to 0 nodes, removing one of 1) give 1.0.
///
/// ```
/// use replikv::partition::analysis::{Change, expected_owner_moved};
/// use replikv::partition::Strategy;
/// assert_eq!(expected_owner_moved(Strategy::Jump, 10, Change::Add), 1.0 / 11.0);
/// assert_eq!(expected_owner_moved(Strategy::Modulo, 10, Change::Add), 10.0 / 11.0);
/// assert_eq!(expected_owner_moved(Strategy::Rendezvous, 10, Change::RemoveLast), 0.1);
/// assert_eq!(expected_owner_moved("maglev".parse()?, 10, Change::Add), 1.0 / 11.0);
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn expected_owner_moved(strategy: Strategy, nodes_before: usize, change: Change) -> f64 {
    let m = nodes_before as f64;
    let modulo = matches!(strategy, Strategy::Modulo);
    match (change, modulo) {
        (Change::Add, _) if nodes_before == 0 => 1.0,
        (Change::RemoveLast, _) if nodes_before <= 1 => 1.0,
        (Change::Add, false) => 1.0 / (m + 1.0),
        (Change::Add, true) => m / (m + 1.0),
        (Change::RemoveLast, false) => 1.0 / m,
        (Change::RemoveLast, true) => (m - 1.0) / m,
    }
}

/// The fraction of replica sets of `n` that theory expects to change, for the
/// consistent strategies: a list changes exactly when the joining (leaving)
/// node is among the key's top `n` in the new (old) placement, which happens
/// for `min(n, m+1)/(m+1)` of keys on add and `min(n, m)/m` on removal.
/// `None` for modulo, where almost every list changes and no simple formula
/// holds, and for Maglev and bounded loads, which are not consistent. (Jump hash, with this crate's replica probes, may exceed the figure
/// slightly; see [`crate::partition::Jump`].)
///
/// ```
/// use replikv::partition::analysis::{Change, expected_list_changed};
/// use replikv::partition::Strategy;
/// assert_eq!(expected_list_changed(Strategy::Rendezvous, 9, 3, Change::Add), Some(0.3));
/// assert_eq!(expected_list_changed(Strategy::Modulo, 9, 3, Change::Add), None);
/// ```
pub fn expected_list_changed(
    strategy: Strategy,
    nodes_before: usize,
    n: usize,
    change: Change,
) -> Option<f64> {
    if !strategy.is_consistent() {
        return None;
    }
    // The placement that includes the joining or leaving node.
    let with_node = match change {
        Change::Add => nodes_before + 1,
        Change::RemoveLast => nodes_before,
    };
    if change == Change::RemoveLast && nodes_before <= 1 {
        return Some(1.0);
    }
    Some(n.max(1).min(with_node) as f64 / with_node as f64)
}
