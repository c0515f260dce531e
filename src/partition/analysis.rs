//! Measuring a placement: how evenly it spreads keys, and how many keys move
//! when membership changes.
//!
//! These are the two numbers that separate the strategies of this module, and
//! the two that the `partitioning` bench prints for 5, 10 and 50 nodes
//! (with [`load`], request load under a skewed workload, a third; and
//! [`scaling`], every figure at 10, 100 and 1,000 nodes):
//!
//! * [`balance`]: each node's share of a key set against its fair share. A
//!   node's fair share is its weight's part of the total weight (`1/m` when
//!   all weights are 1), so a weighted strategy that gives a weight-2 node
//!   twice the keys is perfectly balanced.
//! * [`movement`]: of a key set, the fraction whose owner (primary) or whose
//!   replica set changes between two partitioners — typically `p` and
//!   `p.with_node(..)` or `p.without_node(..)`. Moved keys are data that must
//!   be copied across the network before the new placement can serve them.
//!
//! [`expected_owner_moved`] and [`expected_list_changed`] give what theory
//! predicts, to print beside the measurement: adding a node to `m` moves
//! `1/(m+1)` of the owners under a consistent strategy (Karger et al., STOC
//! 1997) and `m/(m+1)` under modulo.
//!
//! Keys are usually [`sample_keys`]: `key-0`, `key-1`, …, deterministic, so
//! that a table computed twice is the same table. Measured values include
//! sampling noise: with `k` keys per node a share wobbles by about `1/√k`
//! (1 % at 10,000 keys per node), on top of the strategy's own imbalance.

mod balance;
mod load;
mod movement;
pub mod scaling;

pub use balance::{Balance, balance};
pub use load::{Candidate, Load, SkewPoint, load, skew_sweep, zipf_loads};
pub use movement::{Change, Movement, expected_list_changed, expected_owner_moved, movement};
#[cfg(feature = "plot")]
pub use scaling::scaling_svg;
pub use scaling::{Metric, ScalingConfig, ScalingRow, axis_range, scaling_table};

/// The keys `key-0`, `key-1`, …, `key-{count−1}`: a deterministic key set.
///
/// ```
/// use replikv::partition::analysis::sample_keys;
/// let keys: Vec<Vec<u8>> = sample_keys(3).collect();
/// assert_eq!(keys, [b"key-0".to_vec(), b"key-1".to_vec(), b"key-2".to_vec()]);
/// ```
pub fn sample_keys(count: u64) -> impl Iterator<Item = Vec<u8>> + Clone {
    (0..count).map(|i| format!("key-{i}").into_bytes())
}
