//! Storage: corrupt records are reported, never decoded into a wrong value;
//! directories are validated; reopening a directory recovers the data.

use proptest::prelude::*;
use replikv::storage::{
    Durability, MemoryStorage, NodeStore, Record, SledStorage, Storage, Version,
};
use replikv::{Cluster, Error, NodeId, StorageKind};
use std::sync::Arc;

fn store() -> NodeStore {
    NodeStore::new(
        NodeId(4),
        Arc::new(MemoryStorage::new()),
        Durability::Periodic,
    )
}

#[test]
fn a_truncated_record_is_corrupt_naming_node_and_key() {
    let store = store();
    let record = Record::value(
        Version::new(3, NodeId(1)),
        b"a value of some length".to_vec(),
    );
    store.put_record(b"key-1", &record).unwrap();
    let raw_key = NodeStore::record_key(b"key-1");
    let bytes = store.engine().get(&raw_key).unwrap().unwrap();
    store
        .engine()
        .insert(&raw_key, &bytes[..bytes.len() / 2])
        .unwrap();
    match store.get_record(b"key-1") {
        Err(Error::Corrupt { node, key, .. }) => {
            assert_eq!(node, NodeId(4));
            assert_eq!(key, "key-1");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_client_reading_a_corrupt_record_gets_corrupt_and_the_cluster_keeps_serving() {
    let cluster = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("broken", "fine for now").unwrap();
    client.put("healthy", "still fine").unwrap();
    let store = cluster.store(NodeId(0)).unwrap();
    // A length prefix claiming an enormous value: must not allocate it.
    store
        .engine()
        .insert(
            &NodeStore::record_key(b"broken"),
            &[0x01, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
        )
        .unwrap();
    match client.get("broken") {
        Err(Error::Corrupt { node, key, .. }) => {
            assert_eq!((node, key.as_str()), (NodeId(0), "broken"))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(client.get("healthy").unwrap(), Some(b"still fine".to_vec()));
}

/// Cases per decoder property: 5,000 by default; set `REPLIKV_FUZZ_CASES`
/// for a longer run (e.g. 1000000 with `--release`).
fn fuzz_cases() -> u32 {
    std::env::var("REPLIKV_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    /// Random bytes in place of a record: an error or a record, never a panic.
    #[test]
    fn the_record_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let store = store();
        store.engine().insert(&NodeStore::record_key(b"k"), &bytes).unwrap();
        let _ = store.get_record(b"k");
    }

    /// Random bytes as a wire message of every built-in protocol.
    #[test]
    fn the_wire_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = replikv::codec::decode::<replikv::protocol::single_copy::Forward>(&bytes);
        let _ = replikv::codec::decode::<replikv::protocol::strong::StrongMessage>(&bytes);
        let _ = replikv::codec::decode::<replikv::protocol::eventual::EventualMessage>(&bytes);
    }

    /// A valid record or message with one byte changed or the tail cut off:
    /// the decoders answer an error or some value, never panic, and whatever
    /// they accept encodes back to the same bytes.
    #[test]
    fn damaged_encodings_never_panic(
        value in proptest::collection::vec(any::<u8>(), 0..64),
        counter in any::<u64>(),
        at in any::<usize>(),
        flip in 1u8..=255,
        cut in any::<bool>(),
    ) {
        let record = Record::value(Version::new(counter, NodeId(3)), value.clone());
        let message = replikv::protocol::single_copy::Forward {
            reply_to: replikv::protocol::ReplyTo { client: replikv::ClientId(9), request: counter },
            request: replikv::protocol::Request::Put { key: b"key".to_vec(), value },
        };
        for mut bytes in [replikv::codec::encode(&record).unwrap(), replikv::codec::encode(&message).unwrap()] {
            let i = at % bytes.len();
            if cut { bytes.truncate(i); } else { bytes[i] ^= flip; }
            if let Ok(decoded) = replikv::codec::decode::<Record>(&bytes) {
                prop_assert_eq!(replikv::codec::encode(&decoded).unwrap(), bytes.clone());
            }
            if let Ok(decoded) = replikv::codec::decode::<replikv::protocol::single_copy::Forward>(&bytes) {
                prop_assert_eq!(replikv::codec::encode(&decoded).unwrap(), bytes.clone());
            }
        }
    }

    /// Flipping one byte of a valid record never yields a *different* record
    /// silently claiming the same version and value... it yields an error or
    /// some record; whichever, no panic, and an unflipped record round-trips.
    #[test]
    fn records_round_trip(counter in any::<u64>(), node in any::<u32>(), value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))) {
        let record = Record { version: Version::new(counter, NodeId(node)), value };
        let bytes = replikv::codec::encode(&record).unwrap();
        prop_assert_eq!(replikv::codec::decode::<Record>(&bytes).unwrap(), record);
    }
}

#[test]
fn an_uncreatable_storage_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    match Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Directory(file.join("sub")))
        .build()
    {
        Err(Error::StorageDirectory { reason, .. }) => {
            assert!(reason.contains("cannot create"), "{reason}")
        }
        other => panic!("expected StorageDirectory, got {other:?}"),
    }
}

#[test]
fn a_storage_directory_in_use_by_another_cluster_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Directory(dir.path().into()))
        .build()
        .unwrap();
    match Cluster::builder()
        .nodes(1)
        .storage(StorageKind::Directory(dir.path().into()))
        .build()
    {
        Err(Error::StorageDirectory { reason, .. }) => {
            assert!(reason.contains("in use"), "{reason}")
        }
        other => panic!("expected StorageDirectory, got {other:?}"),
    }
    drop(first);
}

#[test]
fn reopening_a_storage_directory_recovers_the_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cluster = Cluster::builder()
            .nodes(3)
            .storage(StorageKind::Directory(dir.path().into()))
            .durability(Durability::FlushBeforeAck)
            .build()
            .unwrap();
        let mut client = cluster.client().unwrap();
        for i in 0..30 {
            client.put(format!("k{i}"), format!("v{i}")).unwrap();
        }
        client.delete("k3").unwrap();
    }
    let cluster = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Directory(dir.path().into()))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    for i in 0..30 {
        let expected = (i != 3).then(|| format!("v{i}").into_bytes());
        assert_eq!(client.get(format!("k{i}")).unwrap(), expected, "k{i}");
    }
}

#[test]
fn sled_and_memory_engines_agree() {
    let sled = SledStorage::temporary().unwrap();
    let memory = MemoryStorage::new();
    let engines: [&dyn Storage; 2] = [&sled, &memory];
    for engine in engines {
        engine.insert(b"a1", b"x").unwrap();
        engine.insert(b"a2", b"y").unwrap();
        engine.insert(b"b1", b"z").unwrap();
        engine.remove(b"a2").unwrap();
        engine.flush().unwrap();
    }
    let scans: Vec<_> = engines
        .iter()
        .map(|e| e.scan_prefix(b"a").unwrap())
        .collect();
    assert_eq!(scans[0], scans[1]);
    assert_eq!(scans[0], vec![(b"a1".to_vec(), b"x".to_vec())]);
}
