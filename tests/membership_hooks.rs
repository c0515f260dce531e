//! A protocol of our own through a node joining and a node leaving: the
//! cluster merges moving keys by the protocol's rule, moves only the records
//! the protocol says it holds aside, leaves the rest of its metadata alone,
//! checks convergence through the same hooks, and runs no protocol handler
//! while it copies.
//!
//! The protocol is a write-once register, "first writer wins": a replica
//! keeps the *oldest* version it has seen, so the cluster's built-in rule
//! (highest version) would overrule it.

use replikv::partition::Strategy;
use replikv::protocol::{Context, NodeSetup, PendingRecord, Protocol, ReplyTo, Request, Response};
use replikv::storage::{NodeStore, Record, Version};
use replikv::{Cluster, CoordinatorPolicy, NodeId, StorageKind};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Metadata prefix of records parked for a key's replicas (this protocol's
/// own layout, reported through `pending_records`).
const PARKED: &[u8] = b"fww/parked/";
/// Metadata name of a per-node counter of records applied: node state that
/// is nobody else's business.
const APPLIED: &[u8] = b"fww/applied";
/// Bound on waiting for replication to finish (it takes microseconds).
const SETTLE: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize, Deserialize)]
enum Msg {
    /// Replicate a write.
    Store { key: Vec<u8>, record: Record },
    /// A read for a key this node does not replicate, handed to its primary.
    Read { reply_to: ReplyTo, key: Vec<u8> },
}

/// One node of the first-writer-wins register. `live` counts the protocol
/// values in existence (made by the factory, dropped when a node stops).
struct FirstWins {
    live: Arc<AtomicUsize>,
}

impl Drop for FirstWins {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Stores `record` unless an older one is held; counts what it applies.
fn keep_first(store: &NodeStore, key: &[u8], record: &Record) -> replikv::Result<()> {
    if store
        .get_record(key)?
        .is_some_and(|held| held.version <= record.version)
    {
        return Ok(());
    }
    store.put_record(key, record)?;
    let applied = store
        .get_meta(APPLIED)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes);
    store.put_meta(APPLIED, &(applied + 1).to_le_bytes())
}

impl Protocol for FirstWins {
    type Message = Msg;

    fn on_request(
        &mut self,
        ctx: &mut Context<Msg>,
        reply_to: ReplyTo,
        request: Request,
    ) -> replikv::Result<()> {
        let me = ctx.node();
        let replicas = ctx.replicas(request.key());
        let (key, value) = match request {
            Request::Get { key } => {
                if replicas.contains(&me) {
                    let value = ctx.store().get_record(&key)?.and_then(|r| r.value);
                    ctx.reply(reply_to, Response::Value(value));
                } else {
                    ctx.send(replicas[0], Msg::Read { reply_to, key });
                }
                return Ok(());
            }
            Request::Put { key, value } => (key, Some(value)),
            Request::Delete { key } => (key, None),
        };
        let record = Record {
            version: Version::new(ctx.now_ns(), me),
            value,
        };
        for replica in replicas {
            if replica == me {
                keep_first(ctx.store(), &key, &record)?;
            } else {
                let (key, record) = (key.clone(), record.clone());
                ctx.send(replica, Msg::Store { key, record });
            }
        }
        ctx.reply(reply_to, Response::Done);
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Msg>,
        _from: NodeId,
        message: Msg,
    ) -> replikv::Result<()> {
        match message {
            Msg::Store { key, record } => keep_first(ctx.store(), &key, &record),
            Msg::Read { reply_to, key } => {
                let value = ctx.store().get_record(&key)?.and_then(|r| r.value);
                ctx.reply(reply_to, Response::Value(value));
                Ok(())
            }
        }
    }

    /// First writer wins: the oldest copy.
    fn reconcile(_key: &[u8], copies: &[Record]) -> Option<Record> {
        WATCH.with(|watch| {
            if let Some(watch) = watch.borrow_mut().as_mut() {
                watch.reconciled += 1;
                if watch.live.load(Ordering::SeqCst) != 0 {
                    watch.while_running += 1;
                }
            }
        });
        copies.iter().min_by_key(|r| r.version).cloned()
    }

    fn pending_records(store: &NodeStore) -> replikv::Result<Vec<PendingRecord>> {
        store
            .scan_meta(PARKED)?
            .into_iter()
            .map(|(name, bytes)| {
                let record = replikv::codec::decode(&bytes).map_err(replikv::Error::Protocol)?;
                let key = name[PARKED.len()..].to_vec();
                Ok(PendingRecord { name, key, record })
            })
            .collect()
    }
}

/// What the test thread saw of `reconcile`: the cluster calls it in the
/// thread that asked for the change or the check.
struct Watch {
    live: Arc<AtomicUsize>,
    reconciled: usize,
    while_running: usize,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// (calls to `reconcile`, calls made while a protocol value was alive)
/// since the last look.
fn reconcile_calls() -> (usize, usize) {
    WATCH.with(|watch| {
        let mut watch = watch.borrow_mut();
        let watch = watch.as_mut().expect("cluster() sets the watch");
        let seen = (watch.reconciled, watch.while_running);
        (watch.reconciled, watch.while_running) = (0, 0);
        seen
    })
}

/// 4 nodes, N = 2, first-writer-wins, watched from this thread.
fn cluster(seed: u64) -> Cluster {
    let live = Arc::new(AtomicUsize::new(0));
    WATCH.with(|watch| {
        *watch.borrow_mut() = Some(Watch {
            live: live.clone(),
            reconciled: 0,
            while_running: 0,
        })
    });
    Cluster::builder()
        .nodes(4)
        .replication(2)
        .partitioning(Strategy::Rendezvous)
        .storage(StorageKind::Memory)
        .seed(seed)
        .protocol(move |_: &NodeSetup| {
            live.fetch_add(1, Ordering::SeqCst);
            FirstWins { live: live.clone() }
        })
        .build()
        .unwrap()
}

fn replicas(cluster: &Cluster, key: &str) -> Vec<NodeId> {
    cluster.placement().replicas(key.as_bytes())
}

fn value_on(cluster: &Cluster, node: NodeId, key: &str) -> Option<Vec<u8>> {
    let record = cluster.store(node).unwrap().get_record(key.as_bytes());
    record.unwrap().and_then(|r| r.value)
}

/// Parks `record` for `key` on `node` in the protocol's own layout, with
/// the node stopped (as if a write had been held there for a replica).
fn park(cluster: &Cluster, node: NodeId, key: &str, record: &Record) {
    cluster.crash(node).unwrap();
    let mut name = PARKED.to_vec();
    name.extend_from_slice(key.as_bytes());
    let bytes = replikv::codec::encode(record).unwrap();
    cluster
        .store(node)
        .unwrap()
        .put_meta(&name, &bytes)
        .unwrap();
    cluster.restart(node).unwrap();
}

#[test]
fn a_join_and_a_leave_merge_moving_keys_by_the_protocols_rule_with_every_node_stopped() {
    let seed = 21;
    let cluster = cluster(seed);
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let mut first = cluster.client().unwrap();
    let mut second = cluster.client().unwrap();
    // Each key's replicas disagree: the primary took "first" while the other
    // replica was cut off, then the other replica took "second" (a newer
    // version) while the primary was cut off.
    for key in &keys {
        let [primary, other] = replicas(&cluster, key)[..] else {
            panic!("N = 2")
        };
        cluster.network().isolate(other).unwrap();
        first.put(key, "first").unwrap();
        cluster.network().heal();
        cluster.network().isolate(primary).unwrap();
        second.set_policy(CoordinatorPolicy::Fixed(other));
        second.put(key, "second").unwrap();
        cluster.network().heal();
        assert_eq!(
            value_on(&cluster, primary, key).as_deref(),
            Some(&b"first"[..])
        );
        assert_eq!(
            value_on(&cluster, other, key).as_deref(),
            Some(&b"second"[..])
        );
    }
    reconcile_calls();

    let before: BTreeMap<&String, Vec<NodeId>> =
        keys.iter().map(|k| (k, replicas(&cluster, k))).collect();
    let joined = cluster.add_node().unwrap();
    assert_eq!(joined.node, Some(NodeId(4)));
    assert!(joined.keys_moved > 0, "seed {seed}: nothing moved");
    let (reconciled, while_running) = reconcile_calls();
    assert_eq!(
        reconciled as u64, joined.keys_moved,
        "one merge per moving key"
    );
    assert_eq!(while_running, 0, "a protocol ran while keys were copied");
    let left = cluster.remove_node(NodeId(0)).unwrap();
    assert!(left.keys_moved > 0, "seed {seed}: nothing moved");
    let (reconciled, while_running) = reconcile_calls();
    assert_eq!(reconciled as u64, left.keys_moved);
    assert_eq!(while_running, 0, "a protocol ran while keys were copied");

    let mut moved = 0;
    for key in &keys {
        let now = replicas(&cluster, key);
        if now != before[key] {
            moved += 1;
            for node in now {
                assert_eq!(
                    value_on(&cluster, node, key).as_deref(),
                    Some(&b"first"[..]),
                    "{key} on {node}: the newest copy overruled first-writer-wins (seed {seed})"
                );
            }
        }
        assert_eq!(
            first.get(key).unwrap().as_deref(),
            Some(&b"first"[..]),
            "{key} (seed {seed})"
        );
    }
    assert!(moved > 0, "seed {seed}: no key changed replicas");
}

#[test]
fn only_records_the_protocol_parks_move_and_its_other_metadata_stays_put() {
    let seed = 22;
    let cluster = cluster(seed);
    let mut client = cluster.client().unwrap();
    for i in 0..20 {
        client.put(format!("k{i}"), "v").unwrap();
    }
    assert!(cluster.wait_for_convergence(SETTLE).unwrap());
    // A write parked on a node that is not a replica of its key.
    let key = "parked";
    let holder = *cluster
        .nodes()
        .iter()
        .find(|n| !replicas(&cluster, key).contains(n))
        .unwrap();
    let record = Record::value(Version::new(5, NodeId(3)), b"held".to_vec());
    park(&cluster, holder, key, &record);
    let applied_before: Vec<_> = cluster
        .nodes()
        .into_iter()
        .map(|n| cluster.store(n).unwrap().get_meta(APPLIED).unwrap())
        .collect();
    assert!(applied_before.iter().all(Option::is_some));
    assert!(
        !cluster.is_converged().unwrap(),
        "the parked write has not arrived"
    );
    let finals = cluster.final_values().unwrap();
    assert_eq!(finals.get(key.as_bytes()), Some(&Some(b"held".to_vec())));

    let joined = cluster.add_node().unwrap();
    assert_eq!(joined.keys, 20, "metadata counted as keys");
    assert_eq!(joined.pending_settled, 1);
    for node in replicas(&cluster, key) {
        let held = cluster.store(node).unwrap().get_record(key.as_bytes());
        assert_eq!(held.unwrap(), Some(record.clone()), "{key} on {node}");
    }
    let store = cluster.store(holder).unwrap();
    assert!(
        store.scan_meta(PARKED).unwrap().is_empty(),
        "handed on, so deleted"
    );
    // The protocol's own node state was neither copied nor touched.
    let newcomer = cluster.store(NodeId(4)).unwrap();
    assert_eq!(newcomer.get_meta(APPLIED).unwrap(), None);
    for (node, before) in cluster.nodes().into_iter().zip(&applied_before) {
        assert_eq!(
            &cluster.store(node).unwrap().get_meta(APPLIED).unwrap(),
            before
        );
    }
    for (stored, _) in newcomer.records().unwrap() {
        assert!(stored.starts_with(b"k") || stored == key.as_bytes());
    }
    assert!(cluster.is_converged().unwrap());
    assert_eq!(client.get(key).unwrap(), Some(b"held".to_vec()));
}

#[test]
fn convergence_judges_pending_records_by_the_protocols_rule() {
    let cluster = cluster(23);
    let mut client = cluster.client().unwrap();
    client.put("k", "first").unwrap();
    assert!(cluster.wait_for_convergence(SETTLE).unwrap());
    let agreed = cluster.store(replicas(&cluster, "k")[0]).unwrap();
    let agreed = agreed.get_record(b"k").unwrap().unwrap();
    let holder = *cluster
        .nodes()
        .iter()
        .find(|n| !replicas(&cluster, "k").contains(n))
        .unwrap();

    // A newer parked write loses to the first one: nothing left to do.
    let later = Version::new(agreed.version.counter + 1000, NodeId(0));
    park(
        &cluster,
        holder,
        "k",
        &Record::value(later, b"later".to_vec()),
    );
    assert!(
        cluster.is_converged().unwrap(),
        "a losing write is not news"
    );
    let finals = cluster.final_values().unwrap();
    assert_eq!(finals.get(&b"k"[..]), Some(&Some(b"first".to_vec())));

    // An older one wins: the replicas still have to take it.
    let earlier = Version::new(agreed.version.counter - 1, NodeId(0));
    park(
        &cluster,
        holder,
        "k",
        &Record::value(earlier, b"earlier".to_vec()),
    );
    assert!(
        !cluster.is_converged().unwrap(),
        "the winning write is still parked"
    );
    let finals = cluster.final_values().unwrap();
    assert_eq!(finals.get(&b"k"[..]), Some(&Some(b"earlier".to_vec())));
}

#[test]
fn convergence_does_not_read_another_protocols_metadata_as_hints() {
    let cluster = cluster(24);
    cluster.client().unwrap().put("k", "v").unwrap();
    assert!(cluster.wait_for_convergence(SETTLE).unwrap());
    // Under the eventual protocol's hint prefix, but this protocol's own bytes.
    let store = cluster.store(NodeId(0)).unwrap();
    store
        .put_meta(b"eventual/hint/mine", b"not a hint")
        .unwrap();
    assert!(cluster.is_converged().unwrap());
    let finals = cluster.final_values().unwrap();
    assert_eq!(finals.len(), 1);
}

#[test]
fn a_node_joining_after_one_left_gets_an_id_never_used_before() {
    // Per-node protocol state (the strong protocol's tag reservations) stays
    // with its node; it needs no moving only because no later node can
    // stamp versions with a departed node's id.
    let cluster = Cluster::builder()
        .nodes(4)
        .replication(3)
        .consistency(replikv::Consistency::Strong)
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("k", "1").unwrap();
    assert_eq!(cluster.add_node().unwrap().node, Some(NodeId(4)));
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(4)));
    client.put("k", "2").unwrap();
    cluster.remove_node(NodeId(4)).unwrap();
    assert_eq!(cluster.add_node().unwrap().node, Some(NodeId(5)));
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(5)));
    assert_eq!(client.get("k").unwrap(), Some(b"2".to_vec()));
    client.put("k", "3").unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"3".to_vec()));
    let nodes = [0, 1, 2, 3, 5].map(NodeId).to_vec();
    assert_eq!(cluster.nodes(), nodes);
}
