//! Primary-backup replication, written outside the crate against the public
//! `Protocol` trait, running on replikv's own runtime, network, client and
//! history: the proof that protocols are pluggable.
//!
//! It shows synchronous primary-backup under message loss (the primary
//! resends until every backup has the write), then what a crashed primary
//! costs: its keys can't be read until it is back, because nothing promotes a
//! backup — the job of a view-change protocol.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example primary_backup
//! ```

mod protocol;

use protocol::PrimaryBackup;
use replikv::{Cluster, Error};
use std::time::Duration;

fn main() -> Result<(), Error> {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .protocol(|_setup| PrimaryBackup::default())
        .client_timeout(Duration::from_millis(300))
        .seed(3)
        .build()?;
    cluster.network().set_drop_probability(0.2)?;
    let mut client = cluster.client()?;
    println!("== 20 writes with 20% of all messages lost (client traffic too)");
    let mut acknowledged = 0;
    for i in 0..20 {
        // The client never retries: a lost request or reply is a timeout,
        // and the write's fate is unknown.
        match client.put(format!("k{i}"), format!("v{i}")) {
            Ok(()) => acknowledged += 1,
            Err(e) if e.is_indeterminate() => println!("k{i}: {e}"),
            Err(e) => return Err(e),
        }
    }
    println!("{acknowledged} of 20 writes acknowledged with 20% of messages dropped");
    let stats = cluster.network().stats();
    println!(
        "network: {} sent, {} dropped (the primary resent copies to backups)",
        stats.sent, stats.dropped
    );

    cluster.network().set_drop_probability(0.0)?;
    client.put("k7", "v7")?;
    let primary = cluster.placement().replicas(b"k7")[0];
    for node in cluster.nodes() {
        let held = cluster
            .store(node)?
            .get_record(b"k7")?
            .and_then(|r| r.value);
        println!(
            "{node} holds k7 = {:?}",
            held.as_deref().map(String::from_utf8_lossy)
        );
    }
    println!("crashing k7's primary {primary}");
    cluster.crash(primary)?;
    match client.get("k7") {
        Ok(v) => println!("read k7: {v:?}"),
        Err(e) => println!("read k7 failed: {e} — no backup takes over without a view change"),
    }
    cluster.restart(primary)?;
    println!(
        "after restart k7 = {:?}",
        client.get("k7")?.as_deref().map(String::from_utf8_lossy)
    );
    Ok(())
}
