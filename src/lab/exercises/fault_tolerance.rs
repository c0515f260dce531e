//! Exercise 7, fault tolerance: every acknowledged write must survive two
//! nodes failing together in a 5-node cluster.
//!
//! Nodes fail independently, and sometimes together: a rack's switch fails,
//! then its power. The grader plays that story. It picks the two nodes whose
//! loss hurts the most (the most keys with all their copies on the pair),
//! cuts them off from the other three — clients still reach them — and
//! writes 20 keys at once, each through the key's replicas in turn (primary
//! first) until one acknowledges it. Then the pair crashes, and every
//! acknowledged key is read back, trying each of its replicas as
//! coordinator. Passing: every acknowledged write reads back, and at least
//! 18 of the 20 were acknowledged.
//!
//! Two numbers decide it. **N**: enough copies that two crashes leave one
//! (and, for strong mode, a majority to read from). **W**: enough
//! acknowledgements that the doomed pair cannot confirm a write on its own —
//! while cut off, a coordinator in the pair can collect at most two, and a
//! write confirmed there dies with it. Writes coordinated on the healthy
//! side reach W through hint holders when replicas are unreachable
//! (sloppy quorum), so a large W costs little here.

use super::concurrent::{Script, put, run_clients};
use super::{Grade, node_list};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::Result;
use crate::ids::NodeId;
use crate::sim::Runtime;
use std::cell::RefCell;
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
    grade_survives_two_crashes_with_seed(choice, None)
}

/// [`grade_survives_two_crashes`] with another seed (`None`: the exercise's own, 7) — what
/// `cargo run --release --example exercise_07_fault_tolerance -- --seed N` runs.
pub fn grade_survives_two_crashes_with_seed(choice: ReplicationChoice, seed: Option<u64>) -> Grade {
    match run(choice, seed.unwrap_or(SEED)) {
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

fn run(choice: ReplicationChoice, seed: u64) -> Result<Grade> {
    let cluster = Cluster::builder()
        .nodes(NODES)
        .replication(choice.replication)
        .storage(StorageKind::Memory)
        .consistency(choice.consistency)
        .client_timeout(Duration::from_millis(500))
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    let orders: Vec<(Vec<u8>, Vec<u8>)> = (0..KEYS)
        .map(|i| {
            (
                format!("order-{i}").into_bytes(),
                format!("paid-{i}").into_bytes(),
            )
        })
        .collect();
    let keys: Vec<Vec<u8>> = orders.iter().map(|(key, _)| key.clone()).collect();
    let victims = worst_pair(&cluster, &keys);
    let survivors: Vec<NodeId> = cluster
        .nodes()
        .into_iter()
        .filter(|n| !victims.contains(n))
        .collect();
    // The switch fails: the pair still hears clients, not the other nodes.
    cluster.network().partition(&[&victims, &survivors])?;
    // One client per order, all at once: a refused attempt costs up to a
    // timeout, and twenty orders in a row would make the grader slow. Each
    // tries the key's replicas in turn, primary first, until one confirms.
    // Retrying is safe: every attempt writes the same value.
    let confirmed = RefCell::new(BTreeMap::new());
    let mut writers = Vec::with_capacity(orders.len());
    for (key, value) in &orders {
        let mut untried = cluster.placement().replicas(key).into_iter();
        let confirmed = &confirmed;
        let script: Script<'_> = Box::new(move |writer, last| {
            if let Some(Ok(_)) = last {
                confirmed.borrow_mut().insert(key.clone(), value.clone());
                return None;
            }
            let node = untried.next()?;
            writer.set_policy(CoordinatorPolicy::Fixed(node));
            Some(put(key, value))
        });
        writers.push((cluster.client()?, script));
    }
    run_clients(&cluster, writers, Duration::ZERO, &mut |_, _| Ok(()))?;
    let acked: BTreeMap<Vec<u8>, Vec<u8>> = confirmed.into_inner();
    // Then the power: the pair crashes.
    for &node in &victims {
        cluster.crash(node)?;
    }
    cluster.network().heal();
    let mut reader = cluster.client()?;
    reader.set_policy(CoordinatorPolicy::RoundRobin);
    reader.set_timeout(Duration::from_millis(150));
    let (mut lost, mut checked, mut no_copy_left) = (Vec::new(), 0, 0);
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
            no_copy_left += usize::from(!alive);
        }
    }
    let enough_acked = acked.len() * 10 >= KEYS * 9;
    let passed = lost.is_empty() && enough_acked;
    let measured = format!(
        "N = {}, {}: {} of {KEYS} writes acknowledged; cut off, then crashed {}; {} of {checked} \
         acknowledged keys checked could not be read back{}",
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
         the crashed nodes (too few copies, or a write confirmed by the cut-off pair alone), or \
         too few were left for the mode's read quorum"
    };
    let grade = Grade {
        replay: Some(super::replay_command("exercise_07_fault_tolerance", seed)),
        history: None,
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [simulated, seed {seed}]"),
        explanation: explanation.into(),
        hint: if no_copy_left > 0 {
            format!(
                "{no_copy_left} acknowledged keys had every copy on the two crashed nodes: \
                 give each key more copies (N) than can fail together"
            )
        } else if !lost.is_empty() {
            "every lost key still had a live copy, yet did not read back: either the doomed \
             pair confirmed the write on its own (make a write need more acknowledgements, W, \
             than the two of them can give) or too few copies were left for the mode's read \
             (strong mode needs a majority of the N replicas)"
                .into()
        } else {
            "writes were refused: the mode needs more replicas to confirm a write than the \
             healthy side holds for some keys (strong mode needs a majority of N there) — \
             count the copies of each key outside the failing pair"
                .into()
        },
    };
    Ok(grade
        .with_history(cluster.history())
        .unless_panicked(&cluster.metrics().node_panics()))
}
