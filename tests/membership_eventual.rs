//! Eventual mode through nodes joining and leaving while hints are held:
//! a membership change hands every hint to its key's replicas, so a write
//! whose only copies are hints survives its holders leaving, and clients
//! writing through a join and a leave lose no acknowledged write.

use replikv::history::lost_writes;
use replikv::network::Latency;
use replikv::partition::Strategy;
use replikv::protocol::eventual::hints::pending_hints;
use replikv::{Cluster, Consistency, CoordinatorPolicy, NodeId, StorageKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn cluster(nodes: usize, n: usize, r: usize, w: usize, seed: u64) -> Cluster {
    Cluster::builder()
        .nodes(nodes)
        .replication(n)
        .consistency(Consistency::Eventual { r, w })
        .partitioning(Strategy::Rendezvous)
        .storage(StorageKind::Memory)
        .client_timeout(Duration::from_secs(2))
        .seed(seed)
        .build()
        .unwrap()
}

/// Hints held anywhere in the cluster.
fn hints_held(cluster: &Cluster) -> usize {
    cluster
        .nodes()
        .into_iter()
        .map(|n| pending_hints(&cluster.store(n).unwrap()).unwrap().len())
        .sum()
}

/// Polls `done` every millisecond until it holds or `within` has passed.
fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done()
}

#[test]
fn a_write_held_only_in_hints_survives_both_holders_leaving() {
    let seed = 31;
    let cluster = cluster(5, 2, 1, 1, seed);
    let list = cluster.placement().preference_list(b"k", 5);
    let [r0, r1, h0, h1, coordinator] = list[..] else {
        panic!("5 nodes")
    };
    // The key's replicas are cut off from everyone else: the coordinator
    // hands the write for each replica to the next nodes of the list.
    cluster
        .network()
        .partition(&[&[r0, r1], &[h0, h1, coordinator]])
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.set_policy(CoordinatorPolicy::Fixed(coordinator));
    client.put("k", "v").unwrap();
    let both_held = wait_until(Duration::from_secs(10), || {
        [h0, h1]
            .iter()
            .all(|&h| pending_hints(&cluster.store(h).unwrap()).unwrap().len() == 1)
    });
    assert!(
        both_held,
        "seed {seed}: the write is not hinted on {h0} and {h1}"
    );
    for replica in [r0, r1] {
        let held = cluster.store(replica).unwrap().get_record(b"k").unwrap();
        assert_eq!(
            held, None,
            "seed {seed}: {replica} got the write through the cut"
        );
    }

    let first = cluster.remove_node(h0).unwrap();
    assert_eq!(
        first.pending_settled, 2,
        "seed {seed}: every hint is handed on"
    );
    assert_eq!(hints_held(&cluster), 0, "seed {seed}");
    for replica in [r0, r1] {
        let held = cluster.store(replica).unwrap().get_record(b"k").unwrap();
        assert_eq!(
            held.and_then(|r| r.value).as_deref(),
            Some(&b"v"[..]),
            "{replica}"
        );
    }
    let second = cluster.remove_node(h1).unwrap();
    assert_eq!(second.pending_settled, 0, "seed {seed}");

    cluster.network().heal();
    client.set_policy(CoordinatorPolicy::First);
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()), "seed {seed}");
    assert!(
        cluster
            .wait_for_convergence(Duration::from_secs(10))
            .unwrap()
    );
}

#[test]
fn clients_lose_no_acknowledged_write_through_a_join_and_a_leave_with_hints_outstanding() {
    for seed in [32, 33] {
        let cluster = cluster(5, 3, 2, 2, seed);
        cluster
            .network()
            .set_latency(Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_micros(500),
            })
            .unwrap();
        let victim = NodeId(1);
        let stop = Arc::new(AtomicBool::new(false));
        let (joined, left) = std::thread::scope(|s| {
            for c in 0..4u64 {
                let mut client = cluster.client().unwrap();
                let stop = stop.clone();
                s.spawn(move || {
                    let mut i = 0u64;
                    while i < 100 || !stop.load(Ordering::Relaxed) {
                        let key = format!("k{}", (i + c) % 16);
                        let _ = if i.is_multiple_of(3) {
                            client.get(&key).map(|_| ())
                        } else {
                            client.put(&key, format!("c{c}-{i}"))
                        };
                        i += 1;
                    }
                });
            }
            let started = wait_until(Duration::from_secs(30), || cluster.metrics().ok >= 100);
            assert!(started, "seed {seed}: clients stalled");
            // Writes for the victim's keys are hinted while it is cut off,
            // and stay hinted: the holders cannot hand them over.
            cluster.network().isolate(victim).unwrap();
            let hinted = wait_until(Duration::from_secs(30), || hints_held(&cluster) > 0);
            assert!(hinted, "seed {seed}: no hints while {victim} was cut off");
            let joined = cluster.add_node().unwrap();
            let hinted = wait_until(Duration::from_secs(30), || hints_held(&cluster) > 0);
            assert!(hinted, "seed {seed}: no hints after the join");
            let left = cluster.remove_node(victim).unwrap();
            let target = cluster.metrics().ok + 100;
            let resumed = wait_until(Duration::from_secs(30), || cluster.metrics().ok >= target);
            assert!(resumed, "seed {seed}: clients stalled after the leave");
            stop.store(true, Ordering::Relaxed);
            (joined, left)
        });
        // Both changes moved keys, and hints held for the cut-off node were
        // handed on by at least one of them (on threads, the protocol may
        // hand a hint over itself between the check above and a change).
        assert!(
            joined.keys_moved > 0 && left.keys_moved > 0,
            "seed {seed}: {joined:?} {left:?}"
        );
        assert!(
            joined.pending_settled + left.pending_settled > 0,
            "seed {seed}: no hint moved: {joined:?} {left:?}"
        );
        cluster.network().heal();
        assert!(
            cluster
                .wait_for_convergence(Duration::from_secs(20))
                .unwrap(),
            "seed {seed}: no convergence"
        );
        let lost = lost_writes(&cluster.history(), &cluster.final_values().unwrap());
        assert!(
            lost.is_empty(),
            "seed {seed}: {} acknowledged writes lost: {lost:?}",
            lost.len()
        );
    }
}
