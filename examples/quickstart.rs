//! Quickstart: build a three-node cluster, write and read through a client,
//! crash a node and watch what single-copy storage does about it, then print
//! the cluster's measurements.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use replikv::{Cluster, Error, NodeId};
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
    let others: Vec<NodeId> = cluster
        .nodes()
        .into_iter()
        .filter(|&n| n != owner)
        .collect();
    let survivors = (0..100)
        .filter(|i| {
            let key = format!("user:{i}");
            others.contains(&cluster.placement().partitioner().owner(key.as_bytes()))
        })
        .count();
    println!("{survivors} of 100 keys live on the surviving nodes and can still be read");

    println!("\n== restarting {owner}: its sled storage survived the crash");
    cluster.restart(owner)?;
    let value = client.get("user:42")?;
    println!(
        "user:42 = {:?}",
        value.as_deref().map(String::from_utf8_lossy)
    );

    println!("\n== what the cluster measured\n{}", cluster.metrics());
    println!(
        "\nThe history holds {} operations; one of them timed out and is recorded as indeterminate.",
        cluster.history().len()
    );
    Ok(())
}
