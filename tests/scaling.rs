//! Live scaling: nodes join and leave while clients run; the keys that move
//! are copied to their new replicas and no acknowledged write is lost.

use replikv::partition::Strategy;
use replikv::{Cluster, Consistency, Error, NodeId, StorageKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn cluster(consistency: Consistency, strategy: Strategy, seed: u64) -> Cluster {
    Cluster::builder()
        .nodes(4)
        .replication(if consistency == Consistency::SingleCopy {
            1
        } else {
            3
        })
        .consistency(consistency)
        .partitioning(strategy)
        .storage(StorageKind::Memory)
        .client_timeout(Duration::from_secs(2))
        .seed(seed)
        .build()
        .unwrap()
}

/// Runs `clients` writers (each on its own keys) while `change` runs; returns
/// each key's last acknowledged value.
fn under_load(cluster: &Cluster, clients: usize, change: impl FnOnce()) -> HashMap<String, String> {
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let mut client = cluster.client().unwrap();
                let stop = stop.clone();
                s.spawn(move || {
                    let mut acked = HashMap::new();
                    let mut i = 0;
                    // At least 200 operations, and on until the change is done.
                    while i < 200 || !stop.load(Ordering::Relaxed) {
                        let key = format!("c{c}-k{}", i % 25);
                        let value = format!("c{c}-v{i}");
                        match client.put(&key, &value) {
                            Ok(()) => {
                                acked.insert(key, value);
                            }
                            Err(e) => assert!(e.is_indeterminate(), "put {key}: {e}"),
                        }
                        i += 1;
                    }
                    acked
                })
            })
            .collect();
        // Let the clients get going before the change (bounded wait).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while cluster.metrics().ok < 100 * clients as u64 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        change();
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

fn assert_all_readable(cluster: &Cluster, acked: &HashMap<String, String>, seed: u64) {
    let mut reader = cluster.client().unwrap();
    for (key, value) in acked {
        assert_eq!(
            reader.get(key).unwrap(),
            Some(value.clone().into_bytes()),
            "{key} lost its acknowledged value (seed {seed})"
        );
    }
}

#[test]
fn adding_a_node_under_load_moves_keys_and_loses_no_acknowledged_write() {
    for (seed, strategy) in [
        (1, Strategy::Rendezvous),
        (2, Strategy::Ring { vnodes: 64 }),
        (3, Strategy::Jump),
        (4, Strategy::Modulo),
    ] {
        let cluster = cluster(Consistency::SingleCopy, strategy, seed);
        let mut moved = None;
        let acked = under_load(&cluster, 4, || moved = Some(cluster.add_node().unwrap()));
        let moved = moved.unwrap();
        assert_eq!(moved.node, Some(NodeId(4)));
        assert!(
            moved.keys_moved > 0,
            "{strategy}: nothing moved (seed {seed})"
        );
        assert!(moved.keys_moved <= moved.keys);
        assert_eq!(cluster.nodes().len(), 5);
        assert_all_readable(&cluster, &acked, seed);
        // The new node really holds the keys it now owns.
        let p = cluster.placement().partitioner();
        let owned: Vec<_> = acked
            .keys()
            .filter(|k| p.owner(k.as_bytes()) == NodeId(4))
            .collect();
        let store = cluster.store(NodeId(4)).unwrap();
        for key in owned {
            assert!(
                store.get_record(key.as_bytes()).unwrap().is_some(),
                "{key} not on n4 (seed {seed})"
            );
        }
    }
}

#[test]
fn removing_a_node_under_load_loses_no_acknowledged_write() {
    for (seed, strategy) in [
        (5, Strategy::Rendezvous),
        (6, Strategy::Ring { vnodes: 64 }),
    ] {
        let cluster = cluster(Consistency::SingleCopy, strategy, seed);
        let mut moved = None;
        let acked = under_load(&cluster, 4, || {
            moved = Some(cluster.remove_node(NodeId(1)).unwrap())
        });
        assert!(moved.unwrap().keys_moved > 0);
        assert_eq!(cluster.nodes(), vec![NodeId(0), NodeId(2), NodeId(3)]);
        assert!(matches!(
            cluster.crash(NodeId(1)),
            Err(Error::UnknownNode(_))
        ));
        assert_all_readable(&cluster, &acked, seed);
    }
}

#[test]
fn jump_hash_refuses_to_remove_a_node_other_than_the_last() {
    let cluster = cluster(Consistency::SingleCopy, Strategy::Jump, 7);
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    assert!(matches!(
        cluster.remove_node(NodeId(1)),
        Err(Error::InvalidConfig(_))
    ));
    assert_eq!(cluster.nodes().len(), 4, "nothing changed");
    cluster.remove_node(NodeId(3)).unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn removing_below_the_replication_factor_is_refused() {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    assert!(matches!(
        cluster.remove_node(NodeId(0)),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        cluster.remove_node(NodeId(9)),
        Err(Error::UnknownNode(_))
    ));
}

/// Several clients on a small key space (so operations collide) while nodes
/// join and leave; returns the recorded history.
fn contended_history(cluster: &Cluster, seed: u64) -> replikv::history::History {
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        for c in 0..4 {
            let mut client = cluster.client().unwrap();
            let stop = stop.clone();
            s.spawn(move || {
                let mut i = 0u64;
                while i < 100 || !stop.load(Ordering::Relaxed) {
                    let key = format!("k{}", (i + c) % 4);
                    let _ = if i.is_multiple_of(2) {
                        client.put(&key, format!("c{c}-{i}"))
                    } else {
                        client.get(&key).map(|_| ())
                    };
                    i += 1;
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while cluster.metrics().ok < 200 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let added = cluster
            .add_node()
            .unwrap_or_else(|e| panic!("add (seed {seed}): {e}"));
        assert!(added.keys_moved > 0, "seed {seed}");
        let target = cluster.metrics().ok + 200;
        while cluster.metrics().ok < target && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        cluster
            .remove_node(NodeId(0))
            .unwrap_or_else(|e| panic!("remove (seed {seed}): {e}"));
        stop.store(true, Ordering::Relaxed);
    });
    cluster.history()
}

#[test]
fn strong_mode_stays_linearizable_through_a_node_joining_and_leaving() {
    use replikv::history::Checker;
    for seed in [11, 12] {
        let cluster = cluster(Consistency::Strong, Strategy::Ring { vnodes: 32 }, seed);
        cluster
            .network()
            .set_latency(replikv::network::Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_micros(500),
            })
            .unwrap();
        let history = contended_history(&cluster, seed);
        let verdict = Checker::new().check(&history);
        assert!(verdict.is_linearizable(), "seed {seed}: {verdict}");
        assert_eq!(
            cluster.nodes(),
            vec![NodeId(1), NodeId(2), NodeId(3), NodeId(4)]
        );
    }
}

#[test]
fn eventual_mode_converges_after_a_node_joins_and_leaves_losing_nothing_acknowledged() {
    use replikv::history::lost_writes;
    for seed in [13, 14] {
        let cluster = cluster(
            Consistency::Eventual { r: 2, w: 2 },
            Strategy::Rendezvous,
            seed,
        );
        cluster
            .network()
            .set_latency(replikv::network::Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_micros(500),
            })
            .unwrap();
        let history = contended_history(&cluster, seed);
        assert!(
            cluster
                .wait_for_convergence(Duration::from_secs(20))
                .unwrap(),
            "seed {seed}: no convergence"
        );
        let lost = lost_writes(&history, &cluster.final_values().unwrap());
        assert!(
            lost.is_empty(),
            "seed {seed}: {} acknowledged writes lost: {lost:?}",
            lost.len()
        );
    }
}
