//! Compaction and InstallSnapshot, driven by hand; and recovery from the
//! states a crash in the middle of compacting or installing leaves.

use super::super::storage::{self, Snapshot};
use super::super::{Command, ConsensusConfig, Entry, RaftMessage};
use super::harness::Net;
use crate::ids::NodeId;
use crate::protocol::{Request, Response};
use crate::storage::{Durability, MemoryStorage, NodeStore, Record, Version};
use std::sync::Arc;

fn put(i: u32) -> Request {
    Request::Put {
        key: format!("k{}", i % 3).into_bytes(),
        value: format!("v{i}").into_bytes(),
    }
}

#[test]
fn a_follower_behind_the_compacted_point_gets_a_snapshot() {
    let config = ConsensusConfig {
        snapshot_threshold: 4,
        ..ConsensusConfig::default()
    };
    let mut net = Net::new(3, config);
    net.timeout(NodeId(0));
    net.deliver(|_, _, _| true);
    assert!(net.is_leader(NodeId(0)));
    net.crash(NodeId(2));
    let asked: Vec<_> = (0..10).map(|i| net.request(NodeId(0), put(i))).collect();
    net.deliver(|_, _, _| true);
    for to in asked {
        assert_eq!(net.answer(to), Some(&Response::Done));
    }
    assert!(net.snapshot_index(NodeId(0)) >= 8, "{}", net.describe());
    net.restart(NodeId(2));
    net.heartbeat(NodeId(0));
    let snapshots = std::cell::Cell::new(0);
    net.deliver(|_, _, m| {
        if matches!(m, RaftMessage::InstallSnapshot { .. }) {
            snapshots.set(snapshots.get() + 1);
        }
        true
    });
    assert!(snapshots.get() >= 1, "{}", net.describe());
    assert_eq!(net.records(NodeId(2)), net.records(NodeId(0)));
    assert!(net.diverged.is_empty());
    // And it takes part in what follows.
    let to = net.request(NodeId(0), put(10));
    net.crash(NodeId(1));
    net.deliver(|_, _, _| true);
    assert_eq!(net.answer(to), Some(&Response::Done), "{}", net.describe());
}

fn store() -> NodeStore {
    NodeStore::new(
        NodeId(0),
        Arc::new(MemoryStorage::new()),
        Durability::Periodic,
    )
}

fn entry(term: u64) -> Entry {
    Entry {
        term,
        command: Command::Noop,
    }
}

#[test]
fn recovery_finishes_an_install_a_crash_interrupted() {
    let store = store();
    storage::save_entries(&store, 1, &[entry(1), entry(1)]).unwrap();
    storage::save_applied(&store, 1).unwrap();
    let old = Record::value(Version::new(1, NodeId(0)), b"old".to_vec());
    store.put_record(b"gone", &old).unwrap();
    let new = Record::value(Version::new(5, NodeId(0)), b"new".to_vec());
    // The crash: the snapshot is written, the records not yet.
    let snapshot = Snapshot {
        index: 5,
        term: 2,
        pending: Some(vec![(b"k".to_vec(), new.clone())]),
    };
    storage::save_snapshot(&store, &snapshot).unwrap();
    let recovered = storage::recover(&store).unwrap();
    assert_eq!(recovered.applied, 5);
    assert_eq!(store.records().unwrap(), vec![(b"k".to_vec(), new)]);
    assert!(recovered.log.is_empty(), "entries 1-2 are covered");
    assert!(store.scan_meta(b"raft/log/").unwrap().is_empty());
}

#[test]
fn recovery_skips_entries_a_compaction_covered() {
    let store = store();
    let entries: Vec<Entry> = (1..=6).map(|i| entry(1 + i / 4)).collect();
    storage::save_entries(&store, 1, &entries).unwrap();
    storage::save_applied(&store, 6).unwrap();
    // The crash: the snapshot note is written, the entries not deleted.
    let snapshot = Snapshot {
        index: 4,
        term: 2,
        pending: None,
    };
    storage::save_snapshot(&store, &snapshot).unwrap();
    let recovered = storage::recover(&store).unwrap();
    assert_eq!(recovered.log, entries[4..].to_vec());
    assert_eq!(recovered.snapshot.index, 4);
    assert_eq!(store.scan_meta(b"raft/log/").unwrap().len(), 2);
}

#[test]
fn a_snapshot_ahead_of_the_records_without_them_is_corruption() {
    let store = store();
    let snapshot = Snapshot {
        index: 4,
        term: 2,
        pending: None,
    };
    storage::save_snapshot(&store, &snapshot).unwrap();
    assert!(matches!(
        storage::recover(&store),
        Err(crate::error::Error::Corrupt { .. })
    ));
}
