//! The cluster runtime on the single-copy protocol: builder validation, crash
//! and restart, pause, concurrency, clean shutdown.

use replikv::{Cluster, Consistency, Error, NodeId, StorageKind};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[test]
fn each_invalid_builder_setting_yields_its_error() {
    let invalid = |b: replikv::ClusterBuilder, needle: &str| match b.build() {
        Err(Error::InvalidConfig(msg)) => assert!(msg.contains(needle), "{msg:?} lacks {needle:?}"),
        other => panic!("expected InvalidConfig about {needle:?}, got {other:?}"),
    };
    invalid(Cluster::builder().nodes(0), "at least one node");
    invalid(Cluster::builder().nodes(2).replication(3), "larger than");
    invalid(Cluster::builder().replication(0), "at least 1");
    invalid(Cluster::builder().client_timeout(Duration::ZERO), "timeout");
    invalid(
        Cluster::builder().nodes(3).weights(&[1.0, 2.0]),
        "one per node",
    );
    invalid(Cluster::builder().nodes(2).weights(&[1.0, -2.0]), "weight");
    invalid(
        Cluster::builder()
            .nodes(2)
            .weights(&[1.0, 2.0])
            .partitioning(replikv::partition::Strategy::Jump),
        "weight",
    );
    invalid(
        Cluster::builder().latency(replikv::network::Latency::Uniform {
            min: Duration::from_millis(3),
            max: Duration::from_millis(1),
        }),
        "min",
    );
    invalid(
        Cluster::builder()
            .consistency(replikv::Consistency::Strong)
            .hybrid_clock(true),
        "hybrid clock",
    );
}

#[test]
fn fault_calls_on_unknown_or_wrong_state_nodes_are_errors() {
    let cluster = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    assert!(matches!(
        cluster.crash(NodeId(7)),
        Err(Error::UnknownNode(NodeId(7)))
    ));
    assert!(matches!(
        cluster.restart(NodeId(1)),
        Err(Error::NodeNotCrashed(NodeId(1)))
    ));
    cluster.crash(NodeId(1)).unwrap();
    assert!(matches!(
        cluster.crash(NodeId(1)),
        Err(Error::NodeAlreadyCrashed(NodeId(1)))
    ));
    assert!(matches!(
        cluster.pause(NodeId(1), Duration::from_millis(1)),
        Err(Error::NodeAlreadyCrashed(NodeId(1)))
    ));
    assert!(matches!(
        cluster.set_clock_skew(NodeId(9), 5),
        Err(Error::UnknownNode(_))
    ));
    cluster.restart(NodeId(1)).unwrap();
    // The cluster keeps serving after every refused call.
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn bad_keys_and_values_are_refused_before_reaching_the_network() {
    let cluster = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    assert!(matches!(client.put("", "v"), Err(Error::EmptyKey)));
    assert!(matches!(
        client.get(vec![b'k'; replikv::MAX_KEY_LEN + 1]),
        Err(Error::KeyTooLong { .. })
    ));
    assert!(matches!(
        client.put("k", vec![0u8; replikv::MAX_VALUE_LEN + 1]),
        Err(Error::ValueTooLong { .. })
    ));
    assert_eq!(cluster.network().stats().sent, 0);
    assert!(cluster.history().is_empty());
}

#[test]
fn a_crashed_nodes_data_is_back_after_restart() {
    let cluster = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Temporary)
        .client_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    for i in 0..50 {
        client.put(format!("k{i}"), format!("v{i}")).unwrap();
    }
    for node in cluster.nodes() {
        cluster.crash(node).unwrap();
        assert!(!cluster.is_up(node).unwrap());
    }
    assert!(matches!(client.get("k1"), Err(Error::Timeout(_))));
    for node in cluster.nodes() {
        cluster.restart(node).unwrap();
    }
    for i in 0..50 {
        assert_eq!(
            client.get(format!("k{i}")).unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    let history = cluster.history();
    let timed_out: Vec<_> = history
        .ops
        .iter()
        .filter(|op| op.is_indeterminate())
        .collect();
    assert_eq!(
        timed_out.len(),
        1,
        "the read during the outage is indeterminate"
    );
}

#[test]
fn thirty_two_clients_doing_a_thousand_operations_each_lose_no_acknowledged_write() {
    let cluster = Cluster::builder()
        .nodes(4)
        .storage(StorageKind::Temporary)
        .client_timeout(Duration::from_secs(10))
        .record_history(false)
        .build()
        .unwrap();
    let acknowledged: Vec<HashMap<String, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|t| {
                let cluster = &cluster;
                s.spawn(move || {
                    let mut client = cluster.client().unwrap();
                    let mut last = HashMap::new();
                    for i in 0..1000 {
                        let key = format!("t{t}-k{}", i % 20);
                        if i % 3 == 2 {
                            let read = client.get(&key).unwrap();
                            assert_eq!(
                                read.map(String::from_utf8).transpose().unwrap(),
                                last.get(&key).cloned()
                            );
                        } else {
                            let value = format!("t{t}-v{i}");
                            client.put(&key, &value).unwrap();
                            last.insert(key, value);
                        }
                    }
                    last
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut reader = cluster.client().unwrap();
    for last in acknowledged {
        for (key, value) in last {
            assert_eq!(
                reader.get(&key).unwrap(),
                Some(value.into_bytes()),
                "key {key}"
            );
        }
    }
    assert_eq!(cluster.metrics().ok, 32 * 1000 + 32 * 20);
}

#[test]
fn a_paused_node_answers_after_its_pause() {
    let cluster = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    let pause = Duration::from_millis(50);
    let started = Instant::now();
    cluster.pause(NodeId(0), pause).unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
    assert!(
        started.elapsed() >= pause,
        "the node answered during its pause"
    );
}

#[test]
fn clock_skew_moves_one_nodes_clock_only() {
    let cluster = Cluster::builder()
        .nodes(2)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let clock = cluster.clock().clone();
    cluster.set_clock_skew(NodeId(1), -2_000_000_000).unwrap();
    let (a, b) = (clock.node_now_ns(NodeId(0)), clock.node_now_ns(NodeId(1)));
    assert!(a > b + 1_900_000_000, "n1 is 2 s behind n0: {a} vs {b}");
    assert_eq!(clock.skew(NodeId(0)), 0);
}

#[test]
fn typed_values_round_trip_and_a_wrong_type_is_a_decode_error() {
    let cluster = Cluster::builder()
        .nodes(2)
        .consistency(Consistency::SingleCopy)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put_typed("v", &vec![1u64, 2, 3]).unwrap();
    assert_eq!(
        client.get_typed::<Vec<u64>>("v").unwrap(),
        Some(vec![1, 2, 3])
    );
    client
        .put(
            "s",
            [0xFFu8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        )
        .unwrap();
    assert!(matches!(
        client.get_typed::<String>("s"),
        Err(Error::Decode(_))
    ));
}

#[test]
fn every_client_operation_is_recorded_with_its_outcome() {
    let cluster = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Memory)
        .client_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("a", "1").unwrap();
    client.get("a").unwrap();
    client.delete("a").unwrap();
    cluster.crash(NodeId(0)).unwrap();
    assert!(client.get("a").is_err());
    let ops = cluster.history().ops;
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[1].output.as_deref(), Some(&b"1"[..]));
    assert!(ops[..3].iter().all(|op| op.ok && op.return_ns.is_some()));
    assert!(ops[3].is_indeterminate() && !ops[3].ok);
    assert!(ops.windows(2).all(|w| w[0].call_ns <= w[1].call_ns));
}
