//! Eventual mode's two read strategies — ask exactly R replicas, or ask all
//! N and answer after the first R — and a coordinator outside the key's
//! replicas: how many read requests go out and when the read answers
//! (message kinds seen by a fault hook, on virtual time), and, under loss,
//! duplication, delay, a partition and a crash, convergence without a lost
//! acknowledged write.

mod eventual_support;

use eventual_support::{SeedGuard, check_no_lost_writes, seeds};
use replikv::network::{EnvelopeInfo, Latency, MessageKind, Verdict};
use replikv::protocol::eventual::{Eventual, EventualConfig, ReadStrategy};
use replikv::{
    Client, Cluster, ClusterBuilder, CoordinatorPolicy, Endpoint, Error, NodeId, Runtime,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A simulated eventual cluster with a tick far beyond the test's reads, so
/// that no retransmission or widening adds read requests of its own.
fn quiet_cluster(
    nodes: usize,
    r: usize,
    strategy: ReadStrategy,
    coordinator: CoordinatorPolicy,
) -> Cluster {
    let config = EventualConfig {
        read_strategy: strategy,
        tick: Duration::from_secs(10),
        anti_entropy: None,
        ..EventualConfig::new(r, 1)
    };
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(nodes)
        .replication(3)
        .coordinator(coordinator)
        .client_timeout(Duration::from_secs(30))
        .protocol(move |_| Eventual::with_config(config.clone()))
        .build()
        .unwrap()
}

/// What one get did: read requests sent between nodes, and how long it
/// took in virtual time, with read responses from `fast` taking 1 ms and
/// from every other replica 50 ms.
fn timed_get(cluster: &Cluster, client: &mut Client, key: &str, fast: NodeId) -> (u64, Duration) {
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    cluster.network().set_fault_hook(move |e: &EnvelopeInfo| {
        let between_nodes = matches!((e.from, e.to), (Endpoint::Node(_), Endpoint::Node(_)));
        match e.kind {
            MessageKind::ReadRequest if between_nodes => {
                counted.fetch_add(1, Ordering::Relaxed);
                None
            }
            MessageKind::ReadResponse if between_nodes => {
                Some(Verdict::Deliver(if e.from == Endpoint::Node(fast) {
                    Duration::from_millis(1)
                } else {
                    Duration::from_millis(50)
                }))
            }
            _ => None,
        }
    });
    let before = cluster.clock().now_ns();
    assert_eq!(client.get(key).unwrap(), Some(b"v".to_vec()));
    let took = Duration::from_nanos(cluster.clock().now_ns() - before);
    cluster.network().clear_fault_hook();
    (requests.load(Ordering::Relaxed), took)
}

#[test]
fn reads_to_all_replicas_send_n_requests_and_answer_after_the_first_r() {
    // A coordinator outside the replicas (4 nodes, N = 3): every answer
    // comes over the network. The fast replica is the last of the key's
    // preference list, the one an R = 1 read that asks exactly R skips.
    for (strategy, r, requests, took_ms) in [
        (ReadStrategy::AskAll, 1, 3, 1),
        (ReadStrategy::AskAll, 2, 3, 50),
        (ReadStrategy::AskAll, 3, 3, 50),
        (ReadStrategy::AskR, 1, 1, 50),
        (ReadStrategy::AskR, 2, 2, 50),
    ] {
        let cluster = quiet_cluster(4, r, strategy, CoordinatorPolicy::NonReplica);
        let mut client = cluster.client().unwrap();
        client.put("k", "v").unwrap();
        cluster.run_for(Duration::from_millis(1));
        let fast = cluster.placement().replicas(b"k")[2];
        let got = timed_get(&cluster, &mut client, "k", fast);
        assert_eq!(
            got,
            (requests, Duration::from_millis(took_ms)),
            "{strategy:?} R = {r}: (read requests, time to answer)"
        );
    }
}

#[test]
fn a_replica_coordinator_reads_its_own_copy_and_asks_the_others() {
    // The key's primary coordinates: its own copy is one answer, at once.
    for (strategy, r, requests, took_ms) in [
        (ReadStrategy::AskAll, 1, 2, 0),
        (ReadStrategy::AskAll, 2, 2, 1),
        (ReadStrategy::AskR, 1, 0, 0),
        (ReadStrategy::AskR, 2, 1, 50),
    ] {
        let cluster = quiet_cluster(3, r, strategy, CoordinatorPolicy::First);
        let mut client = cluster.client().unwrap();
        client.put("k", "v").unwrap();
        cluster.run_for(Duration::from_millis(1));
        let fast = cluster.placement().replicas(b"k")[2];
        let got = timed_get(&cluster, &mut client, "k", fast);
        assert_eq!(
            got,
            (requests, Duration::from_millis(took_ms)),
            "{strategy:?} R = {r}: (read requests, time to answer)"
        );
    }
}

#[test]
fn a_coordinator_outside_the_replicas_stores_nothing_itself() {
    let cluster = quiet_cluster(5, 1, ReadStrategy::AskAll, CoordinatorPolicy::NonReplica);
    let mut client = cluster.client().unwrap();
    for i in 0..20 {
        client.put(format!("k{i}"), "v").unwrap();
    }
    cluster.run_for(Duration::from_millis(10));
    // Every node holds exactly the keys it replicates: the coordinators,
    // never replicas of the keys they coordinated, kept no copy.
    for i in 0..20 {
        let key = format!("k{i}");
        let replicas = cluster.placement().replicas(key.as_bytes());
        for node in cluster.nodes() {
            let held = cluster
                .store(node)
                .unwrap()
                .get_record(key.as_bytes())
                .unwrap()
                .is_some();
            assert_eq!(held, replicas.contains(&node), "{key} on {node}");
        }
    }
}

#[test]
fn a_coordinator_outside_the_replicas_needs_a_node_outside_them() {
    let too_few = Cluster::builder()
        .nodes(3)
        .replication(3)
        .coordinator(CoordinatorPolicy::NonReplica)
        .build();
    match too_few {
        Err(Error::InvalidConfig(m)) => assert!(m.contains("at least 4 nodes"), "{m}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

/// A simulated eventual cluster of 5 nodes, N = 3.
fn faulty_cluster(
    r: usize,
    w: usize,
    strategy: ReadStrategy,
    coordinator: CoordinatorPolicy,
    seed: u64,
) -> Cluster {
    ClusterBuilder::default()
        .runtime(Runtime::Simulated)
        .nodes(5)
        .replication(3)
        .consistency(replikv::Consistency::Eventual { r, w })
        .read_strategy(strategy)
        .coordinator(coordinator)
        .client_timeout(Duration::from_millis(500))
        .seed(seed)
        .build()
        .unwrap()
}

/// Three clients take turns, each writing and reading its own keys in
/// order (one writer per key, so the last acknowledged write must survive).
fn workload(clients: &mut [Client], ops: usize, tag: &str) -> u64 {
    let mut reads = 0;
    for i in 0..ops {
        for (c, client) in clients.iter_mut().enumerate() {
            let key = format!("c{c}-k{}", i % 4);
            let result = match i % 4 {
                0 | 1 => client.put(&key, format!("{tag}-{c}-{i}")),
                2 => client.get(&key).map(|_| reads += 1),
                _ if i % 8 == 3 => client.delete(&key),
                _ => client.put(&key, format!("{tag}-{c}-{i}b")),
            };
            match result {
                Ok(()) | Err(Error::Timeout(_) | Error::Unavailable(_) | Error::Protocol(_)) => {}
                Err(other) => panic!("unexpected error {other}"),
            }
        }
    }
    reads
}

#[test]
fn both_read_strategies_converge_without_losing_acknowledged_writes_under_faults() {
    for seed in seeds(&[1, 2]) {
        for strategy in [ReadStrategy::AskR, ReadStrategy::AskAll] {
            for coordinator in [CoordinatorPolicy::Random, CoordinatorPolicy::NonReplica] {
                let _guard = SeedGuard(seed);
                let (r, w) = if seed % 2 == 0 { (1, 1) } else { (2, 2) };
                let what = format!("seed {seed}, {strategy:?}, {coordinator:?}, R={r} W={w}");
                let cluster = faulty_cluster(r, w, strategy, coordinator, seed);
                let net = cluster.network();
                let mut clients: Vec<Client> = (0..3).map(|_| cluster.client().unwrap()).collect();
                // Clients reach every node at once and reliably; the faults
                // land on the protocol.
                net.set_client_latency(Some(Latency::Zero)).unwrap();
                net.set_fault_scope(replikv::network::FaultScope::NodeLinks);
                net.set_drop_probability(0.1).unwrap();
                net.set_duplicate_probability(0.1).unwrap();
                net.set_latency(Latency::Uniform {
                    min: Duration::ZERO,
                    max: Duration::from_millis(4),
                })
                .unwrap();
                let mut reads = workload(&mut clients, 24, "lossy");
                net.partition(&[&[NodeId(0), NodeId(1)], &[NodeId(2), NodeId(3), NodeId(4)]])
                    .unwrap();
                reads += workload(&mut clients, 16, "split");
                net.heal();
                let victim = NodeId((seed % 5) as u32);
                cluster.crash(victim).unwrap();
                reads += workload(&mut clients, 16, "crash");
                cluster.restart(victim).unwrap();
                net.clear_faults();
                assert!(
                    cluster
                        .wait_for_convergence(Duration::from_secs(30))
                        .unwrap(),
                    "{what}: did not converge"
                );
                let history = cluster.history();
                let acked = history
                    .ops
                    .iter()
                    .filter(|op| op.is_write() && op.ok)
                    .count();
                let read_ok = history
                    .ops
                    .iter()
                    .filter(|op| !op.is_write() && op.ok)
                    .count();
                assert!(
                    acked > 0 && read_ok > 0,
                    "{what}: {acked} writes, {read_ok} of {reads} reads ok"
                );
                check_no_lost_writes(&history, &cluster.final_values().unwrap());
            }
        }
    }
}
