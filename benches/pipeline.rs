//! Pipelining: put throughput with one operation in flight per client (a
//! blocking client) beside eight in flight, on the threaded runtime, in one
//! run — so the figures read as ratios.
//!
//! Run with `cargo bench --bench pipeline`. Setup: 3 nodes, N = 3, in-memory
//! storage (the runtime's cost, not the disk's), no faults, one client over
//! 1,000 keys with 100-byte values. A blocking client waits a whole round
//! trip (six thread hand-offs for an R=W=1 put) per operation; a pipelined
//! one keeps eight going, so the nodes and the client work at once.
//!
//! Printed after the criterion figures: pipelined ÷ blocking for eventual
//! R=W=1, and strong ÷ eventual with the same pipelining (issue goal ≥ 0.5).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::client::Op;
use replikv::{Client, Cluster, Consistency, StorageKind};
use std::time::{Duration, Instant};

const KEYS: u64 = 1000;

fn cluster(mode: Consistency) -> (Cluster, Client) {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(mode)
        .storage(StorageKind::Memory)
        .record_history(false)
        .build()
        .expect("cluster builds");
    let client = cluster.client().expect("client");
    (cluster, client)
}

/// Time for `iters` puts with `window` in flight.
fn puts(client: &mut Client, window: usize, iters: u64) -> Duration {
    let started = Instant::now();
    let mut submitted = 0u64;
    while submitted < iters || client.in_flight() > 0 {
        while submitted < iters && client.in_flight() < window {
            submitted += 1;
            let key = format!("key-{}", submitted % KEYS);
            client
                .submit(Op::put(key, [submitted as u8; 100]))
                .expect("submit");
        }
        if let Some((_, result)) = client.wait_any() {
            result.expect("put");
        }
    }
    started.elapsed()
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    let mut per_put = Vec::new();
    for (mode, window) in [
        (Consistency::Eventual { r: 1, w: 1 }, 1),
        (Consistency::Eventual { r: 1, w: 1 }, 8),
        (Consistency::Strong, 8),
    ] {
        let (_cluster, mut client) = cluster(mode);
        let mut total = (Duration::ZERO, 0u64);
        group.bench_function(format!("{mode} put, {window} in flight"), |b| {
            b.iter_custom(|iters| {
                let took = puts(&mut client, window, iters);
                total.0 += took;
                total.1 += iters;
                took
            })
        });
        per_put.push(total.0.as_secs_f64() / total.1.max(1) as f64);
    }
    group.finish();
    let [blocking, pipelined, strong] = per_put[..] else {
        return;
    };
    println!(
        "eventual R=W=1, 8 in flight ÷ 1 in flight: {:.2}× the throughput",
        blocking / pipelined
    );
    println!(
        "strong ÷ eventual R=W=1, both 8 in flight: {:.2} (goal ≥ 0.5)",
        pipelined / strong
    );
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
