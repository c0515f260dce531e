//! Coordinator policies against one slow node, on the deterministic
//! simulator (`replikv::lab::balancing`): the load-aware policies send the
//! slow node less and cut the latency the clients see; the figures replay
//! from the seed.

use replikv::lab::balancing::{POLICIES, PolicyOutcome, SlowNode, compare_policies};
use replikv::{Cluster, CoordinatorPolicy, NodeId, StorageKind};

/// 16 clients × 100 operations on 5 nodes, node 0 taking 20 ms per message.
fn trial(seed: u64) -> SlowNode {
    SlowNode {
        ops_per_client: 100,
        seed,
        ..SlowNode::default()
    }
}

fn by_policy(outcomes: &[PolicyOutcome], policy: CoordinatorPolicy) -> &PolicyOutcome {
    outcomes
        .iter()
        .find(|o| o.policy == policy)
        .unwrap_or_else(|| panic!("no outcome for {policy:?}"))
}

/// The oblivious policies give the slow node its full share (about 1/5 of
/// the requests), so about a fifth of the operations take 20 ms and the
/// 90th percentile is slow. The load-aware policies see its requests pile
/// up — which only works because the outstanding counts are shared by all
/// 16 clients: each client has one request in flight at most, so a count
/// of its own would see every node at 0 — and send it under a third of
/// its share, which brings the 90th percentile and the mean down several
/// times and finishes the same work sooner.
#[test]
fn load_aware_policies_avoid_the_slow_node() {
    for seed in [1, 2] {
        let outcomes = compare_policies(&trial(seed), &POLICIES).expect("runs");
        let context = format!("seed {seed}: {outcomes:#?}");
        for o in &outcomes {
            assert_eq!(o.failed, 0, "{context}");
            assert_eq!(o.latency.count, 16 * 100, "{context}");
        }
        for oblivious in [
            CoordinatorPolicy::First,
            CoordinatorPolicy::Random,
            CoordinatorPolicy::RoundRobin,
        ] {
            let o = by_policy(&outcomes, oblivious);
            assert!(
                (0.15..0.25).contains(&o.slow_share),
                "{oblivious:?}, {context}"
            );
            assert!(o.latency.p90_us >= 20_000, "{oblivious:?}, {context}");
        }
        let random = by_policy(&outcomes, CoordinatorPolicy::Random);
        for aware in [
            CoordinatorPolicy::LeastOutstanding,
            CoordinatorPolicy::PowerOfTwoChoices,
        ] {
            let o = by_policy(&outcomes, aware);
            assert!(o.slow_share < 0.2 / 3.0, "{aware:?}, {context}");
            assert!(
                o.latency.p90_us * 2 < random.latency.p90_us,
                "{aware:?}, {context}"
            );
            assert!(
                o.latency.mean_us * 1.5 < random.latency.mean_us,
                "{aware:?}, {context}"
            );
            assert!(o.duration < random.duration, "{aware:?}, {context}");
        }
    }
}

/// Same seed, same figures: the measurement is reproducible.
#[test]
fn the_measurement_replays_from_its_seed() {
    let small = SlowNode {
        clients: 4,
        ops_per_client: 50,
        ..SlowNode::default()
    };
    for policy in [
        CoordinatorPolicy::PowerOfTwoChoices,
        CoordinatorPolicy::LeastOutstanding,
    ] {
        assert_eq!(
            small.run(policy).expect("runs"),
            small.run(policy).expect("runs")
        );
    }
}

#[test]
fn bad_settings_are_errors() {
    for bad in [
        SlowNode {
            replicas: 0,
            ..SlowNode::default()
        },
        SlowNode {
            replicas: 6,
            ..SlowNode::default()
        },
        SlowNode {
            slow_node: NodeId(5),
            ..SlowNode::default()
        },
        SlowNode {
            clients: 0,
            ..SlowNode::default()
        },
    ] {
        assert!(bad.run(CoordinatorPolicy::Random).is_err(), "{bad:?}");
    }
}

/// The new policies work on the threaded runtime too, for every operation,
/// and choose only among the key's replicas.
#[test]
fn load_aware_policies_serve_operations_on_threads() {
    for policy in [
        CoordinatorPolicy::LeastOutstanding,
        CoordinatorPolicy::PowerOfTwoChoices,
    ] {
        let cluster = Cluster::builder()
            .nodes(4)
            .replication(2)
            .storage(StorageKind::Memory)
            .coordinator(policy)
            .build()
            .expect("builds");
        let mut client = cluster.client().expect("client");
        for i in 0..40 {
            let key = format!("k{i}");
            client.put(&key, "v").expect("put");
            assert_eq!(client.get(&key).expect("get"), Some(b"v".to_vec()));
        }
        let metrics = cluster.metrics();
        assert_eq!(metrics.ok, 80);
        let coordinated: u64 = metrics.nodes.iter().map(|n| n.requests).sum();
        assert_eq!(coordinated, 80, "{policy:?}");
        // A single client with one request at a time sees ties everywhere:
        // random tie-breaking spreads its requests over more than one node.
        assert!(
            metrics.nodes.iter().filter(|n| n.requests > 0).count() > 1,
            "{policy:?}"
        );
    }
}
