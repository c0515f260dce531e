//! Unit tests of the eventual state machine on the stepping harness
//! ([`crate::sim::Harness`]): no threads, no event queue. Every message
//! waits until the test delivers, drops or duplicates it, and ticks fire
//! only when the test fires them.

use super::*;
use crate::protocol::Response;
use crate::sim::{Harness, Held};
use crate::storage::{Record, Version};
use std::cell::RefCell;
use std::time::Duration;

type Msg = EventualMessage;
type H = Harness<Eventual>;

/// `nodes` nodes with replication `n`, each running `config`.
fn harness(nodes: u32, n: usize, config: EventualConfig) -> H {
    match Harness::new(nodes, n, move |_| Eventual::with_config(config.clone())) {
        Ok(h) => h,
        Err(e) => panic!("a harness of {nodes} nodes: {e}"),
    }
}

fn replicas(h: &H, key: &[u8]) -> Vec<NodeId> {
    h.placement().replicas(key)
}

fn record(h: &H, node: NodeId, key: &[u8]) -> Option<Record> {
    h.record(node, key).unwrap()
}

fn proto(h: &H, node: NodeId) -> &Eventual {
    h.protocol(node).expect("the node runs")
}

/// Fires `node`'s periodic tick.
fn tick(h: &mut H, node: NodeId) {
    assert!(h.fire_timer(node, TICK).unwrap(), "{node} has a tick armed");
}

/// Messages between nodes that are not in `down` (the others are lost).
fn reachable(down: &[NodeId]) -> impl Fn(&Held<Msg>) -> bool + '_ {
    move |m| !down.contains(&m.from) && !down.contains(&m.to)
}

/// No handler returned an error all along.
fn no_handler_errors(h: &H) {
    assert_eq!(h.handler_errors(), 0, "a handler failed");
}

fn put(key: &str, value: &str) -> Request {
    Request::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn get(key: &str) -> Request {
    Request::Get { key: key.into() }
}

fn quiet(r: usize, w: usize) -> EventualConfig {
    EventualConfig {
        anti_entropy: None,
        ..EventualConfig::new(r, w)
    }
}

#[test]
fn write_waits_for_w_acks() {
    let mut h = harness(3, 3, quiet(1, 2));
    let replicas = replicas(&h, b"k");
    let primary = replicas[0];
    let to = h.request(primary, put("k", "v")).unwrap();
    // Stored locally (1 of 2), nothing answered yet: a Store waits for
    // each other replica.
    assert_eq!(h.response(to), None);
    assert!(record(&h, primary, b"k").is_some());
    let stores = h.in_flight();
    let mut targets: Vec<NodeId> = stores.iter().map(|m| m.to).collect();
    targets.sort();
    let mut others = replicas[1..].to_vec();
    others.sort();
    assert_eq!(targets, others);
    // One store and its ack make W = 2; the other store is still held.
    assert!(h.deliver(stores[0].id).unwrap());
    assert_eq!(h.response(to), None, "the ack is still on its way");
    let ack = h.in_flight().into_iter().last().unwrap();
    assert_eq!(
        ack.message,
        Msg::StoreAck {
            op: ack_op(&stores[0])
        }
    );
    assert!(h.deliver(ack.id).unwrap());
    assert_eq!(h.response(to), Some(&Response::Done));
    assert_eq!(record(&h, stores[1].to, b"k"), None, "not there yet");
    h.deliver_all().unwrap();
    for node in replicas {
        assert_eq!(record(&h, node, b"k").unwrap().value, Some(b"v".to_vec()));
    }
    // Every replica acked: nothing left pending, and one answer only.
    assert_eq!(proto(&h, primary).pending_operations(), (0, 0));
    assert_eq!(h.responses().len(), 1);
    no_handler_errors(&h);
}

/// The operation number of a held Store.
fn ack_op(store: &Held<Msg>) -> u64 {
    match &store.message {
        Msg::Store { op, .. } => *op,
        other => panic!("expected a store, got {other:?}"),
    }
}

#[test]
fn read_returns_newest_and_repairs() {
    let mut h = harness(3, 3, quiet(3, 1));
    let replicas = replicas(&h, b"k");
    let old = Record::value(Version::new(10, NodeId(0)), b"old".to_vec());
    let new = Record::value(Version::new(20, NodeId(1)), b"new".to_vec());
    h.store(replicas[0])
        .unwrap()
        .put_record(b"k", &old)
        .unwrap();
    h.store(replicas[1])
        .unwrap()
        .put_record(b"k", &new)
        .unwrap();
    // Reload the indexes: a restart.
    for node in 0..3 {
        h.restart(NodeId(node)).unwrap();
    }
    let to = h.request(replicas[0], get("k")).unwrap();
    h.deliver_all().unwrap();
    assert_eq!(
        h.response(to),
        Some(&Response::Value(Some(b"new".to_vec())))
    );
    // Read repair: the coordinator's own old copy and the empty third replica.
    for node in replicas {
        assert_eq!(record(&h, node, b"k"), Some(new.clone()), "{node}");
    }
    no_handler_errors(&h);
}

#[test]
fn tombstone_reads_as_missing() {
    let mut h = harness(3, 3, quiet(2, 2));
    let primary = replicas(&h, b"k")[0];
    h.request(primary, put("k", "v")).unwrap();
    h.deliver_all().unwrap();
    let del = h
        .request(primary, Request::Delete { key: b"k".to_vec() })
        .unwrap();
    h.deliver_all().unwrap();
    assert_eq!(h.response(del), Some(&Response::Done));
    assert!(record(&h, primary, b"k").unwrap().is_tombstone());
    let to = h.request(primary, get("k")).unwrap();
    h.deliver_all().unwrap();
    assert_eq!(h.response(to), Some(&Response::Value(None)));
    no_handler_errors(&h);
}

#[test]
fn write_without_quorum_fails_indeterminate_and_read_is_unavailable() {
    let mut h = harness(3, 3, quiet(2, 2));
    let replicas = replicas(&h, b"k");
    for &node in &replicas[1..] {
        h.crash(node).unwrap();
    }
    let w = h.request(replicas[0], put("k", "v")).unwrap();
    let r = h.request(replicas[0], get("k")).unwrap();
    let deadline = proto(&h, replicas[0]).deadline_ticks;
    for i in 0..deadline {
        assert_eq!(h.response(w), None, "answered after {i} ticks");
        tick(&mut h, replicas[0]);
        assert_eq!(h.deliver_all().unwrap(), 0, "the other replicas are down");
    }
    assert!(matches!(h.response(w), Some(Response::Failed(_))));
    assert!(matches!(h.response(r), Some(Response::Unavailable(_))));
    assert_eq!(proto(&h, replicas[0]).pending_operations(), (0, 0));
}

#[test]
fn retransmits_after_a_lost_store() {
    let mut h = harness(3, 3, quiet(1, 3));
    let replicas = replicas(&h, b"k");
    let to = h.request(replicas[0], put("k", "v")).unwrap();
    for lost in h.in_flight() {
        h.drop_message(lost.id).unwrap(); // every Store lost
    }
    tick(&mut h, replicas[0]);
    h.deliver_all().unwrap();
    assert_eq!(h.response(to), Some(&Response::Done));
    no_handler_errors(&h);
}

#[test]
fn duplicate_and_old_stores_are_acked_but_not_applied() {
    let mut h = harness(3, 3, quiet(1, 1));
    let node = replicas(&h, b"k")[1];
    let newer = Record::value(Version::new(50, NodeId(0)), b"new".to_vec());
    let older = Record::value(Version::new(40, NodeId(2)), b"old".to_vec());
    let store = |op, record| Msg::Store {
        op,
        key: b"k".to_vec(),
        record,
        hint_for: None,
    };
    let first = h.inject(NodeId(0), node, &store(1, newer.clone())).unwrap();
    let copy = h.duplicate(first).unwrap();
    let old = h.inject(NodeId(0), node, &store(2, older)).unwrap();
    for (sent, op) in [(first, 1), (old, 2), (copy, 1)] {
        assert!(h.deliver(sent).unwrap());
        // Each store is acked once, whether applied or not.
        let acks: Vec<Held<Msg>> = (h.in_flight().into_iter())
            .filter(|m| !matches!(m.message, Msg::Store { .. }))
            .collect();
        assert_eq!(acks.len(), 1, "{acks:?}");
        assert_eq!((acks[0].from, acks[0].to), (node, NodeId(0)));
        assert_eq!(acks[0].message, Msg::StoreAck { op });
        h.drop_message(acks[0].id).unwrap();
    }
    assert_eq!(record(&h, node, b"k"), Some(newer));
    no_handler_errors(&h);
}

#[test]
fn sloppy_quorum_hints_and_hands_off() {
    // Four nodes, N = 3: one fallback node beyond each key's replicas.
    let mut h = harness(4, 3, quiet(1, 3));
    let preference = h.placement().preference_list(b"k", 4);
    let (coordinator, absent, holder) = (preference[0], preference[2], preference[3]);
    let down = [absent];
    let to = h.request(coordinator, put("k", "v")).unwrap();
    h.deliver_all_where(reachable(&down)).unwrap();
    assert_eq!(h.response(to), None, "only 2 of W = 3 so far");
    for _ in 0..proto(&h, coordinator).hint_after_ticks {
        tick(&mut h, coordinator);
        h.deliver_all_where(reachable(&down)).unwrap();
    }
    // The hint holder stood in for the absent replica: W = 3 reached.
    assert_eq!(h.response(to), Some(&Response::Done));
    let hints = hints::pending_hints(h.store(holder).unwrap()).unwrap();
    assert_eq!(hints.len(), 1);
    assert_eq!(hints[0].target, absent);
    assert_eq!(record(&h, holder, b"k"), None, "a hint is not a record");
    // The absent replica comes back; the holder's handoff round delivers.
    for _ in 0..10 {
        tick(&mut h, holder);
        h.deliver_all().unwrap();
    }
    assert_eq!(record(&h, absent, b"k").unwrap().value, Some(b"v".to_vec()));
    assert!(
        hints::pending_hints(h.store(holder).unwrap())
            .unwrap()
            .is_empty()
    );
    no_handler_errors(&h);
}

#[test]
fn suspected_replica_is_hinted_at_once() {
    let mut h = harness(4, 3, quiet(1, 3));
    let preference = h.placement().preference_list(b"k", 4);
    let (coordinator, absent) = (preference[0], preference[2]);
    let down = [absent];
    h.request(coordinator, put("k", "v1")).unwrap();
    for _ in 0..proto(&h, coordinator).hint_after_ticks {
        tick(&mut h, coordinator);
        h.deliver_all_where(reachable(&down)).unwrap();
    }
    // A second write needs no tick: the absent replica is already suspected.
    let to = h.request(coordinator, put("k", "v2")).unwrap();
    h.deliver_all_where(reachable(&down)).unwrap();
    assert_eq!(h.response(to), Some(&Response::Done));
    no_handler_errors(&h);
}

#[test]
fn anti_entropy_copies_newer_records_both_ways() {
    let mut h = harness(2, 2, EventualConfig::new(1, 1));
    let a = Record::value(Version::new(5, NodeId(0)), b"a".to_vec());
    let b_old = Record::value(Version::new(5, NodeId(0)), b"b-old".to_vec());
    let b_new = Record::value(Version::new(9, NodeId(1)), b"b-new".to_vec());
    let (n0, n1) = (NodeId(0), NodeId(1));
    h.with_protocol(n0, |p, c| {
        p.replica.apply(c, b"a", &a)?;
        p.replica.apply(c, b"b", &b_old).map(|_| ())
    })
    .unwrap();
    h.with_protocol(n1, |p, c| p.replica.apply(c, b"b", &b_new).map(|_| ()))
        .unwrap();
    // Start one round from node 0 by hand (no tick fires).
    let round = |h: &mut H| {
        h.with_protocol(n0, |p, c| {
            p.start_anti_entropy(c);
            Ok(())
        })
        .unwrap();
        let sent = RefCell::new(Vec::new());
        h.deliver_all_where(|m| {
            sent.borrow_mut().push(m.message.clone());
            true
        })
        .unwrap();
        sent.into_inner()
    };
    let first = round(&mut h);
    assert!(
        first.iter().any(|m| matches!(m, Msg::SyncPush { .. })),
        "{first:?}"
    );
    for node in [n0, n1] {
        assert_eq!(record(&h, node, b"a"), Some(a.clone()));
        assert_eq!(record(&h, node, b"b"), Some(b_new.clone()));
    }
    // Converged: digests now match and a new round sends nothing beyond
    // its digest.
    assert_eq!(
        proto(&h, n0).replica.summary(n1),
        proto(&h, n1).replica.summary(n0)
    );
    let second = round(&mut h);
    assert!(
        matches!(second.as_slice(), [Msg::SyncDigest { .. }]),
        "{second:?}"
    );
    no_handler_errors(&h);
}

/// A 3-node harness (N = 3) in which the second replica of key `k` runs its
/// clock ten seconds behind, a minute into the run. Returns the harness, the
/// key's replicas, its healthy primary and the skewed replica.
fn with_skewed_replica(config: EventualConfig) -> (H, Vec<NodeId>, NodeId, NodeId) {
    let h = harness(3, 3, config);
    h.advance(Duration::from_secs(60));
    let replicas = replicas(&h, b"k");
    let (good, skewed) = (replicas[0], replicas[1]);
    h.clock().set_skew(skewed, -10_000_000_000);
    (h, replicas, good, skewed)
}

#[test]
fn skewed_coordinator_loses_to_an_earlier_write() {
    let (mut h, replicas, good, skewed) = with_skewed_replica(quiet(3, 3));
    h.request(good, put("k", "first")).unwrap();
    h.deliver_all().unwrap();
    let late = h.request(skewed, put("k", "second")).unwrap();
    h.deliver_all().unwrap();
    // Acknowledged...
    assert_eq!(h.response(late), Some(&Response::Done));
    // ...and lost: every replica keeps the earlier write.
    for node in replicas {
        assert_eq!(
            record(&h, node, b"k").unwrap().value,
            Some(b"first".to_vec())
        );
    }
    no_handler_errors(&h);
}

fn hybrid(r: usize, w: usize) -> EventualConfig {
    EventualConfig {
        hybrid_clock: true,
        ..quiet(r, w)
    }
}

#[test]
fn hybrid_clock_stamps_a_write_above_the_write_its_coordinator_stored() {
    let (mut h, replicas, good, skewed) = with_skewed_replica(hybrid(3, 3));
    h.request(good, put("k", "first")).unwrap();
    h.deliver_all().unwrap();
    let first = record(&h, skewed, b"k").unwrap().version;
    let late = h.request(skewed, put("k", "second")).unwrap();
    h.deliver_all().unwrap();
    assert_eq!(h.response(late), Some(&Response::Done));
    // The skewed node had stored "first", so "second" is stamped above it,
    // ten seconds of skew notwithstanding, and wins everywhere.
    for node in replicas {
        let record = record(&h, node, b"k").unwrap();
        assert_eq!(record.value, Some(b"second".to_vec()), "{node}");
        assert!(record.version > first, "{node}");
    }
    no_handler_errors(&h);
}

#[test]
fn hybrid_clock_still_loses_a_write_whose_coordinator_had_not_heard_of_the_earlier_one() {
    let (mut h, _, good, skewed) = with_skewed_replica(hybrid(1, 1));
    // "first" never reaches the skewed node.
    h.request(good, put("k", "first")).unwrap();
    h.deliver_all_where(reachable(&[skewed])).unwrap();
    assert_eq!(record(&h, skewed, b"k"), None);
    let late = h.request(skewed, put("k", "second")).unwrap();
    h.deliver_all().unwrap();
    assert_eq!(h.response(late), Some(&Response::Done));
    // Later in real time, stamped ten seconds earlier: the replicas that
    // hold "first" keep it.
    assert_eq!(
        record(&h, good, b"k").unwrap().value,
        Some(b"first".to_vec())
    );
    assert!(record(&h, skewed, b"k").unwrap().version < record(&h, good, b"k").unwrap().version);
    no_handler_errors(&h);
}

#[test]
fn hybrid_clock_restarts_above_every_stored_stamp() {
    let (mut h, _, good, skewed) = with_skewed_replica(hybrid(3, 3));
    h.request(good, put("k", "first")).unwrap();
    h.deliver_all().unwrap();
    let first = record(&h, skewed, b"k").unwrap().version;
    h.restart(skewed).unwrap();
    h.request(skewed, put("k", "second")).unwrap();
    h.deliver_all().unwrap();
    assert!(record(&h, good, b"k").unwrap().version > first);
    assert_eq!(
        record(&h, good, b"k").unwrap().value,
        Some(b"second".to_vec())
    );
    no_handler_errors(&h);
}

#[test]
fn late_ack_from_a_previous_incarnation_matches_nothing() {
    let mut h = harness(3, 3, quiet(1, 2));
    let replicas = replicas(&h, b"k");
    let to = h.request(replicas[0], put("k", "v")).unwrap();
    let held = h.in_flight();
    let stale_op = ack_op(&held[0]);
    for lost in held {
        h.drop_message(lost.id).unwrap();
    }
    // A crash and restart: a fresh protocol over the same storage, which an
    // acknowledgement meant for its previous incarnation reaches.
    h.restart(replicas[0]).unwrap();
    let ack = h
        .inject(replicas[1], replicas[0], &Msg::StoreAck { op: stale_op })
        .unwrap();
    assert!(h.deliver(ack).unwrap());
    assert_eq!(h.response(to), None);
    assert!(h.in_flight().is_empty(), "{:?}", h.in_flight());
    // The record survived the crash and the restarted clock stays ahead of it.
    let before = record(&h, replicas[0], b"k").unwrap().version;
    h.request(replicas[0], put("k", "w")).unwrap();
    assert!(record(&h, replicas[0], b"k").unwrap().version > before);
    no_handler_errors(&h);
}

#[test]
fn garbage_hint_is_reported_as_corrupt() {
    let h = harness(1, 1, quiet(1, 1));
    let store = h.store(NodeId(0)).unwrap();
    store
        .put_meta(b"eventual/hint/\0\0\0\x01k", b"\xff\xff\xff")
        .unwrap();
    assert!(matches!(
        hints::pending_hints(store),
        Err(crate::Error::Corrupt { .. })
    ));
}
