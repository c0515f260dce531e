//! Strong (ABD) put and get throughput beside single-copy, in the same run.
//!
//! One client issues operations back to back (closed loop) on a 3-node
//! cluster with N = 3, in-memory storage (`StorageKind::Memory`, so the
//! figures are the protocol and the simulated network, not sled) and no
//! injected latency or faults. Strong does two round trips to a majority per
//! write (one per read when the replicas agree, which they do here);
//! single-copy does one hop to the owner. Read the result as the ratio
//! strong / single-copy, both measured in this run.
//!
//! ```text
//! cargo bench --bench strong -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::{Cluster, Consistency, StorageKind};
use std::hint::black_box;

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

fn throughput(c: &mut Criterion) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key-{i}")).collect();
    for (op, name) in [("put", "put"), ("get", "get")] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        for (label, consistency) in [
            ("single-copy", Consistency::SingleCopy),
            ("strong", Consistency::Strong),
        ] {
            let cluster = cluster(consistency);
            let mut client = match cluster.client() {
                Ok(client) => client,
                Err(e) => panic!("no client: {e}"),
            };
            for key in &keys {
                if let Err(e) = client.put(key, "initial-value") {
                    panic!("preload failed: {e}");
                }
            }
            let mut i = 0usize;
            group.bench_function(label, |b| {
                b.iter(|| {
                    i = (i + 1) % KEYS;
                    let key = &keys[i];
                    let result = if op == "put" {
                        client.put(key, "a-value-of-about-24-bytes").map(|_| None)
                    } else {
                        client.get(key)
                    };
                    match result {
                        Ok(v) => black_box(v),
                        Err(e) => panic!("{label} {op} failed: {e}"),
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
