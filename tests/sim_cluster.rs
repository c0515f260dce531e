//! A simulated cluster does everything a threaded one does: crash and
//! restart, pause, partitions, clock skew, live membership changes, the
//! read cache, hints and anti-entropy, timeouts, a panicking protocol,
//! sled storage on request — and user code can drive it directly (issue
//! operations, run for a while or until quiet, inspect).
//!
//! Each test is the simulated twin of a threaded behaviour tested
//! elsewhere (`tests/cluster.rs`, `tests/strong.rs`, `tests/cache.rs`,
//! `tests/eventual_faults.rs`, `tests/membership_eventual.rs`,
//! `tests/node_panics.rs`). Where a threaded test polls with a deadline,
//! this one looks once: on virtual time, an answer that has arrived has
//! arrived, and nothing happens behind the test's back.

use replikv::cache::CacheConfig;
use replikv::history::lost_writes;
use replikv::network::Latency;
use replikv::protocol::eventual::hints::pending_hints;
use replikv::protocol::{Context, Protocol, ReplyTo, Request, SingleCopy};
use replikv::{
    Cluster, ClusterBuilder, Consistency, CoordinatorPolicy, Error, NodeId, Runtime, StorageKind,
};
use std::time::{Duration, Instant};

type Result = replikv::Result<()>;

fn sim() -> ClusterBuilder {
    Cluster::builder().runtime(Runtime::Simulated)
}

fn now(cluster: &Cluster) -> Duration {
    Duration::from_nanos(cluster.clock().now_ns())
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
fn a_simulated_cluster_is_in_memory_by_default_and_on_virtual_time() -> Result {
    let cluster = sim().nodes(3).consistency(Consistency::Strong).build()?;
    assert_eq!(cluster.runtime(), Runtime::Simulated);
    assert!(cluster.clock().is_virtual());
    assert_eq!(cluster.clock().now_ns(), 0);
    let mut client = cluster.client()?;
    client.put("k", "v")?;
    assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn operations_one_after_another_on_one_thread_are_ordered_in_the_history() -> Result {
    // Instant links: without a step of virtual time between a return and
    // the next call, they would share a timestamp and the checker would
    // read them as concurrent.
    let cluster = sim().nodes(3).consistency(Consistency::Strong).build()?;
    let (mut a, mut b) = (cluster.client()?, cluster.client()?);
    a.put("k", "1")?;
    b.get("k")?;
    a.get("k")?;
    let ops = cluster.history().ops;
    assert_eq!(ops.len(), 3);
    for pair in ops.windows(2) {
        assert!(
            pair[0].return_ns.is_some_and(|r| r < pair[1].call_ns),
            "{pair:?}"
        );
    }
    Ok(())
}

#[test]
fn crashed_and_restarted_nodes_keep_their_data() -> Result {
    let cluster = sim().nodes(3).consistency(Consistency::Strong).build()?;
    let mut client = cluster.client()?;
    client.put("k", "v")?;
    // Let the third replica's store land too, then crash everything.
    assert!(cluster.run_until_quiet(Duration::from_secs(1)));
    for node in cluster.nodes() {
        cluster.crash(node)?;
        assert!(!cluster.is_up(node)?);
    }
    for node in cluster.nodes() {
        cluster.restart(node)?;
    }
    assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    for node in cluster.nodes() {
        let record = cluster.store(node)?.get_record(b"k")?;
        assert_eq!(record.and_then(|r| r.value), Some(b"v".to_vec()), "{node}");
    }
    Ok(())
}

#[test]
fn a_paused_node_queues_its_messages_and_handles_them_after() -> Result {
    let cluster = sim()
        .nodes(1)
        .client_timeout(Duration::from_millis(500))
        .build()?;
    let node = NodeId(0);
    cluster.pause(node, Duration::from_secs(2))?;
    let mut client = cluster.client()?;
    // The request waits in the paused node's inbox: the client times out.
    assert!(matches!(client.put("k", "v"), Err(Error::Timeout(_))));
    assert_eq!(now(&cluster), Duration::from_millis(500));
    assert_eq!(
        cluster.metrics().nodes[0].requests,
        0,
        "handled while paused"
    );
    assert_eq!(cluster.store(node)?.get_record(b"k")?, None);
    // The node wakes at 2 s and handles what queued up.
    cluster.run_for(Duration::from_millis(1499));
    assert_eq!(cluster.metrics().nodes[0].requests, 0, "woke early");
    cluster.run_for(Duration::from_millis(1));
    assert_eq!(cluster.metrics().nodes[0].requests, 1);
    let stored = cluster.store(node)?.get_record(b"k")?;
    assert_eq!(stored.and_then(|r| r.value), Some(b"v".to_vec()));
    assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn the_minority_side_of_a_partition_is_unavailable_until_healed() -> Result {
    let cluster = sim().nodes(3).consistency(Consistency::Strong).build()?;
    let lonely = NodeId(2);
    let key = key_with_primary(&cluster, lonely);
    let mut minority = cluster.client()?; // coordinated by n2
    minority.put(&key, "before")?;
    cluster
        .network()
        .partition(&[&[NodeId(0), NodeId(1)], &[lonely]])?;
    let started = now(&cluster);
    // Strong mode's deadline (500 ms) is below the client's timeout (1 s).
    assert!(matches!(
        minority.put(&key, "lost"),
        Err(Error::Unavailable(_))
    ));
    let waited = now(&cluster) - started;
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(1),
        "{waited:?}"
    );
    let mut majority = cluster.client()?;
    majority.set_policy(CoordinatorPolicy::Fixed(NodeId(0)));
    majority.put(&key, "during")?;
    cluster.network().heal();
    assert_eq!(minority.get(&key)?, Some(b"during".to_vec()));
    Ok(())
}

#[test]
fn clock_skew_loses_a_later_write_as_on_threads() -> Result {
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Eventual { r: 1, w: 3 })
        .build()?;
    let key = "meeting";
    let replicas = cluster.placement().replicas(key.as_bytes());
    cluster.set_clock_skew(replicas[1], -10_000_000_000)?;
    let mut first = cluster.client()?; // the primary coordinates
    first.put(key, "monday")?;
    let mut second = cluster.client()?;
    second.set_policy(CoordinatorPolicy::Fixed(replicas[1]));
    second.put(key, "tuesday")?;
    assert!(cluster.wait_for_convergence(Duration::from_secs(5))?);
    let history = cluster.history();
    assert!(history.ops[0].return_ns < Some(history.ops[1].call_ns));
    let finals = cluster.final_values()?;
    assert_eq!(finals.get(key.as_bytes()), Some(&Some(b"monday".to_vec())));
    // The oracle sees it: "tuesday" came later and was lost.
    assert_eq!(lost_writes(&history, &finals).len(), 1);
    Ok(())
}

#[test]
fn live_membership_changes_lose_no_acknowledged_write() -> Result {
    for consistency in [Consistency::Strong, Consistency::Eventual { r: 2, w: 2 }] {
        let cluster = sim()
            .nodes(4)
            .replication(3)
            .consistency(consistency)
            .coordinator(CoordinatorPolicy::Random)
            .latency(Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_millis(2),
            })
            .seed(5)
            .build()?;
        let mut client = cluster.client()?;
        for i in 0..60 {
            client.put(format!("k{i}"), format!("a{i}"))?;
        }
        let added = cluster.add_node()?;
        assert!(added.keys_moved > 0, "{consistency:?}: nothing moved");
        for i in 0..60 {
            if i % 2 == 0 {
                client.put(format!("k{i}"), format!("b{i}"))?;
            }
        }
        cluster.remove_node(NodeId(0))?;
        assert_eq!(cluster.nodes().len(), 4);
        for i in 0..60 {
            let expected = if i % 2 == 0 { "b" } else { "a" };
            assert_eq!(
                client.get(format!("k{i}"))?,
                Some(format!("{expected}{i}").into_bytes()),
                "{consistency:?}: k{i}"
            );
        }
        assert!(cluster.wait_for_convergence(Duration::from_secs(10))?);
        let lost = lost_writes(&cluster.history(), &cluster.final_values()?);
        assert!(lost.is_empty(), "{consistency:?}: {lost:?}");
    }
    Ok(())
}

#[test]
fn the_read_cache_hits_and_expires_in_virtual_time() -> Result {
    let hour = Duration::from_secs(3600);
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Strong)
        .read_cache(CacheConfig::new(100, hour))
        .build()?;
    let mut writer = cluster.client()?;
    writer.set_cache(None);
    writer.put("k", "v")?;
    let mut reader = cluster.client()?;
    assert_eq!(reader.get("k")?, Some(b"v".to_vec())); // miss, fills
    assert_eq!(reader.get("k")?, Some(b"v".to_vec())); // hit
    let started = Instant::now();
    cluster.run_for(2 * hour); // past the TTL, at once
    assert!(started.elapsed() < Duration::from_secs(60), "time was real");
    assert_eq!(reader.get("k")?, Some(b"v".to_vec())); // expired: a miss
    let stats = reader.cache().map(|c| c.stats()).unwrap_or_default();
    assert_eq!((stats.hits, stats.misses, stats.expirations), (1, 2, 1));
    let cached: Vec<bool> = cluster.history().ops.iter().map(|op| op.cached).collect();
    assert_eq!(cached, [false, false, true, false]);
    Ok(())
}

#[test]
fn hints_are_handed_off_and_anti_entropy_converges_after_healing() -> Result {
    // Hints: W = 3 with a replica cut off is reached through a hint holder.
    let cluster = sim()
        .nodes(4)
        .replication(3)
        .consistency(Consistency::Eventual { r: 1, w: 3 })
        .build()?;
    let key = "precious";
    let preference = cluster.placement().preference_list(key.as_bytes(), 4);
    let (absent, holder) = (preference[2], preference[3]);
    cluster.network().isolate(absent)?;
    cluster.client()?.put(key, "kept")?;
    let held = pending_hints(&cluster.store(holder)?)?;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].target, absent);
    cluster.network().heal();
    assert!(cluster.wait_for_convergence(Duration::from_secs(10))?);
    // The hand-off runs on the holder's tick, in virtual time.
    cluster.run_for(Duration::from_secs(1));
    assert!(pending_hints(&cluster.store(holder)?)?.is_empty());
    let on_absent = cluster.store(absent)?.get_record(key.as_bytes())?;
    assert_eq!(on_absent.and_then(|r| r.value), Some(b"kept".to_vec()));

    // Anti-entropy: keys nobody reads reach the replica that missed them.
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Eventual { r: 1, w: 1 })
        .build()?;
    cluster.network().isolate(NodeId(2))?;
    let mut client = cluster.client()?;
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(0)));
    for i in 0..40 {
        client.put(format!("cold-{i}"), "v")?;
    }
    cluster.run_for(Duration::from_secs(1));
    assert!(!cluster.is_converged()?);
    cluster.network().heal();
    let healed = now(&cluster);
    assert!(cluster.wait_for_convergence(Duration::from_secs(30))?);
    eprintln!(
        "anti-entropy converged {:?} of virtual time after healing",
        now(&cluster) - healed
    );
    Ok(())
}

#[test]
fn a_timeout_is_recorded_as_indeterminate_at_its_virtual_deadline() -> Result {
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Strong)
        .client_timeout(Duration::from_millis(200))
        .build()?;
    let key = key_with_primary(&cluster, NodeId(1));
    cluster.crash(NodeId(1))?;
    let mut client = cluster.client()?; // coordinated by the crashed n1
    let err = client.put(&key, "v").err();
    assert!(matches!(err, Some(Error::Timeout(_))), "{err:?}");
    assert_eq!(now(&cluster), Duration::from_millis(200));
    let history = cluster.history();
    assert_eq!(history.len(), 1);
    assert!(history.ops[0].is_indeterminate());
    assert_eq!(history.ops[0].return_ns, None);
    assert_eq!(cluster.metrics().timeouts, 1);
    Ok(())
}

/// Single-copy, except that a request for `bug` panics.
struct Buggy(SingleCopy);

impl Protocol for Buggy {
    type Message = <SingleCopy as Protocol>::Message;
    fn on_request(
        &mut self,
        ctx: &mut Context<Self::Message>,
        to: ReplyTo,
        req: Request,
    ) -> replikv::Result<()> {
        assert!(req.key() != b"bug", "unexpected key");
        self.0.on_request(ctx, to, req)
    }
    fn on_message(
        &mut self,
        ctx: &mut Context<Self::Message>,
        from: NodeId,
        m: Self::Message,
    ) -> replikv::Result<()> {
        self.0.on_message(ctx, from, m)
    }
}

#[test]
fn a_panicking_protocol_crashes_its_node_and_says_why() -> Result {
    let cluster = sim()
        .nodes(1)
        .client_timeout(Duration::from_millis(100))
        .protocol(|_| Buggy(SingleCopy::new()))
        .build()?;
    let mut client = cluster.client()?;
    client.put("k", "v")?;
    assert!(matches!(client.get("bug"), Err(Error::Timeout(_))));
    // No polling: on the simulator the panic happened before the timeout.
    assert!(!cluster.is_up(NodeId(0))?);
    let metrics = cluster.metrics();
    assert_eq!(metrics.nodes[0].panics, 1);
    assert_eq!(
        metrics.nodes[0].last_panic.as_deref(),
        Some("unexpected key")
    );
    assert!(matches!(
        cluster.crash(NodeId(0)),
        Err(Error::NodeAlreadyCrashed(_))
    ));
    cluster.restart(NodeId(0))?;
    assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn sled_storage_on_request() -> Result {
    // Temporary sled instead of the simulator's default memory.
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Temporary)
        .build()?;
    let mut client = cluster.client()?;
    client.put("k", "v")?;
    cluster.crash(NodeId(0))?;
    cluster.restart(NodeId(0))?;
    assert_eq!(client.get("k")?, Some(b"v".to_vec()));

    // sled in a directory: a restart closes the database and reopens it
    // from disk, as a process restart would.
    let dir = tempfile::tempdir().map_err(Error::Io)?;
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Directory(dir.path().to_path_buf()))
        .build()?;
    let mut client = cluster.client()?;
    client.put("k", "on disk")?;
    assert!(cluster.run_until_quiet(Duration::from_secs(1)));
    cluster.flush()?;
    let files = std::fs::read_dir(dir.path()).map_err(Error::Io)?.count();
    assert!(files > 0, "no sled files in {}", dir.path().display());
    for node in cluster.nodes() {
        cluster.crash(node)?;
        cluster.restart(node)?;
    }
    assert_eq!(client.get("k")?, Some(b"on disk".to_vec()));
    Ok(())
}

#[test]
fn user_code_drives_a_simulated_cluster_directly() -> Result {
    let cluster = sim()
        .nodes(3)
        .consistency(Consistency::Eventual { r: 1, w: 1 })
        .latency(Latency::Fixed(Duration::from_millis(10)))
        .build()?;
    let mut client = cluster.client()?;
    // W = 1: the put returns once its coordinator stored it, one round
    // trip of two 10 ms hops.
    client.put("k", "v")?;
    assert_eq!(now(&cluster), Duration::from_millis(20));
    assert!(
        cluster.network().stats().in_flight() > 0,
        "replication runs on"
    );
    // Run until no message is in flight: every replica has it.
    assert!(cluster.run_until_quiet(Duration::from_secs(1)));
    assert_eq!(cluster.network().stats().in_flight(), 0);
    for (node, record) in cluster.replica_records(b"k")? {
        assert_eq!(record.and_then(|r| r.value), Some(b"v".to_vec()), "{node}");
    }
    // Run until a time: exactly that much virtual time passes.
    let before = now(&cluster);
    cluster.run_for(Duration::from_secs(60));
    assert_eq!(now(&cluster) - before, Duration::from_secs(60));
    assert!(cluster.is_converged()?);
    Ok(())
}

#[test]
fn a_crash_loses_the_writes_since_the_last_periodic_flush_in_virtual_time() -> Result {
    // Durability::Periodic (the default) with a crash that loses unflushed
    // writes: the engine flushes every 500 ms — of virtual time here, so
    // what a crash loses is the same on every run.
    let cluster = sim().nodes(1).lose_unflushed_on_crash(true).build()?;
    let node = NodeId(0);
    let mut client = cluster.client()?;
    client.put("early", "1")?;
    cluster.run_for(Duration::from_millis(600)); // a flush passed
    client.put("late", "2")?;
    cluster.run_for(Duration::from_millis(300)); // the next is at 1 s
    cluster.crash(node)?;
    cluster.restart(node)?;
    assert_eq!(client.get("early")?, Some(b"1".to_vec()));
    assert_eq!(client.get("late")?, None, "flushed without a flush due");
    client.put("late", "3")?;
    cluster.run_for(Duration::from_millis(500)); // past the flush at 1 s
    cluster.crash(node)?;
    cluster.restart(node)?;
    assert_eq!(client.get("late")?, Some(b"3".to_vec()));
    Ok(())
}
