//! Storage: corrupt records are reported; directories are validated;
//! reopening a directory recovers the data; the crash-loss wrapper loses
//! exactly what was not flushed; custom engines plug in per node.

use proptest::prelude::*;
use replikv::storage::{
    Durability, LoseUnflushed, MemoryStorage, NodeStore, Record, SledStorage, Storage,
    StorageFactory, Version,
};
use replikv::{Cluster, Consistency, Error, NodeId, StorageKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A stored record with one byte flipped (each byte in turn, on sled and in
/// memory) reads back as [`Error::Corrupt`] naming node and key, or as a
/// different record — never as the original. bincode has no checksum, so a
/// flipped byte of the value itself is a different value; but a flipped
/// value tag or length byte makes the record undecodable, always.
#[test]
fn a_flipped_byte_in_a_stored_record_is_corrupt_or_a_different_record() {
    let record = Record::value(
        Version::new(3, NodeId(1)),
        b"twenty-two bytes long!".to_vec(),
    );
    let bytes = replikv::codec::encode(&record).unwrap();
    // Layout: the version, then the value's Some tag, its length, its bytes.
    let tag = replikv::codec::encode(&record.version).unwrap().len();
    assert_eq!((bytes[tag], bytes[tag + 1]), (1, 22), "{bytes:?}");
    let engines: [Arc<dyn Storage>; 2] = [
        Arc::new(SledStorage::temporary().unwrap()),
        Arc::new(MemoryStorage::new()),
    ];
    for engine in engines {
        let store = NodeStore::new(NodeId(4), engine, Durability::Periodic);
        let mut corrupt = Vec::new();
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0xFF;
            store
                .engine()
                .insert(&NodeStore::record_key(b"key-1"), &flipped)
                .unwrap();
            match store.get_record(b"key-1") {
                Err(Error::Corrupt { node, key, .. }) => {
                    assert_eq!((node, key.as_str()), (NodeId(4), "key-1"), "byte {at}");
                    corrupt.push(at);
                }
                Ok(Some(read)) => assert_ne!(read, record, "byte {at} flipped, same record"),
                other => panic!("byte {at}: expected Corrupt or a record, got {other:?}"),
            }
        }
        assert!(
            corrupt.contains(&tag) && corrupt.contains(&(tag + 1)),
            "tag or length flip not detected: corrupt at {corrupt:?}"
        );
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

    /// Any record encodes and decodes back to itself.
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

/// Runs the same script on `LoseUnflushed` over sled and over memory.
fn lossy_engines() -> Vec<LoseUnflushed<Arc<dyn Storage>>> {
    let inner: [Arc<dyn Storage>; 2] = [
        Arc::new(SledStorage::temporary().unwrap()),
        Arc::new(MemoryStorage::new()),
    ];
    inner.into_iter().map(LoseUnflushed::new).collect()
}

fn pairs(entries: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn a_crash_loses_exactly_the_unflushed_writes_on_sled_and_in_memory() {
    for engine in lossy_engines() {
        engine.insert(b"a1", b"x").unwrap();
        engine.insert(b"a2", b"y").unwrap();
        engine.insert(b"b1", b"z").unwrap();
        engine.flush().unwrap();
        assert_eq!(engine.unflushed(), 0);
        // Unflushed: an overwrite, a removal, a new key.
        engine.insert(b"a1", b"x2").unwrap();
        engine.remove(b"a2").unwrap();
        engine.insert(b"a3", b"w").unwrap();
        assert_eq!(engine.unflushed(), 3);
        // Reads see the buffer over the engine; the engine below has only
        // the flushed writes.
        assert_eq!(
            engine.scan_prefix(b"a").unwrap(),
            pairs(&[("a1", "x2"), ("a3", "w")])
        );
        assert_eq!(engine.get(b"a2").unwrap(), None);
        assert_eq!(
            engine.inner().scan_prefix(b"a").unwrap(),
            pairs(&[("a1", "x"), ("a2", "y")])
        );
        engine.on_crash();
        assert_eq!(engine.unflushed(), 0);
        assert_eq!(
            engine.scan_prefix(b"").unwrap(),
            pairs(&[("a1", "x"), ("a2", "y"), ("b1", "z")])
        );
        // A flushed removal survives a crash too.
        engine.remove(b"a1").unwrap();
        engine.flush().unwrap();
        engine.on_crash();
        assert_eq!(engine.get(b"a1").unwrap(), None);
        assert_eq!(engine.inner().get(b"a1").unwrap(), None);
    }
}

#[test]
fn the_background_flush_persists_writes_within_its_period() {
    let engine =
        LoseUnflushed::flushing_every(SledStorage::temporary().unwrap(), Duration::from_millis(20))
            .unwrap();
    engine.insert(b"k", b"v").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.inner().get(b"k").unwrap().is_none() {
        assert!(Instant::now() < deadline, "no background flush in 10 s");
        std::thread::yield_now();
    }
    engine.on_crash();
    assert_eq!(engine.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn dropping_the_wrapper_is_an_orderly_close_that_flushes() {
    let inner = Arc::new(MemoryStorage::new());
    let engine = LoseUnflushed::flushing_every(inner.clone(), Duration::from_secs(3600)).unwrap();
    engine.insert(b"k", b"v").unwrap();
    assert_eq!(inner.get(b"k").unwrap(), None);
    drop(engine);
    assert_eq!(inner.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn a_lossy_directory_cluster_dropped_in_order_recovers_its_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cluster = Cluster::builder()
            .nodes(3)
            .storage(StorageKind::Directory(dir.path().into()))
            .durability(Durability::Periodic)
            .lose_unflushed_on_crash(true)
            .build()
            .unwrap();
        let mut client = cluster.client().unwrap();
        for i in 0..10 {
            client.put(format!("k{i}"), format!("v{i}")).unwrap();
        }
    }
    let cluster = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Directory(dir.path().into()))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    for i in 0..10 {
        assert_eq!(
            client.get(format!("k{i}")).unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
}

/// The engines a custom factory made, in order, with the node each is for.
type Made = std::sync::Mutex<Vec<(NodeId, Arc<MemoryStorage>)>>;

#[test]
fn a_custom_factory_makes_one_engine_per_node_kept_across_restart() {
    let made: Arc<Made> = Arc::default();
    let factory = {
        let made = made.clone();
        StorageFactory::new(move |node| {
            let engine = Arc::new(MemoryStorage::new());
            made.lock().unwrap().push((node, engine.clone()));
            Ok(engine)
        })
    };
    let nodes = || -> Vec<NodeId> { made.lock().unwrap().iter().map(|(n, _)| *n).collect() };
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Custom(factory))
        .build()
        .unwrap();
    assert_eq!(nodes(), vec![NodeId(0), NodeId(1), NodeId(2)]);
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    cluster.crash(NodeId(1)).unwrap();
    cluster.restart(NodeId(1)).unwrap();
    assert_eq!(
        nodes(),
        vec![NodeId(0), NodeId(1), NodeId(2)],
        "restart made no engine"
    );
    // The acknowledged record is in the factory's engines, a majority at least.
    let holding = made
        .lock()
        .unwrap()
        .iter()
        .filter(|(node, engine)| {
            let store = NodeStore::new(*node, engine.clone(), Durability::Periodic);
            store.get_record(b"k").unwrap().is_some()
        })
        .count();
    assert!(holding >= 2, "only {holding} engines hold the record");
    cluster.add_node().unwrap();
    assert_eq!(nodes().last(), Some(&NodeId(3)));
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
}
