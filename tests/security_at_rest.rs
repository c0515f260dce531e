//! Data at rest: with `encrypt_at_rest` the database files hold no
//! plaintext value; a record altered in storage reads as `Error::Corrupt`
//! naming node and key; the wrong key reads nothing wrong, only errors; bad
//! keys are clear errors.

use replikv::security::DataKey;
use replikv::storage::{Durability, MemoryStorage, NodeStore, Storage, StorageFactory};
use replikv::{Cluster, Consistency, Error, NodeId, Runtime, StorageKind};
use std::path::Path;
use std::sync::Arc;

const MARKER: &str = "PLAINTEXT-MARKER";

fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            return true;
        }
    }
    false
}

/// Writes 50 values holding the marker through a 3-node strong cluster on
/// sled under `dir`, flushing each write, then closes the cluster.
fn write_values(dir: &Path, key: Option<DataKey>) {
    let mut builder = Cluster::builder()
        .runtime(Runtime::Threads)
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Directory(dir.into()))
        .durability(Durability::FlushBeforeAck);
    if let Some(key) = key {
        builder = builder.encrypt_at_rest(key);
    }
    let cluster = builder.build().unwrap();
    let mut client = cluster.client().unwrap();
    for i in 0..50 {
        client
            .put(format!("k{i}"), format!("{MARKER}-{i}"))
            .unwrap();
    }
    cluster.flush().unwrap();
}

#[test]
fn the_database_files_hold_no_plaintext_value() {
    // The control: without encryption the marker is on disk, so the
    // search below can find it.
    let plain = tempfile::tempdir().unwrap();
    write_values(plain.path(), None);
    assert!(files_contain(plain.path(), MARKER.as_bytes()));

    let sealed = tempfile::tempdir().unwrap();
    write_values(sealed.path(), Some(DataKey::for_experiment(1)));
    assert!(!files_contain(sealed.path(), MARKER.as_bytes()));
    // Keys stay in the clear (documented): the files are not empty of data.
    assert!(files_contain(sealed.path(), b"k49"));
}

#[test]
fn reopened_with_the_key_the_data_reads_back_and_with_another_key_it_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    write_values(dir.path(), Some(DataKey::for_experiment(1)));
    let open = |key: DataKey| {
        Cluster::builder()
            .nodes(3)
            .consistency(Consistency::Strong)
            .storage(StorageKind::Directory(dir.path().into()))
            .encrypt_at_rest(key)
            .build()
    };
    {
        let cluster = open(DataKey::for_experiment(1)).unwrap();
        let value = cluster.client().unwrap().get("k7").unwrap();
        assert_eq!(value, Some(format!("{MARKER}-7").into_bytes()));
    }
    // Under another key the node's high-water mark (sealed like the
    // records) does not open: the node refuses to start rather than serve
    // values it cannot read.
    match open(DataKey::for_experiment(2)).map(|_| ()) {
        Err(Error::Corrupt { node, key, reason }) => {
            assert_eq!((node, key.as_str()), (NodeId(0), "(high-water mark)"));
            assert!(reason.contains("another data key"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Without the mark, every record still reads as Corrupt naming its key.
    for node in 0..3 {
        std::fs::remove_file(dir.path().join(format!("node-{node}.high-water"))).unwrap();
    }
    let cluster = open(DataKey::for_experiment(2)).unwrap();
    match cluster.client().unwrap().get("k7") {
        Err(Error::Corrupt { key, reason, .. }) => {
            assert_eq!(key, "k7");
            assert!(reason.contains("another data key"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_record_altered_in_storage_reads_as_corrupt_naming_node_and_key() {
    // The raw engines below the encryption, kept to alter them.
    let raw: Vec<Arc<MemoryStorage>> = (0..3).map(|_| Arc::new(MemoryStorage::new())).collect();
    let engines = raw.clone();
    let factory = StorageFactory::new(move |node: NodeId| Ok(engines[node.index()].clone()));
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Custom(factory))
        .encrypt_at_rest(DataKey::for_experiment(3))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("account", "balance=100").unwrap();
    let stored_key = NodeStore::record_key(b"account");
    // Every way of altering one replica's record: each flipped byte, and
    // every truncation. The node's own store reports it; the cluster keeps
    // the value (the other two replicas are a majority).
    let original = raw[1].get(&stored_key).unwrap().unwrap();
    let mut alterations: Vec<Vec<u8>> = (0..original.len())
        .map(|i| {
            let mut altered = original.clone();
            altered[i] ^= 0x01;
            altered
        })
        .collect();
    alterations.extend((0..original.len()).map(|len| original[..len].to_vec()));
    for altered in alterations {
        raw[1].insert(&stored_key, &altered).unwrap();
        match cluster.store(NodeId(1)).unwrap().get_record(b"account") {
            Err(Error::Corrupt { node, key, .. }) => {
                assert_eq!((node, key.as_str()), (NodeId(1), "account"))
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    raw[1].insert(&stored_key, &original).unwrap();
    assert!(
        cluster
            .store(NodeId(1))
            .unwrap()
            .get_record(b"account")
            .is_ok()
    );
    // A client reading a key whose every copy was altered gets Corrupt, not
    // a wrong value.
    for engine in &raw {
        let mut altered = engine.get(&stored_key).unwrap().unwrap();
        let last = altered.len() - 1;
        altered[last] ^= 0x80;
        engine.insert(&stored_key, &altered).unwrap();
    }
    match client.get("account") {
        Err(Error::Corrupt { key, .. }) => assert_eq!(key, "account"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn bad_data_keys_are_clear_errors() {
    for (hex, says) in [
        ("", "missing"),
        ("ab", "64 hexadecimal digits"),
        (&"zz".repeat(32)[..], "not hexadecimal"),
        (&"00".repeat(32)[..], "all zero"),
    ] {
        match DataKey::from_hex(hex) {
            Err(Error::InvalidConfig(why)) => assert!(why.contains(says), "{hex:?}: {why}"),
            other => panic!("{hex:?}: expected InvalidConfig, got {other:?}"),
        }
    }
    assert!(DataKey::from_slice(&[7; 16]).is_err());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// What reopening a copy of the store with one bit flipped in node 1's
/// sled file gave.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Node 1 holds every record, each with its value.
    Intact,
    /// Reported: `Error::Corrupt` naming node 1 (at open or at read).
    Corrupt,
    /// sled itself refused to open the directory.
    Unopenable,
}

#[test]
fn a_bit_flipped_in_the_real_sled_file_is_reported_never_silently_lost() {
    // sled checksums its log and, on opening, cuts it at the first damaged
    // entry: without replikv's high-water mark the records after the damage
    // simply vanish. Every trial flips one bit at a seeded position of
    // node 1's real database file and reopens the whole cluster.
    let original = tempfile::tempdir().unwrap();
    write_values(original.path(), Some(DataKey::for_experiment(4)));
    let db = Path::new("node-1").join("db");
    let len = std::fs::metadata(original.path().join(&db)).unwrap().len();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut rng_state = 0x5EED_u64;
    for trial in 0..40 {
        // splitmix64: positions spread over the whole file.
        rng_state = rng_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let bit = z % (len * 8);
        let copy = tempfile::tempdir().unwrap();
        copy_dir(original.path(), copy.path());
        let path = copy.path().join(&db);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
        std::fs::write(&path, bytes).unwrap();
        let built = Cluster::builder()
            .nodes(3)
            .consistency(Consistency::Strong)
            .storage(StorageKind::Directory(copy.path().into()))
            .encrypt_at_rest(DataKey::for_experiment(4))
            .build();
        let outcome = match built {
            Err(Error::Corrupt { node, .. }) => {
                assert_eq!(node, NodeId(1), "trial {trial}, bit {bit}");
                Outcome::Corrupt
            }
            Err(Error::StorageDirectory { path, .. }) => {
                assert!(path.ends_with("node-1"), "trial {trial}: {path:?}");
                Outcome::Unopenable
            }
            Err(other) => panic!("trial {trial}, bit {bit}: {other}"),
            Ok(cluster) => match cluster.store(NodeId(1)).unwrap().records() {
                Err(Error::Corrupt { node, .. }) => {
                    assert_eq!(node, NodeId(1), "trial {trial}, bit {bit}");
                    Outcome::Corrupt
                }
                Err(other) => panic!("trial {trial}, bit {bit}: {other}"),
                Ok(records) => {
                    let values: std::collections::BTreeMap<_, _> = records
                        .into_iter()
                        .map(|(key, record)| (key, record.value))
                        .collect();
                    assert_eq!(
                        values.len(),
                        50,
                        "trial {trial}, bit {bit}: records silently lost"
                    );
                    for i in 0..50 {
                        assert_eq!(
                            values.get(format!("k{i}").as_bytes()),
                            Some(&Some(format!("{MARKER}-{i}").into_bytes())),
                            "trial {trial}, bit {bit}"
                        );
                    }
                    Outcome::Intact
                }
            },
        };
        *outcomes.entry(format!("{outcome:?}")).or_default() += 1;
    }
    println!("{len} bytes, 40 flips: {outcomes:?}");
    assert!(
        outcomes.get("Corrupt").copied().unwrap_or(0) > 0,
        "some flip damaged a record: {outcomes:?}"
    );
}
