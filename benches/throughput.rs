//! Put and get throughput of every consistency mode, with the read cache on
//! and off, measured in one run so the figures can be read as ratios to the
//! single-copy baseline.
//!
//! Run with `cargo bench --bench throughput`. Setup: 3 nodes, N = 3 (1 for
//! single-copy), temporary sled storage, no faults, one client in a closed
//! loop over 1,000 keys with 100-byte values.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::cache::CacheConfig;
use replikv::{Client, Cluster, Consistency, StorageKind};
use std::hint::black_box;
use std::time::Duration;

const KEYS: u64 = 1000;

fn cluster(mode: Consistency) -> (Cluster, Client) {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(if mode == Consistency::SingleCopy { 1 } else { 3 })
        .consistency(mode)
        .storage(StorageKind::Temporary)
        .record_history(false)
        .build()
        .expect("cluster builds");
    let mut client = cluster.client().expect("client");
    for i in 0..KEYS {
        client.put(format!("key-{i}"), [7u8; 100]).expect("preload");
    }
    (cluster, client)
}

fn throughput(c: &mut Criterion) {
    let modes = [
        Consistency::SingleCopy,
        Consistency::Strong,
        Consistency::Eventual { r: 1, w: 1 },
        Consistency::Eventual { r: 2, w: 2 },
    ];
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(1));
    for mode in modes {
        let (cluster, mut client) = cluster(mode);
        let mut i = 0u64;
        group.bench_function(format!("{mode} put"), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                client.put(format!("key-{i}"), [i as u8; 100]).expect("put");
            })
        });
        group.bench_function(format!("{mode} get"), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(client.get(format!("key-{i}")).expect("get"));
            })
        });
        let mut cached = cluster.client().expect("client");
        cached.set_cache(Some(
            cluster
                .shared_cache(CacheConfig::new(KEYS as usize, Duration::from_secs(3600)))
                .expect("cache"),
        ));
        group.bench_function(format!("{mode} get, cache on"), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(cached.get(format!("key-{i}")).expect("get"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
