//! What security costs: put throughput with authenticated links (a keyed
//! BLAKE3 tag and a replay check per node message), with values encrypted
//! at rest (XChaCha20-Poly1305 per stored value), and with both, each ÷ the
//! same cluster without, measured in one run so the figures read as ratios.
//!
//! Run with `cargo bench --bench security`. Setup: strong mode (ABD: every
//! put is two rounds to three replicas, so six sealed messages and three
//! sealed stores), 3 nodes on threads, temporary sled storage, one blocking
//! client over 1,000 keys with 100-byte values, no faults. Printed after
//! the criterion figures: each variant's throughput ÷ the plain cluster's.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::security::{DataKey, LinkKey};
use replikv::{Client, Cluster, Consistency, StorageKind};
use std::time::{Duration, Instant};

const KEYS: u64 = 1000;

fn cluster(mac: bool, encrypt: bool) -> (Cluster, Client) {
    let mut builder = Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(Consistency::Strong)
        .storage(StorageKind::Temporary)
        .record_history(false);
    if mac {
        builder = builder.authenticate_links(LinkKey::for_experiment(1));
    }
    if encrypt {
        builder = builder.encrypt_at_rest(DataKey::for_experiment(1));
    }
    let cluster = builder.build().expect("cluster builds");
    let client = cluster.client().expect("client");
    (cluster, client)
}

fn puts(client: &mut Client, iters: u64) -> Duration {
    let started = Instant::now();
    for i in 0..iters {
        client
            .put(format!("key-{}", i % KEYS), [i as u8; 100])
            .expect("put");
    }
    started.elapsed()
}

fn security(c: &mut Criterion) {
    let mut group = c.benchmark_group("security");
    group.throughput(Throughput::Elements(1));
    let variants = [
        ("plain", false, false),
        ("MAC", true, false),
        ("encryption", false, true),
        ("MAC + encryption", true, true),
    ];
    let mut per_put = Vec::new();
    for (name, mac, encrypt) in variants {
        let (_cluster, mut client) = cluster(mac, encrypt);
        let mut total = (Duration::ZERO, 0u64);
        group.bench_function(format!("strong put, {name}"), |b| {
            b.iter_custom(|iters| {
                let took = puts(&mut client, iters);
                total.0 += took;
                total.1 += iters;
                took
            })
        });
        per_put.push((name, total.0.as_secs_f64() / total.1.max(1) as f64));
    }
    group.finish();
    let Some(&(_, plain)) = per_put.first() else {
        return;
    };
    for &(name, seconds) in &per_put[1..] {
        println!("put throughput, {name} ÷ plain: {:.3}", plain / seconds);
    }
}

criterion_group!(benches, security);
criterion_main!(benches);
