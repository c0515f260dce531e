//! The primary-backup protocol from `examples/primary_backup` — written only
//! against the public API — runs on the crate's runtime: every acknowledged
//! write is on every replica, even with messages dropped and duplicated.

#[path = "../examples/primary_backup/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use protocol::PrimaryBackup;
use replikv::{Cluster, StorageKind};
use std::time::Duration;

#[test]
fn an_outside_protocol_replicates_every_acknowledged_write_under_loss() {
    let seed = 21;
    let cluster = Cluster::builder()
        .nodes(4)
        .replication(3)
        .storage(StorageKind::Memory)
        .protocol(|_| PrimaryBackup::default())
        .client_timeout(Duration::from_secs(5))
        .seed(seed)
        .build()
        .unwrap();
    cluster.network().set_drop_probability(0.2).unwrap();
    cluster.network().set_duplicate_probability(0.1).unwrap();
    let mut client = cluster.client().unwrap();
    client.set_timeout(Duration::from_millis(500));
    // A lost request, forward or reply makes the client time out: the write
    // is then indeterminate. Only acknowledged writes are checked.
    let acknowledged: Vec<usize> = (0..40)
        .filter(|i| match client.put(format!("k{i}"), format!("v{i}")) {
            Ok(()) => true,
            Err(e) => {
                assert!(e.is_indeterminate(), "put k{i}: {e} (seed {seed})");
                false
            }
        })
        .collect();
    assert!(
        acknowledged.len() >= 20,
        "only {} of 40 writes acknowledged (seed {seed})",
        acknowledged.len()
    );
    for i in acknowledged {
        let key = format!("k{i}");
        for node in cluster.placement().replicas(key.as_bytes()) {
            let record = cluster
                .store(node)
                .unwrap()
                .get_record(key.as_bytes())
                .unwrap();
            assert_eq!(
                record.and_then(|r| r.value),
                Some(format!("v{i}").into_bytes()),
                "{key} missing on replica {node} (seed {seed})"
            );
        }
    }
    assert!(
        cluster.network().stats().dropped > 0,
        "the run had no loss to survive (seed {seed})"
    );
}

/// A backup's ack for the operation a primary ran *before* it restarted
/// reaches the new incarnation (only what was sent before the restart is
/// dropped). The restarted primary numbers its operations from 1 again, so
/// matched by number alone that ack would complete its new operation 1 —
/// acknowledging a write no backup stored. On the simulator, so the
/// timings are exact.
#[test]
fn an_ack_for_an_earlier_incarnations_write_completes_nothing() {
    use replikv::network::{EnvelopeInfo, Verdict};
    use replikv::{Endpoint, Runtime};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(2)
        .replication(2)
        .protocol(|_| PrimaryBackup::default())
        .client_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let replicas = cluster.placement().replicas(b"k");
    let (primary, backup) = (replicas[0], replicas[1]);
    // First the primary's copy to the backup is slow (it lands after the
    // primary restarted, and the backup acks it then); later every copy to
    // the backup is lost.
    let lose_copies = Arc::new(AtomicBool::new(false));
    let lose = lose_copies.clone();
    cluster.network().set_fault_hook(move |e: &EnvelopeInfo| {
        (e.from == Endpoint::Node(primary) && e.to == Endpoint::Node(backup)).then(|| {
            if lose.load(Ordering::SeqCst) {
                Verdict::Drop
            } else {
                Verdict::Deliver(Duration::from_millis(600))
            }
        })
    });
    let mut client = cluster.client().unwrap();
    assert!(client.put("k", "v1").is_err(), "the first put times out");
    cluster.crash(primary).unwrap();
    cluster.restart(primary).unwrap();
    lose_copies.store(true, Ordering::SeqCst);
    client.set_timeout(Duration::from_secs(2));
    let second = client.put("k", "v2");
    let on_backup = cluster
        .store(backup)
        .unwrap()
        .get_record(b"k")
        .unwrap()
        .and_then(|r| r.value);
    assert!(
        second.is_err(),
        "put v2 was acknowledged though backup {backup} holds {on_backup:?}"
    );
}
