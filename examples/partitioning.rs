//! Partitioning: which node holds which key, and what moves when a node joins.
//!
//! Part 1 compares the four placement strategies of `replikv::partition` on
//! 10 nodes and 100,000 keys, without any cluster: how evenly they spread
//! keys (balance), and how many keys change place when an 11th node joins
//! (movement), with what theory predicts beside each measurement.
//!
//! Part 2 does the same for real on running clusters: write keys, add a node
//! with `Cluster::add_node`, print the `Rebalance` report (keys moved of the
//! total) and read every key back. Part 3 shows why jump hash is the odd one
//! out: it can only remove the node added last.
//!
//! What to look for in the output:
//!
//! - balance: max/mean close to 1.0 for all but the ring, whose virtual
//!   nodes leave a few percent of imbalance;
//! - movement: modulo moves about 10/11 of the keys, the consistent
//!   strategies about 1/11 — the reason consistent hashing exists;
//! - the live clusters agree with the analysis, and every key still reads
//!   back after the move;
//! - jump hash refuses to remove a middle node, with a clear error.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example partitioning
//! ```

use comfy_table::{Table, presets::UTF8_FULL};
use replikv::partition::analysis::{
    Change, balance, expected_list_changed, expected_owner_moved, movement, sample_keys,
};
use replikv::partition::{Member, Strategy};
use replikv::{Cluster, Consistency, Error, NodeId, StorageKind};
use std::time::Duration;

/// Nodes in the analysis of part 1.
const NODES: usize = 10;
/// Keys in the analysis: 10,000 per node, so sampling noise is about 1 %.
const KEYS: u64 = 100_000;
/// Replication factor: replica sets are the first N of a preference list.
const N: usize = 3;
/// Nodes and keys of the live clusters in part 2.
const LIVE_NODES: usize = 5;
const LIVE_KEYS: u64 = 600;

fn main() -> Result<(), Error> {
    analysis()?;
    live()?;
    jump_removal()?;
    Ok(())
}

/// Part 1: balance and movement, computed from the partitioners alone.
fn analysis() -> Result<(), Error> {
    println!("== part 1: {NODES} nodes, {KEYS} keys (key-0, key-1, ...), N = {N}\n");
    let members: Vec<Member> = (0..NODES as u32).map(|i| Member::new(NodeId(i))).collect();
    let mut balance_table = Table::new();
    balance_table.load_style(UTF8_FULL);
    balance_table.set_header(vec![
        "strategy",
        "min/mean",
        "max/mean",
        "CV (std dev/mean)",
        "CV expected",
    ]);
    let mut movement_table = Table::new();
    movement_table.load_style(UTF8_FULL);
    movement_table.set_header(vec![
        "strategy",
        "owners moved",
        "expected",
        format!("replica sets (N={N}) changed").as_str(),
        "expected",
    ]);
    // Sampling noise alone: each node's share of k keys wobbles by 1/√k.
    let noise = 1.0 / ((KEYS / NODES as u64) as f64).sqrt();
    for strategy in Strategy::ALL {
        eprintln!("  measuring {strategy} ...");
        let before = strategy.build(&members)?;
        let b = balance(before.as_ref(), sample_keys(KEYS));
        let expected_cv = match strategy {
            // Each node's arcs add up to a share that wobbles by about 1/√v.
            Strategy::Ring { vnodes } => {
                let arcs = 1.0 / f64::from(vnodes).sqrt();
                format!("≈ {:.1} % (arcs) + noise", 100.0 * arcs)
            }
            _ => format!("≈ {:.1} % (sampling noise)", 100.0 * noise),
        };
        balance_table.add_row(vec![
            strategy.to_string(),
            format!("{:.3}", b.min_over_mean),
            format!("{:.3}", b.max_over_mean),
            format!("{:.1} %", 100.0 * b.coefficient_of_variation),
            expected_cv,
        ]);

        let after = before.with_node(Member::new(NodeId(NODES as u32)))?;
        let m = movement(before.as_ref(), after.as_ref(), N, sample_keys(KEYS));
        movement_table.add_row(vec![
            strategy.to_string(),
            percent(m.owner_moved_fraction),
            percent(expected_owner_moved(strategy, NODES, Change::Add)),
            percent(m.list_changed_fraction),
            expected_list_changed(strategy, NODES, N, Change::Add)
                .map_or("— (no formula)".into(), percent),
        ]);
    }
    println!("Balance: each node's share of the keys against a fair 1/{NODES}.");
    println!("{balance_table}\n");
    println!("Movement when an 11th node joins (a moved key must be copied over the network).");
    println!("{movement_table}");
    println!(
        "Modulo renumbers almost every key (hash mod 10 ≠ hash mod 11); the consistent\n\
         strategies only hand the newcomer its fair share, 1/11 ≈ 9.1 %."
    );
    Ok(())
}

/// Part 2: the same change on running clusters.
fn live() -> Result<(), Error> {
    println!(
        "\n== part 2: live clusters of {LIVE_NODES} nodes (eventual, N = {N}, R = W = 2), \
         {LIVE_KEYS} keys, then add_node()\n"
    );
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "strategy",
        "keys moved / total",
        "moved",
        "expected",
        "copies made",
        "copies removed",
        "keys read back",
    ]);
    let mut incomplete = Vec::new();
    for strategy in Strategy::ALL {
        eprintln!("  live cluster with {strategy} ...");
        let cluster = live_cluster(strategy)?;
        let rebalance = cluster.add_node()?;
        let read_back = read_back(&cluster)?;
        if read_back < LIVE_KEYS {
            incomplete.push(strategy.to_string());
        }
        let fraction = rebalance.keys_moved as f64 / rebalance.keys.max(1) as f64;
        table.add_row(vec![
            strategy.to_string(),
            format!("{} / {}", rebalance.keys_moved, rebalance.keys),
            percent(fraction),
            expected_list_changed(strategy, LIVE_NODES, N, Change::Add).map_or_else(
                || {
                    if strategy == Strategy::Modulo {
                        "— (most)".into()
                    } else {
                        "— (not consistent)".into()
                    }
                },
                percent,
            ),
            rebalance.records_copied.to_string(),
            rebalance.records_removed.to_string(),
            format!("{read_back} / {LIVE_KEYS}"),
        ]);
    }
    println!("{table}");
    if !incomplete.is_empty() {
        return Err(Error::Protocol(format!(
            "under {} some keys did not read back after the move: a bug in replikv's \
             membership change, not a property of the strategy",
            incomplete.join(", ")
        )));
    }
    println!(
        "\"keys moved\" counts keys whose set of {N} replicas changed: with {} nodes a\n\
         joining node enters a key's replica set for {N}/{} of the keys.",
        LIVE_NODES + 1,
        LIVE_NODES + 1
    );
    Ok(())
}

/// Part 3: jump hash numbers its buckets, so only the last can go.
fn jump_removal() -> Result<(), Error> {
    println!("\n== part 3: removing nodes under jump hash\n");
    let cluster = live_cluster(Strategy::Jump)?;
    let added = cluster.add_node()?;
    let newest = added
        .node
        .ok_or_else(|| Error::Protocol("add_node named no node".into()))?;
    println!("nodes: {}", names(&cluster.nodes()));
    let middle = NodeId(2);
    match cluster.remove_node(middle) {
        Ok(r) => println!("remove_node({middle}) unexpectedly worked: {r:?}"),
        Err(e) => println!("remove_node({middle}) → error: {e}"),
    }
    let removed = cluster.remove_node(newest)?;
    println!(
        "remove_node({newest}) → ok: {} of {} keys moved back; nodes now {}",
        removed.keys_moved,
        removed.keys,
        names(&cluster.nodes())
    );
    println!("keys read back: {} / {LIVE_KEYS}", read_back(&cluster)?);
    println!(
        "\nJump hash needs no memory and balances perfectly, but it maps keys to bucket\n\
         numbers 0..m: taking out bucket 2 would renumber every bucket above it. Ring\n\
         and rendezvous can lose any node."
    );
    Ok(())
}

/// A running cluster holding `LIVE_KEYS` keys, every replica up to date.
fn live_cluster(strategy: Strategy) -> Result<Cluster, Error> {
    let cluster = Cluster::builder()
        .nodes(LIVE_NODES)
        .replication(N)
        .partitioning(strategy)
        .consistency(Consistency::Eventual { r: 2, w: 2 })
        .storage(StorageKind::Memory)
        .seed(5)
        .build()?;
    let mut client = cluster.client()?;
    for i in 0..LIVE_KEYS {
        client.put(format!("key-{i}"), format!("value {i}"))?;
    }
    if !cluster.wait_for_convergence(Duration::from_secs(5))? {
        eprintln!("  (replicas not converged before the change)");
    }
    Ok(cluster)
}

/// How many of the keys read back with their value.
fn read_back(cluster: &Cluster) -> Result<u64, Error> {
    let mut client = cluster.client()?;
    let mut ok = 0;
    for i in 0..LIVE_KEYS {
        if client.get(format!("key-{i}"))? == Some(format!("value {i}").into_bytes()) {
            ok += 1;
        }
    }
    Ok(ok)
}

fn percent(fraction: f64) -> String {
    format!("{:.1} %", 100.0 * fraction)
}

fn names(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    format!("[{}]", names.join(", "))
}
