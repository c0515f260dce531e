//! Exercise 2, partitioning: pick the placement strategy that moves the
//! fewest keys when a node joins a 10-node cluster, and still spreads keys
//! evenly.
//!
//! Scaling out means adding nodes, and every key whose owner changes must
//! be copied across the network before the new node can serve it. Modulo
//! placement (`hash mod m`) renumbers almost everything when `m` changes;
//! consistent strategies move only the new node's fair share, `1/(m+1)`.
//! The grader measures both halves on 20,000 sample keys with
//! [`crate::partition::analysis`]: the fraction of owners that move when an
//! 11th node joins (at most 1.1 × 1/11 to pass) and the balance before
//! (the busiest node at most 1.25 × the mean).

use super::Grade;
use crate::ids::NodeId;
use crate::partition::analysis::{balance, movement, sample_keys};
use crate::partition::{Member, Strategy};

const EXERCISE: &str = "exercise 2: partitioning";
const NODES: u32 = 10;
const KEYS: u64 = 20_000;
/// How much more than the ideal `1/(m+1)` may move.
const MOVEMENT_SLACK: f64 = 1.1;
/// The busiest node's share over the mean share. Measured on these keys:
/// jump and rendezvous 1.03, ring with 256 points per node 1.19 (each node's
/// arc wobbles by about 1/√256), ring with 1 point per node far above.
const BALANCE_LIMIT: f64 = 1.25;

/// Grades a placement strategy for a 10-node cluster that grows to 11.
///
/// ```
/// use replikv::lab::exercises::grade_partitioning;
/// use replikv::partition::Strategy;
/// assert!(!grade_partitioning(Strategy::Modulo).passed);
/// ```
pub fn grade_partitioning(strategy: Strategy) -> Grade {
    let members: Vec<Member> = (0..NODES).map(|i| Member::new(NodeId(i))).collect();
    let hint = "look for a strategy in which a joining node only takes keys, never reshuffles \
                the others (and, on a ring, give each node enough points)";
    let reshuffle_hint = "look for a strategy in which a joining node only takes keys from the \
                          others, never reshuffles the keys it does not take";
    let spread_hint = "the keys that move are the right ones, but the split is lopsided: on a \
                       ring, give each node many points (virtual nodes), so each owns many \
                       small arcs instead of one big one";
    let before = match strategy.build(&members) {
        Ok(p) => p,
        Err(e) => return Grade::could_not_run(EXERCISE, &e, hint),
    };
    let after = match before.with_node(Member::new(NodeId(NODES))) {
        Ok(p) => p,
        Err(e) => return Grade::could_not_run(EXERCISE, &e, hint),
    };
    let moved = movement(before.as_ref(), after.as_ref(), 1, sample_keys(KEYS));
    let spread = balance(before.as_ref(), sample_keys(KEYS));
    let ideal = 1.0 / f64::from(NODES + 1);
    let few_moved = moved.owner_moved_fraction <= MOVEMENT_SLACK * ideal;
    let balanced = spread.max_over_mean <= BALANCE_LIMIT;
    let measured = format!(
        "{strategy}: adding an 11th node to 10 moved the owner of {:.1} % of {KEYS} keys \
         (ideal {:.1} %, limit {:.1} %); busiest node holds {:.2} × the mean share (limit {BALANCE_LIMIT})",
        100.0 * moved.owner_moved_fraction,
        100.0 * ideal,
        100.0 * MOVEMENT_SLACK * ideal,
        spread.max_over_mean
    );
    let explanation = match (few_moved, balanced) {
        (true, true) => {
            "only the new node's fair share of keys moved, and keys are spread evenly: \
                         scaling out copies as little data as possible"
                .to_string()
        }
        (false, _) => "most keys changed owner: each must be copied to its new node before it \
                       can be served, so growing the cluster costs a near-full reshuffle"
            .to_string(),
        (true, false) => "few keys moved, but some node holds far more than its share: it \
                          becomes the bottleneck and the first to fill up"
            .to_string(),
    };
    Grade {
        replay: None,
        history: None,
        exercise: EXERCISE,
        passed: few_moved && balanced,
        measured,
        explanation,
        hint: if few_moved {
            spread_hint
        } else {
            reshuffle_hint
        }
        .into(),
    }
}
