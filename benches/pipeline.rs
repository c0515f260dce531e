//! Pipelining, batching and group commit: put throughput on the threaded
//! runtime beside the floor it is measured against, in one run — so the
//! figures read as ratios.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Setup: 3 nodes, N = 3, no faults, one client over 1,000 keys with
//! 100-byte values; "k in flight" means the client keeps k puts submitted
//! ([`Client::submit`]) and waits for any one before it submits the next.
//!
//! - `floor/one thread`: the three replicas' protocol code on one thread —
//!   the same cluster on the simulator, where the node cores, the network
//!   and the client run on the bench thread with instant links (as
//!   `eventual_put_handlers/r1_w1` in `benches/eventual.rs`), one message
//!   per step, no batching. Every threaded figure pays this CPU and more.
//! - `floor/two threads at once`: two such clusters, each on a thread of
//!   its own, side by side: how much the machine's second core adds right
//!   now (2.0 on an idle 2-core machine, less when others use it). A
//!   threaded cluster cannot beat the floor by more than that.
//! - `periodic/…`: temporary sled storage, sled's background flush
//!   ([`Durability::Periodic`]); eventual R=W=1 with 1 and 8 in flight,
//!   batching on and off, two clients with 8 in flight each, and strong
//!   (ABD) with 8 in flight.
//! - `flush before ack/…`: every write flushed before it is acknowledged
//!   ([`Durability::FlushBeforeAck`]), on sled databases in a directory on
//!   the machine's disk (temporary sled lives in `/dev/shm`, where a flush
//!   costs little): eventual R=W=1, batching on and off, 1 and 8 in flight,
//!   and four clients with 8 in flight each. A coordinator's batch can only
//!   hold the puts in flight that it coordinates: with 8 in flight over
//!   three coordinators, about 8/3 — which bounds what one flush can cover.
//!
//! Each figure is followed by the mean batch size the nodes saw
//! (envelopes handled ÷ batches, from the cluster's metrics).
//!
//! After the criterion figures it prints the ratios the issue asks for,
//! computed from this run's means: pipelined ÷ the one-thread floor (goal ≥
//! 1.5), batched ÷ unbatched under FlushBeforeAck (goal ≥ 5), strong ÷
//! eventual with the same pipelining (goal ≥ 0.5), and what batching costs
//! a lone put's latency (1 in flight, batching on ÷ off).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::client::Op;
use replikv::storage::Durability;
use replikv::{Client, Cluster, Consistency, Runtime, StorageKind};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const KEYS: u64 = 1000;
const EVENTUAL: Consistency = Consistency::Eventual { r: 1, w: 1 };

/// One configuration measured.
#[derive(Clone, Copy)]
struct Setup {
    name: &'static str,
    mode: Consistency,
    window: usize,
    batching: bool,
    durability: Durability,
    runtime: Runtime,
    /// Clusters run side by side, each on its own threads.
    clusters: usize,
    /// Clients per cluster, each on a thread of its own.
    clients: usize,
}

impl Setup {
    fn threads(name: &'static str, mode: Consistency, window: usize, batching: bool) -> Self {
        Setup {
            name,
            mode,
            window,
            batching,
            durability: Durability::Periodic,
            runtime: Runtime::Threads,
            clusters: 1,
            clients: 1,
        }
    }

    fn clients(self, clients: usize) -> Self {
        Setup { clients, ..self }
    }

    fn flushed(self) -> Self {
        Setup {
            durability: Durability::FlushBeforeAck,
            ..self
        }
    }

    fn cluster(&self, dir: &std::path::Path) -> (Cluster, Vec<Client>) {
        let storage = match self.durability {
            Durability::FlushBeforeAck => StorageKind::Directory(dir.to_path_buf()),
            Durability::Periodic => StorageKind::Temporary,
        };
        let cluster = Cluster::builder()
            .nodes(3)
            .replication(3)
            .consistency(self.mode)
            .runtime(self.runtime)
            .storage(storage)
            .durability(self.durability)
            .batching(self.batching)
            .record_history(false)
            .client_timeout(Duration::from_secs(10))
            .build()
            .expect("cluster builds");
        let clients = (0..self.clients)
            .map(|_| cluster.client().expect("client"))
            .collect();
        (cluster, clients)
    }
}

/// Time for `iters` puts shared among `clients`, each on its own thread
/// (the bench thread when there is one) with `window` in flight.
fn puts_by_all(clients: &mut [Client], window: usize, iters: u64, counter: &mut u64) -> Duration {
    if let [client] = clients {
        return puts(client, window, iters, counter);
    }
    let k = clients.len() as u64;
    let mut own = *counter;
    *counter += iters;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (i, client) in (0..k).zip(clients.iter_mut()) {
            // Exactly `iters` in all; each client its own range of values.
            let share = iters / k + u64::from(i < iters % k);
            let mut from = own;
            own += share;
            scope.spawn(move || puts(client, window, share, &mut from));
        }
    });
    started.elapsed()
}

/// Time for `iters` puts with `window` in flight.
fn puts(client: &mut Client, window: usize, iters: u64, counter: &mut u64) -> Duration {
    let started = Instant::now();
    let mut submitted = 0u64;
    while submitted < iters || client.in_flight() > 0 {
        while submitted < iters && client.in_flight() < window {
            submitted += 1;
            *counter += 1;
            let key = format!("key-{}", *counter % KEYS);
            // A fresh value every time: sled skips rewriting equal bytes.
            let mut value = [b'x'; 100];
            value[..8].copy_from_slice(&counter.to_le_bytes());
            client.submit(Op::put(key, value)).expect("submit");
        }
        if let Some((_, result)) = client.wait_any() {
            result.expect("put");
        }
    }
    started.elapsed()
}

fn pipeline(c: &mut Criterion) {
    let floor = Setup {
        runtime: Runtime::Simulated,
        ..Setup::threads("floor/one thread", EVENTUAL, 1, false)
    };
    let setups = [
        floor,
        // Two independent one-thread floors at once, on two threads: how
        // much of a second core the machine gives right now.
        Setup {
            name: "floor/two threads at once",
            clusters: 2,
            ..floor
        },
        Setup::threads(
            "periodic/eventual, 1 in flight, unbatched",
            EVENTUAL,
            1,
            false,
        ),
        Setup::threads("periodic/eventual, 1 in flight, batched", EVENTUAL, 1, true),
        Setup::threads(
            "periodic/eventual, 8 in flight, unbatched",
            EVENTUAL,
            8,
            false,
        ),
        Setup::threads("periodic/eventual, 8 in flight, batched", EVENTUAL, 8, true),
        Setup::threads(
            "periodic/eventual, 2 clients × 8, batched",
            EVENTUAL,
            8,
            true,
        )
        .clients(2),
        Setup::threads(
            "periodic/strong, 8 in flight, batched",
            Consistency::Strong,
            8,
            true,
        ),
        Setup::threads(
            "flush before ack/eventual, 1 in flight, unbatched",
            EVENTUAL,
            1,
            false,
        )
        .flushed(),
        Setup::threads(
            "flush before ack/eventual, 1 in flight, batched",
            EVENTUAL,
            1,
            true,
        )
        .flushed(),
        Setup::threads(
            "flush before ack/eventual, 8 in flight, unbatched",
            EVENTUAL,
            8,
            false,
        )
        .flushed(),
        Setup::threads(
            "flush before ack/eventual, 8 in flight, batched",
            EVENTUAL,
            8,
            true,
        )
        .flushed(),
        Setup::threads(
            "flush before ack/eventual, 4 clients × 8, unbatched",
            EVENTUAL,
            8,
            false,
        )
        .flushed()
        .clients(4),
        Setup::threads(
            "flush before ack/eventual, 4 clients × 8, batched",
            EVENTUAL,
            8,
            true,
        )
        .flushed()
        .clients(4),
    ];
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    let mut per_put: HashMap<&'static str, f64> = HashMap::new();
    let mut batch_sizes: HashMap<&'static str, f64> = HashMap::new();
    for setup in setups {
        let dirs: Vec<_> = (0..setup.clusters)
            .map(|_| tempfile::tempdir().expect("a directory for the databases"))
            .collect();
        let mut clusters = Vec::new();
        let mut clients = Vec::new();
        for dir in &dirs {
            let (cluster, mine) = setup.cluster(dir.path());
            clusters.push(cluster);
            clients.extend(mine);
        }
        let mut total = (Duration::ZERO, 0u64);
        let mut counter = 0u64;
        group.bench_function(setup.name, |b| {
            b.iter_custom(|iters| {
                let took = puts_by_all(&mut clients, setup.window, iters, &mut counter);
                total.0 += took;
                total.1 += iters;
                took
            })
        });
        drop(clients);
        let loads = clusters[0].metrics().nodes;
        let batches: u64 = loads.iter().map(|l| l.batches).sum();
        let envelopes: u64 = loads.iter().map(|l| l.batched_envelopes).sum();
        batch_sizes.insert(setup.name, envelopes as f64 / batches.max(1) as f64);
        drop(clusters);
        per_put.insert(setup.name, total.0.as_secs_f64() / total.1.max(1) as f64);
    }
    group.finish();
    let t = |name: &str| per_put.get(name).copied().unwrap_or(f64::NAN);
    let floor_per_put = t("floor/one thread");
    println!("\nper put (mean over every iteration criterion ran), and mean batch size:");
    for setup in setups {
        println!(
            "  {:<54} {:>9.2} µs  {:>5.2} envelopes per batch",
            setup.name,
            t(setup.name) * 1e6,
            batch_sizes.get(setup.name).copied().unwrap_or(f64::NAN)
        );
    }
    println!("\nratios of throughput, from this run:");
    println!(
        "  eventual R=W=1, 8 in flight, batched ÷ protocol code on one thread: {:.2} (goal ≥ 1.5)",
        floor_per_put / t("periodic/eventual, 8 in flight, batched")
    );
    println!(
        "  eventual R=W=1, 8 in flight, unbatched ÷ protocol code on one thread: {:.2}",
        floor_per_put / t("periodic/eventual, 8 in flight, unbatched")
    );
    println!(
        "  eventual R=W=1, 2 clients × 8 in flight, batched ÷ protocol code on one thread: {:.2}",
        floor_per_put / t("periodic/eventual, 2 clients × 8, batched")
    );
    println!(
        "  eventual R=W=1, 1 in flight ÷ protocol code on one thread: {:.2}",
        floor_per_put / t("periodic/eventual, 1 in flight, batched")
    );
    println!(
        "  two one-thread floors at once ÷ one (the second core's share now): {:.2}",
        floor_per_put / t("floor/two threads at once")
    );
    println!(
        "  FlushBeforeAck, 8 in flight, batched ÷ unbatched: {:.2} (goal ≥ 5)",
        t("flush before ack/eventual, 8 in flight, unbatched")
            / t("flush before ack/eventual, 8 in flight, batched")
    );
    println!(
        "  FlushBeforeAck, 4 clients × 8 in flight, batched ÷ unbatched: {:.2} (goal ≥ 5)",
        t("flush before ack/eventual, 4 clients × 8, unbatched")
            / t("flush before ack/eventual, 4 clients × 8, batched")
    );
    println!(
        "  strong ÷ eventual R=W=1, both 8 in flight, batched: {:.2} (goal ≥ 0.5)",
        t("periodic/eventual, 8 in flight, batched") / t("periodic/strong, 8 in flight, batched")
    );
    println!("\nlatency of a lone put (1 in flight), batching on ÷ off:");
    println!(
        "  periodic: {:.2}; FlushBeforeAck: {:.2}",
        t("periodic/eventual, 1 in flight, batched")
            / t("periodic/eventual, 1 in flight, unbatched"),
        t("flush before ack/eventual, 1 in flight, batched")
            / t("flush before ack/eventual, 1 in flight, unbatched")
    );
    println!(
        "latency of a put among 8 in flight (Little's law, 8 × time per put): \
         periodic batched {:.1} µs, unbatched {:.1} µs; FlushBeforeAck batched {:.1} µs, unbatched {:.1} µs",
        8e6 * t("periodic/eventual, 8 in flight, batched"),
        8e6 * t("periodic/eventual, 8 in flight, unbatched"),
        8e6 * t("flush before ack/eventual, 8 in flight, batched"),
        8e6 * t("flush before ack/eventual, 8 in flight, unbatched"),
    );
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
