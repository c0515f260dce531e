//! Eventual mode: configuration, quorum freshness with R + W > N, and stale
//! reads with R = W = 1, checked against the recorded history.

mod eventual_support;

use eventual_support::{SeedGuard, seeds};
use replikv::history::OpKind;
use replikv::network::Latency;
use replikv::{Cluster, Consistency, CoordinatorPolicy, Endpoint, Error, StorageKind};
use std::time::Duration;

fn eventual(r: usize, w: usize) -> replikv::ClusterBuilder {
    Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Memory)
        .consistency(Consistency::Eventual { r, w })
}

#[test]
fn builder_rejects_quorums_outside_one_to_n() {
    for (r, w, culprit) in [
        (0, 1, "R = 0"),
        (1, 0, "W = 0"),
        (4, 1, "R = 4"),
        (2, 4, "W = 4"),
    ] {
        match eventual(r, w).build() {
            Err(Error::InvalidConfig(message)) => {
                assert!(message.contains(culprit), "{message}");
                assert!(message.contains("N = 3"), "{message}");
            }
            other => panic!("R = {r}, W = {w}: expected InvalidConfig, got {other:?}"),
        }
    }
    // N = 2 of 5 nodes: W = 3 is too many, even though there are 5 nodes.
    let too_many = Cluster::builder()
        .nodes(5)
        .replication(2)
        .consistency(Consistency::Eventual { r: 1, w: 3 })
        .build();
    assert!(matches!(too_many, Err(Error::InvalidConfig(m)) if m.contains("N = 2")));
    assert!(eventual(3, 3).build().is_ok());
}

#[test]
fn overlapping_quorums_read_the_latest_acknowledged_write() {
    for seed in seeds(&[11, 12]) {
        let _guard = SeedGuard(seed);
        let cluster = eventual(2, 2)
            .coordinator(CoordinatorPolicy::Random)
            .seed(seed)
            .build()
            .unwrap();
        // Replication lags a little (0-3 ms per node link); R + W > N still
        // guarantees every read overlaps the last write's quorum.
        cluster
            .network()
            .set_latency(Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_millis(3),
            })
            .unwrap();
        eventual_support::reliable_clients(&cluster);
        let mut client = cluster.client().unwrap();
        let mut latest = std::collections::BTreeMap::new();
        for i in 0..150 {
            let key = format!("k{}", i % 7);
            if i % 3 == 0 {
                let value = format!("v{i}");
                client.put(&key, &value).unwrap();
                latest.insert(key, Some(value.into_bytes()));
            } else if i % 17 == 0 {
                client.delete(&key).unwrap();
                latest.insert(key, None);
            } else {
                let read = client.get(&key).unwrap();
                assert_eq!(read, latest.get(&key).cloned().flatten(), "op {i} on {key}");
            }
        }
        // The history agrees: every get returned the last write before it.
        let history = cluster.history();
        for (n, op) in history.ops.iter().enumerate() {
            if op.kind != OpKind::Get {
                continue;
            }
            let last_write = history.ops[..n]
                .iter()
                .rev()
                .find(|w| w.is_write() && w.key == op.key);
            let expected = last_write.and_then(|w| w.value.clone());
            assert_eq!(op.output, expected, "history op {n}");
        }
        assert!(
            cluster
                .wait_for_convergence(Duration::from_secs(10))
                .unwrap()
        );
    }
}

#[test]
fn weak_quorums_serve_stale_reads() {
    let seed = seeds(&[21])[0];
    let _guard = SeedGuard(seed);
    let cluster = eventual(1, 1).seed(seed).build().unwrap();
    // Node-to-node messages take 30 ms; clients reach nodes at once.
    let nodes = cluster.nodes();
    for &a in &nodes {
        for &b in &nodes {
            if a != b {
                cluster
                    .network()
                    .set_link_latency(
                        Endpoint::Node(a),
                        Endpoint::Node(b),
                        Latency::Fixed(Duration::from_millis(30)),
                    )
                    .unwrap();
            }
        }
    }
    // The writer always goes to the primary; the reader to the other replicas.
    let mut writer = cluster.client().unwrap();
    let mut reader = cluster.client().unwrap();
    reader.set_policy(CoordinatorPolicy::RoundRobin);
    let mut reads = 0;
    for round in 0..20 {
        writer.put("x", format!("v{round}")).unwrap();
        reader.get("x").unwrap();
        reads += 1;
    }
    let history = cluster.history();
    // A read is stale when the value it returned had been overwritten by a
    // write acknowledged before the read was invoked.
    let mut stale = 0;
    for read in history.ops.iter().filter(|op| op.kind == OpKind::Get) {
        let writes: Vec<_> = history
            .ops
            .iter()
            .filter(|w| w.kind == OpKind::Put && w.ok)
            .collect();
        let newest_before = writes
            .iter()
            .filter(|w| w.return_ns.is_some_and(|t| t < read.call_ns))
            .max_by_key(|w| w.return_ns);
        let Some(newest_before) = newest_before else {
            continue;
        };
        if read.output == newest_before.value {
            continue;
        }
        // Stale: check against the history that this is the documented kind
        // of staleness — an older write's value (or nothing), overwritten by
        // a write acknowledged before the read started.
        match &read.output {
            None => {}
            Some(value) => {
                let source = writes
                    .iter()
                    .find(|w| w.value.as_ref() == Some(value))
                    .expect("a read returned a value nobody wrote");
                assert!(
                    source.return_ns < newest_before.return_ns
                        && newest_before.return_ns.is_some_and(|t| t < read.call_ns),
                    "read of {value:?} is not explained by an older write"
                );
            }
        }
        stale += 1;
    }
    eprintln!("{stale} of {reads} reads were stale");
    assert!(
        stale > 0,
        "R = W = 1 with 30 ms replication lag should serve stale reads"
    );
    // Anti-entropy and retransmission still bring every replica up to date.
    assert!(
        cluster
            .wait_for_convergence(Duration::from_secs(10))
            .unwrap()
    );
    assert_eq!(
        cluster.final_values().unwrap().get(b"x".as_slice()),
        Some(&Some(b"v19".to_vec()))
    );
    let copies = cluster.replica_records(b"x").unwrap();
    assert!(
        copies
            .iter()
            .all(|(_, r)| r.as_ref().and_then(|r| r.value.as_deref()) == Some(&b"v19"[..]))
    );
}
