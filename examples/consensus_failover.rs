//! A leader crash and re-election, on the simulator.
//!
//! Three nodes run Raft (`Consistency::Consensus`). Each node is crashed in
//! turn while a client keeps using the cluster through another node: when a
//! follower crashes nothing happens; when the leader crashes, the others
//! wait out an election timeout, elect a new leader, and carry on with
//! every acknowledged write intact. A compare-and-set counter shows it.
//!
//! Run: `cargo run --release --example consensus_failover` (virtual time: instant,
//! and the same output on every run).

use replikv::{Cluster, Consistency, CoordinatorPolicy, NodeId, Runtime};
use std::time::Duration;

fn main() -> replikv::Result<()> {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .latency(replikv::network::Latency::Fixed(Duration::from_millis(2)))
        .seed(7)
        .build()?;
    let mut client = cluster.client()?;
    client.put("counter", "0")?;
    for victim in cluster.nodes() {
        cluster.crash(victim)?;
        let crashed_at = cluster.clock().now_ns();
        // Talk to another node. Reads are safe to retry, so poll with
        // short timeouts until the cluster answers again: that is how long
        // it went without a leader (a request handed to a dead leader is
        // lost, and times out).
        client.set_policy(CoordinatorPolicy::Fixed(NodeId((victim.0 + 1) % 3)));
        client.set_timeout(Duration::from_millis(100));
        let current = loop {
            if let Ok(value) = client.get("counter") {
                break value.unwrap_or_default();
            }
        };
        let waited_ms = (cluster.clock().now_ns() - crashed_at) / 1_000_000;
        // Increment with compare-and-set: only if nobody changed it since.
        client.set_timeout(Duration::from_secs(1));
        let next = (String::from_utf8_lossy(&current)
            .parse::<u64>()
            .unwrap_or(0)
            + 1)
        .to_string();
        let swapped = client.compare_and_set("counter", Some(&current), Some(next.as_bytes()))?;
        println!(
            "crashed {victim}: answered again after {waited_ms:>3} ms (virtual); \
             counter {} -> {next} (swapped: {swapped})",
            String::from_utf8_lossy(&current)
        );
        cluster.restart(victim)?;
    }
    let check = replikv::history::Checker::new().check(&cluster.history());
    println!("history linearizable: {}", check.is_linearizable());
    Ok(())
}
