//! Strong (ABD) mode: the state machine driven by hand (no threads), then
//! whole clusters with crashes and partitions.
//!
//! Run with `cargo test --test strong`. Fault-injected linearizability runs
//! are in `tests/strong_faults.rs`.

use replikv::partition::{Member, Rendezvous};
use replikv::protocol::strong::{OpId, Strong, StrongConfig, StrongMessage};
use replikv::protocol::{Context, Effect, Protocol, ReplyTo, Request, Response, TimerId};
use replikv::storage::{Record, Version};
use replikv::{
    ClientId, Clock, Cluster, Consistency, CoordinatorPolicy, Error, NodeId, Placement, StorageKind,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Ctx = Context<StrongMessage>;

const TO: ReplyTo = ReplyTo {
    client: ClientId(9),
    request: 1,
};

fn put(value: &str) -> Request {
    Request::Put {
        key: b"k".to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn get() -> Request {
    Request::Get { key: b"k".to_vec() }
}

/// Effects split into sends, replies and the tokens of timers set.
#[derive(Debug, Default)]
struct Out {
    sends: Vec<(NodeId, StrongMessage)>,
    replies: Vec<(ReplyTo, Response)>,
    timers: Vec<u64>,
}

fn out(ctx: &mut Ctx) -> Out {
    let mut out = Out::default();
    for effect in ctx.take_effects() {
        match effect {
            Effect::Send { to, message } => out.sends.push((to, message)),
            Effect::Reply { to, response } => out.replies.push((to, response)),
            Effect::SetTimer { token, .. } => out.timers.push(token),
            Effect::CancelTimer(_) => {}
        }
    }
    out
}

fn query_op(sends: &[(NodeId, StrongMessage)]) -> OpId {
    match sends.first() {
        Some((_, StrongMessage::Query { op, .. })) => *op,
        other => panic!("expected queries, got {other:?}"),
    }
}

fn record(counter: u64, node: u32, value: &str) -> Record {
    Record::value(
        Version::new(counter, NodeId(node)),
        value.as_bytes().to_vec(),
    )
}

fn qr(op: OpId, record: Option<Record>) -> StrongMessage {
    StrongMessage::QueryReply { op, record }
}

fn ack(op: OpId) -> StrongMessage {
    StrongMessage::StoreAck { op }
}

/// Delivers `message` from node `from` and returns the effects.
fn deliver(
    strong: &mut Strong,
    ctx: &mut Ctx,
    from: u32,
    message: StrongMessage,
) -> replikv::Result<Out> {
    strong.on_message(ctx, NodeId(from), message)?;
    Ok(out(ctx))
}

fn stored_records(sends: &[(NodeId, StrongMessage)]) -> Vec<Record> {
    sends
        .iter()
        .filter_map(|(_, m)| match m {
            StrongMessage::Store { record, .. } => Some(record.clone()),
            _ => None,
        })
        .collect()
}

fn targets(sends: &[(NodeId, StrongMessage)]) -> Vec<NodeId> {
    let mut to: Vec<NodeId> = sends.iter().map(|(to, _)| *to).collect();
    to.sort();
    to
}

// ---------------------------------------------------------------- state machine

#[test]
fn a_write_queries_every_replica_then_stores_max_plus_one() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(0), 3, 1);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, put("new"))?;
    let first = out(&mut ctx);
    assert_eq!(targets(&first.sends), vec![NodeId(0), NodeId(1), NodeId(2)]);
    assert_eq!(first.timers.len(), 1, "one tick timer while busy");
    let op = query_op(&first.sends);

    let one = deliver(&mut strong, &mut ctx, 1, qr(op, Some(record(5, 2, "old"))))?;
    assert!(one.sends.is_empty(), "one reply is not a majority of 3");
    let two = deliver(&mut strong, &mut ctx, 2, qr(op, None))?;
    let stores = stored_records(&two.sends);
    assert_eq!(stores.len(), 3, "phase 2 goes to every replica");
    assert!(
        stores.iter().all(|r| *r == record(6, 0, "new")),
        "{stores:?}"
    );

    assert!(
        deliver(&mut strong, &mut ctx, 2, ack(op))?
            .replies
            .is_empty()
    );
    let done = deliver(&mut strong, &mut ctx, 0, ack(op))?;
    assert_eq!(done.replies, vec![(TO, Response::Done)]);
    assert_eq!(strong.in_flight(), 0);
    Ok(())
}

#[test]
fn duplicate_late_and_foreign_replies_are_ignored() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(0), 3, 2);
    let mut strong = Strong::new(4);
    strong.on_request(&mut ctx, TO, put("v"))?;
    let op = query_op(&out(&mut ctx).sends);

    // The same replica twice is still one reply.
    assert!(
        deliver(&mut strong, &mut ctx, 1, qr(op, None))?
            .sends
            .is_empty()
    );
    assert!(
        deliver(&mut strong, &mut ctx, 1, qr(op, None))?
            .sends
            .is_empty()
    );
    // A reply to this operation's number from an earlier incarnation.
    let stale = OpId {
        incarnation: 3,
        ..op
    };
    assert!(
        deliver(&mut strong, &mut ctx, 2, qr(stale, None))?
            .sends
            .is_empty()
    );
    // An acknowledgement before any store was sent.
    assert!(
        deliver(&mut strong, &mut ctx, 2, ack(op))?
            .replies
            .is_empty()
    );

    let stores = deliver(&mut strong, &mut ctx, 2, qr(op, None))?;
    assert_eq!(stored_records(&stores.sends).len(), 3);
    // A late phase 1 reply changes nothing now.
    let late = deliver(&mut strong, &mut ctx, 0, qr(op, Some(record(99, 1, "x"))))?;
    assert!(late.sends.is_empty() && late.replies.is_empty());
    // Duplicate acknowledgements from one replica are one ack.
    assert!(
        deliver(&mut strong, &mut ctx, 1, ack(op))?
            .replies
            .is_empty()
    );
    assert!(
        deliver(&mut strong, &mut ctx, 1, ack(op))?
            .replies
            .is_empty()
    );
    let done = deliver(&mut strong, &mut ctx, 0, ack(op))?;
    assert_eq!(done.replies, vec![(TO, Response::Done)]);
    // After the answer, more acks bring no second answer.
    assert!(
        deliver(&mut strong, &mut ctx, 2, ack(op))?
            .replies
            .is_empty()
    );
    Ok(())
}

#[test]
fn a_read_writes_back_the_newest_record_when_the_majority_disagrees() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(0), 3, 3);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, get())?;
    let op = query_op(&out(&mut ctx).sends);
    let newest = record(3, 1, "in-progress");
    deliver(&mut strong, &mut ctx, 2, qr(op, Some(record(2, 2, "old"))))?;
    let phase2 = deliver(&mut strong, &mut ctx, 1, qr(op, Some(newest.clone())))?;
    assert!(
        phase2.replies.is_empty(),
        "must not answer before the write-back"
    );
    assert_eq!(stored_records(&phase2.sends), vec![newest.clone(); 3]);
    deliver(&mut strong, &mut ctx, 1, ack(op))?;
    let done = deliver(&mut strong, &mut ctx, 2, ack(op))?;
    assert_eq!(done.replies, vec![(TO, Response::Value(newest.value))]);
    Ok(())
}

#[test]
fn a_read_answers_in_one_round_trip_when_the_majority_agrees() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(0), 3, 4);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, get())?;
    let op = query_op(&out(&mut ctx).sends);
    deliver(&mut strong, &mut ctx, 0, qr(op, Some(record(7, 2, "v"))))?;
    let done = deliver(&mut strong, &mut ctx, 2, qr(op, Some(record(7, 2, "v"))))?;
    assert!(done.sends.is_empty());
    assert_eq!(
        done.replies,
        vec![(TO, Response::Value(Some(b"v".to_vec())))]
    );

    // A missing key agreed on by a majority reads as None, also at once.
    strong.on_request(
        &mut ctx,
        ReplyTo { request: 2, ..TO },
        Request::Get {
            key: b"new".to_vec(),
        },
    )?;
    let op = query_op(&out(&mut ctx).sends);
    deliver(&mut strong, &mut ctx, 0, qr(op, None))?;
    let done = deliver(&mut strong, &mut ctx, 1, qr(op, None))?;
    assert_eq!(
        done.replies,
        vec![(ReplyTo { request: 2, ..TO }, Response::Value(None))]
    );
    Ok(())
}

#[test]
fn a_delete_stores_a_tombstone() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(1), 3, 5);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, Request::Delete { key: b"k".to_vec() })?;
    let op = query_op(&out(&mut ctx).sends);
    deliver(&mut strong, &mut ctx, 0, qr(op, Some(record(4, 0, "x"))))?;
    let phase2 = deliver(&mut strong, &mut ctx, 2, qr(op, None))?;
    let stores = stored_records(&phase2.sends);
    assert_eq!(
        stores,
        vec![Record::tombstone(Version::new(5, NodeId(1))); 3]
    );
    Ok(())
}

#[test]
fn concurrent_writes_through_one_coordinator_get_distinct_versions() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(0), 3, 6);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, put("a"))?;
    let a = query_op(&out(&mut ctx).sends);
    strong.on_request(&mut ctx, ReplyTo { request: 2, ..TO }, put("b"))?;
    let b = query_op(&out(&mut ctx).sends);
    let mut versions = Vec::new();
    for op in [a, b] {
        // Both queries see the same maximum…
        deliver(&mut strong, &mut ctx, 1, qr(op, Some(record(3, 1, "x"))))?;
        let p2 = deliver(&mut strong, &mut ctx, 2, qr(op, None))?;
        versions.push(stored_records(&p2.sends)[0].version);
    }
    // …yet the two values never share a version.
    assert_ne!(versions[0], versions[1]);
    assert!(versions.iter().all(|v| v.counter > 3), "{versions:?}");
    Ok(())
}

#[test]
fn a_restarted_coordinator_never_reuses_a_version() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(0), 3, 7);
    let mut versions = Vec::new();
    for incarnation in 0..3 {
        // Same storage, fresh protocol: what a restart does.
        let mut strong = Strong::new(incarnation);
        strong.on_request(&mut ctx, TO, put("v"))?;
        let op = query_op(&out(&mut ctx).sends);
        deliver(&mut strong, &mut ctx, 1, qr(op, None))?;
        let p2 = deliver(&mut strong, &mut ctx, 2, qr(op, None))?;
        versions.push(stored_records(&p2.sends)[0].version);
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
    let mut ctx = Ctx::for_test(NodeId(0), 3, 8);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, put("v"))?;
    let first = out(&mut ctx);
    let (op, tick) = (query_op(&first.sends), first.timers[0]);
    deliver(&mut strong, &mut ctx, 1, qr(op, None))?;

    strong.on_timer(&mut ctx, TimerId(1), tick)?;
    let one = out(&mut ctx);
    assert!(
        one.sends.is_empty(),
        "too early: the requests may still be in flight"
    );
    assert_eq!(one.timers, vec![tick], "re-armed while busy");
    strong.on_timer(&mut ctx, TimerId(2), tick)?;
    let again = out(&mut ctx);
    assert_eq!(
        targets(&again.sends),
        vec![NodeId(0), NodeId(2)],
        "only the silent replicas"
    );
    Ok(())
}

fn run_ticks(strong: &mut Strong, ctx: &mut Ctx, tick: u64, n: u64) -> replikv::Result<Out> {
    let mut all = Out::default();
    for i in 0..n {
        strong.on_timer(ctx, TimerId(100 + i), tick)?;
        let o = out(ctx);
        all.sends.extend(o.sends);
        all.replies.extend(o.replies);
        all.timers = o.timers;
    }
    Ok(all)
}

#[test]
fn past_the_deadline_phase_one_answers_unavailable() -> replikv::Result<()> {
    let config = StrongConfig::new(Duration::from_millis(10), Duration::from_millis(50))?;
    let mut ctx = Ctx::for_test(NodeId(0), 3, 9);
    let mut strong = Strong::with_config(0, config);
    strong.on_request(&mut ctx, TO, put("v"))?;
    let tick = out(&mut ctx).timers[0];
    let o = run_ticks(&mut strong, &mut ctx, tick, config.deadline_ticks())?;
    assert!(o.replies.is_empty(), "not before the deadline");
    let o = run_ticks(&mut strong, &mut ctx, tick, 1)?;
    assert!(
        matches!(o.replies.as_slice(), [(TO, Response::Unavailable(_))]),
        "{o:?}"
    );
    assert!(o.timers.is_empty(), "idle: the tick stops");
    assert_eq!(strong.in_flight(), 0);
    Ok(())
}

#[test]
fn past_the_deadline_a_write_in_phase_two_stays_silent_but_a_read_does_not() -> replikv::Result<()>
{
    let config = StrongConfig::new(Duration::from_millis(10), Duration::from_millis(50))?;
    let mut ctx = Ctx::for_test(NodeId(0), 3, 10);
    let mut strong = Strong::with_config(0, config);
    let read_to = ReplyTo { request: 2, ..TO };
    strong.on_request(&mut ctx, TO, put("v"))?;
    let w = out(&mut ctx);
    let (wop, tick) = (query_op(&w.sends), w.timers[0]);
    strong.on_request(&mut ctx, read_to, get())?;
    let rop = query_op(&out(&mut ctx).sends);
    for (from, rec) in [(1, Some(record(2, 1, "a"))), (2, None)] {
        deliver(&mut strong, &mut ctx, from, qr(wop, rec.clone()))?;
        deliver(&mut strong, &mut ctx, from, qr(rop, rec))?;
    }
    // Both are in phase 2 now; one store lands, then silence.
    deliver(&mut strong, &mut ctx, 1, ack(wop))?;
    let o = run_ticks(&mut strong, &mut ctx, tick, config.deadline_ticks() + 1)?;
    assert_eq!(strong.in_flight(), 0);
    assert_eq!(o.replies.len(), 1, "only the read answers: {o:?}");
    assert!(matches!(o.replies[0], (to, Response::Unavailable(_)) if to == read_to));
    Ok(())
}

#[test]
fn a_coordinator_that_is_not_a_replica_only_messages_the_replicas() -> replikv::Result<()> {
    // Four nodes, N = 3: one node holds no copy of "k".
    let members: Vec<Member> = (0..4).map(|i| Member::new(NodeId(i))).collect();
    let placement = Arc::new(Placement::new(Box::new(Rendezvous::new(&members)?), 3));
    let replicas = placement.replicas(b"k");
    let Some(outsider) = (0..4).map(NodeId).find(|n| !replicas.contains(n)) else {
        panic!("4 nodes and 3 replicas leave one outsider");
    };
    let store = replikv::storage::NodeStore::new(
        outsider,
        Arc::new(replikv::storage::MemoryStorage::new()),
        replikv::storage::Durability::Periodic,
    );
    let mut ctx = Ctx::new(outsider, store, placement, Arc::new(Clock::new(4)), 11);
    let mut strong = Strong::new(0);
    strong.on_request(&mut ctx, TO, put("v"))?;
    let first = out(&mut ctx);
    let mut expected = replicas.clone();
    expected.sort();
    assert_eq!(targets(&first.sends), expected);
    let op = query_op(&first.sends);
    // A reply from the outsider itself does not count: it is no replica.
    assert!(
        deliver(&mut strong, &mut ctx, outsider.0, qr(op, None))?
            .sends
            .is_empty()
    );
    deliver(&mut strong, &mut ctx, replicas[0].0, qr(op, None))?;
    let p2 = deliver(&mut strong, &mut ctx, replicas[1].0, qr(op, None))?;
    assert_eq!(targets(&p2.sends), expected);
    deliver(&mut strong, &mut ctx, replicas[1].0, ack(op))?;
    let done = deliver(&mut strong, &mut ctx, replicas[2].0, ack(op))?;
    assert_eq!(done.replies, vec![(TO, Response::Done)]);
    Ok(())
}

#[test]
fn a_replica_answers_queries_and_keeps_only_newer_records() -> replikv::Result<()> {
    let mut ctx = Ctx::for_test(NodeId(1), 3, 12);
    let mut strong = Strong::new(0);
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

    let o = deliver(&mut strong, &mut ctx, 0, query.clone())?;
    assert_eq!(o.sends, vec![(NodeId(0), qr(op, None))]);
    for (sent, kept) in [
        (record(2, 0, "two"), record(2, 0, "two")),
        (record(2, 0, "two"), record(2, 0, "two")), // duplicate: acked again
        (record(1, 2, "one"), record(2, 0, "two")), // older: acked, not kept
        (record(2, 2, "tie"), record(2, 2, "tie")), // same counter, higher node wins
    ] {
        let o = deliver(&mut strong, &mut ctx, 0, store(sent))?;
        assert_eq!(o.sends, vec![(NodeId(0), ack(op))]);
        assert_eq!(ctx.store().get_record(b"k")?, Some(kept));
    }
    let o = deliver(&mut strong, &mut ctx, 2, query)?;
    assert_eq!(
        o.sends,
        vec![(NodeId(2), qr(op, Some(record(2, 2, "tie"))))]
    );
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
