//! Queue throughput beside the store's own: on one 3-node Raft cluster on
//! threads, in the same run, a closed loop of
//!
//! - `put` (the baseline: one Raft round),
//! - queue `send`,
//! - queue `receive` + `ack` of what was sent,
//!
//! and each one's rate as a ratio to `put`. The cluster flushes every
//! write before acknowledging it (`Durability::FlushBeforeAck`, which a
//! queue requires), the baseline's puts included. Run with
//! `cargo bench --bench queue` (`QUEUE_BENCH_OPS=N` to change the 2,000
//! operations per phase). A send is a read of the tail, a compare-and-set
//! of the slot and one of the tail; a receive reads the head and the slot
//! and swaps it; an ack reads and swaps again — so expect ratios well
//! under 1, and say so rather than hide it.

use replikv::queue::{Queue, QueueConfig};
use replikv::{Cluster, Consistency};
use std::time::{Duration, Instant};

fn main() -> Result<(), replikv::Error> {
    let ops: usize = std::env::var("QUEUE_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let cluster = Cluster::builder()
        .nodes(3)
        .consistency(Consistency::Consensus)
        .durability(replikv::storage::Durability::FlushBeforeAck)
        .record_history(false)
        .client_timeout(Duration::from_secs(5))
        .build()?;
    let mut client = cluster.client()?;
    client.put("warm-up", "x")?;
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(60),
        max_deliveries: 5,
    };
    let mut queue = Queue::open(&cluster, "bench", config)?;

    let start = Instant::now();
    for i in 0..ops {
        client.put(format!("key-{}", i % 1000), [7u8; 100])?;
    }
    let put = ops as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    for _ in 0..ops {
        queue.send([7u8; 100])?;
    }
    let send = ops as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut received = 0;
    while let Some(delivery) = queue.receive()? {
        queue.ack(&delivery)?;
        received += 1;
    }
    let receive_ack = received as f64 / start.elapsed().as_secs_f64();
    assert_eq!(received, ops, "every message sent is received once");

    println!("3 Raft replicas on threads, {ops} operations per phase, one client");
    println!("store put           {put:>9.0} ops/s  (baseline, 1.00)");
    println!(
        "queue send          {send:>9.0} ops/s  ({:.2} of put)",
        send / put
    );
    println!(
        "queue receive+ack   {receive_ack:>9.0} msg/s  ({:.2} of put)",
        receive_ack / put
    );
    Ok(())
}
