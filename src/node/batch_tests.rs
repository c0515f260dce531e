//! The node core's batches, driven by hand: what a batch holds back, when
//! the group commit flushes, and what a failed commit does. Exact and
//! single-threaded; `tests/batching.rs` shows the same on running clusters.

use super::core::{Core, CoreEnv, NodeCore};
use super::runtime::NodeCounters;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{ClientId, Endpoint, NodeId};
use crate::network::{Envelope, Payload};
use crate::partition::{Member, Partitioner, Rendezvous};
use crate::placement::Placement;
use crate::protocol::{Request, Response, SingleCopy};
use crate::storage::{Durability, MemoryStorage, NodeStore, Storage};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An in-memory engine that counts its flushes and batches, and can be
/// told to fail its batches.
#[derive(Default)]
struct Counting {
    inner: MemoryStorage,
    flushes: AtomicU64,
    batches: AtomicU64,
    fail_batches: AtomicBool,
}

impl Storage for Counting {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.insert(key, value)
    }
    fn remove(&self, key: &[u8]) -> Result<()> {
        self.inner.remove(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan_prefix(prefix)
    }
    fn flush(&self) -> Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn apply_batch(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        if self.fail_batches.load(Ordering::SeqCst) {
            return Err(Error::Io(std::io::Error::other("disk full")));
        }
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.inner.apply_batch(writes)
    }
}

/// A one-node single-copy core on `engine`, flushing before every ack;
/// its store commits in groups when `batched`.
fn core(engine: Arc<Counting>, batched: bool) -> (NodeCore<SingleCopy>, Arc<NodeCounters>) {
    let node = NodeId(0);
    let partitioner: Box<dyn Partitioner> = match Rendezvous::new(&[Member::new(node)]) {
        Ok(p) => Box::new(p),
        Err(e) => panic!("one member: {e}"),
    };
    let store = NodeStore::new(node, engine, Durability::FlushBeforeAck);
    let counters = Arc::new(NodeCounters::default());
    let env = CoreEnv {
        node,
        incarnation: 0,
        seed: 1,
        store: if batched { store.batched() } else { store },
        placement: Arc::new(Placement::new(partitioner, 1)),
        clock: Arc::new(Clock::new(1)),
        counters: counters.clone(),
        links: None,
        access: None,
    };
    (NodeCore::new(SingleCopy::new(), env), counters)
}

fn put(id: u64) -> Envelope {
    Envelope::new(
        Endpoint::Client(ClientId(1)),
        Endpoint::Node(NodeId(0)),
        Payload::Request {
            id,
            request: Request::Put {
                key: format!("k{id}").into_bytes(),
                value: b"v".to_vec(),
            },
        },
    )
}

/// The request ids answered `Done` in `out`, in order.
fn done(out: &[Envelope]) -> Vec<u64> {
    out.iter()
        .filter_map(|e| match &e.payload {
            Payload::Response {
                id,
                response: Response::Done,
            } => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn a_batch_is_committed_with_one_flush_before_any_of_its_acknowledgements_leaves() {
    let engine = Arc::new(Counting::default());
    let (mut core, _) = core(engine.clone(), true);
    core.start(0);
    let mut out = Vec::new();
    core.begin_batch();
    for id in 1..=8 {
        core.handle(put(id), 0);
    }
    core.take_outbox(&mut out);
    assert!(out.is_empty(), "no acknowledgement before the commit");
    assert_eq!(engine.flushes.load(Ordering::SeqCst), 0);
    assert_eq!(
        engine.inner.scan_prefix(b"").unwrap(),
        vec![],
        "the writes wait in the batch"
    );
    core.end_batch();
    assert_eq!(engine.batches.load(Ordering::SeqCst), 1, "one engine batch");
    assert_eq!(engine.flushes.load(Ordering::SeqCst), 1, "one flush");
    assert_eq!(engine.inner.scan_prefix(b"").unwrap().len(), 8);
    core.take_outbox(&mut out);
    assert_eq!(
        done(&out),
        (1..=8).collect::<Vec<_>>(),
        "in order, all of them"
    );
}

#[test]
fn without_batching_every_write_is_flushed_and_acknowledged_on_its_own() {
    let engine = Arc::new(Counting::default());
    let (mut core, _) = core(engine.clone(), false);
    core.start(0);
    let mut out = Vec::new();
    for id in 1..=8 {
        core.handle(put(id), 0);
        core.take_outbox(&mut out);
        assert_eq!(done(&out).len(), id as usize, "acknowledged at once");
        assert_eq!(engine.flushes.load(Ordering::SeqCst), id);
    }
    assert_eq!(engine.batches.load(Ordering::SeqCst), 0);
}

#[test]
fn a_call_outside_a_batch_is_a_batch_of_one() {
    let engine = Arc::new(Counting::default());
    let (mut core, _) = core(engine.clone(), true);
    core.start(0);
    let mut out = Vec::new();
    core.handle(put(1), 0);
    core.take_outbox(&mut out);
    assert_eq!(done(&out), vec![1]);
    assert_eq!(engine.flushes.load(Ordering::SeqCst), 1);
    assert_eq!(engine.batches.load(Ordering::SeqCst), 1);
}

#[test]
fn a_failed_commit_acknowledges_nothing_and_counts_an_error() {
    let engine = Arc::new(Counting::default());
    let (mut core, counters) = core(engine.clone(), true);
    core.start(0);
    engine.fail_batches.store(true, Ordering::SeqCst);
    let mut out = Vec::new();
    core.begin_batch();
    core.handle(put(1), 0);
    core.handle(put(2), 0);
    core.end_batch();
    core.take_outbox(&mut out);
    assert!(out.is_empty(), "no acknowledgement of an uncommitted write");
    assert_eq!(counters.handler_errors.load(Ordering::SeqCst), 1);
    assert_eq!(engine.flushes.load(Ordering::SeqCst), 0);
    // The disk recovers: the next batch commits and is acknowledged.
    engine.fail_batches.store(false, Ordering::SeqCst);
    core.handle(put(3), 0);
    core.take_outbox(&mut out);
    assert_eq!(done(&out), vec![3]);
}
