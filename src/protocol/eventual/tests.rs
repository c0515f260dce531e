//! Unit tests of the eventual state machine: no threads, no channels. A tiny
//! synchronous "bus" carries `Send` effects between protocol instances, and
//! ticks are fired by hand.

use super::*;
use crate::clock::Clock;
use crate::ids::ClientId;
use crate::partition::{Member, Partitioner, Rendezvous};
use crate::placement::Placement;
use crate::protocol::{Effect, Response, TimerId};
use crate::storage::{Durability, MemoryStorage, NodeStore, Record, Version};
use std::sync::Arc;

type Msg = EventualMessage;

/// `nodes` protocol instances sharing one placement with replication `n`.
struct Bus {
    nodes: Vec<(Eventual, Context<Msg>)>,
    replies: Vec<(ReplyTo, Response)>,
    /// Messages in flight: (from, to, message).
    queue: Vec<(NodeId, NodeId, Msg)>,
    /// Nodes whose incoming and outgoing messages are lost.
    down: Vec<NodeId>,
    clock: Arc<Clock>,
}

impl Bus {
    fn new(nodes: u32, n: usize, config: EventualConfig) -> Bus {
        let members: Vec<Member> = (0..nodes).map(|i| Member::new(NodeId(i))).collect();
        let partitioner: Box<dyn Partitioner> = Box::new(Rendezvous::new(&members).unwrap());
        let placement = Arc::new(Placement::new(partitioner, n));
        let clock = Arc::new(Clock::new(nodes as usize));
        let mut bus = Bus {
            nodes: Vec::new(),
            replies: Vec::new(),
            queue: Vec::new(),
            down: Vec::new(),
            clock: clock.clone(),
        };
        for i in 0..nodes {
            let store = NodeStore::new(
                NodeId(i),
                Arc::new(MemoryStorage::new()),
                Durability::Periodic,
            );
            let mut ctx = Context::new(
                NodeId(i),
                store,
                placement.clone(),
                clock.clone(),
                u64::from(i),
            );
            let mut proto = Eventual::with_config(config.clone());
            proto.on_start(&mut ctx).unwrap();
            bus.nodes.push((proto, ctx));
        }
        bus.collect_all();
        bus
    }

    fn collect(&mut self, node: NodeId) {
        let effects = self.nodes[node.index()].1.take_effects();
        for effect in effects {
            match effect {
                Effect::Send { to, message } => self.queue.push((node, to, message)),
                Effect::Reply { to, response } => self.replies.push((to, response)),
                Effect::SetTimer { .. } | Effect::CancelTimer(_) => {}
            }
        }
    }

    fn collect_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.collect(NodeId(i as u32));
        }
    }

    fn request(&mut self, at: NodeId, id: u64, request: Request) -> ReplyTo {
        let to = ReplyTo {
            client: ClientId(9),
            request: id,
        };
        let (proto, ctx) = &mut self.nodes[at.index()];
        proto.on_request(ctx, to, request).unwrap();
        self.collect(at);
        to
    }

    /// Delivers queued messages (and what they cause) until quiet.
    fn deliver(&mut self) {
        while !self.queue.is_empty() {
            for (from, to, message) in std::mem::take(&mut self.queue) {
                if self.down.contains(&from) || self.down.contains(&to) {
                    continue;
                }
                let (proto, ctx) = &mut self.nodes[to.index()];
                proto.on_message(ctx, from, message).unwrap();
                self.collect(to);
            }
        }
    }

    fn tick(&mut self, node: NodeId) {
        let (proto, ctx) = &mut self.nodes[node.index()];
        proto.on_timer(ctx, TimerId(0), TICK).unwrap();
        self.collect(node);
    }

    fn reply_to(&self, to: ReplyTo) -> Option<&Response> {
        self.replies
            .iter()
            .find(|(r, _)| *r == to)
            .map(|(_, resp)| resp)
    }

    fn record(&self, node: NodeId, key: &[u8]) -> Option<Record> {
        self.nodes[node.index()].1.store().get_record(key).unwrap()
    }

    fn replicas(&self, key: &[u8]) -> Vec<NodeId> {
        self.nodes[0].1.replicas(key)
    }
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
    let mut bus = Bus::new(3, 3, quiet(1, 2));
    let primary = bus.replicas(b"k")[0];
    let to = bus.request(primary, 1, put("k", "v"));
    // Stored locally (1 of 2), nothing answered yet.
    assert_eq!(bus.reply_to(to), None);
    assert!(bus.record(primary, b"k").is_some());
    bus.deliver();
    assert_eq!(bus.reply_to(to), Some(&Response::Done));
    for node in bus.replicas(b"k") {
        assert_eq!(bus.record(node, b"k").unwrap().value, Some(b"v".to_vec()));
    }
    // Every replica acked: nothing left pending.
    assert_eq!(bus.nodes[primary.index()].0.pending_operations(), (0, 0));
}

#[test]
fn read_returns_newest_and_repairs() {
    let mut bus = Bus::new(3, 3, quiet(3, 1));
    let replicas = bus.replicas(b"k");
    let old = Record::value(Version::new(10, NodeId(0)), b"old".to_vec());
    let new = Record::value(Version::new(20, NodeId(1)), b"new".to_vec());
    bus.nodes[replicas[0].index()]
        .1
        .store()
        .put_record(b"k", &old)
        .unwrap();
    bus.nodes[replicas[1].index()]
        .1
        .store()
        .put_record(b"k", &new)
        .unwrap();
    // Reload the indexes as a restart would.
    for (proto, ctx) in &mut bus.nodes {
        proto.on_start(ctx).unwrap();
    }
    bus.collect_all();
    let to = bus.request(replicas[0], 1, get("k"));
    bus.deliver();
    assert_eq!(
        bus.reply_to(to),
        Some(&Response::Value(Some(b"new".to_vec())))
    );
    // Read repair: the coordinator's own old copy and the empty third replica.
    for node in replicas {
        assert_eq!(bus.record(node, b"k"), Some(new.clone()), "{node}");
    }
}

#[test]
fn tombstone_reads_as_missing() {
    let mut bus = Bus::new(3, 3, quiet(2, 2));
    let primary = bus.replicas(b"k")[0];
    bus.request(primary, 1, put("k", "v"));
    bus.deliver();
    let del = bus.request(primary, 2, Request::Delete { key: b"k".to_vec() });
    bus.deliver();
    assert_eq!(bus.reply_to(del), Some(&Response::Done));
    assert!(bus.record(primary, b"k").unwrap().is_tombstone());
    let to = bus.request(primary, 3, get("k"));
    bus.deliver();
    assert_eq!(bus.reply_to(to), Some(&Response::Value(None)));
}

#[test]
fn write_without_quorum_fails_indeterminate_and_read_is_unavailable() {
    let mut bus = Bus::new(3, 3, quiet(2, 2));
    let replicas = bus.replicas(b"k");
    bus.down = replicas[1..].to_vec();
    let w = bus.request(replicas[0], 1, put("k", "v"));
    let r = bus.request(replicas[0], 2, get("k"));
    let deadline = bus.nodes[0].0.deadline_ticks;
    for _ in 0..deadline {
        bus.tick(replicas[0]);
        bus.deliver();
    }
    assert!(matches!(bus.reply_to(w), Some(Response::Failed(_))));
    assert!(matches!(bus.reply_to(r), Some(Response::Unavailable(_))));
    assert_eq!(
        bus.nodes[replicas[0].index()].0.pending_operations(),
        (0, 0)
    );
}

#[test]
fn retransmits_after_a_lost_store() {
    let mut bus = Bus::new(3, 3, quiet(1, 3));
    let replicas = bus.replicas(b"k");
    let to = bus.request(replicas[0], 1, put("k", "v"));
    bus.queue.clear(); // every Store lost
    bus.tick(replicas[0]);
    bus.deliver();
    assert_eq!(bus.reply_to(to), Some(&Response::Done));
}

#[test]
fn duplicate_and_old_stores_are_acked_but_not_applied() {
    let mut bus = Bus::new(3, 3, quiet(1, 1));
    let node = bus.replicas(b"k")[1];
    let newer = Record::value(Version::new(50, NodeId(0)), b"new".to_vec());
    let older = Record::value(Version::new(40, NodeId(2)), b"old".to_vec());
    for (op, record) in [(1, newer.clone()), (2, older), (3, newer.clone())] {
        let (proto, ctx) = &mut bus.nodes[node.index()];
        let store = Msg::Store {
            op,
            key: b"k".to_vec(),
            record,
            hint_for: None,
        };
        proto.on_message(ctx, NodeId(0), store).unwrap();
        let acks = ctx.take_effects();
        assert_eq!(
            acks,
            vec![Effect::Send {
                to: NodeId(0),
                message: Msg::StoreAck { op }
            }]
        );
    }
    assert_eq!(bus.record(node, b"k"), Some(newer));
}

#[test]
fn sloppy_quorum_hints_and_hands_off() {
    // Four nodes, N = 3: one fallback node beyond each key's replicas.
    let mut bus = Bus::new(4, 3, quiet(1, 3));
    let preference = bus.nodes[0].1.preference_list(b"k", 4);
    let (coordinator, absent, holder) = (preference[0], preference[2], preference[3]);
    bus.down = vec![absent];
    let to = bus.request(coordinator, 1, put("k", "v"));
    bus.deliver();
    assert_eq!(bus.reply_to(to), None, "only 2 of W = 3 so far");
    for _ in 0..bus.nodes[0].0.hint_after_ticks {
        bus.tick(coordinator);
        bus.deliver();
    }
    // The hint holder stood in for the absent replica: W = 3 reached.
    assert_eq!(bus.reply_to(to), Some(&Response::Done));
    let hints = hints::pending_hints(bus.nodes[holder.index()].1.store()).unwrap();
    assert_eq!(hints.len(), 1);
    assert_eq!(hints[0].target, absent);
    assert_eq!(bus.record(holder, b"k"), None, "a hint is not a record");
    // The absent replica comes back; the holder's handoff round delivers.
    bus.down.clear();
    for _ in 0..10 {
        bus.tick(holder);
        bus.deliver();
    }
    assert_eq!(bus.record(absent, b"k").unwrap().value, Some(b"v".to_vec()));
    assert!(
        hints::pending_hints(bus.nodes[holder.index()].1.store())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn suspected_replica_is_hinted_at_once() {
    let mut bus = Bus::new(4, 3, quiet(1, 3));
    let preference = bus.nodes[0].1.preference_list(b"k", 4);
    let (coordinator, absent) = (preference[0], preference[2]);
    bus.down = vec![absent];
    bus.request(coordinator, 1, put("k", "v1"));
    for _ in 0..bus.nodes[0].0.hint_after_ticks {
        bus.tick(coordinator);
        bus.deliver();
    }
    // A second write needs no tick: the absent replica is already suspected.
    let to = bus.request(coordinator, 2, put("k", "v2"));
    bus.deliver();
    assert_eq!(bus.reply_to(to), Some(&Response::Done));
}

#[test]
fn anti_entropy_copies_newer_records_both_ways() {
    let config = EventualConfig::new(1, 1);
    let mut bus = Bus::new(2, 2, config);
    let a = Record::value(Version::new(5, NodeId(0)), b"a".to_vec());
    let b_old = Record::value(Version::new(5, NodeId(0)), b"b-old".to_vec());
    let b_new = Record::value(Version::new(9, NodeId(1)), b"b-new".to_vec());
    let (p0, c0) = &mut bus.nodes[0];
    p0.replica.apply(c0, b"a", &a).unwrap();
    p0.replica.apply(c0, b"b", &b_old).unwrap();
    let (p1, c1) = &mut bus.nodes[1];
    p1.replica.apply(c1, b"b", &b_new).unwrap();
    // Start one round from node 0 by hand.
    let (p0, c0) = &mut bus.nodes[0];
    p0.start_anti_entropy(c0);
    bus.collect(NodeId(0));
    bus.deliver();
    for node in [NodeId(0), NodeId(1)] {
        assert_eq!(bus.record(node, b"a"), Some(a.clone()));
        assert_eq!(bus.record(node, b"b"), Some(b_new.clone()));
    }
    // Converged: digests now match and a new round sends nothing further.
    assert_eq!(
        bus.nodes[0].0.replica.summary(NodeId(1)),
        bus.nodes[1].0.replica.summary(NodeId(0))
    );
    let (p0, c0) = &mut bus.nodes[0];
    p0.start_anti_entropy(c0);
    bus.collect(NodeId(0));
    bus.deliver();
    let sent = bus
        .nodes
        .iter_mut()
        .map(|(_, c)| c.take_effects().len())
        .sum::<usize>();
    assert_eq!(sent, 0);
}

/// A 3-node bus (N = 3) in which the second replica of key `k` runs its
/// clock ten seconds behind. Returns the bus, the key's replicas, its
/// healthy primary and the skewed replica.
fn bus_with_skewed_replica(config: EventualConfig) -> (Bus, Vec<NodeId>, NodeId, NodeId) {
    let bus = Bus::new(3, 3, config);
    let replicas = bus.replicas(b"k");
    let (good, skewed) = (replicas[0], replicas[1]);
    bus.clock.set_skew(skewed, -10_000_000_000);
    (bus, replicas, good, skewed)
}

#[test]
fn skewed_coordinator_loses_to_an_earlier_write() {
    let (mut bus, replicas, good, skewed) = bus_with_skewed_replica(quiet(3, 3));
    bus.request(good, 1, put("k", "first"));
    bus.deliver();
    let late = bus.request(skewed, 2, put("k", "second"));
    bus.deliver();
    // Acknowledged...
    assert_eq!(bus.reply_to(late), Some(&Response::Done));
    // ...and lost: every replica keeps the earlier write.
    for node in replicas {
        assert_eq!(
            bus.record(node, b"k").unwrap().value,
            Some(b"first".to_vec())
        );
    }
}

fn hybrid(r: usize, w: usize) -> EventualConfig {
    EventualConfig {
        hybrid_clock: true,
        ..quiet(r, w)
    }
}

#[test]
fn hybrid_clock_stamps_a_write_above_the_write_its_coordinator_stored() {
    let (mut bus, replicas, good, skewed) = bus_with_skewed_replica(hybrid(3, 3));
    bus.request(good, 1, put("k", "first"));
    bus.deliver();
    let first = bus.record(skewed, b"k").unwrap().version;
    let late = bus.request(skewed, 2, put("k", "second"));
    bus.deliver();
    assert_eq!(bus.reply_to(late), Some(&Response::Done));
    // The skewed node had stored "first", so "second" is stamped above it,
    // ten seconds of skew notwithstanding, and wins everywhere.
    for node in replicas {
        let record = bus.record(node, b"k").unwrap();
        assert_eq!(record.value, Some(b"second".to_vec()), "{node}");
        assert!(record.version > first, "{node}");
    }
}

#[test]
fn hybrid_clock_still_loses_a_write_whose_coordinator_had_not_heard_of_the_earlier_one() {
    let (mut bus, _, good, skewed) = bus_with_skewed_replica(hybrid(1, 1));
    // "first" never reaches the skewed node.
    bus.down.push(skewed);
    bus.request(good, 1, put("k", "first"));
    bus.deliver();
    bus.down.clear();
    assert_eq!(bus.record(skewed, b"k"), None);
    let late = bus.request(skewed, 2, put("k", "second"));
    bus.deliver();
    assert_eq!(bus.reply_to(late), Some(&Response::Done));
    // Later in real time, stamped ten seconds earlier: the replicas that
    // hold "first" keep it.
    assert_eq!(
        bus.record(good, b"k").unwrap().value,
        Some(b"first".to_vec())
    );
    assert!(bus.record(skewed, b"k").unwrap().version < bus.record(good, b"k").unwrap().version);
}

#[test]
fn hybrid_clock_restarts_above_every_stored_stamp() {
    let (mut bus, _, good, skewed) = bus_with_skewed_replica(hybrid(3, 3));
    bus.request(good, 1, put("k", "first"));
    bus.deliver();
    let first = bus.record(skewed, b"k").unwrap().version;
    // "Crash" the skewed node: a fresh protocol over the same storage.
    let (proto, ctx) = &mut bus.nodes[skewed.index()];
    *proto = Eventual::with_config(hybrid(3, 3));
    proto.on_start(ctx).unwrap();
    bus.collect(skewed);
    bus.request(skewed, 2, put("k", "second"));
    bus.deliver();
    assert!(bus.record(good, b"k").unwrap().version > first);
}

#[test]
fn late_ack_from_a_previous_incarnation_matches_nothing() {
    let mut bus = Bus::new(3, 3, quiet(1, 2));
    let replicas = bus.replicas(b"k");
    let to = bus.request(replicas[0], 1, put("k", "v"));
    let stale_op = match &bus.queue[0].2 {
        Msg::Store { op, .. } => *op,
        other => panic!("expected a store, got {other:?}"),
    };
    bus.queue.clear();
    // "Crash": a fresh protocol over the same storage.
    let (proto, ctx) = &mut bus.nodes[replicas[0].index()];
    *proto = Eventual::with_config(quiet(1, 2));
    proto.on_start(ctx).unwrap();
    proto
        .on_message(ctx, replicas[1], Msg::StoreAck { op: stale_op })
        .unwrap();
    bus.collect(replicas[0]);
    assert_eq!(bus.reply_to(to), None);
    // The record survived the crash and the restarted clock stays ahead of it.
    let before = bus.record(replicas[0], b"k").unwrap().version;
    bus.request(replicas[0], 2, put("k", "w"));
    assert!(bus.record(replicas[0], b"k").unwrap().version > before);
}

#[test]
fn garbage_hint_is_reported_as_corrupt() {
    let bus = Bus::new(1, 1, quiet(1, 1));
    let store = bus.nodes[0].1.store();
    store
        .put_meta(b"eventual/hint/\0\0\0\x01k", b"\xff\xff\xff")
        .unwrap();
    assert!(matches!(
        hints::pending_hints(store),
        Err(crate::Error::Corrupt { .. })
    ));
}
