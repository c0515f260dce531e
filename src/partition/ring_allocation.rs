//! Placing a joining node's points on an existing ring so that it takes
//! exactly its fair share.
//!
//! With hashed virtual nodes a newcomer's share is random: with `v` points
//! its relative spread is about `1/√v` (±6 % at 256), so the number of keys
//! that move when it joins is off by as much. Cassandra 3.0 replaced random
//! tokens for joining nodes with an allocation algorithm (Lambov, "Token
//! allocation", CASSANDRA-7032) that picks tokens to balance the load. This
//! is a simple rule in that spirit: the newcomer gets as many points as a
//! hashed member of its weight, one in each of the *largest* arcs of the
//! ring, each taking the same fraction of its arc, so that together they
//! hold exactly its fair share. Since only points are added, only keys that
//! now belong to the newcomer move: the ring stays consistent. Since the
//! largest arcs are split, the nodes that held the most lose the most, which
//! also evens out the others.

use crate::ids::NodeId;
use std::collections::BinaryHeap;

/// The ring's circumference, 2⁶⁴, as a wide integer.
const CIRCLE: u128 = 1 << 64;

/// Positions for a newcomer's `points` points (at least one) taking `share`
/// (0 < share < 1) of the ring whose points are at `positions` (ascending,
/// at least one).
///
/// The newcomer gets as many points as a hashed member of its weight would,
/// one in each of the largest arcs, each taking the same fraction of its
/// arc. Spreading over many arcs matters for replication: a node with few,
/// clustered points would own its share of keys but appear in fewer
/// preference lists as a second or third replica.
pub(crate) fn fair_share_points(positions: &[u64], share: f64, points: usize) -> Vec<u64> {
    assert!(
        !positions.is_empty(),
        "a ring to join has at least one point"
    );
    // Arcs as (length, end position): the arc ending at a point is the span
    // of keys that point owns, from just after the previous point.
    let mut arcs: Vec<(u128, u64)> = (0..positions.len())
        .map(|i| {
            let previous = positions[(i + positions.len() - 1) % positions.len()];
            let length = match positions[i].wrapping_sub(previous) {
                0 => CIRCLE, // a single point owns the whole circle
                d => u128::from(d),
            };
            (length, positions[i])
        })
        .collect();
    arcs.sort_unstable_by(|a, b| b.cmp(a));
    let others = arcs.split_off(points.max(1).min(arcs.len()));
    let target = (share.clamp(0.0, 1.0) * CIRCLE as f64) as u128;
    let chosen: u128 = arcs.iter().map(|&(length, _)| length).sum();
    // Take the same fraction of every chosen arc, at most half of it.
    let fraction = (target as f64 / chosen as f64).min(0.5);
    let mut remaining = target;
    let mut placed = Vec::with_capacity(arcs.len());
    let mut leftovers: BinaryHeap<(u128, u64)> = others.into_iter().collect();
    for (length, end) in arcs {
        let take = ((length as f64 * fraction) as u128).min(remaining);
        if take == 0 {
            continue;
        }
        let start = end.wrapping_sub((length % CIRCLE) as u64);
        placed.push(start.wrapping_add(take as u64));
        remaining -= take;
        leftovers.push((length - take, end));
    }
    // When half of the chosen arcs is not enough (a newcomer much heavier
    // than the rest, or few points), keep halving the largest arcs left.
    while remaining > 0 {
        let Some((length, end)) = leftovers.pop() else {
            break;
        };
        if length < 2 {
            break;
        }
        let start = end.wrapping_sub((length % CIRCLE) as u64);
        let take = remaining.min(length / 2);
        placed.push(start.wrapping_add(take as u64));
        remaining -= take;
        leftovers.push((length - take, end));
    }
    placed
}

/// Merges `new_points` owned by `node` into sorted `positions`/`owners`.
pub(crate) fn insert_points(
    positions: &mut Vec<u64>,
    owners: &mut Vec<NodeId>,
    node: NodeId,
    new_points: &[u64],
) {
    let mut points: Vec<(u64, NodeId)> = positions
        .iter()
        .copied()
        .zip(owners.iter().copied())
        .chain(new_points.iter().map(|&p| (p, node)))
        .collect();
    points.sort_unstable();
    points.dedup_by_key(|(p, _)| *p);
    (*positions, *owners) = points.into_iter().unzip();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(positions: &[u64], new_points: &[u64]) -> u128 {
        // Each new point owns the span back to the previous point of the
        // merged ring.
        let mut all: Vec<(u64, bool)> = positions.iter().map(|&p| (p, false)).collect();
        all.extend(new_points.iter().map(|&p| (p, true)));
        all.sort_unstable();
        (0..all.len())
            .filter(|&i| all[i].1)
            .map(|i| {
                u128::from(
                    all[i]
                        .0
                        .wrapping_sub(all[(i + all.len() - 1) % all.len()].0),
                )
            })
            .sum()
    }

    #[test]
    fn the_newcomer_gets_exactly_its_share() {
        let positions: Vec<u64> = (1..=1000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        for share in [0.5, 0.1, 1.0 / 51.0, 0.001] {
            for budget in [1, 50, 500] {
                let points = fair_share_points(&sorted, share, budget);
                let got = owned(&sorted, &points) as f64 / CIRCLE as f64;
                assert!(
                    (got - share).abs() < 1e-9,
                    "share {share}, {budget} points: got {got}"
                );
            }
        }
    }

    #[test]
    fn joining_a_single_point_ring_takes_half() {
        let points = fair_share_points(&[1 << 60], 0.5, 10);
        assert_eq!(points.len(), 1);
        assert_eq!(owned(&[1 << 60], &points) as f64 / CIRCLE as f64, 0.5);
    }

    #[test]
    fn inserting_keeps_the_ring_sorted() {
        let (mut positions, mut owners) = (vec![10, 20, 30], vec![NodeId(0), NodeId(1), NodeId(0)]);
        insert_points(&mut positions, &mut owners, NodeId(2), &[25, 5]);
        assert_eq!(positions, vec![5, 10, 20, 25, 30]);
        assert_eq!(
            owners,
            vec![NodeId(2), NodeId(0), NodeId(1), NodeId(2), NodeId(0)]
        );
    }
}
