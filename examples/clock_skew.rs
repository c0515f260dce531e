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
//! - the epilogue: with the clock fixed, the same node's next write wins.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example clock_skew
//! ```

use comfy_table::{Table, presets::UTF8_FULL};
use replikv::history::{History, OpKind, Version, lost_writes};
use replikv::protocol::eventual::hlc;
use replikv::{Client, Cluster, Consistency, CoordinatorPolicy, Error, NodeId, StorageKind};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The key every write goes to.
const KEY: &str = "meeting-day";
/// How far the skewed node's clock is set back: ten seconds.
const SKEW_NS: i64 = -10_000_000_000;

fn main() -> Result<(), Error> {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(Consistency::Eventual { r: 1, w: 1 })
        .storage(StorageKind::Memory)
        .seed(11)
        .build()?;
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

    // The client API cannot name a coordinator, so `put_via` walks the
    // replicas in turn (round-robin) and checks each write went where meant.
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
    print_replicas(&cluster)?;

    client.set_policy(CoordinatorPolicy::First);
    let read = client.get(KEY)?;
    println!(
        "\nread {KEY:?} → {}   (\"tuesday\" was acknowledged later, yet \"monday\" won)",
        show(read.as_deref())
    );

    let history = cluster.history();
    let finals = cluster.final_values()?;
    print_lost_writes(&history, &finals);

    println!("\n== epilogue: fix the clock, write again through {skewed}");
    cluster.set_clock_skew(skewed, 0)?;
    put_via(&cluster, &mut client, skewed, "wednesday")?;
    cluster.wait_for_convergence(Duration::from_secs(5))?;
    client.set_policy(CoordinatorPolicy::First);
    println!(
        "read {KEY:?} → {}   (with an honest clock the later write wins)",
        show(client.get(KEY)?.as_deref())
    );
    println!(
        "\nLast-writer-wins orders writes by their coordinators' clocks, not by when\n\
         they happened. A node whose clock runs behind makes writes that are\n\
         acknowledged and then silently discarded. Real systems bound clock error\n\
         (NTP, TrueTime), or keep conflicting versions (vector clocks) instead."
    );
    Ok(())
}

/// Puts `value` under [`KEY`] with `node` as coordinator, and prints a
/// timeline line. Switches `client` to [`CoordinatorPolicy::RoundRobin`]
/// and advances it with harmless reads until `node` is next in turn.
fn put_via(cluster: &Cluster, client: &mut Client, node: NodeId, value: &str) -> Result<(), Error> {
    client.set_policy(CoordinatorPolicy::RoundRobin);
    let replicas = cluster.placement().replicas(KEY.as_bytes());
    for _ in 0..=replicas.len() {
        let (read, used) = coordinated(cluster, || client.get(KEY));
        read?;
        let next = used
            .and_then(|u| replicas.iter().position(|&r| r == u))
            .map(|i| replicas[(i + 1) % replicas.len()]);
        if next == Some(node) {
            break;
        }
    }
    let node_clock = cluster.clock().node_now_ns(node);
    let (result, used) = coordinated(cluster, || client.put(KEY, value));
    result?;
    let used = used.ok_or_else(|| Error::Protocol("no node saw the write".into()))?;
    if used != node {
        return Err(Error::Protocol(format!(
            "wanted {node} to coordinate, but {used} did"
        )));
    }
    let op = cluster
        .history()
        .ops
        .into_iter()
        .rfind(|op| op.kind == OpKind::Put)
        .ok_or_else(|| Error::Protocol("the write is missing from the history".into()))?;
    println!(
        "t = {:>7}  put {:<11} via {used} (its clock reads {})  → acknowledged at t = {}",
        ms(op.call_ns),
        format!("{value:?}"),
        secs(node_clock),
        op.return_ns.map_or("?".into(), ms),
    );
    Ok(())
}

/// Runs `op` and reports which node's client-request counter moved: the
/// coordinator. (Nothing else sends requests while the example runs.)
fn coordinated<T>(cluster: &Cluster, op: impl FnOnce() -> T) -> (T, Option<NodeId>) {
    let before = requests(cluster);
    let result = op();
    let after = requests(cluster);
    let used = after
        .iter()
        .find(|(node, n)| before.get(node).is_some_and(|b| b < n))
        .map(|(&node, _)| node);
    (result, used)
}

fn requests(cluster: &Cluster) -> BTreeMap<NodeId, u64> {
    cluster
        .metrics()
        .nodes
        .iter()
        .map(|load| (load.node, load.requests))
        .collect()
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
            Version::Write(i) => history.ops.get(i).map_or("?".into(), |w| {
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
