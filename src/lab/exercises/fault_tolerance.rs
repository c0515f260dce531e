//! Exercise 7, fault tolerance: every acknowledged write must survive two
//! simultaneous node crashes in a 5-node cluster.
//!
//! Nodes fail independently, and sometimes together. Redundancy — more
//! than one copy of each key — is the only defence, and how many copies are
//! needed depends on how many failures must be survived *and* on what the
//! consistency mode needs to answer a read. The grader writes 20 keys,
//! crashes the two nodes that hold the most copies of the same keys (the
//! worst pair for your placement), then reads every acknowledged key back,
//! trying each of its replicas as coordinator. Passing: every acknowledged
//! write reads back, and at least 18 of the 20 writes were acknowledged.

use super::{Grade, node_list};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::Result;
use crate::ids::NodeId;
use std::collections::BTreeMap;
use std::time::Duration;

const EXERCISE: &str = "exercise 7: surviving two crashes";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 7;
const NODES: usize = 5;
const KEYS: usize = 20;
/// The grader stops reading after this many unreadable keys (each costs
/// timeouts, and a few are proof enough).
const ENOUGH_LOST: usize = 3;

/// A replication factor and consistency mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicationChoice {
    /// N: copies of each key, 1 to 5.
    pub replication: usize,
    /// The consistency mode.
    pub consistency: Consistency,
}

/// Grades a replication choice by whether acknowledged writes survive two
/// crashes.
///
/// ```no_run
/// use replikv::Consistency;
/// use replikv::lab::exercises::{ReplicationChoice, grade_survives_two_crashes};
/// let one_copy = ReplicationChoice { replication: 1, consistency: Consistency::SingleCopy };
/// assert!(!grade_survives_two_crashes(one_copy).passed);
/// ```
pub fn grade_survives_two_crashes(choice: ReplicationChoice) -> Grade {
    match run(choice) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(
            EXERCISE,
            &e,
            "N must be between 1 and the 5 nodes, and R and W between 1 and N",
        ),
    }
}

/// The pair of nodes whose crash hurts the most: the most keys with all
/// their replicas in the pair, then the most with two replicas in it.
fn worst_pair(cluster: &Cluster, keys: &[Vec<u8>]) -> Vec<NodeId> {
    let nodes = cluster.nodes();
    let mut best: (usize, usize, Vec<NodeId>) = (0, 0, nodes.iter().take(2).copied().collect());
    for (i, &a) in nodes.iter().enumerate() {
        for &b in &nodes[i + 1..] {
            let (mut all, mut two) = (0, 0);
            for key in keys {
                let replicas = cluster.placement().replicas(key);
                let inside = replicas.iter().filter(|&&n| n == a || n == b).count();
                all += usize::from(inside == replicas.len());
                two += usize::from(inside == 2);
            }
            if (all, two) > (best.0, best.1) {
                best = (all, two, vec![a, b]);
            }
        }
    }
    best.2
}

fn run(choice: ReplicationChoice) -> Result<Grade> {
    let cluster = Cluster::builder()
        .nodes(NODES)
        .replication(choice.replication)
        .storage(StorageKind::Memory)
        .consistency(choice.consistency)
        .coordinator(CoordinatorPolicy::First)
        .client_timeout(Duration::from_millis(500))
        .seed(SEED)
        .build()?;
    let mut writer = cluster.client()?;
    let mut acked: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for i in 0..KEYS {
        let (key, value) = (format!("order-{i}"), format!("paid-{i}"));
        if writer.put(&key, &value).is_ok() {
            acked.insert(key.into_bytes(), value.into_bytes());
        }
    }
    let keys: Vec<Vec<u8>> = acked.keys().cloned().collect();
    let victims = worst_pair(&cluster, &keys);
    for &node in &victims {
        cluster.crash(node)?;
    }
    let mut reader = cluster.client()?;
    reader.set_policy(CoordinatorPolicy::RoundRobin);
    reader.set_timeout(Duration::from_millis(150));
    let (mut lost, mut checked) = (Vec::new(), 0);
    for (key, value) in &acked {
        if lost.len() >= ENOUGH_LOST {
            break;
        }
        checked += 1;
        let replicas = cluster.placement().replicas(key);
        let alive = replicas.iter().any(|n| !victims.contains(n));
        // Round robin moves on one replica per attempt: N attempts try each.
        let read_back = alive
            && (0..replicas.len()).any(|_| reader.get(key).ok().flatten().as_ref() == Some(value));
        if !read_back {
            lost.push(String::from_utf8_lossy(key).into_owned());
        }
    }
    let enough_acked = acked.len() * 10 >= KEYS * 9;
    let passed = lost.is_empty() && enough_acked;
    let measured = format!(
        "N = {}, {}: {} of {KEYS} writes acknowledged; crashed {}; {} of {checked} acknowledged \
         keys checked could not be read back{}",
        choice.replication,
        choice.consistency,
        acked.len(),
        node_list(&victims),
        lost.len(),
        if lost.is_empty() {
            String::new()
        } else {
            format!(" ({})", lost.join(", "))
        }
    );
    let explanation = if passed {
        "every key kept enough live copies to answer a read: two independent failures cost \
         capacity, not data"
    } else if !enough_acked {
        "too few writes were acknowledged: refusing writes also loses nothing, and helps no one"
    } else {
        "some acknowledged writes had too few surviving copies to be read — all of them were on \
         the crashed nodes, or too few were left for the mode's read quorum"
    };
    Ok(Grade {
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [seed {SEED}]"),
        explanation: explanation.into(),
        hint: "count the copies that survive two crashes, and check what the mode needs to \
               answer a read (strong mode needs a majority of the N replicas)"
            .into(),
    })
}
