//! Consensus mode: live `add_node` / `remove_node` keep linearizability.
//! Membership changes stop the world and make every member a copy of the
//! most up-to-date node (see `replikv::protocol::consensus::membership`);
//! here a join and a leave happen while clients have operations in flight,
//! under message loss, duplication, delay, a crash, a partition and a
//! pause, on simulated schedules (seed printed on failure).
//!
//! `MEMBERSHIP_SCHEDULES` sets how many (default 20).

use replikv::client::{Op, Ticket};
use replikv::history::{CheckResult, Checker};
use replikv::network::Latency;
use replikv::protocol::ConsensusConfig;
use replikv::rand::rngs::ChaCha8Rng;
use replikv::rand::{RngExt, SeedableRng};
use replikv::{Client, Cluster, Consistency, CoordinatorPolicy, NodeId, Runtime};
use std::time::Duration;

fn random_op(rng: &mut ChaCha8Rng, client: usize, i: usize) -> Op {
    let key = format!("k{}", rng.random_range(0..2)).into_bytes();
    let value = format!("c{client}-{i}").into_bytes();
    match rng.random_range(0..10) {
        0..4 => Op::Get { key },
        4..7 => Op::Put { key, value },
        _ => Op::Cas {
            key,
            expected: rng.random_bool(0.7).then(|| {
                format!("c{}-{}", rng.random_range(0..3), i.saturating_sub(1)).into_bytes()
            }),
            new: Some(value),
        },
    }
}

/// Which of `n` nodes to pause in schedule `seed`.
fn rng_pick(seed: u64, n: usize) -> usize {
    (seed as usize * 7 + 3) % n
}

/// Each client submits one operation; the change (if any) runs while
/// they are in flight; then every client waits for its answer (a timeout
/// is recorded as indeterminate).
fn round(clients: &mut [Client], rng: &mut ChaCha8Rng, i: usize, change: impl FnOnce()) {
    let tickets: Vec<Ticket> = clients
        .iter_mut()
        .enumerate()
        .map(|(c, client)| client.submit(random_op(rng, c, i)).unwrap())
        .collect();
    change();
    for (client, ticket) in clients.iter_mut().zip(tickets) {
        let _ = client.wait(ticket);
    }
}

fn schedule(seed: u64, snapshot_threshold: u64) {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .consensus(ConsensusConfig {
            snapshot_threshold,
            ..ConsensusConfig::default()
        })
        .latency(Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        })
        .client_timeout(Duration::from_millis(800))
        .seed(seed)
        .build()
        .unwrap();
    cluster.network().set_drop_probability(0.05).unwrap();
    cluster.network().set_duplicate_probability(0.05).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut clients: Vec<Client> = (0..3).map(|_| cluster.client().unwrap()).collect();
    let mut joined = None;
    let leaving = NodeId(rng.random_range(0..3));
    for i in 0..40 {
        match i {
            10 => round(&mut clients, &mut rng, i, || {
                joined = Some(cluster.add_node().unwrap().node.unwrap());
            }),
            15 => round(&mut clients, &mut rng, i, || {
                cluster.crash(leaving).unwrap()
            }),
            18 => round(&mut clients, &mut rng, i, || {
                cluster.restart(leaving).unwrap()
            }),
            22 => round(&mut clients, &mut rng, i, || {
                cluster.remove_node(leaving).unwrap();
            }),
            26 => round(&mut clients, &mut rng, i, || {
                let node = joined.unwrap();
                let rest: Vec<NodeId> =
                    cluster.nodes().into_iter().filter(|&n| n != node).collect();
                cluster.network().partition(&[&[node], &rest]).unwrap();
            }),
            29 => round(&mut clients, &mut rng, i, || {
                let nodes = cluster.nodes();
                let node = nodes[rng_pick(seed, nodes.len())];
                cluster.pause(node, Duration::from_millis(500)).unwrap();
            }),
            32 => round(&mut clients, &mut rng, i, || cluster.network().heal()),
            _ => round(&mut clients, &mut rng, i, || {}),
        }
    }
    assert_eq!(cluster.nodes().len(), 3, "seed {seed}");
    assert!(!cluster.nodes().contains(&leaving), "seed {seed}");
    // The group still commits, through the node that joined.
    cluster.network().set_drop_probability(0.0).unwrap();
    cluster.run_for(Duration::from_secs(1));
    let mut last = cluster.client().unwrap();
    last.set_policy(CoordinatorPolicy::Fixed(joined.unwrap()));
    last.put("k0", "final").unwrap();
    assert_eq!(
        last.get("k0").unwrap(),
        Some(b"final".to_vec()),
        "seed {seed}"
    );
    let history = cluster.history();
    assert!(
        history.ops.iter().filter(|o| o.ok).count() > 40,
        "seed {seed}: the workload made progress"
    );
    match Checker::new().check(&history) {
        CheckResult::Linearizable => {}
        other => panic!("seed {seed}: {other:?}\n{}", history.to_json()),
    }
}

#[test]
fn a_join_and_a_leave_during_a_workload_stay_linearizable() {
    let n: u64 = std::env::var("MEMBERSHIP_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for seed in 0..n {
        // Half the schedules compact the log, so a copy carries a snapshot.
        schedule(seed, if seed % 2 == 0 { 8 } else { 0 });
    }
}

#[test]
fn a_joining_node_starts_with_every_committed_entry() {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    for i in 0..20 {
        client.put(format!("k{i}"), "v").unwrap();
    }
    let report = cluster.add_node().unwrap();
    let joined = report.node.unwrap();
    assert_eq!(report.keys, 20);
    let records = cluster.store(joined).unwrap().records().unwrap();
    assert_eq!(records.len(), 20, "the new member holds the state machine");
    // Two of the three old members go: the group is {the survivor, the
    // new node}, whose majority is both, and it still has everything.
    cluster.remove_node(NodeId(0)).unwrap();
    cluster.remove_node(NodeId(1)).unwrap();
    client.set_policy(CoordinatorPolicy::Fixed(joined));
    assert_eq!(client.get("k19").unwrap(), Some(b"v".to_vec()));
    assert!(
        client
            .compare_and_set("k0", Some(b"v"), Some(b"w"))
            .unwrap()
    );
    assert!(Checker::new().check(&cluster.history()).is_linearizable());
}

#[test]
fn the_last_member_cannot_leave() {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(1)
        .consistency(Consistency::Consensus)
        .build()
        .unwrap();
    let refused = cluster.remove_node(NodeId(0));
    assert!(
        matches!(&refused, Err(replikv::Error::InvalidConfig(_))),
        "{refused:?}"
    );
    assert_eq!(cluster.nodes(), [NodeId(0)]);
    let mut client = cluster.client().unwrap();
    client.put("k", "still serving").unwrap();
}

#[test]
fn chained_changes_with_a_member_down_lose_nothing() {
    // The case that makes naive membership changes unsafe: a write
    // committed on a bare majority {0, 1} of {0, 1, 2}; two empty nodes
    // join, so {2, 3, 4} is a majority of five that never saw it. If the
    // joiners started empty, {2, 3, 4} would elect a leader without it.
    for seed in 0..3 {
        let cluster = Cluster::builder()
            .runtime(Runtime::Simulated)
            .nodes(3)
            .consistency(Consistency::Consensus)
            .seed(seed)
            .build()
            .unwrap();
        cluster.crash(NodeId(2)).unwrap();
        cluster.run_for(Duration::from_secs(1));
        let mut client = cluster.client().unwrap();
        client.set_policy(CoordinatorPolicy::Fixed(NodeId(0)));
        client.put("x", "committed").unwrap();
        cluster.add_node().unwrap();
        cluster.add_node().unwrap();
        cluster.crash(NodeId(0)).unwrap();
        cluster.crash(NodeId(1)).unwrap();
        cluster.restart(NodeId(2)).unwrap();
        cluster.run_for(Duration::from_secs(2));
        client.set_policy(CoordinatorPolicy::Fixed(NodeId(3)));
        assert_eq!(
            client.get("x").unwrap(),
            Some(b"committed".to_vec()),
            "seed {seed}"
        );
        assert!(Checker::new().check(&cluster.history()).is_linearizable());
    }
}

#[test]
fn a_join_and_a_leave_work_on_threads() {
    let cluster = Cluster::builder()
        .runtime(Runtime::Threads)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.set_timeout(Duration::from_secs(5));
    for i in 0..20 {
        client.put(format!("k{i}"), "a").unwrap();
    }
    let joined = cluster.add_node().unwrap().node.unwrap();
    cluster.remove_node(NodeId(0)).unwrap();
    // Elections after the restart take a timeout or two: poll, bounded.
    client.set_policy(CoordinatorPolicy::Fixed(joined));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let swapped = loop {
        match client.compare_and_set("k3", Some(b"a"), Some(b"b")) {
            Ok(swapped) => break swapped,
            Err(e) if std::time::Instant::now() < deadline => eprintln!("retrying: {e}"),
            Err(e) => panic!("no answer after 20 s: {e}"),
        }
    };
    assert!(swapped || client.get("k3").unwrap() == Some(b"b".to_vec()));
    assert_eq!(client.get("k19").unwrap(), Some(b"a".to_vec()));
    assert!(Checker::new().check(&cluster.history()).is_linearizable());
}
