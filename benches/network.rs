//! Messages per second through the simulated network with no faults, beside
//! a bare crossbeam channel between two threads, measured in the same run.
//!
//! Run with `cargo bench --bench network`. The ratio network/bare is the
//! figure to report: it is the price of routing, counting and fault checks.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replikv::network::{Envelope, Network, Payload};
use replikv::{Clock, Endpoint, NodeId};
use std::hint::black_box;
use std::sync::Arc;

const BATCH: u64 = 10_000;

fn envelope() -> Envelope {
    Envelope::new(
        Endpoint::Node(NodeId(0)),
        Endpoint::Node(NodeId(1)),
        Payload::Peer(vec![7; 32]),
    )
}

/// Sender thread sends BATCH messages, this thread receives them all.
fn bare_channel(c: &mut Criterion) {
    let mut group = c.benchmark_group("messages");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("bare crossbeam channel", |b| {
        b.iter(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<Envelope>();
            let sender = std::thread::spawn(move || {
                for _ in 0..BATCH {
                    let _ = tx.send(envelope());
                }
            });
            for _ in 0..BATCH {
                black_box(rx.recv().ok());
            }
            let _ = sender.join();
        })
    });
    group.bench_function("simulated network, no faults", |b| {
        let net = Network::new(2, 1, Arc::new(Clock::new(2))).expect("network");
        b.iter(|| {
            let inbox = net.attach_node(NodeId(1)).expect("attach");
            let sender_net = net.clone();
            let sender = std::thread::spawn(move || {
                for _ in 0..BATCH {
                    sender_net.send(envelope());
                }
            });
            for _ in 0..BATCH {
                black_box(inbox.recv().ok());
            }
            let _ = sender.join();
        });
        net.shutdown();
    });
    group.finish();
}

criterion_group!(benches, bare_channel);
criterion_main!(benches);
