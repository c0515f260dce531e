//! Replays the window alone cannot stop: captures sent again into a
//! restarted receiver, and into another cluster (or another run) that uses
//! the same link key. Both are refused by the rules of
//! `replikv::security::Replay` (the send time against the receiver's start,
//! and the cluster epoch), and nothing they carry is applied.

use parking_lot::Mutex;
use replikv::network::{Adversary, Envelope, Payload};
use replikv::security::LinkKey;
use replikv::{Cluster, Consistency, Endpoint, NodeId, Runtime, StorageKind};
use std::sync::Arc;
use std::time::Duration;

/// Lets everything through and keeps a copy of every peer message.
#[derive(Default)]
struct Recorder {
    captured: Mutex<Vec<Envelope>>,
}

impl Adversary for Recorder {
    fn intercept(&self, envelope: Envelope, _at_ns: u64, out: &mut Vec<Envelope>) {
        if matches!(envelope.payload, Payload::Peer(_)) {
            self.captured.lock().push(envelope.clone());
        }
        out.push(envelope);
    }
}

fn cluster(runtime: Runtime, seed: u64, key: u64) -> Cluster {
    Cluster::builder()
        .runtime(runtime)
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .consistency(Consistency::Strong)
        .authenticate_links(LinkKey::for_experiment(key))
        .client_timeout(Duration::from_secs(5))
        .seed(seed)
        .build()
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
}

/// (refused as replays, refused as unauthentic), over all nodes.
fn refused(cluster: &Cluster) -> (u64, u64) {
    let nodes = cluster.metrics().nodes;
    (
        nodes.iter().map(|n| n.replayed_messages).sum(),
        nodes.iter().map(|n| n.unauthentic_messages).sum(),
    )
}

/// Writes `n` values `{tag}-{i}` to keys k0..k4 and records the traffic.
fn recorded_writes(cluster: &Cluster, tag: &str, n: usize) -> Vec<Envelope> {
    let recorder = Arc::new(Recorder::default());
    cluster.network().set_adversary(recorder.clone());
    let mut client = cluster.client().unwrap();
    for i in 0..n {
        client
            .put(format!("k{}", i % 5), format!("{tag}-{i}"))
            .unwrap();
    }
    cluster.network().clear_adversary();
    std::mem::take(&mut *recorder.captured.lock())
}

/// Every stored value on every replica of `cluster`.
fn stored_values(cluster: &Cluster) -> Vec<Vec<u8>> {
    let mut values = Vec::new();
    for node in cluster.nodes() {
        for (_, record) in cluster.store(node).unwrap().records().unwrap() {
            values.extend(record.value);
        }
    }
    values
}

#[test]
fn captures_from_another_cluster_with_the_same_key_are_refused() {
    for (a_seed, b_seed) in [(1, 2), (3, 4)] {
        let a = cluster(Runtime::Simulated, a_seed, 77);
        let b = cluster(Runtime::Simulated, b_seed, 77);
        // A has far more traffic than B, so without the epoch A's higher
        // sequence numbers would be new to B's windows.
        let captured = recorded_writes(&a, "from-a", 40);
        let _ = recorded_writes(&b, "from-b", 2);
        assert_eq!(refused(&b), (0, 0), "B's own messages are not refused");
        for envelope in &captured {
            b.network().send(envelope.clone());
        }
        b.run_until_quiet(Duration::from_secs(5));
        assert_eq!(
            refused(&b),
            (captured.len() as u64, 0),
            "seeds {a_seed}/{b_seed}: every capture from A refused as a replay"
        );
        let values = stored_values(&b);
        assert!(
            values.iter().all(|v| v.starts_with(b"from-b")),
            "seeds {a_seed}/{b_seed}: nothing of A applied in B"
        );
        // B keeps working, and refuses nothing of its own afterwards.
        let mut client = b.client().unwrap();
        client.put("k0", "after").unwrap();
        assert_eq!(client.get("k0").unwrap(), Some(b"after".to_vec()));
        assert_eq!(refused(&b), (captured.len() as u64, 0));
    }
}

#[test]
fn a_new_process_with_the_same_seed_and_key_is_a_new_epoch_on_threads() {
    // Two threaded clusters built alike stand for one program run twice:
    // on threads the epoch is drawn at random when the cluster is built.
    let a = cluster(Runtime::Threads, 5, 78);
    let captured = recorded_writes(&a, "from-a", 20);
    drop(a);
    let b = cluster(Runtime::Threads, 5, 78);
    for envelope in &captured {
        b.network().send(envelope.clone());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while refused(&b).0 < captured.len() as u64 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(refused(&b), (captured.len() as u64, 0));
    assert!(
        stored_values(&b).is_empty(),
        "nothing of the first run applied"
    );
}

#[test]
fn captures_sent_again_to_a_restarted_receiver_are_all_refused() {
    // The restarted receiver has forgotten every window; only the rule
    // "sealed before this incarnation started" tells the captures apart.
    for seed in [8, 9] {
        let c = cluster(Runtime::Simulated, seed, 79);
        let victim = NodeId(1);
        let captured: Vec<Envelope> = recorded_writes(&c, "old", 30)
            .into_iter()
            .filter(|e| e.to == Endpoint::Node(victim))
            .collect();
        assert!(!captured.is_empty());
        c.crash(victim).unwrap();
        c.run_for(Duration::from_millis(5));
        c.restart(victim).unwrap();
        let mut client = c.client().unwrap();
        client.put("k0", "new").unwrap();
        c.run_until_quiet(Duration::from_secs(5));
        let before = refused(&c);
        for envelope in &captured {
            c.network().send(envelope.clone());
        }
        c.run_until_quiet(Duration::from_secs(5));
        let after = refused(&c);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (captured.len() as u64, 0),
            "seed {seed}: refused == injected"
        );
        assert_eq!(client.get("k0").unwrap(), Some(b"new".to_vec()));
    }
}
