//! Exercise 3, strong consistency: write a protocol whose histories are
//! linearizable — and whose acknowledged writes survive a crash.
//!
//! Linearizability is the precise meaning of "all nodes see the same data":
//! every operation appears to take effect at one instant between its call
//! and its return, in one order that all clients agree on. The grader runs
//! the learner's [`Protocol`] on 3 nodes (N = 3) with 3 clients that send
//! each request for one of 2 keys to a random replica, over a network that
//! delays every message independently — [`LINEARIZABLE_CLIENT_LINK`] between
//! clients and nodes, [`LINEARIZABLE_NODE_LINK`] between nodes, so messages
//! overtake each other — and judges the recorded history with the
//! [`Checker`].
//!
//! One node that orders everything and copies nothing is linearizable too,
//! and it is no replicated store: its data dies with it. So the grader also
//! crashes a node mid-run — the one whose loss hurts the most at that moment,
//! the node holding the newest version of the most keys *alone* (a protocol
//! that forwards everything to one node loses that node) — and keeps it down
//! for the rest of the workload. Then it reads what the surviving nodes
//! store and asks [`lost_writes`] whether any acknowledged write is missing
//! from it: a write that was acknowledged must survive the loss of any one
//! node. Finally the node restarts, every key is written once more and read
//! through every node, and the whole history, crash included, must be
//! linearizable.
//!
//! A protocol that never answers would produce a history of timed-out
//! (indeterminate) operations, which is trivially linearizable and loses
//! nothing; so at least 80 % of the operations made while every node was up
//! must also succeed. While a node is down, refusing or timing out is
//! allowed (availability under failures is exercises 7 and 8's subject);
//! answering wrongly or forgetting is not. Messages are delayed and
//! reordered but not lost or duplicated: tolerating those is exercise 4's
//! subject (and duplicated client requests need the deduplication that
//! [`crate::protocol::strong`] describes).

use super::concurrent::{Script, get, put, run_clients};
use super::{Grade, node_list, set_node_link_latency};
use crate::CoordinatorPolicy;
use crate::cluster::{Cluster, StorageKind};
use crate::error::Error;
use crate::error::Result;
use crate::history::{CheckResult, Checker, Operation, lost_writes};
use crate::ids::NodeId;
use crate::network::Latency;
use crate::protocol::{NodeSetup, Protocol};
use crate::sim::Runtime;
use crate::storage::{Record, Version};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long a message between a client and a node takes in exercise 3's
/// network: uniform between 0 and 2 ms, each message drawn independently.
///
/// ```
/// use replikv::lab::exercises::LINEARIZABLE_CLIENT_LINK;
/// use replikv::network::Latency;
/// use std::time::Duration;
/// assert_eq!(LINEARIZABLE_CLIENT_LINK, Latency::Uniform {
///     min: Duration::ZERO,
///     max: Duration::from_millis(2),
/// });
/// ```
pub const LINEARIZABLE_CLIENT_LINK: Latency = Latency::Uniform {
    min: Duration::ZERO,
    max: Duration::from_millis(2),
};

/// How long a message between two nodes takes in exercise 3's network:
/// uniform between 10 and 30 ms. Longer than a client's round trip, so a
/// copy sent in the background is still travelling when the same client's
/// next request reaches another replica.
///
/// ```
/// use replikv::lab::exercises::LINEARIZABLE_NODE_LINK;
/// use replikv::network::Latency;
/// use std::time::Duration;
/// assert_eq!(LINEARIZABLE_NODE_LINK, Latency::Uniform {
///     min: Duration::from_millis(10),
///     max: Duration::from_millis(30),
/// });
/// ```
pub const LINEARIZABLE_NODE_LINK: Latency = Latency::Uniform {
    min: Duration::from_millis(10),
    max: Duration::from_millis(30),
};

const EXERCISE: &str = "exercise 3: a linearizable protocol";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 3;
const CLIENTS: usize = 3;
const KEYS: u64 = 2;
const OPS_PER_CLIENT: u64 = 25;
/// The crash comes once this many operations are done (of 75): the rest
/// run with one node down.
const CRASH_AFTER_OPS: u64 = 60;
/// A request unanswered for this long counts as timed out. Generous: a
/// protocol that forwards, then waits for two rounds of copies, needs five
/// node → node messages of at most 30 ms.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);
/// Fraction of the operations made while every node was up that must succeed.
const MIN_OK: f64 = 0.8;

/// Grades a protocol, given as the factory the cluster builder takes, by
/// whether its history is linearizable and its acknowledged writes survive a
/// crash. Uses the exercise's fixed seed; see
/// [`grade_linearizable_with_seed`].
///
/// ```no_run
/// use replikv::lab::exercises::grade_linearizable;
/// use replikv::protocol::{SingleCopy, Strong};
/// // One copy per key is linearizable, and dies with its node.
/// assert!(!grade_linearizable(|_| SingleCopy::new()).passed);
/// // Majority quorums (ABD) survive the loss of one node of three.
/// assert!(grade_linearizable(|setup| Strong::new(setup.incarnation)).passed);
/// ```
pub fn grade_linearizable<P, F>(factory: F) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    grade_linearizable_with_seed(factory, None)
}

/// [`grade_linearizable`] with another seed for the network delays, the
/// clients' choices and the workload (`None`: the exercise's own, 3): a
/// right answer passes with any seed. The seed is printed in the grade's
/// `measured` text, and a failure prints the command that replays it —
/// `cargo run --release --example exercise_03_linearizable -- --seed N`.
pub fn grade_linearizable_with_seed<P, F>(factory: F, seed: Option<u64>) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    match run(factory, seed.unwrap_or(SEED)) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "the cluster must start with your protocol"),
    }
}

/// A link delay as text: `10–30 ms`.
fn describe_link(latency: Latency) -> String {
    match latency {
        Latency::Uniform { min, max } => format!("{}–{} ms", min.as_millis(), max.as_millis()),
        other => format!("{other:?}"),
    }
}

/// The crash: which node, and what it held alone when it went down.
struct Crash {
    victim: NodeId,
    /// Keys whose newest version only the victim held.
    held_alone: usize,
    /// Operations done when it crashed.
    after_ops: u64,
    /// The cluster clock at the crash.
    at_ns: u64,
    /// What the other nodes held the instant the victim crashed, by key
    /// (the newest version any of them stored).
    survived: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Keys whose newest record, written by an acknowledged write, was on
    /// the victim alone when it crashed: acknowledged and on no survivor,
    /// whatever ran concurrently with it.
    acked_alone: Vec<Vec<u8>>,
}

/// Keys whose record on `victim` is newer than on every other node and
/// holds the value of a write acknowledged in `history`.
fn acked_on_victim_alone(
    cluster: &Cluster,
    victim: NodeId,
    history: &crate::history::History,
) -> Result<Vec<Vec<u8>>> {
    let held = node_records(cluster, &cluster.nodes())?;
    let Some((_, on_victim)) = held.iter().find(|(node, _)| *node == victim) else {
        return Ok(Vec::new());
    };
    let acknowledged = |value: &[u8]| {
        history
            .ops
            .iter()
            .any(|op| op.ok && op.return_ns.is_some() && op.value.as_deref() == Some(value))
    };
    Ok(on_victim
        .iter()
        .filter(|(key, record)| {
            let newest_elsewhere = held
                .iter()
                .filter(|(node, _)| *node != victim)
                .filter_map(|(_, records)| records.get(*key).map(|r| r.version))
                .max();
            newest_elsewhere.is_none_or(|v| v < record.version)
                && record.value.as_deref().is_some_and(acknowledged)
        })
        .map(|(key, _)| key.clone())
        .collect())
}

/// The records one node holds, by key.
type Held = BTreeMap<Vec<u8>, Record>;

/// The record of each key on each of `nodes`.
fn node_records(cluster: &Cluster, nodes: &[NodeId]) -> Result<Vec<(NodeId, Held)>> {
    nodes
        .iter()
        .map(|&node| {
            let records = cluster.store(node)?.records()?.into_iter().collect();
            Ok((node, records))
        })
        .collect()
}

/// The node whose crash hurts the most now: the one holding the newest
/// version of the most keys alone, then of the most keys at all, then the
/// lowest id.
fn worst_node(cluster: &Cluster) -> Result<(NodeId, usize)> {
    let held = node_records(cluster, &cluster.nodes())?;
    let mut newest: BTreeMap<&[u8], Version> = BTreeMap::new();
    for (_, records) in &held {
        for (key, record) in records {
            let v = newest.entry(key.as_slice()).or_insert(record.version);
            *v = (*v).max(record.version);
        }
    }
    let holders = |key: &[u8]| {
        held.iter()
            .filter(|(_, records)| records.get(key).map(|r| r.version) == newest.get(key).copied())
            .map(|(node, _)| *node)
            .collect::<Vec<_>>()
    };
    let mut best: Option<((usize, usize), NodeId)> = None;
    for &node in held.iter().map(|(node, _)| node) {
        let (mut alone, mut with_others) = (0, 0);
        for key in newest.keys() {
            let h = holders(key);
            alone += usize::from(h == [node]);
            with_others += usize::from(h.contains(&node));
        }
        if best.is_none_or(|(score, _)| (alone, with_others) > score) {
            best = Some(((alone, with_others), node));
        }
    }
    Ok(best.map_or((NodeId(0), 0), |((alone, _), node)| (node, alone)))
}

/// The operations invoked by `at_ns`, as the history stood then: one that
/// returned later had not returned, so its outcome was unknown.
fn history_until(history: &crate::history::History, at_ns: u64) -> crate::history::History {
    crate::history::History::new(
        history
            .ops
            .iter()
            .filter(|op| op.call_ns <= at_ns)
            .cloned()
            .map(|mut op| {
                if op.return_ns.is_some_and(|r| r > at_ns) {
                    op.return_ns = None;
                    op.ok = false;
                }
                op
            })
            .collect(),
    )
}

/// Each key's value on the surviving nodes: the newest record any of them
/// holds (`None`: deleted, or held by none of them).
fn surviving_values(
    cluster: &Cluster,
    survivors: &[NodeId],
    keys: &[Vec<u8>],
) -> Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>> {
    let held = node_records(cluster, survivors)?;
    Ok(keys
        .iter()
        .map(|key| {
            let newest = held
                .iter()
                .filter_map(|(_, records)| records.get(key))
                .max_by_key(|r| r.version);
            (key.clone(), newest.and_then(|r| r.value.clone()))
        })
        .collect())
}

/// The clients' operations: each of [`CLIENTS`] clients makes
/// [`OPS_PER_CLIENT`] reads and writes of random keys, through random
/// replicas, concurrently on the simulator; once [`CRASH_AFTER_OPS`]
/// operations are done, the node whose loss hurts the most crashes, while
/// the clients keep going.
fn workload(cluster: &Cluster, seed: u64, keys: &[Vec<u8>]) -> Result<Crash> {
    let mut clients = Vec::with_capacity(CLIENTS);
    for c in 0..CLIENTS {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((c as u64 + 1) * 0x9E37_79B9));
        let mut i = 0;
        let script: Script<'_> = Box::new(move |_, _| {
            if i == OPS_PER_CLIENT {
                return None;
            }
            i += 1;
            let key = &keys[rng.random_range(0..keys.len())];
            // Errors are the point: the history records them.
            Some(if rng.random_bool(0.5) {
                get(key)
            } else {
                put(key, format!("c{c}-{}", i - 1))
            })
        });
        clients.push((cluster.client()?, script));
    }
    let mut done = 0;
    let mut crash = None;
    run_clients(cluster, clients, Duration::ZERO, &mut |_, _| {
        done += 1;
        if done == CRASH_AFTER_OPS {
            let (victim, held_alone) = worst_node(cluster)?;
            let acked_alone = acked_on_victim_alone(cluster, victim, &cluster.history())?;
            cluster.crash(victim)?;
            let survivors: Vec<NodeId> = cluster
                .nodes()
                .into_iter()
                .filter(|&n| n != victim)
                .collect();
            crash = Some(Crash {
                victim,
                held_alone,
                after_ops: done,
                at_ns: cluster.clock().now_ns(),
                survived: surviving_values(cluster, &survivors, keys)?,
                acked_alone,
            });
        }
        Ok(())
    })?;
    crash.ok_or_else(|| {
        Error::InvalidConfig(format!(
            "the grader's crash never came: only {done} operations were made"
        ))
    })
}

fn run<P, F>(factory: F, seed: u64) -> Result<Grade>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .protocol(factory)
        .coordinator(CoordinatorPolicy::Random)
        .latency(LINEARIZABLE_CLIENT_LINK)
        .client_timeout(CLIENT_TIMEOUT)
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    set_node_link_latency(&cluster, LINEARIZABLE_NODE_LINK)?;
    let keys: Vec<Vec<u8>> = (0..KEYS).map(|k| format!("key-{k}").into_bytes()).collect();
    let crash = workload(&cluster, seed, &keys)?;
    // What survived the crash: the other nodes' storage at its instant,
    // judged against the operations up to then. A write acknowledged
    // before the crash must already be on a node that did not crash — not
    // merely on its way there (a protocol that answers before its copies
    // are stored would otherwise pass whenever the copies land later).
    let lost = lost_writes(
        &history_until(&cluster.history(), crash.at_ns),
        &crash.survived,
    );
    // The node comes back; each key is written once more and read through
    // every node, all in the history the checker judges.
    cluster.restart(crash.victim)?;
    let restarted_ns = cluster.clock().now_ns();
    let mut client = cluster.client()?;
    for key in &keys {
        client.set_policy(CoordinatorPolicy::Random);
        let _ = client.put(
            key,
            format!("after-restart-{}", String::from_utf8_lossy(key)),
        );
        for node in cluster.nodes() {
            client.set_policy(CoordinatorPolicy::Fixed(node));
            let _ = client.get(key);
        }
    }
    let history = cluster.history();
    let verdict = Checker::new()
        .time_budget(Duration::from_secs(5))
        .check(&history);
    let handler_errors: u64 = cluster
        .metrics()
        .nodes
        .iter()
        .map(|n| n.handler_errors)
        .sum();
    // Operations made while every node was up: begun before the crash, or
    // after the restart.
    let all_up = |op: &&Operation| op.call_ns < crash.at_ns || op.call_ns >= restarted_ns;
    let up_ops = history.ops.iter().filter(all_up).count();
    let up_ok = history.ops.iter().filter(all_up).filter(|op| op.ok).count();
    let enough = super::ratio(up_ok as f64, up_ops as f64) >= MIN_OK;
    // Acknowledged writes on the victim alone are lost too, even when a
    // concurrent write keeps the history from proving it.
    let proven: BTreeSet<&[u8]> = lost.iter().map(|l| l.key.as_slice()).collect();
    let unproven = crash
        .acked_alone
        .iter()
        .filter(|key| !proven.contains(key.as_slice()))
        .count();
    let lost_total = lost.len() + unproven;
    let lost_keys: Vec<String> = {
        let mut keys: Vec<String> = lost
            .iter()
            .map(|l| l.key.clone())
            .chain(crash.acked_alone.iter().cloned())
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let measured = format!(
        "{} operations by {CLIENTS} clients on {KEYS} keys, client ↔ node messages delayed {}, \
         node ↔ node {}; {} ok, {} timed out or unknown, {} refused, {handler_errors} handler \
         errors; {} crashed after {} operations (it alone held the newest version of \
         {} of the {KEYS} keys) and restarted after the workload; {up_ok} of {up_ops} operations made while \
         every node was up succeeded; {} acknowledged writes lost with {}{}; checker: {}",
        history.len(),
        describe_link(LINEARIZABLE_CLIENT_LINK),
        describe_link(LINEARIZABLE_NODE_LINK),
        history.ops.iter().filter(|op| op.ok).count(),
        history
            .ops
            .iter()
            .filter(|op| op.return_ns.is_none())
            .count(),
        history
            .ops
            .iter()
            .filter(|op| !op.ok && op.return_ns.is_some())
            .count(),
        crash.victim,
        crash.after_ops,
        crash.held_alone,
        lost_total,
        crash.victim,
        if lost_keys.is_empty() {
            String::new()
        } else {
            format!(" (keys {})", lost_keys.join(", "))
        },
        match &verdict {
            CheckResult::Linearizable => "linearizable".to_string(),
            CheckResult::NotLinearizable(cx) => format!("NOT linearizable —\n{cx}"),
            other => other.to_string(),
        }
    );
    let linearizable = matches!(verdict, CheckResult::Linearizable);
    let passed = linearizable && lost_total == 0 && enough;
    // One explanation and hint per failed requirement, from what was seen.
    let mut why = Vec::new();
    let mut hints = Vec::new();
    match &verdict {
        CheckResult::Linearizable => {}
        CheckResult::NotLinearizable(_) => {
            why.push(
                "no single order of the operations explains what the clients saw (see the \
                 counterexample): some read returned a value that a completed write had \
                 already replaced, or values appeared and then disappeared",
            );
            hints.push(
                "one node per key must order every read and write of it, and a write may only \
                 be acknowledged once every node that can answer reads of the key has it",
            );
        }
        _ => {
            why.push(
                "the checker ran out of time before it could decide; a protocol that answers \
                 promptly produces a history it can decide",
            );
            hints.push("answer every request promptly, or refuse it: a long tail of timeouts is hard to check");
        }
    }
    if lost_total > 0 {
        why.push(
            "acknowledged writes were held only by the node that crashed: a write that one \
             node alone stores is gone with that node, however well it was ordered",
        );
        hints.push(
            "before acknowledging a write, copy it to the key's other replicas and wait until \
             they confirm they stored it (examples/primary_backup does), so any one node can \
             crash without taking an acknowledged write with it",
        );
    }
    if !enough {
        why.push(
            "fewer than 80 % of the operations made while every node was up succeeded: a store \
             that does not answer is consistent and useless",
        );
        hints.push(
            "every request must get an answer while the nodes are up — including a request \
             that one node passes on to another (reply to the client's `ReplyTo`)",
        );
    }
    let explanation = if passed {
        format!(
            "every operation can be placed at one instant within its call and return, in an \
             order all clients agree on, and every acknowledged write outlived the crash of {}: \
             the replicas behave like a single copy that no single failure can destroy",
            node_list(&[crash.victim])
        )
    } else {
        why.join("; and ")
    };
    let grade = Grade {
        replay: Some(super::replay_command("exercise_03_linearizable", seed)),
        history: None,
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [simulated, seed {seed}]"),
        explanation,
        hint: hints.join("; and "),
    };
    Ok(grade
        .with_history(cluster.history())
        .unless_panicked(&cluster.metrics().node_panics()))
}
