//! Strong (ABD) mode: the state machine stepped message by message on the
//! harness ([`replikv::sim::Harness`]: real nodes, every message held until
//! the test delivers, drops or duplicates it), then whole clusters with
//! crashes and partitions.
//!
//! Run with `cargo test --test strong`. Fault-injected linearizability runs
//! are in `tests/strong_faults.rs` and `tests/sim_strong_faults.rs`.

use replikv::protocol::strong::{OpId, Strong, StrongConfig, StrongMessage};
use replikv::protocol::{Request, Response};
use replikv::sim::{Harness, Held, MessageId};
use replikv::storage::{Record, Version};
use replikv::{Cluster, Consistency, CoordinatorPolicy, Error, NodeId, StorageKind};
use std::time::{Duration, Instant};

type H = Harness<Strong>;
type Msg = StrongMessage;

/// `nodes` nodes running strong mode with `replication` copies of a key.
fn harness(nodes: u32, replication: usize, config: StrongConfig) -> replikv::Result<H> {
    Harness::new(nodes, replication, move |setup| {
        Strong::with_config(setup.incarnation, config)
    })
}

fn three() -> replikv::Result<H> {
    harness(3, 3, StrongConfig::default())
}

fn put(value: &str) -> Request {
    Request::Put {
        key: b"k".to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn get() -> Request {
    Request::Get { key: b"k".to_vec() }
}

fn record(counter: u64, node: u32, value: &str) -> Record {
    Record::value(
        Version::new(counter, NodeId(node)),
        value.as_bytes().to_vec(),
    )
}

fn qr(op: OpId, record: Option<Record>) -> Msg {
    StrongMessage::QueryReply { op, record }
}

fn ack(op: OpId) -> Msg {
    StrongMessage::StoreAck { op }
}

/// The operation of the newest query held.
fn query_op(held: &[Held<Msg>]) -> OpId {
    match held
        .iter()
        .rev()
        .find(|m| matches!(m.message, Msg::Query { .. }))
    {
        Some(Held {
            message: Msg::Query { op, .. },
            ..
        }) => *op,
        other => panic!("expected queries, got {other:?}"),
    }
}

/// The held message of operation `op` that `pick` matches, to `to`.
fn find(h: &H, to: NodeId, op: OpId, pick: fn(&Msg) -> Option<OpId>) -> MessageId {
    match (h.in_flight().into_iter()).find(|m| m.to == to && pick(&m.message) == Some(op)) {
        Some(m) => m.id,
        None => panic!("no such message to {to} of {op:?}: {:?}", h.in_flight()),
    }
}

fn query(m: &Msg) -> Option<OpId> {
    match m {
        Msg::Query { op, .. } => Some(*op),
        _ => None,
    }
}

fn store(m: &Msg) -> Option<OpId> {
    match m {
        Msg::Store { op, .. } => Some(*op),
        _ => None,
    }
}

/// Delivers the held message `id`; what its receiver sent in answer.
fn deliver_one(h: &mut H, id: MessageId) -> replikv::Result<Vec<Held<Msg>>> {
    let before = h.in_flight().iter().map(|m| m.id).max();
    assert!(h.deliver(id)?, "message {id:?} reached its node");
    Ok((h.in_flight().into_iter())
        .filter(|m| Some(m.id) > before)
        .collect())
}

/// Delivers the held message `id` and then whatever its receiver sent in
/// answer; returns what the answers caused.
fn exchange(h: &mut H, id: MessageId) -> replikv::Result<Vec<Held<Msg>>> {
    let mut caused = Vec::new();
    for answer in deliver_one(h, id)? {
        caused.extend(deliver_one(h, answer.id)?);
    }
    Ok(caused)
}

/// Delivers `op`'s query to `to` and the reply; what the reply caused.
fn query_round(h: &mut H, op: OpId, to: u32) -> replikv::Result<Vec<Held<Msg>>> {
    exchange(h, find(h, NodeId(to), op, query))
}

/// Delivers `op`'s store to `to` and the acknowledgement.
fn store_round(h: &mut H, op: OpId, to: u32) -> replikv::Result<Vec<Held<Msg>>> {
    exchange(h, find(h, NodeId(to), op, store))
}

/// Injects `message` from `from` to `to` and delivers it; what it caused.
fn inject(h: &mut H, from: u32, to: u32, message: Msg) -> replikv::Result<Vec<Held<Msg>>> {
    let id = h.inject(NodeId(from), NodeId(to), &message)?;
    deliver_one(h, id)
}

fn stored_records(held: &[Held<Msg>]) -> Vec<Record> {
    held.iter()
        .filter_map(|m| match &m.message {
            StrongMessage::Store { record, .. } => Some(record.clone()),
            _ => None,
        })
        .collect()
}

fn targets(held: &[Held<Msg>]) -> Vec<NodeId> {
    let mut to: Vec<NodeId> = held.iter().map(|m| m.to).collect();
    to.sort();
    to
}

/// Puts `record` under "k" on each of `nodes`.
fn holding(h: &H, nodes: &[u32], record: &Record) -> replikv::Result<()> {
    for &node in nodes {
        h.store(NodeId(node))?.put_record(b"k", record)?;
    }
    Ok(())
}

/// The tokens of `node`'s live timers.
fn timer_tokens(h: &H, node: u32) -> replikv::Result<Vec<u64>> {
    Ok(h.timers(NodeId(node))?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

// ---------------------------------------------------------------- state machine

#[test]
fn a_write_queries_every_replica_then_stores_max_plus_one() -> replikv::Result<()> {
    let mut h = three()?;
    holding(&h, &[1], &record(5, 2, "old"))?;
    let to = h.request(NodeId(0), put("new"))?;
    let first = h.in_flight();
    assert_eq!(targets(&first), vec![NodeId(0), NodeId(1), NodeId(2)]);
    assert_eq!(timer_tokens(&h, 0)?.len(), 1, "one tick timer while busy");
    let op = query_op(&first);

    let one = query_round(&mut h, op, 1)?;
    assert!(one.is_empty(), "one reply is not a majority of 3");
    let two = query_round(&mut h, op, 2)?;
    let stores = stored_records(&two);
    assert_eq!(stores.len(), 3, "phase 2 goes to every replica");
    assert!(
        stores.iter().all(|r| *r == record(6, 0, "new")),
        "{stores:?}"
    );

    store_round(&mut h, op, 2)?;
    assert!(h.responses().is_empty());
    store_round(&mut h, op, 0)?;
    assert_eq!(h.responses(), &[(to, Response::Done)]);
    assert_eq!(h.protocol(NodeId(0)).map(Strong::in_flight), Some(0));
    // The third store is still held: n1 has not got it yet.
    assert_eq!(h.record(NodeId(1), b"k")?, Some(record(5, 2, "old")));
    assert_eq!(h.handler_errors(), 0);
    Ok(())
}

#[test]
fn duplicate_late_and_foreign_replies_are_ignored() -> replikv::Result<()> {
    let mut h = three()?;
    h.restart(NodeId(0))?; // incarnation 1: incarnation 0 is the past
    let to = h.request(NodeId(0), put("v"))?;
    let op = query_op(&h.in_flight());

    // The same replica twice is still one reply.
    let query = find(&h, NodeId(1), op, query);
    let copy = h.duplicate(query)?;
    assert!(exchange(&mut h, query)?.is_empty());
    assert!(exchange(&mut h, copy)?.is_empty());
    // A reply to this operation's number from an earlier incarnation.
    let stale = OpId {
        incarnation: op.incarnation - 1,
        ..op
    };
    assert!(inject(&mut h, 2, 0, qr(stale, None))?.is_empty());
    // An acknowledgement before any store was sent.
    assert!(inject(&mut h, 2, 0, ack(op))?.is_empty());
    assert!(h.responses().is_empty());

    let stores = query_round(&mut h, op, 2)?;
    assert_eq!(stored_records(&stores).len(), 3);
    // A late phase 1 reply changes nothing now: n0's own, and a forged one
    // carrying a newer record.
    assert!(query_round(&mut h, op, 0)?.is_empty());
    assert!(inject(&mut h, 0, 0, qr(op, Some(record(99, 1, "x"))))?.is_empty());
    assert!(h.responses().is_empty());
    // Duplicate acknowledgements from one replica are one ack.
    let store = find(&h, NodeId(1), op, store);
    h.duplicate(store)?;
    store_round(&mut h, op, 1)?;
    store_round(&mut h, op, 1)?;
    assert!(h.responses().is_empty());
    store_round(&mut h, op, 0)?;
    assert_eq!(h.responses(), &[(to, Response::Done)]);
    // After the answer, more acks bring no second answer.
    store_round(&mut h, op, 2)?;
    assert_eq!(h.responses().len(), 1);
    assert_eq!(h.handler_errors(), 0);
    Ok(())
}

#[test]
fn a_read_writes_back_the_newest_record_when_the_majority_disagrees() -> replikv::Result<()> {
    let mut h = three()?;
    let newest = record(3, 1, "in-progress");
    holding(&h, &[2], &record(2, 2, "old"))?;
    holding(&h, &[1], &newest)?;
    let to = h.request(NodeId(0), get())?;
    let op = query_op(&h.in_flight());
    query_round(&mut h, op, 2)?;
    let phase2 = query_round(&mut h, op, 1)?;
    assert!(
        h.responses().is_empty(),
        "must not answer before the write-back"
    );
    assert_eq!(stored_records(&phase2), vec![newest.clone(); 3]);
    store_round(&mut h, op, 1)?;
    assert!(h.responses().is_empty());
    store_round(&mut h, op, 2)?;
    assert_eq!(
        h.responses(),
        &[(to, Response::Value(newest.value.clone()))]
    );
    // The write-back reached n2.
    assert_eq!(h.record(NodeId(2), b"k")?, Some(newest));
    Ok(())
}

#[test]
fn a_read_answers_in_one_round_trip_when_the_majority_agrees() -> replikv::Result<()> {
    let mut h = three()?;
    holding(&h, &[0, 2], &record(7, 2, "v"))?;
    let to = h.request(NodeId(0), get())?;
    let op = query_op(&h.in_flight());
    query_round(&mut h, op, 0)?;
    let done = query_round(&mut h, op, 2)?;
    assert!(done.is_empty(), "no write-back: {done:?}");
    assert_eq!(
        h.take_responses(),
        vec![(to, Response::Value(Some(b"v".to_vec())))]
    );

    // A missing key agreed on by a majority reads as None, also at once.
    let to = h.request(
        NodeId(0),
        Request::Get {
            key: b"new".to_vec(),
        },
    )?;
    let op = query_op(&h.in_flight());
    query_round(&mut h, op, 0)?;
    assert!(query_round(&mut h, op, 1)?.is_empty());
    assert_eq!(h.responses(), &[(to, Response::Value(None))]);
    Ok(())
}

#[test]
fn a_delete_stores_a_tombstone() -> replikv::Result<()> {
    let mut h = three()?;
    holding(&h, &[0], &record(4, 0, "x"))?;
    h.request(NodeId(1), Request::Delete { key: b"k".to_vec() })?;
    let op = query_op(&h.in_flight());
    query_round(&mut h, op, 0)?;
    let phase2 = query_round(&mut h, op, 2)?;
    assert_eq!(
        stored_records(&phase2),
        vec![Record::tombstone(Version::new(5, NodeId(1))); 3]
    );
    Ok(())
}

#[test]
fn concurrent_writes_through_one_coordinator_get_distinct_versions() -> replikv::Result<()> {
    let mut h = three()?;
    holding(&h, &[1], &record(3, 1, "x"))?;
    h.request(NodeId(0), put("a"))?;
    let a = query_op(&h.in_flight());
    h.request(NodeId(0), put("b"))?;
    let b = query_op(&h.in_flight());
    let mut versions = Vec::new();
    for op in [a, b] {
        // Both queries see the same maximum…
        query_round(&mut h, op, 1)?;
        let p2 = query_round(&mut h, op, 2)?;
        versions.push(stored_records(&p2)[0].version);
    }
    // …yet the two values never share a version.
    assert_ne!(versions[0], versions[1]);
    assert!(versions.iter().all(|v| v.counter > 3), "{versions:?}");
    Ok(())
}

#[test]
fn a_restarted_coordinator_never_reuses_a_version() -> replikv::Result<()> {
    let mut h = three()?;
    let mut versions = Vec::new();
    for _ in 0..3 {
        h.request(NodeId(0), put("v"))?;
        let op = query_op(&h.in_flight());
        query_round(&mut h, op, 1)?;
        let p2 = query_round(&mut h, op, 2)?;
        versions.push(stored_records(&p2)[0].version);
        // Every store is lost, then the coordinator restarts: same
        // storage, fresh protocol.
        h.deliver_all_where(|_| false)?;
        h.restart(NodeId(0))?;
    }
    versions.dedup();
    assert_eq!(
        versions.len(),
        3,
        "each incarnation issued a fresh version: {versions:?}"
    );
    Ok(())
}

#[test]
fn unanswered_replicas_get_the_request_again_on_the_tick() -> replikv::Result<()> {
    let mut h = three()?;
    h.request(NodeId(0), put("v"))?;
    let op = query_op(&h.in_flight());
    let tick = timer_tokens(&h, 0)?[0];
    query_round(&mut h, op, 1)?;
    h.deliver_all_where(|_| false)?; // the other two queries are lost

    assert!(h.fire_timer(NodeId(0), tick)?);
    assert!(
        h.in_flight().is_empty(),
        "too early: the requests may still be in flight"
    );
    assert_eq!(timer_tokens(&h, 0)?, vec![tick], "re-armed while busy");
    assert!(h.fire_timer(NodeId(0), tick)?);
    assert_eq!(
        targets(&h.in_flight()),
        vec![NodeId(0), NodeId(2)],
        "only the silent replicas"
    );
    Ok(())
}

/// Fires `node`'s tick `n` times, losing every message it sends.
fn silent_ticks(h: &mut H, tick: u64, n: u64) -> replikv::Result<()> {
    for _ in 0..n {
        assert!(h.fire_timer(NodeId(0), tick)?, "the tick is armed");
        h.deliver_all_where(|_| false)?;
    }
    Ok(())
}

fn short_deadline() -> replikv::Result<StrongConfig> {
    StrongConfig::new(Duration::from_millis(10), Duration::from_millis(50))
}

#[test]
fn past_the_deadline_phase_one_answers_unavailable() -> replikv::Result<()> {
    let config = short_deadline()?;
    let mut h = harness(3, 3, config)?;
    let to = h.request(NodeId(0), put("v"))?;
    h.deliver_all_where(|_| false)?;
    let tick = timer_tokens(&h, 0)?[0];
    silent_ticks(&mut h, tick, config.deadline_ticks())?;
    assert!(h.responses().is_empty(), "not before the deadline");
    silent_ticks(&mut h, tick, 1)?;
    assert!(
        matches!(h.responses(), [(t, Response::Unavailable(_))] if *t == to),
        "{:?}",
        h.responses()
    );
    assert!(timer_tokens(&h, 0)?.is_empty(), "idle: the tick stops");
    assert_eq!(h.protocol(NodeId(0)).map(Strong::in_flight), Some(0));
    Ok(())
}

#[test]
fn past_the_deadline_a_write_in_phase_two_stays_silent_but_a_read_does_not() -> replikv::Result<()>
{
    let config = short_deadline()?;
    let mut h = harness(3, 3, config)?;
    holding(&h, &[1], &record(2, 1, "a"))?;
    h.request(NodeId(0), put("v"))?;
    let wop = query_op(&h.in_flight());
    let tick = timer_tokens(&h, 0)?[0];
    let read_to = h.request(NodeId(0), get())?;
    let rop = query_op(&h.in_flight());
    for from in [1, 2] {
        query_round(&mut h, wop, from)?;
        query_round(&mut h, rop, from)?;
    }
    // Both are in phase 2 now; one store lands, then silence.
    store_round(&mut h, wop, 1)?;
    h.deliver_all_where(|_| false)?;
    silent_ticks(&mut h, tick, config.deadline_ticks() + 1)?;
    assert_eq!(h.protocol(NodeId(0)).map(Strong::in_flight), Some(0));
    assert_eq!(
        h.responses().len(),
        1,
        "only the read answers: {:?}",
        h.responses()
    );
    assert!(matches!(h.responses()[0], (to, Response::Unavailable(_)) if to == read_to));
    Ok(())
}

#[test]
fn a_coordinator_that_is_not_a_replica_only_messages_the_replicas() -> replikv::Result<()> {
    // Four nodes, N = 3: one node holds no copy of "k".
    let mut h = harness(4, 3, StrongConfig::default())?;
    let replicas = h.placement().replicas(b"k");
    let Some(outsider) = (0..4).map(NodeId).find(|n| !replicas.contains(n)) else {
        panic!("4 nodes and 3 replicas leave one outsider");
    };
    let to = h.request(outsider, put("v"))?;
    let first = h.in_flight();
    let mut expected = replicas.clone();
    expected.sort();
    assert_eq!(targets(&first), expected);
    let op = query_op(&first);
    // A reply from the outsider itself does not count: it is no replica.
    assert!(inject(&mut h, outsider.0, outsider.0, qr(op, None))?.is_empty());
    query_round(&mut h, op, replicas[0].0)?;
    let p2 = query_round(&mut h, op, replicas[1].0)?;
    assert_eq!(targets(&p2), expected);
    store_round(&mut h, op, replicas[1].0)?;
    assert!(h.responses().is_empty());
    store_round(&mut h, op, replicas[2].0)?;
    assert_eq!(h.responses(), &[(to, Response::Done)]);
    Ok(())
}

#[test]
fn a_replica_answers_queries_and_keeps_only_newer_records() -> replikv::Result<()> {
    let mut h = three()?;
    let op = OpId {
        incarnation: 0,
        seq: 0,
    };
    let store = |record: Record| StrongMessage::Store {
        op,
        key: b"k".to_vec(),
        record,
    };
    let query = StrongMessage::Query {
        op,
        key: b"k".to_vec(),
    };
    let answer = |held: Vec<Held<Msg>>| -> Vec<(NodeId, NodeId, Msg)> {
        held.into_iter()
            .map(|m| (m.from, m.to, m.message))
            .collect()
    };

    let o = inject(&mut h, 0, 1, query.clone())?;
    assert_eq!(answer(o), vec![(NodeId(1), NodeId(0), qr(op, None))]);
    let two = h.inject(NodeId(0), NodeId(1), &store(record(2, 0, "two")))?;
    let sent = [
        (two, record(2, 0, "two")),
        // The network's duplicate: acked again.
        (h.duplicate(two)?, record(2, 0, "two")),
        // Older: acked, not kept.
        (
            h.inject(NodeId(0), NodeId(1), &store(record(1, 2, "one")))?,
            record(2, 0, "two"),
        ),
        // Same counter, higher node wins.
        (
            h.inject(NodeId(0), NodeId(1), &store(record(2, 2, "tie")))?,
            record(2, 2, "tie"),
        ),
    ];
    for (id, kept) in sent {
        let o = deliver_one(&mut h, id)?;
        assert_eq!(answer(o), vec![(NodeId(1), NodeId(0), ack(op))]);
        assert_eq!(h.record(NodeId(1), b"k")?, Some(kept));
    }
    let o = inject(&mut h, 2, 1, query)?;
    assert_eq!(
        answer(o),
        vec![(NodeId(1), NodeId(2), qr(op, Some(record(2, 2, "tie"))))]
    );
    assert_eq!(h.handler_errors(), 0);
    Ok(())
}

// ---------------------------------------------------------------- clusters

fn strong_cluster(nodes: usize, storage: StorageKind, seed: u64) -> replikv::Result<Cluster> {
    Cluster::builder()
        .nodes(nodes)
        .consistency(Consistency::Strong)
        .storage(storage)
        .seed(seed)
        .build()
}

#[test]
fn put_get_delete() -> replikv::Result<()> {
    let cluster = strong_cluster(3, StorageKind::Memory, 1)?;
    let mut client = cluster.client()?;
    assert_eq!(client.get("k")?, None);
    client.put("k", "v1")?;
    assert_eq!(client.get("k")?, Some(b"v1".to_vec()));
    client.put("k", "v2")?;
    assert_eq!(client.get("k")?, Some(b"v2".to_vec()));
    client.delete("k")?;
    assert_eq!(client.get("k")?, None);
    client.put("k", "v3")?;
    assert_eq!(client.get("k")?, Some(b"v3".to_vec()));
    // Writes go to all three replicas and wait for two; the third follows.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut values = Vec::new();
        for node in cluster.nodes() {
            values.push(cluster.store(node)?.get_record(b"k")?.and_then(|r| r.value));
        }
        if values.iter().all(|v| v.as_deref() == Some(&b"v3"[..])) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas never caught up: {values:?}"
        );
        std::thread::yield_now();
    }
    Ok(())
}

#[test]
fn every_coordinator_serves_every_key_with_five_nodes() -> replikv::Result<()> {
    let cluster = Cluster::builder()
        .nodes(5)
        .replication(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Memory)
        .coordinator(CoordinatorPolicy::RoundRobin)
        .build()?;
    let mut client = cluster.client()?;
    for i in 0..20 {
        client.put(format!("k{i}"), format!("v{i}"))?;
    }
    for i in 0..20 {
        for _ in 0..3 {
            assert_eq!(
                client.get(format!("k{i}"))?,
                Some(format!("v{i}").into_bytes())
            );
        }
    }
    Ok(())
}

/// A key whose primary (the default coordinator) is `node`.
fn key_with_primary(cluster: &Cluster, node: NodeId) -> String {
    let found = (0..10_000)
        .map(|i| format!("key-{i}"))
        .find(|k| cluster.placement().replicas(k.as_bytes()).first() == Some(&node));
    match found {
        Some(key) => key,
        None => panic!("no key has primary {node}"),
    }
}

#[test]
fn survives_a_crashed_minority_and_restarts_without_going_back_in_time() -> replikv::Result<()> {
    // sled storage: restarted replicas read their records back from it.
    let cluster = strong_cluster(3, StorageKind::Temporary, 2)?;
    let key = key_with_primary(&cluster, NodeId(0));
    let mut client = cluster.client()?; // coordinator: n0, the primary
    client.put(&key, "v1")?;
    // The put returned after a majority stored v1; n1's copy may still be
    // on its way. Wait for it (bounded) before crashing n1.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cluster
        .store(NodeId(1))?
        .get_record(key.as_bytes())?
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "v1 never reached n1");
        std::thread::yield_now();
    }

    cluster.crash(NodeId(1))?;
    client.put(&key, "v2")?; // n0 and n2 store it; n1 misses it
    assert_eq!(client.get(&key)?, Some(b"v2".to_vec()));
    cluster.restart(NodeId(1))?;
    let on_n1 = cluster.store(NodeId(1))?.get_record(key.as_bytes())?;
    assert_eq!(
        on_n1.and_then(|r| r.value),
        Some(b"v1".to_vec()),
        "n1 kept v1 on disk"
    );

    // Now the other minority: only n0 and the stale n1 are up.
    cluster.crash(NodeId(2))?;
    assert_eq!(client.get(&key)?, Some(b"v2".to_vec()));
    client.put(&key, "v3")?;
    cluster.restart(NodeId(2))?;
    cluster.crash(NodeId(0))?;
    client.set_policy(CoordinatorPolicy::RoundRobin);
    client.set_timeout(Duration::from_millis(300));
    // n0 is down: a round-robin client reaches n1 or n2 within 3 attempts.
    let mut read = None;
    for _ in 0..3 {
        match client.get(&key) {
            Ok(v) => {
                read = Some(v);
                break;
            }
            Err(e) => assert!(
                e.is_indeterminate(),
                "only the dead coordinator times out: {e}"
            ),
        }
    }
    assert_eq!(read, Some(Some(b"v3".to_vec())));
    Ok(())
}

#[test]
fn the_minority_side_of_a_partition_is_unavailable_never_stale() -> replikv::Result<()> {
    let cluster = Cluster::builder()
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Memory)
        .seed(3)
        .build()?;
    let lonely = NodeId(2);
    let key = key_with_primary(&cluster, lonely);
    let mut minority = cluster.client()?; // always coordinated by n2
    let mut majority = cluster.client()?;
    majority.set_policy(CoordinatorPolicy::RoundRobin);
    minority.put(&key, "before")?;

    cluster
        .network()
        .partition(&[&[NodeId(0), NodeId(1)], &[lonely]])?;
    // The majority side keeps serving (round robin: 2 of 3 coordinators are on it).
    let mut latest = None;
    for i in 0..3 {
        let value = format!("during-{i}");
        match majority.put(&key, &value) {
            Ok(()) => latest = Some(value.into_bytes()),
            Err(e) => assert!(matches!(e, Error::Unavailable(_)), "{e}"),
        }
    }
    let ok = cluster.history().ops.iter().filter(|op| op.ok).count();
    assert!(
        ok >= 3,
        "the majority side must serve 2 of 3 writes, history has {ok} ok ops"
    );
    // The minority side answers Unavailable (the protocol's 500 ms deadline
    // is below the client's 1 s timeout) — never its own stale copy.
    assert!(matches!(minority.get(&key), Err(Error::Unavailable(_))));
    assert!(matches!(
        minority.put(&key, "lost"),
        Err(Error::Unavailable(_))
    ));

    cluster.network().heal();
    assert_eq!(
        minority.get(&key)?,
        latest,
        "after heal n2 reads the latest value"
    );
    Ok(())
}
