//! Quickstart: build a three-node cluster, write and read through a client,
//! crash a node and read every key back to see what single-copy storage does
//! about it (the crashed node's keys time out, the rest answer), restart it,
//! then print the cluster's measurements.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use replikv::{Cluster, Error};
use std::time::Duration;

fn main() -> Result<(), Error> {
    let cluster = Cluster::builder()
        .nodes(3)
        .client_timeout(Duration::from_millis(200))
        .seed(1)
        .build()?;
    let mut client = cluster.client()?;

    println!("== writing 100 keys through the simulated network");
    for i in 0..100 {
        client.put(format!("user:{i}"), format!("profile of user {i}"))?;
    }
    let value = client.get("user:42")?;
    println!(
        "user:42 = {:?}",
        value.as_deref().map(String::from_utf8_lossy)
    );

    let owner = cluster.placement().partitioner().owner(b"user:42");
    println!("\n== crashing {owner}, the only node holding user:42 (single-copy mode)");
    cluster.crash(owner)?;
    match client.get("user:42") {
        Ok(v) => println!("read answered {v:?}"),
        Err(e) => println!("read failed: {e}"),
    }
    // Read every key back. A read whose node is down hears nothing: with a
    // short timeout the sweep takes a moment, not a third of 100 × 200 ms.
    client.set_timeout(Duration::from_millis(20));
    let (mut answered, mut timed_out) = (0, 0);
    for i in 0..100 {
        match client.get(format!("user:{i}")) {
            Ok(Some(value)) if value == format!("profile of user {i}").as_bytes() => answered += 1,
            Ok(other) => println!("user:{i}: read {other:?}, which was never written"),
            Err(e) if e.is_indeterminate() => timed_out += 1,
            Err(e) => return Err(e),
        }
    }
    client.set_timeout(Duration::from_millis(200));
    println!(
        "read all 100 keys: {answered} answered with their value, {timed_out} timed out \
         (they live on {owner})"
    );

    println!("\n== restarting {owner}: its sled storage survived the crash");
    cluster.restart(owner)?;
    let value = client.get("user:42")?;
    println!(
        "user:42 = {:?}",
        value.as_deref().map(String::from_utf8_lossy)
    );

    println!("\n== what the cluster measured\n{}", cluster.metrics());
    let history = cluster.history();
    let indeterminate = history
        .ops
        .iter()
        .filter(|op| op.is_indeterminate())
        .count();
    println!(
        "\nThe history holds {} operations; the {indeterminate} that timed out are recorded as \
         indeterminate: the client cannot know whether they took effect.",
        history.len()
    );
    Ok(())
}
