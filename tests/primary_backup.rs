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
