//! CAP: during a network partition, choose consistency or availability.
//!
//! Five nodes, every key on all five (N = 5). The network splits into a
//! majority {n0, n1, n2} and a minority {n3, n4}; clients still reach every
//! node, and each operation's coordinator is picked at random (seeded), so
//! some land on each side. The same workload — a write, then a read of the
//! same key, twenty times over four keys — runs in two modes:
//!
//! - **strong** (majority quorums): an operation coordinated on the minority
//!   side cannot reach a majority, so it is refused (`Unavailable`, or
//!   `Timeout`), never answered with a stale value; the majority side keeps
//!   serving. Consistent, not available — "CP". (The coordinators' give-up
//!   deadline is cut from 500 ms to 100 ms so that the refusals are quick.)
//! - **eventual** (R = W = 1): both sides accept every write and answer every
//!   read, so reads on one side miss the other side's writes (stale reads),
//!   and when the partition heals last-writer-wins keeps one value per key
//!   and discards what the other side wrote. Available, not consistent — "AP".
//!
//! What to look for: the per-side tables (refusals only on the minority side
//! in strong mode; stale reads only in eventual mode), the values each key
//! converged to after healing, and the side-by-side summary at the end.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example cap_partition
//! ```

use comfy_table::{Table, presets::UTF8_FULL};
use replikv::history::{StalenessReport, lost_writes};
use replikv::protocol::{Strong, StrongConfig};
use replikv::{Cluster, Consistency, CoordinatorPolicy, Error, NodeId, StorageKind};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const MAJORITY: [NodeId; 3] = [NodeId(0), NodeId(1), NodeId(2)];
const MINORITY: [NodeId; 2] = [NodeId(3), NodeId(4)];
const KEYS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// Write-then-read pairs during the partition.
const ROUNDS: usize = 20;
const SEED: u64 = 7;

/// The consistency modes compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Strong,
    Eventual,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Strong => "strong (majority quorums)",
            Mode::Eventual => "eventual (R = W = 1)",
        }
    }

    fn cluster(self) -> Result<Cluster, Error> {
        let builder = Cluster::builder()
            .nodes(5)
            .replication(5)
            .storage(StorageKind::Memory)
            .coordinator(CoordinatorPolicy::Random)
            .seed(SEED);
        match self {
            // `Consistency::Strong` with the coordinators' deadline cut from
            // 500 ms to 100 ms, so each refusal on the minority side costs
            // the example 0.1 s. The client timeout (1 s) stays above it:
            // clients hear a definite `Unavailable`, not a `Timeout`.
            Mode::Strong => {
                let config =
                    StrongConfig::new(Duration::from_millis(10), Duration::from_millis(100))?;
                builder
                    .protocol(move |setup| Strong::with_config(setup.incarnation, config))
                    .build()
            }
            Mode::Eventual => builder
                .consistency(Consistency::Eventual { r: 1, w: 1 })
                .build(),
        }
    }
}

/// Which side of the partition coordinated an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Majority,
    Minority,
}

impl Side {
    fn of(node: NodeId) -> Side {
        if MINORITY.contains(&node) {
            Side::Minority
        } else {
            Side::Majority
        }
    }
}

/// Counts for one side of the partition.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    writes_ok: u64,
    reads_ok: u64,
    unavailable: u64,
    timeouts: u64,
    other_errors: u64,
}

impl Tally {
    fn count(&mut self, is_write: bool, result: &Result<(), Error>) {
        match result {
            Ok(()) if is_write => self.writes_ok += 1,
            Ok(()) => self.reads_ok += 1,
            Err(Error::Unavailable(_)) => self.unavailable += 1,
            Err(Error::Timeout(_)) => self.timeouts += 1,
            Err(_) => self.other_errors += 1,
        }
    }

    fn refused(&self) -> u64 {
        self.unavailable + self.timeouts + self.other_errors
    }
}

/// What one mode's run measured.
struct Outcome {
    mode: Mode,
    sides: BTreeMap<Side, Tally>,
    stale_reads: u64,
    lost: usize,
    discarded: usize,
}

fn main() -> Result<(), Error> {
    let mut outcomes = Vec::new();
    for mode in [Mode::Strong, Mode::Eventual] {
        outcomes.push(run(mode)?);
    }
    println!("\n== summary: the same partition, two answers to CAP");
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "mode",
        "writes accepted\nmajority side",
        "writes accepted\nminority side",
        "refused\n(Unavailable/Timeout)",
        "stale\nreads",
        "values discarded\nat heal",
        "lost writes\n(lost_writes)",
    ]);
    for o in &outcomes {
        let side = |s| o.sides.get(&s).copied().unwrap_or_default();
        let (maj, min) = (side(Side::Majority), side(Side::Minority));
        table.add_row(vec![
            o.mode.name().to_string(),
            maj.writes_ok.to_string(),
            min.writes_ok.to_string(),
            format!(
                "{} ({} / {})",
                maj.refused() + min.refused(),
                maj.unavailable + min.unavailable,
                maj.timeouts + min.timeouts
            ),
            o.stale_reads.to_string(),
            o.discarded.to_string(),
            o.lost.to_string(),
        ]);
    }
    println!("{table}");
    println!(
        "\"values discarded at heal\": keys written on both sides during the partition;\n\
         last-writer-wins kept one side's value and threw the other side's away,\n\
         although both were acknowledged and neither side ever saw the other's.\n\
         \"lost writes\" counts the stricter case of an acknowledged write that lost to\n\
         one made *before* it in real time: none here, the clocks agree (see the\n\
         clock_skew example for when they don't)."
    );
    Ok(())
}

/// Runs the story in `mode` and prints what happened.
fn run(mode: Mode) -> Result<Outcome, Error> {
    eprintln!("  running the {} half ...", mode.name());
    println!("\n== {}: 5 nodes, N = 5", mode.name());
    let cluster = mode.cluster()?;
    let mut client = cluster.client()?;
    for key in KEYS {
        client.put(key, format!("{key}-0"))?;
    }
    println!(
        "wrote {} keys; partitioning into majority {} and minority {}",
        KEYS.len(),
        names(&MAJORITY),
        names(&MINORITY)
    );
    cluster.network().partition(&[&MAJORITY, &MINORITY])?;

    let mut sides: BTreeMap<Side, Tally> = BTreeMap::new();
    // For each key, the last write acknowledged on each side.
    let mut last_write: BTreeMap<(&str, Side), String> = BTreeMap::new();
    let mut shown = 0;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let key = KEYS[round % KEYS.len()];
        let value = format!("{key}-{}", round + 1);
        let (written, node) = coordinated(&cluster, || client.put(key, &value));
        let side = Side::of(node);
        sides.entry(side).or_default().count(true, &written);
        if written.is_ok() {
            last_write.insert((key, side), value.clone());
        }

        let (read, reader) = coordinated(&cluster, || client.get(key));
        let read_ok = read.as_ref().map(|_| ()).map_err(clone_error);
        sides
            .entry(Side::of(reader))
            .or_default()
            .count(false, &read_ok);
        // Only a write acknowledged just now makes a different answer stale.
        let stale =
            written.is_ok() && matches!(&read, Ok(v) if v.as_deref() != Some(value.as_bytes()));
        if shown < 6 || (stale && shown < 10) {
            shown += 1;
            println!(
                "  put {key} = {value:<8} via {node} ({}) → {:<11}  then get via {reader} ({}) → {}{}",
                side_name(side),
                describe(written.map(|()| None)),
                side_name(Side::of(reader)),
                describe(read),
                if stale { "  ← STALE" } else { "" },
            );
        }
    }
    println!(
        "  … {ROUNDS} rounds in {:.1?}; per side of the partition:",
        started.elapsed()
    );
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "coordinator on",
        "writes ok",
        "reads ok",
        "Unavailable",
        "Timeout",
        "other errors",
    ]);
    for (side, t) in &sides {
        table.add_row(vec![
            side_name(*side).to_string(),
            t.writes_ok.to_string(),
            t.reads_ok.to_string(),
            t.unavailable.to_string(),
            t.timeouts.to_string(),
            t.other_errors.to_string(),
        ]);
    }
    println!("{table}");
    let staleness = StalenessReport::from_history(&cluster.history());

    cluster.network().heal();
    match mode {
        Mode::Eventual => {
            let started = Instant::now();
            let converged = cluster.wait_for_convergence(Duration::from_secs(5))?;
            println!(
                "healed; anti-entropy and hints brought every replica {} after {:.0?}",
                if converged { "in line" } else { "NOT in line" },
                started.elapsed()
            );
        }
        Mode::Strong => {
            let old = old_copies(&cluster)?;
            println!(
                "healed; {} of {} replica copies are still old: {}\nStrong mode has no \
                 anti-entropy, but every read consults a majority, so an old copy on its\n\
                 own is never the answer. The value of each key is the newest one:",
                old.len(),
                KEYS.len() * 5,
                if old.is_empty() {
                    "none".to_string()
                } else {
                    old.join(", ")
                }
            );
        }
    }
    let finals = cluster.final_values()?;
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "key",
        "value after heal",
        "majority side's last write",
        "minority side's last write",
    ]);
    let mut discarded = 0;
    for key in KEYS {
        let last = |side| last_write.get(&(key, side)).cloned();
        let (maj, min) = (last(Side::Majority), last(Side::Minority));
        let value = finals
            .get(key.as_bytes())
            .cloned()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        if let (Some(a), Some(b)) = (&maj, &min) {
            // Both sides wrote it: at most one of the two survives.
            discarded +=
                usize::from(value.as_ref() != Some(a)) + usize::from(value.as_ref() != Some(b));
        }
        let mark = |w: Option<String>| match w {
            None => "—".to_string(),
            Some(w) if Some(&w) == value.as_ref() => format!("{w} (kept)"),
            Some(w) => format!("{w} (DISCARDED)"),
        };
        table.add_row(vec![
            key.to_string(),
            value.clone().unwrap_or_else(|| "(missing)".into()),
            mark(maj),
            mark(min),
        ]);
    }
    println!("{table}");
    let lost = lost_writes(&cluster.history(), &finals).len();
    Ok(Outcome {
        mode,
        sides,
        stale_reads: staleness.stale_reads,
        lost,
        discarded,
    })
}

/// `key@node` for every replica copy older than the key's newest value.
fn old_copies(cluster: &Cluster) -> Result<Vec<String>, Error> {
    let finals = cluster.final_values()?;
    let mut old = Vec::new();
    for key in KEYS {
        let newest = finals.get(key.as_bytes()).cloned().flatten();
        for (node, record) in cluster.replica_records(key.as_bytes())? {
            if record.and_then(|r| r.value) != newest {
                old.push(format!("{key}@{node}"));
            }
        }
    }
    Ok(old)
}

/// Runs `op` and names the node whose client-request counter moved: the
/// coordinator the client picked. (The client API does not say; only this
/// thread sends requests, so the counters tell.)
fn coordinated<T>(cluster: &Cluster, op: impl FnOnce() -> T) -> (T, NodeId) {
    let before = requests(cluster);
    let result = op();
    let after = requests(cluster);
    let node = after
        .iter()
        .find(|(node, n)| before.get(node).is_some_and(|b| b < n))
        .map_or(NodeId(u32::MAX), |(&node, _)| node);
    (result, node)
}

fn requests(cluster: &Cluster) -> BTreeMap<NodeId, u64> {
    cluster
        .metrics()
        .nodes
        .iter()
        .map(|load| (load.node, load.requests))
        .collect()
}

/// An operation's result in a few words.
fn describe(result: Result<Option<Vec<u8>>, Error>) -> String {
    match result {
        Ok(None) => "ok".into(),
        Ok(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
        Err(Error::Unavailable(_)) => "Unavailable".into(),
        Err(Error::Timeout(_)) => "Timeout".into(),
        Err(e) => format!("error: {e}"),
    }
}

/// The error kinds the tally tells apart, without the message.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Unavailable(why) => Error::Unavailable(why.clone()),
        Error::Timeout(after) => Error::Timeout(*after),
        other => Error::Protocol(other.to_string()),
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Majority => "majority",
        Side::Minority => "minority",
    }
}

fn names(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    format!("{{{}}}", names.join(", "))
}
