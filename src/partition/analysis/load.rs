//! Load under a skewed workload: not how many keys a node holds, but how
//! many requests it serves.
//!
//! Real key popularity is skewed — a few keys take most requests — and is
//! usually modelled by Zipf's law: the key of rank `r` (1 = hottest) gets a
//! share proportional to `1/r^s`. At `s = 0` every key is equally popular;
//! at `s ≈ 1` (web caches, YCSB's default 0.99) the hottest of 100,000 keys
//! alone takes about 8 % of all requests. A placement that balances keys
//! perfectly can still leave one node with several times the mean request
//! load, because the hot keys are few and land where they land.
//!
//! [`zipf_loads`] gives each sampled key its exact expected share of
//! requests (no sampling noise: the shares are the Zipf probabilities), and
//! [`load`] sums them per node.

use crate::error::Result;
use crate::ids::NodeId;
use crate::partition::Member;
use crate::partition::{BoundedLoad, Partitioner, Strategy};
use std::collections::BTreeMap;

/// The keys `key-0` … `key-{count−1}` with Zipf(`exponent`) request shares:
/// `key-i` has rank `i+1` and share `(i+1)^−s / Σ_r r^−s`; the shares sum
/// to 1. An exponent of 0 gives every key `1/count`. A negative or
/// non-finite exponent is treated as 0.
///
/// ```
/// use replikv::partition::analysis::zipf_loads;
/// let loads = zipf_loads(3, 1.0);
/// assert_eq!(loads[0].0, b"key-0".to_vec());
/// // 1, 1/2, 1/3 normalised by 11/6.
/// assert!((loads[0].1 - 6.0 / 11.0).abs() < 1e-12);
/// assert!((loads[2].1 - 2.0 / 11.0).abs() < 1e-12);
/// assert!((zipf_loads(4, 0.0)[3].1 - 0.25).abs() < 1e-12);
/// ```
pub fn zipf_loads(count: u64, exponent: f64) -> Vec<(Vec<u8>, f64)> {
    let s = if exponent.is_finite() && exponent > 0.0 {
        exponent
    } else {
        0.0
    };
    let raw: Vec<f64> = (1..=count).map(|r| (r as f64).powf(-s)).collect();
    let total: f64 = raw.iter().sum();
    super::sample_keys(count)
        .zip(raw)
        .map(|(key, w)| (key, w / total))
        .collect()
}

/// Request load per node under a weighted key set.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Each member's load (sum of its owned keys' loads); members owning
    /// nothing appear with 0.
    pub per_node: BTreeMap<NodeId, f64>,
    /// The total load.
    pub total: f64,
    /// The largest load ÷ its fair share (the weight's part of the total):
    /// 1.0 is perfect.
    pub max_over_mean: f64,
    /// The busiest node's fraction of all load ("the share of traffic on
    /// the hottest node").
    pub hottest_node_share: f64,
    /// The hottest single key's fraction of all load: no placement can put
    /// less than this on one node.
    pub hottest_key_share: f64,
}

/// Sums each key's load on its owner.
///
/// ```
/// // Zipf 0.99 over 10,000 keys on 10 nodes: the hottest node carries far
/// // more than a tenth of the requests under rendezvous hashing.
/// use replikv::partition::analysis::{load, zipf_loads};
/// use replikv::partition::{Member, Strategy};
/// use replikv::NodeId;
/// let nodes: Vec<Member> = (0..10).map(|i| Member::new(NodeId(i))).collect();
/// let p = Strategy::Rendezvous.build(&nodes)?;
/// let l = load(p.as_ref(), zipf_loads(10_000, 0.99));
/// assert!((l.total - 1.0).abs() < 1e-9);
/// assert!(l.max_over_mean > 1.2 && l.hottest_key_share > 0.09, "{l:?}");
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn load<K: AsRef<[u8]>>(p: &dyn Partitioner, keys: impl IntoIterator<Item = (K, f64)>) -> Load {
    let members = p.members();
    let mut per_node: BTreeMap<NodeId, f64> = members.iter().map(|m| (m.node, 0.0)).collect();
    let (mut total, mut hottest_key) = (0.0f64, 0.0f64);
    for (key, w) in keys {
        *per_node.entry(p.owner(key.as_ref())).or_insert(0.0) += w;
        total += w;
        hottest_key = hottest_key.max(w);
    }
    summarize(members, per_node, total, hottest_key)
}

/// The ratios of a per-node load map.
pub(crate) fn summarize(
    members: &[Member],
    per_node: BTreeMap<NodeId, f64>,
    total: f64,
    hottest_key: f64,
) -> Load {
    if total <= 0.0 {
        return Load {
            per_node,
            total: 0.0,
            max_over_mean: 1.0,
            hottest_node_share: 0.0,
            hottest_key_share: 0.0,
        };
    }
    let total_weight: f64 = members.iter().map(|m| m.weight).sum();
    let (mut max_ratio, mut max_load) = (0.0f64, 0.0f64);
    for m in members {
        let l = per_node.get(&m.node).copied().unwrap_or(0.0);
        max_ratio = max_ratio.max(l / (total * m.weight / total_weight));
        max_load = max_load.max(l);
    }
    Load {
        per_node,
        total,
        max_over_mean: max_ratio,
        hottest_node_share: max_load / total,
        hottest_key_share: hottest_key / total,
    }
}

/// A placement to compare: a [`Strategy`] as a cluster runs it, or bounded
/// loads over the measured key set and its loads ([`BoundedLoad::with_loads`]),
/// the load-aware variant a store can only run if it keeps the key set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// A strategy, built from the members alone.
    Strategy(Strategy),
    /// Bounded loads placing the workload's keys by their loads; ε in
    /// thousandths.
    BoundedOverKeys {
        /// ε in thousandths.
        epsilon_permille: u32,
    },
}

impl Candidate {
    /// The strategies of [`Strategy::ALL`] and bounded loads over keys at
    /// ε = 0.25.
    ///
    /// ```
    /// use replikv::partition::analysis::Candidate;
    /// let names: Vec<String> = Candidate::all().iter().map(|c| c.name()).collect();
    /// assert_eq!(names.last().map(String::as_str), Some("bounded:0.25/keys"));
    /// ```
    pub fn all() -> Vec<Candidate> {
        let mut all: Vec<Candidate> = Strategy::ALL.into_iter().map(Candidate::Strategy).collect();
        all.push(Candidate::BoundedOverKeys {
            epsilon_permille: 250,
        });
        all
    }

    /// The name in tables: the strategy text, or `"bounded:<ε>/keys"`.
    pub fn name(&self) -> String {
        match self {
            Candidate::Strategy(s) => s.to_string(),
            Candidate::BoundedOverKeys { epsilon_permille } => {
                format!("bounded:{}/keys", f64::from(*epsilon_permille) / 1000.0)
            }
        }
    }

    /// Builds it over `members`; `loads` is the key set the load-aware
    /// variant places (ignored by the others).
    pub fn build(
        &self,
        members: &[Member],
        loads: &[(Vec<u8>, f64)],
    ) -> Result<Box<dyn Partitioner>> {
        match self {
            Candidate::Strategy(s) => s.build(members),
            Candidate::BoundedOverKeys { epsilon_permille } => {
                Ok(Box::new(BoundedLoad::with_loads(
                    members,
                    f64::from(*epsilon_permille) / 1000.0,
                    loads.iter().cloned(),
                )?))
            }
        }
    }
}

/// Max/mean request load of one candidate at one Zipf exponent.
#[derive(Clone, Debug, PartialEq)]
pub struct SkewPoint {
    /// The Zipf exponent.
    pub exponent: f64,
    /// The load measured.
    pub load: Load,
}

/// How `candidate`'s request balance degrades as the Zipf exponent grows:
/// one [`Load`] per exponent over `keys` keys on `members`. Strategies
/// built from members alone place keys once (their placement does not
/// depend on load); the load-aware bounded variant is rebuilt per exponent.
///
/// ```
/// use replikv::partition::analysis::{Candidate, skew_sweep};
/// use replikv::partition::{Member, Strategy};
/// use replikv::NodeId;
/// let nodes: Vec<Member> = (0..10).map(|i| Member::new(NodeId(i))).collect();
/// let sweep = skew_sweep(Candidate::Strategy(Strategy::Jump), &nodes, 5_000, &[0.0, 1.2])?;
/// assert!(sweep[1].load.max_over_mean > sweep[0].load.max_over_mean);
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn skew_sweep(
    candidate: Candidate,
    members: &[Member],
    keys: u64,
    exponents: &[f64],
) -> Result<Vec<SkewPoint>> {
    let mut out = Vec::with_capacity(exponents.len());
    match candidate {
        Candidate::Strategy(strategy) => {
            let p = strategy.build(members)?;
            let owners: Vec<NodeId> = super::sample_keys(keys).map(|k| p.owner(&k)).collect();
            for &exponent in exponents {
                let loads = zipf_loads(keys, exponent);
                let mut per_node: BTreeMap<NodeId, f64> =
                    members.iter().map(|m| (m.node, 0.0)).collect();
                let (mut total, mut hottest) = (0.0f64, 0.0f64);
                for (owner, (_, w)) in owners.iter().zip(&loads) {
                    *per_node.entry(*owner).or_insert(0.0) += w;
                    total += w;
                    hottest = hottest.max(*w);
                }
                out.push(SkewPoint {
                    exponent,
                    load: summarize(members, per_node, total, hottest),
                });
            }
        }
        Candidate::BoundedOverKeys { .. } => {
            for &exponent in exponents {
                let loads = zipf_loads(keys, exponent);
                let p = candidate.build(members, &loads)?;
                out.push(SkewPoint {
                    exponent,
                    load: load(p.as_ref(), loads.iter().map(|(k, w)| (k, *w))),
                });
            }
        }
    }
    Ok(out)
}
