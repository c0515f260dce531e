//! How evenly a partitioner spreads keys over its members, weights included.

use crate::ids::NodeId;
use crate::partition::Partitioner;
use std::collections::BTreeMap;

/// How a key set's owners spread over the members.
///
/// Loads are compared with *fair shares*: node `i`'s fair share of `k` keys
/// is `k × weightᵢ / Σ weight`. With all weights 1 the ratios below are the
/// familiar max/mean and standard deviation/mean.
#[derive(Clone, Debug, PartialEq)]
pub struct Balance {
    /// Keys owned by each member (members owning none appear with 0).
    pub per_node: BTreeMap<NodeId, u64>,
    /// Keys counted.
    pub keys: u64,
    /// The largest load ÷ fair share: 1.0 is perfect; 1.15 means the busiest
    /// node carries 15 % more than its share, and capacity must be planned
    /// for it.
    pub max_over_mean: f64,
    /// The smallest load ÷ fair share.
    pub min_over_mean: f64,
    /// The spread of load ÷ fair share around 1: the square root of the
    /// weight-share-weighted mean of `(loadᵢ/fairᵢ − 1)²`. With equal weights
    /// it is the population standard deviation of the loads over their mean.
    pub coefficient_of_variation: f64,
}

/// Counts the owner of every key in `keys` and compares each member's load
/// with its fair share. With no keys, every ratio is the perfect 1.0 (and the
/// variation 0).
///
/// ```
/// // Rendezvous on 4 nodes: each owns about a quarter of 40,000 keys.
/// use replikv::partition::analysis::{balance, sample_keys};
/// use replikv::partition::{Member, Strategy};
/// use replikv::NodeId;
/// let nodes: Vec<Member> = (0..4).map(|i| Member::new(NodeId(i))).collect();
/// let p = Strategy::Rendezvous.build(&nodes)?;
/// let b = balance(p.as_ref(), sample_keys(40_000));
/// assert_eq!(b.keys, 40_000);
/// assert_eq!(b.per_node.values().sum::<u64>(), 40_000);
/// assert!(b.max_over_mean < 1.05, "{b:?}");
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn balance<K: AsRef<[u8]>>(p: &dyn Partitioner, keys: impl IntoIterator<Item = K>) -> Balance {
    let members = p.members();
    let mut per_node: BTreeMap<NodeId, u64> = members.iter().map(|m| (m.node, 0)).collect();
    let mut total = 0u64;
    for key in keys {
        *per_node.entry(p.owner(key.as_ref())).or_insert(0) += 1;
        total += 1;
    }
    if total == 0 {
        return Balance {
            per_node,
            keys: 0,
            max_over_mean: 1.0,
            min_over_mean: 1.0,
            coefficient_of_variation: 0.0,
        };
    }
    let total_weight: f64 = members.iter().map(|m| m.weight).sum();
    let (mut max, mut min, mut square_sum) = (f64::MIN, f64::MAX, 0.0);
    for m in members {
        let share = m.weight / total_weight;
        let load = per_node.get(&m.node).copied().unwrap_or(0) as f64;
        let ratio = load / (total as f64 * share);
        max = max.max(ratio);
        min = min.min(ratio);
        square_sum += share * (ratio - 1.0) * (ratio - 1.0);
    }
    Balance {
        per_node,
        keys: total,
        max_over_mean: max,
        min_over_mean: min,
        coefficient_of_variation: square_sum.sqrt(),
    }
}
