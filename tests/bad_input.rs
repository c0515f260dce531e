//! The bad-input table of the crate docs, row by row: each input gets its
//! own `Error` variant and message, nothing panics, and the cluster keeps
//! serving afterwards.

use replikv::storage::NodeStore;
use replikv::{Cluster, Consistency, Error, NodeId, StorageKind};

fn serving(cluster: &Cluster) {
    let mut client = cluster.client().unwrap();
    client.put("still", "serving").unwrap();
    assert_eq!(client.get("still").unwrap(), Some(b"serving".to_vec()));
}

#[test]
fn every_row_of_the_bad_input_table() {
    let cluster = Cluster::builder()
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();

    // Keys and values.
    let e = client.put("", "v").unwrap_err();
    assert!(
        matches!(e, Error::EmptyKey) && e.to_string().contains("empty"),
        "{e}"
    );
    let e = client
        .get(vec![b'k'; replikv::MAX_KEY_LEN + 1])
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::KeyTooLong {
                len: 1025,
                max: 1024
            }
        ),
        "{e}"
    );
    let e = client
        .put("k", vec![0; replikv::MAX_VALUE_LEN + 1])
        .unwrap_err();
    assert!(
        matches!(e, Error::ValueTooLong { .. }) && e.to_string().contains("limit"),
        "{e}"
    );
    serving(&cluster);

    // Quorums and sizes.
    for (builder, needle) in [
        (
            Cluster::builder()
                .nodes(3)
                .consistency(Consistency::Eventual { r: 0, w: 1 }),
            "R = 0",
        ),
        (
            Cluster::builder()
                .nodes(3)
                .consistency(Consistency::Eventual { r: 1, w: 4 }),
            "W = 4",
        ),
        (
            Cluster::builder().nodes(2).replication(3),
            "larger than the 2 nodes",
        ),
        (Cluster::builder().nodes(0), "at least one node"),
    ] {
        match builder.build() {
            Err(Error::InvalidConfig(message)) => {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}")
            }
            other => panic!("expected InvalidConfig with {needle:?}, got {other:?}"),
        }
    }

    // Fault calls.
    assert!(matches!(
        cluster.crash(NodeId(9)),
        Err(Error::UnknownNode(NodeId(9)))
    ));
    assert!(matches!(
        cluster.network().cut(NodeId(0), NodeId(9)),
        Err(Error::UnknownNode(NodeId(9)))
    ));
    cluster.crash(NodeId(2)).unwrap();
    let e = cluster.crash(NodeId(2)).unwrap_err();
    assert!(
        matches!(e, Error::NodeAlreadyCrashed(NodeId(2)))
            && e.to_string().contains("already crashed")
    );
    serving(&cluster);
    cluster.restart(NodeId(2)).unwrap();
    assert!(matches!(
        cluster.restart(NodeId(2)),
        Err(Error::NodeNotCrashed(NodeId(2)))
    ));

    // Typed values.
    client.put("text", "not a number list").unwrap();
    assert!(matches!(
        client.get_typed::<Vec<u64>>("text"),
        Err(Error::Decode(_))
    ));

    // Corrupt stored records.
    client.put("fragile", "value").unwrap();
    for node in cluster.placement().replicas(b"fragile") {
        let store = cluster.store(node).unwrap();
        store
            .engine()
            .insert(&NodeStore::record_key(b"fragile"), &[0xFF; 3])
            .unwrap();
    }
    match client.get("fragile") {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key, "fragile"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    serving(&cluster);
}

#[test]
fn storage_directories_that_cannot_be_used() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        Cluster::builder()
            .storage(StorageKind::Directory(file.join("sub")))
            .build(),
        Err(Error::StorageDirectory { .. })
    ));
    let held = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Directory(dir.path().join("db")))
        .build()
        .unwrap();
    let e = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Directory(dir.path().join("db")))
        .build()
        .unwrap_err();
    assert!(
        matches!(e, Error::StorageDirectory { .. }) && e.to_string().contains("in use"),
        "{e}"
    );
    serving(&held);
}

fn corrupt_on(cluster: &Cluster, key: &[u8], nodes: &[NodeId]) {
    for &node in nodes {
        cluster
            .store(node)
            .unwrap()
            .engine()
            .insert(&NodeStore::record_key(key), &[0xFF, 0x01])
            .unwrap();
    }
}

#[test]
fn strong_mode_reads_past_a_corrupt_minority_and_repairs_it() {
    let cluster = Cluster::builder()
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("k", "v1").unwrap();
    let replicas = cluster.placement().replicas(b"k");
    corrupt_on(&cluster, b"k", &replicas[..1]);
    assert_eq!(
        client.get("k").unwrap(),
        Some(b"v1".to_vec()),
        "the healthy majority answers"
    );
    client.put("k", "v2").unwrap();
    // The write's store phase replaced the unreadable record wherever it landed.
    assert_eq!(client.get("k").unwrap(), Some(b"v2".to_vec()));
}

#[test]
fn eventual_mode_never_returns_a_wrong_value_for_a_corrupt_record() {
    let cluster = Cluster::builder()
        .nodes(3)
        .consistency(Consistency::Eventual { r: 1, w: 1 })
        .storage(StorageKind::Memory)
        .client_timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("k", "v1").unwrap();
    let replicas = cluster.placement().replicas(b"k");
    corrupt_on(&cluster, b"k", &replicas);
    match client.get("k") {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key, "k"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    serving(&cluster);
}
