//! Eventual-mode throughput beside a bare sled insert loop, measured in the
//! same run so the figures can be read as ratios.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench eventual -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! In `eventual_put` and `eventual_get` each iteration is one blocking
//! client operation on a 3-node cluster with N = 3 and temporary sled storage
//! (the default), 100-byte values over 1024 keys; the baseline is one
//! `sled::Tree::insert` (or `get`) of the same size, and
//! `bare_sled_insert_x3` the same insert into three databases — the storage
//! work three replicas cannot avoid. The ratio
//! `bare sled time / replicated time` says what fraction of a bare storage
//! engine's throughput survives replication, the network hop, and the
//! thread hand-offs.
//!
//! Every baseline insert writes a value the key does not already hold (a
//! counter is stamped into its first bytes). sled skips an insert whose value
//! equals the stored one (`Tree::insert_inner` short-circuits a no-op set),
//! so a loop rewriting one constant value would time a lookup, about a
//! quarter of a real insert on this machine. A replica never gets that
//! discount: each put stores a record with a new version.
//!
//! One blocking client measures latency as much as throughput: it leaves the
//! cluster idle while its answer travels back. `eventual_put_8_clients`
//! therefore runs eight client threads at once, each in its own closed loop,
//! and reports their combined operations per second — the most the public
//! API can push through the cluster on this machine.
//!
//! `bare_sled_insert_on_another_thread` puts the baseline's insert on a
//! second thread and waits for its answer over a crossbeam channel: the cost
//! of one hand-off there and back on this machine, the floor under every
//! blocking client call whatever the protocol. Both threads poll, yielding
//! their core between looks, and never sleep, as replikv's nodes and clients
//! poll before they sleep (`src/hand_off.rs`): a plain `recv` would park
//! while the insert runs, and the figure would be the kernel's wake-up
//! instead of the hand-off.
//!
//! `eventual_put_handlers/r1_w1` takes the threads away: the same 3-node
//! cluster on the deterministic simulator ([`replikv::Runtime::Simulated`]),
//! whose node cores, network and client all run on the bench thread with
//! instant links and temporary sled storage. The cores encode, decode,
//! filter duplicates and store exactly as on threads; what is gone is every
//! thread hand-off and every wait. It is the CPU one replicated put costs
//! in the protocol, the node core and storage — a floor under every
//! threaded figure above.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::{Cluster, Consistency, Runtime, StorageKind};
use std::hint::black_box;
use std::time::Instant;

const KEYS: usize = 1024;
const VALUE: [u8; 100] = [b'x'; 100];

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS)
        .map(|i| format!("key-{i:05}").into_bytes())
        .collect()
}

/// Baseline values: [`VALUE`] with a counter stamped into its first eight
/// bytes, so no insert rewrites the bytes its key already holds (which sled
/// would skip).
struct FreshValues {
    written: u64,
    value: [u8; 100],
}

impl Default for FreshValues {
    fn default() -> Self {
        FreshValues {
            written: 0,
            value: VALUE,
        }
    }
}

impl FreshValues {
    fn next(&mut self) -> &[u8] {
        self.written += 1;
        self.value[..8].copy_from_slice(&self.written.to_le_bytes());
        &self.value
    }
}

/// The next message on `inbox`, polled for without ever sleeping, yielding
/// the core between looks as replikv's pollers do; `None` once every sender
/// is gone.
fn receive_awake<T>(inbox: &crossbeam_channel::Receiver<T>) -> Option<T> {
    loop {
        match inbox.try_recv() {
            Ok(message) => return Some(message),
            Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
            Err(crossbeam_channel::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
}

/// A bare sled database in temporary files: the baseline's engine.
fn temporary_sled() -> sled::Db {
    match sled::Config::new().temporary(true).open() {
        Ok(db) => db,
        Err(e) => panic!("cannot open sled: {e}"),
    }
}

fn cluster(consistency: Consistency) -> Cluster {
    match Cluster::builder()
        .nodes(3)
        .consistency(consistency)
        .record_history(false)
        .build()
    {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot build the cluster: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("eventual_put");
    group.throughput(Throughput::Elements(1));
    group.bench_function("bare_sled_insert", |b| {
        let db = temporary_sled();
        let mut values = FreshValues::default();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(db.insert(&keys[i], values.next()).map(|_| ()))
        });
    });
    // What three copies cost the storage engine alone: the same insert into
    // three databases, as the three replicas of a key must do.
    group.bench_function("bare_sled_insert_x3", |b| {
        let dbs: Vec<sled::Db> = (0..3).map(|_| temporary_sled()).collect();
        let mut values = FreshValues::default();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % KEYS;
            let value = values.next();
            for db in &dbs {
                if let Err(e) = black_box(db.insert(&keys[i], value)) {
                    panic!("sled insert failed: {e}");
                }
            }
        });
    });
    // What one thread hand-off there and back costs on this machine: the
    // same insert, done by another thread that owns the database and answers
    // over a crossbeam channel — the bare shape of a client → node → client
    // round trip, without the network, the protocol or the runtime.
    group.bench_function("bare_sled_insert_on_another_thread", |b| {
        let (requests, inbox) = crossbeam_channel::unbounded::<usize>();
        let (answers, answered) = crossbeam_channel::unbounded::<()>();
        let db = temporary_sled();
        let owner = keys.clone();
        let worker = std::thread::spawn(move || {
            let mut values = FreshValues::default();
            while let Some(i) = receive_awake(&inbox) {
                if let Err(e) = db.insert(&owner[i], values.next()) {
                    panic!("sled insert failed: {e}");
                }
                if answers.send(()).is_err() {
                    return;
                }
            }
        });
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % KEYS;
            if requests.send(i).is_err() || receive_awake(&answered).is_none() {
                panic!("the storage thread stopped");
            }
        });
        drop(requests);
        if worker.join().is_err() {
            panic!("the storage thread panicked");
        }
    });
    // Single-copy (one node, no replication) is the runtime's floor: one
    // client → node → client round trip through the simulated network.
    let modes = [
        ("single_copy".to_string(), Consistency::SingleCopy),
        ("r1_w1".to_string(), Consistency::Eventual { r: 1, w: 1 }),
        ("r2_w2".to_string(), Consistency::Eventual { r: 2, w: 2 }),
        ("r1_w3".to_string(), Consistency::Eventual { r: 1, w: 3 }),
    ];
    for (name, consistency) in modes.clone() {
        let cluster = cluster(consistency);
        let Ok(mut client) = cluster.client() else {
            panic!("no client")
        };
        group.bench_function(&name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(client.put(&keys[i], VALUE))
            });
        });
    }
    group.finish();
    concurrent_puts(c, &keys);
    handler_puts(c, &keys);

    let mut group = c.benchmark_group("eventual_get");
    group.throughput(Throughput::Elements(1));
    group.bench_function("bare_sled_get", |b| {
        let db = temporary_sled();
        for key in &keys {
            let _ = db.insert(key, &VALUE[..]);
        }
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(db.get(&keys[i]).map(|v| v.map(|v| v.len())))
        });
    });
    for (name, consistency) in modes {
        let cluster = cluster(consistency);
        let Ok(mut client) = cluster.client() else {
            panic!("no client")
        };
        for key in &keys {
            let _ = client.put(key, VALUE);
        }
        group.bench_function(&name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(client.get(&keys[i]).map(|v| v.map(|v| v.len())))
            });
        });
    }
    group.finish();
}

/// Client threads in `eventual_put_8_clients`.
const CLIENTS: usize = 8;

/// Combined put throughput of [`CLIENTS`] client threads, each doing its
/// share of the iteration's puts in a closed loop.
fn concurrent_puts(c: &mut Criterion, keys: &[Vec<u8>]) {
    let mut group = c.benchmark_group("eventual_put_8_clients");
    group.throughput(Throughput::Elements(1));
    for (name, consistency) in [
        ("single_copy", Consistency::SingleCopy),
        ("r1_w1", Consistency::Eventual { r: 1, w: 1 }),
    ] {
        let cluster = cluster(consistency);
        let mut clients: Vec<_> = (0..CLIENTS)
            .map(|_| match cluster.client() {
                Ok(client) => client,
                Err(e) => panic!("no client: {e}"),
            })
            .collect();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let share = iters.div_ceil(CLIENTS as u64);
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for (offset, client) in clients.iter_mut().enumerate() {
                        scope.spawn(move || {
                            for i in 0..share {
                                let key = &keys[(i as usize * CLIENTS + offset) % KEYS];
                                if let Err(e) = client.put(key, VALUE) {
                                    panic!("put failed: {e}");
                                }
                            }
                        });
                    }
                });
                // Time per put, as if the `share × CLIENTS` puts were `iters`.
                started
                    .elapsed()
                    .mul_f64(iters as f64 / (share * CLIENTS as u64) as f64)
            });
        });
    }
    group.finish();
}

fn handler_puts(c: &mut Criterion, keys: &[Vec<u8>]) {
    let mut group = c.benchmark_group("eventual_put_handlers");
    group.throughput(Throughput::Elements(1));
    // The simulator: the three node cores, the network and the client on
    // the bench thread, instant links, temporary sled storage as above.
    // Virtual time moves a nanosecond per operation, so the eventual
    // protocol's periodic tick and anti-entropy never fire within a run.
    let cluster = match Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Eventual { r: 1, w: 1 })
        .storage(StorageKind::Temporary)
        .record_history(false)
        .build()
    {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot build the simulated cluster: {e}"),
    };
    let Ok(mut client) = cluster.client() else {
        panic!("no client")
    };
    group.bench_function("r1_w1", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % KEYS;
            if let Err(e) = client.put(&keys[i], VALUE) {
                panic!("put failed: {e}");
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
