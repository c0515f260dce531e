//! Batching and group commit on running clusters (`src/node/core.rs`,
//! `src/storage/batch.rs`): a node on threads handles everything waiting in
//! its inbox as one batch, commits the batch's writes with one flush, and
//! acknowledges only after it. These tests show that the batches form, that
//! they save flushes, that they lose no acknowledged write on a crash, that
//! the protocols' guarantees hold with them under faults, and that the
//! simulator, which hands a node one message per step, runs the same with
//! batching on or off.

use replikv::client::Op;
use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::storage::{Durability, MemoryStorage, Storage, StorageFactory};
use replikv::{Client, Cluster, Consistency, CoordinatorPolicy, NodeId, Runtime, StorageKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Flushes and writes that reached the engines, over all nodes.
#[derive(Default)]
struct Tally {
    flushes: AtomicU64,
    writes: AtomicU64,
}

/// An in-memory engine whose flush takes as long as a slow disk's, and
/// which counts its flushes and writes into a shared tally.
struct SlowDisk {
    inner: MemoryStorage,
    tally: Arc<Tally>,
}

/// What one flush costs: a disk's fsync. It models the device, and decides
/// nothing a test asserts except through how many requests pile up.
const FSYNC: Duration = Duration::from_millis(1);

impl Storage for SlowDisk {
    fn get(&self, key: &[u8]) -> replikv::Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn insert(&self, key: &[u8], value: &[u8]) -> replikv::Result<()> {
        self.tally.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.insert(key, value)
    }
    fn remove(&self, key: &[u8]) -> replikv::Result<()> {
        self.tally.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.remove(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> replikv::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan_prefix(prefix)
    }
    fn flush(&self) -> replikv::Result<()> {
        self.tally.flushes.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(FSYNC);
        Ok(())
    }
    fn apply_batch(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> replikv::Result<()> {
        self.tally
            .writes
            .fetch_add(writes.len() as u64, Ordering::SeqCst);
        self.inner.apply_batch(writes)
    }
}

/// `puts` puts with `window` in flight, every one acknowledged.
fn pipelined_puts(client: &mut Client, puts: u64, window: usize) -> replikv::Result<()> {
    let mut submitted = 0;
    while submitted < puts || client.in_flight() > 0 {
        while submitted < puts && client.in_flight() < window {
            submitted += 1;
            client.submit(Op::put(format!("k{submitted}"), format!("v{submitted}")))?;
        }
        if let Some((ticket, result)) = client.wait_any() {
            result.unwrap_or_else(|e| panic!("put {ticket:?} failed: {e}"));
        }
    }
    Ok(())
}

/// Flushes and engine writes of 200 pipelined eventual (R=W=1) puts under
/// FlushBeforeAck on slow disks, and the mean batch size the nodes saw.
fn flushes_per_write(batching: bool) -> replikv::Result<(u64, u64, f64)> {
    let tally = Arc::new(Tally::default());
    let shared = tally.clone();
    let disks = StorageFactory::new(move |_node: NodeId| {
        Ok(SlowDisk {
            inner: MemoryStorage::new(),
            tally: shared.clone(),
        })
    });
    let cluster = Cluster::builder()
        .nodes(3)
        .consistency(Consistency::Eventual { r: 1, w: 1 })
        .storage(StorageKind::Custom(disks))
        .durability(Durability::FlushBeforeAck)
        .batching(batching)
        .client_timeout(Duration::from_secs(30))
        .build()?;
    let mut client = cluster.client()?;
    let before = (
        tally.flushes.load(Ordering::SeqCst),
        tally.writes.load(Ordering::SeqCst),
    );
    pipelined_puts(&mut client, 200, 8)?;
    // Every replica has stored every put before the counts are read.
    assert!(cluster.wait_for_convergence(Duration::from_secs(60))?);
    let loads = cluster.metrics().nodes;
    let batches: u64 = loads.iter().map(|l| l.batches).sum();
    let envelopes: u64 = loads.iter().map(|l| l.batched_envelopes).sum();
    Ok((
        tally.flushes.load(Ordering::SeqCst) - before.0,
        tally.writes.load(Ordering::SeqCst) - before.1,
        envelopes as f64 / batches.max(1) as f64,
    ))
}

#[test]
fn group_commit_flushes_once_per_batch_instead_of_once_per_write() -> replikv::Result<()> {
    let (flushes, writes, batch) = flushes_per_write(true)?;
    // 200 puts on three replicas: at least 600 record writes.
    assert!(writes >= 600, "{writes} writes");
    // While one flush runs, the next requests and replica writes pile up
    // in the inbox, and the next batch takes them all: with 8 puts in
    // flight, batches hold several envelopes and a flush covers several
    // writes.
    assert!(
        batch >= 2.0,
        "mean batch of {batch:.2} envelopes with 8 puts in flight"
    );
    assert!(
        flushes * 2 <= writes,
        "batched: {flushes} flushes for {writes} writes"
    );
    let (flushes, writes, batch) = flushes_per_write(false)?;
    assert!(
        flushes >= writes,
        "unbatched: {flushes} flushes for {writes} writes: every write is flushed"
    );
    assert_eq!(
        batch, 1.0,
        "without batching every envelope is its own batch"
    );
    Ok(())
}

#[test]
fn batched_acknowledged_writes_survive_a_power_failure_of_every_node() -> replikv::Result<()> {
    // Strong (ABD): a put is acknowledged once a majority stored it, and a
    // read asks a majority, so any acknowledged put is read back after
    // every node lost whatever it had not flushed.
    for storage in [StorageKind::Memory, StorageKind::Temporary] {
        let cluster = Cluster::builder()
            .nodes(3)
            .consistency(Consistency::Strong)
            .storage(storage.clone())
            .durability(Durability::FlushBeforeAck)
            .lose_unflushed_on_crash(true)
            .client_timeout(Duration::from_secs(10))
            .build()?;
        let mut client = cluster.client()?;
        pipelined_puts(&mut client, 300, 16)?;
        for node in cluster.nodes() {
            cluster.crash(node)?;
        }
        for node in cluster.nodes() {
            cluster.restart(node)?;
        }
        for i in 1..=300 {
            assert_eq!(
                client.get(format!("k{i}"))?,
                Some(format!("v{i}").into_bytes()),
                "{storage:?}: acknowledged put {i} lost"
            );
        }
    }
    Ok(())
}

/// A threaded experiment with pipelined clients under loss, duplication,
/// random latency and crashes.
fn threaded(consistency: Consistency, seed: u64) -> Experiment {
    Experiment {
        nodes: 5,
        replicas: 3,
        consistency,
        runtime: Runtime::Threads,
        workload: Workload {
            clients: 3,
            ops_per_client: 150,
            keys: 4,
            in_flight: 8,
            seed,
            ..Workload::default()
        },
        latency: Latency::Uniform {
            min: Duration::ZERO,
            max: Duration::from_micros(300),
        },
        drop: 0.03,
        duplicate: 0.1,
        nemesis: Nemesis {
            kind: NemesisKind::Crash,
            interval: Duration::from_millis(40),
            seed,
        },
        client_timeout: Duration::from_millis(300),
        coordinator: CoordinatorPolicy::Random,
        seed,
        ..Experiment::default()
    }
}

#[test]
fn batched_threads_stay_linearizable_and_converge_under_faults() -> replikv::Result<()> {
    for seed in 1..=3 {
        let report = threaded(Consistency::Strong, seed).run(&mut |_| {})?;
        assert_eq!(report.linearizable, Some(true), "strong, seed {seed}");
        let mut eventual = threaded(Consistency::Eventual { r: 2, w: 2 }, seed);
        eventual.check_linearizability = false;
        let report = eventual.run(&mut |_| {})?;
        assert_eq!(report.converged, Some(true), "eventual, seed {seed}");
        assert_eq!(report.lost_writes, Some(0), "eventual, seed {seed}");
    }
    Ok(())
}

/// A simulated run with faults and a crash, as text: history, final values
/// and metrics.
fn simulated(consistency: Consistency, batching: bool, seed: u64) -> replikv::Result<String> {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(4)
        .replication(3)
        .consistency(consistency)
        .durability(Durability::FlushBeforeAck)
        .lose_unflushed_on_crash(true)
        .batching(batching)
        .latency(Latency::Exponential {
            mean: Duration::from_millis(1),
        })
        .client_timeout(Duration::from_millis(300))
        .seed(seed)
        .build()?;
    cluster.network().set_drop_probability(0.05)?;
    cluster.network().set_duplicate_probability(0.1)?;
    let mut client = cluster.client()?;
    for i in 0..60u32 {
        if i == 20 {
            cluster.crash(NodeId(1))?;
        }
        if i == 40 {
            cluster.restart(NodeId(1))?;
        }
        let key = format!("k{}", i % 5);
        if let Err(e) = client.submit(Op::put(key.clone(), format!("v{i}"))) {
            panic!("submit: {e}");
        }
        if client.in_flight() >= 4 {
            let _ = client.wait_any();
        }
    }
    while client.wait_any().is_some() {}
    cluster.network().clear_faults();
    let converged = cluster.wait_for_convergence(Duration::from_secs(30))?;
    Ok(format!(
        "{}\n{converged} {:?}\n{:?}",
        cluster.history().to_json(),
        cluster.final_values()?,
        cluster.metrics()
    ))
}

#[test]
fn the_simulator_runs_the_same_with_batching_on_or_off() -> replikv::Result<()> {
    for consistency in [Consistency::Strong, Consistency::Eventual { r: 1, w: 2 }] {
        for seed in [3, 4] {
            let on = simulated(consistency, true, seed)?;
            let off = simulated(consistency, false, seed)?;
            assert!(
                on == off,
                "{consistency:?}, seed {seed}: batching changed the simulated run"
            );
        }
    }
    Ok(())
}
