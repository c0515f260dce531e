//! Clock skew: why last-writer-wins is only as good as the clocks behind it.
//!
//! Three nodes in eventual mode (N = 3, R = W = 1). One node's clock is set
//! ten seconds back — the lesson's "no global clock" made concrete. A client
//! writes `"monday"` through a healthy coordinator, then, *later*, writes
//! `"tuesday"` through the skewed one. Both writes are acknowledged. The
//! replicas converge, and the value they agree on is `"monday"`: the later
//! write carried an older timestamp, so last-writer-wins threw it away.
//!
//! What to look for in the output:
//!
//! - the timeline: `"tuesday"` was invoked after `"monday"` was acknowledged,
//!   by the global observer's clock;
//! - the version table: every replica holds `"monday"`, stamped by the
//!   healthy node's clock, and nothing remembers `"tuesday"`;
//! - the lost-write list: an acknowledged write that no replica kept;
//! - the epilogue: with the clock fixed, the same node's next write wins;
//! - the hybrid logical clock part: the skewed node's later write now wins,
//!   because it had stored the earlier one — until a partition keeps the
//!   earlier write from it, and its write is lost again.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example clock_skew
//! ```

use comfy_table::{Table, presets::UTF8_FULL};
use replikv::history::{History, OpKind, ValueOrigin, lost_writes};
use replikv::protocol::eventual::hlc;
use replikv::protocol::{Eventual, EventualConfig};
use replikv::{Client, Cluster, CoordinatorPolicy, Error, NodeId, StorageKind};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The key every write goes to.
const KEY: &str = "meeting-day";
/// How far the skewed node's clock is set back: ten seconds.
const SKEW_NS: i64 = -10_000_000_000;

fn main() -> Result<(), Error> {
    let cluster = skewed_cluster(false)?;
    let replicas = cluster.placement().replicas(KEY.as_bytes());
    // The key's primary stays healthy; its last replica gets the bad clock.
    let healthy = replicas[0];
    let skewed = replicas[replicas.len() - 1];
    println!("== clock skew and last-writer-wins");
    println!(
        "3 nodes, N = 3, eventual R = 1, W = 1. Key {KEY:?} lives on {} (primary first).",
        names(&replicas)
    );
    println!("Setting {skewed}'s clock 10 s back; {healthy}'s clock is correct.\n");
    cluster.set_clock_skew(skewed, SKEW_NS)?;
    print_clocks(&cluster)?;

    let mut client = cluster.client()?;
    println!("\n== two writes, one after the other");
    put_via(&cluster, &mut client, healthy, "monday")?;
    // Give "monday" time to reach every replica: "tuesday" really comes later.
    std::thread::sleep(Duration::from_millis(50));
    put_via(&cluster, &mut client, skewed, "tuesday")?;
    println!(
        "Each write is stamped with its coordinator's clock: \"tuesday\" got a stamp\n\
         about 10 s *older* than \"monday\", although it happened 50 ms later."
    );
    converge(&cluster)?;
    print_replicas(&cluster)?;
    println!(
        "\nread {KEY:?} → {}   (\"tuesday\" was acknowledged later, yet \"monday\" won)",
        read(&mut client)?
    );
    print_lost_writes(&cluster.history(), &cluster.final_values()?);

    println!("\n== epilogue: fix the clock, write again through {skewed}");
    cluster.set_clock_skew(skewed, 0)?;
    put_via(&cluster, &mut client, skewed, "wednesday")?;
    converge(&cluster)?;
    println!(
        "read {KEY:?} → {}   (with an honest clock the later write wins)",
        read(&mut client)?
    );

    hybrid_clock(healthy, skewed)?;
    println!(
        "\nLast-writer-wins orders writes by their coordinators' clocks, not by when\n\
         they happened. A node whose clock runs behind makes writes that are\n\
         acknowledged and then silently discarded. A hybrid logical clock saves the\n\
         writes made after their coordinator heard of the others, and only those.\n\
         Real systems also bound clock error (NTP, TrueTime), or keep conflicting\n\
         versions (vector clocks) instead."
    );
    Ok(())
}

/// The same story with [`EventualConfig::hybrid_clock`]: every record a node
/// receives moves its write clock past the record's stamp.
fn hybrid_clock(healthy: NodeId, skewed: NodeId) -> Result<(), Error> {
    println!("\n== the same, with a hybrid logical clock (EventualConfig::hybrid_clock)");
    let cluster = skewed_cluster(true)?;
    cluster.set_clock_skew(skewed, SKEW_NS)?;
    let mut client = cluster.client()?;
    put_via(&cluster, &mut client, healthy, "monday")?;
    std::thread::sleep(Duration::from_millis(50));
    put_via(&cluster, &mut client, skewed, "tuesday")?;
    converge(&cluster)?;
    print_replicas(&cluster)?;
    println!(
        "read {KEY:?} → {}   ({skewed} had stored \"monday\", so its clock moved past it)",
        read(&mut client)?
    );

    println!("\nNow {skewed} is cut off from the others while both sides write.");
    let others: Vec<NodeId> = cluster
        .nodes()
        .into_iter()
        .filter(|&n| n != skewed)
        .collect();
    cluster.network().partition(&[&others, &[skewed]])?;
    put_via(&cluster, &mut client, healthy, "thursday")?;
    put_via(&cluster, &mut client, skewed, "friday")?;
    cluster.network().heal();
    converge(&cluster)?;
    println!(
        "read {KEY:?} → {}   ({skewed} never heard of \"thursday\": its \"friday\" is stamped 10 s back)",
        read(&mut client)?
    );
    print_lost_writes(&cluster.history(), &cluster.final_values()?);
    Ok(())
}

/// Three nodes, N = 3, R = W = 1, with or without a hybrid logical clock.
fn skewed_cluster(hybrid_clock: bool) -> Result<Cluster, Error> {
    let config = EventualConfig {
        hybrid_clock,
        ..EventualConfig::new(1, 1)
    };
    Cluster::builder()
        .nodes(3)
        .replication(3)
        .protocol(move |_| Eventual::with_config(config.clone()))
        .storage(StorageKind::Memory)
        .seed(11)
        .build()
}

/// Puts `value` under [`KEY`] with `node` as coordinator, and prints a
/// timeline line.
fn put_via(cluster: &Cluster, client: &mut Client, node: NodeId, value: &str) -> Result<(), Error> {
    let node_clock = cluster.clock().node_now_ns(node);
    client.set_policy(CoordinatorPolicy::Fixed(node));
    client.put(KEY, value)?;
    let op = cluster
        .history()
        .ops
        .into_iter()
        .rfind(|op| op.kind == OpKind::Put)
        .ok_or_else(|| Error::Protocol("the write is missing from the history".into()))?;
    println!(
        "t = {:>7}  put {:<11} via {node} (its clock reads {})  → acknowledged at t = {}",
        ms(op.call_ns),
        format!("{value:?}"),
        secs(node_clock),
        op.return_ns.map_or("?".into(), ms),
    );
    Ok(())
}

/// Waits for every replica to agree, and says how long it took.
fn converge(cluster: &Cluster) -> Result<(), Error> {
    let started = Instant::now();
    let converged = cluster.wait_for_convergence(Duration::from_secs(5))?;
    println!(
        "\n== convergence: {} after {:.0?}",
        if converged {
            "converged"
        } else {
            "NOT converged"
        },
        started.elapsed()
    );
    Ok(())
}

/// Reads [`KEY`] through the key's primary.
fn read(client: &mut Client) -> Result<String, Error> {
    client.set_policy(CoordinatorPolicy::First);
    Ok(show(client.get(KEY)?.as_deref()))
}

fn print_clocks(cluster: &Cluster) -> Result<(), Error> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec!["node", "skew", "its clock reads"]);
    for node in cluster.nodes() {
        let skew = cluster.clock().skew(node);
        table.add_row(vec![
            node.to_string(),
            format!("{:+.1} s", skew as f64 / 1e9),
            secs(cluster.clock().node_now_ns(node)),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// What each replica stores, with the version decoded: the write's
/// timestamp on its coordinator's clock, and that coordinator.
fn print_replicas(cluster: &Cluster) -> Result<(), Error> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "replica",
        "value",
        "version timestamp (coordinator's clock)",
        "stamped by",
    ]);
    for (node, record) in cluster.replica_records(KEY.as_bytes())? {
        match record {
            Some(record) => {
                let (micros, logical) = hlc::unpack(record.version.counter);
                table.add_row(vec![
                    node.to_string(),
                    show(record.value.as_deref()),
                    format!("{} (+{logical})", secs(micros * 1_000)),
                    record.version.node.to_string(),
                ]);
            }
            None => {
                table.add_row(vec![
                    node.to_string(),
                    "(nothing)".into(),
                    "".into(),
                    "".into(),
                ]);
            }
        }
    }
    println!("{table}");
    Ok(())
}

/// Lists the acknowledged writes that the converged values lost, as
/// [`lost_writes`] finds them: invoked after the winning write returned, so
/// in real time they came later and should have overwritten it.
fn print_lost_writes(history: &History, finals: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    println!("\n== lost writes (replikv::history::lost_writes)");
    let lost = lost_writes(history, finals);
    for write in &lost {
        let Some(op) = history.ops.get(write.lost) else {
            continue;
        };
        let winner = match write.winner {
            ValueOrigin::Write(i) => history.ops.get(i).map_or("?".into(), |w| {
                format!(
                    "put {} acknowledged at t = {}",
                    show(w.value.as_deref()),
                    w.return_ns.map_or("?".into(), ms)
                )
            }),
            other => format!("{other:?}"),
        };
        println!(
            "LOST: put {} {} by client {}, invoked at t = {}, acknowledged at t = {};\n      \
             the key kept the earlier {winner}",
            String::from_utf8_lossy(&write.key),
            show(op.value.as_deref()),
            op.client.0,
            ms(op.call_ns),
            op.return_ns.map_or("?".into(), ms),
        );
    }
    println!("{} acknowledged write(s) lost", lost.len());
}

fn names(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    format!("[{}]", names.join(", "))
}

fn show(value: Option<&[u8]>) -> String {
    value.map_or("(missing)".into(), |v| {
        format!("{:?}", String::from_utf8_lossy(v))
    })
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// A node clock reading (the simulated wall clock starts at one hour).
fn secs(ns: u64) -> String {
    format!("{:.6} s", ns as f64 / 1e9)
}
