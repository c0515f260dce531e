//! Consensus (Raft) put throughput beside strong (ABD) and eventual, in the
//! same run, with 1 and 8 clients.
//!
//! Each mode gets its own 3-node cluster built the same way: N = 3,
//! in-memory storage (`StorageKind::Memory`, so the figures are the
//! protocols and the in-process network, not sled), threads, no injected
//! latency or faults. The clients issue puts back to back (closed loop),
//! each on its own thread, to round-robin coordinators. Strong (ABD) does
//! two round trips to a majority per put; eventual R=1 W=1 answers after
//! one replica's ack; consensus forwards to the leader, which appends,
//! replicates by AppendEntries and answers once a majority stored the
//! entry. With many clients, a leader batches every entry appended since a
//! follower's last AppendEntries into the next one, so concurrent puts
//! share rounds. Read each figure as the ratio consensus / strong of the
//! same group (goal with 8 clients: ≥ 0.5).
//!
//! ```text
//! cargo bench --bench consensus -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use replikv::{Client, Cluster, Consistency, CoordinatorPolicy, StorageKind};
use std::time::{Duration, Instant};

const KEYS: usize = 1000;

fn cluster(consistency: Consistency) -> Cluster {
    let built = Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(consistency)
        .storage(StorageKind::Memory)
        .record_history(false)
        .build();
    match built {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot build a {consistency:?} cluster: {e}"),
    }
}

fn client(cluster: &Cluster) -> Client {
    match cluster.client() {
        Ok(mut client) => {
            client.set_policy(CoordinatorPolicy::RoundRobin);
            client
        }
        Err(e) => panic!("no client: {e}"),
    }
}

/// `iters` puts spread over `clients`, each client on its own thread;
/// the wall time they took.
fn puts(clients: &mut [Client], keys: &[String], iters: u64, label: &str) -> Duration {
    let n = clients.len() as u64;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (c, client) in clients.iter_mut().enumerate() {
            let share = iters / n + u64::from((c as u64) < iters % n);
            scope.spawn(move || {
                for i in 0..share {
                    let key = &keys[(i as usize * 7 + c) % KEYS];
                    if let Err(e) = client.put(key, "a-value-of-about-24-bytes") {
                        panic!("{label} put failed: {e}");
                    }
                }
            });
        }
    });
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key-{i}")).collect();
    for clients in [1usize, 8] {
        let mut group = c.benchmark_group(format!("put/{clients}-clients"));
        group.throughput(Throughput::Elements(1));
        for (label, consistency) in [
            ("strong", Consistency::Strong),
            ("eventual-1-1", Consistency::Eventual { r: 1, w: 1 }),
            ("consensus", Consistency::Consensus),
        ] {
            let cluster = cluster(consistency);
            let mut pool: Vec<Client> = (0..clients).map(|_| client(&cluster)).collect();
            // Warm: a leader elected, every key present.
            puts(&mut pool, &keys, KEYS as u64, label);
            group.bench_function(BenchmarkId::new(label, clients), |b| {
                b.iter_custom(|iters| puts(&mut pool, &keys, iters, label))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
