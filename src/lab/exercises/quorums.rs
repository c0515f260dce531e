//! Exercise 1, quorums: choose R and W so that reads are never stale.
//!
//! The scenario: 3 nodes, every key on all N = 3 of them, eventual mode.
//! Replication lags: every node → node message takes 10 ms, while clients
//! reach nodes at once. A writer always writes through the key's primary; a
//! reader 1 ms later reads through the replicas in turn. With R + W ≤ N a
//! read can ask only replicas the write has not reached yet: a stale read.
//! With R + W > N every read quorum overlaps every write quorum.
//!
//! Passing takes 0 stale reads *and* the cheapest such quorums, R + W =
//! N + 1: asking more replicas than needed only adds latency (the grader
//! prints it) and loses availability.

use super::{Grade, ratio, set_node_link_latency};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::Result;
use crate::history::StalenessReport;
use crate::network::Latency;
use crate::sim::Runtime;
use std::time::Duration;

/// N in exercise 1: each key's number of replicas (and of nodes).
pub const QUORUM_REPLICAS: usize = 3;

const EXERCISE: &str = "exercise 1: quorums";
/// Seed of the cluster (network faults, coordinator choice).
const SEED: u64 = 1;
/// Replication lag on every node → node link.
const LAG: Duration = Duration::from_millis(10);
/// The pause after each operation before the next: the reader reads 1 ms
/// after the write returned, well inside the replication lag. (On the
/// simulator an operation over instant client links takes no time at all;
/// without a pause, the write's return and the read's call would share an
/// instant and the staleness oracle could not order them.)
const GAP: Duration = Duration::from_millis(1);
/// Keys written and read, and rounds over them.
const KEYS: usize = 4;
const ROUNDS: usize = 5;

/// Grades a choice of read quorum `r` and write quorum `w` for N = 3, on
/// the simulator with the exercise's seed.
///
/// ```
/// use replikv::lab::exercises::grade_quorums;
/// assert!(!grade_quorums(1, 1).passed); // stale reads under replication lag
/// ```
pub fn grade_quorums(r: usize, w: usize) -> Grade {
    grade_quorums_with_seed(r, w, None)
}

/// [`grade_quorums`] with another seed (`None`: the exercise's own, 1) —
/// what `cargo run --release --example exercise_01_quorums -- --seed N`
/// runs.
pub fn grade_quorums_with_seed(r: usize, w: usize, seed: Option<u64>) -> Grade {
    match run(r, w, seed.unwrap_or(SEED)) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(
            EXERCISE,
            &e,
            "R and W must each be between 1 and N = 3 (a quorum is a number of replicas)",
        ),
    }
}

struct Measured {
    reads: u64,
    stale: u64,
    k_max: u64,
    errors: u64,
    read_ms: f64,
    write_ms: f64,
    /// [`crate::metrics::Report::node_panics`].
    panics: Vec<String>,
    /// The run's history.
    history: crate::history::History,
}

fn measure(r: usize, w: usize, seed: u64) -> Result<Measured> {
    let cluster = Cluster::builder()
        .nodes(QUORUM_REPLICAS)
        .replication(QUORUM_REPLICAS)
        .storage(StorageKind::Memory)
        .consistency(Consistency::Eventual { r, w })
        .client_timeout(Duration::from_secs(2))
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    set_node_link_latency(&cluster, Latency::Fixed(LAG))?;
    let mut writer = cluster.client()?;
    writer.set_policy(CoordinatorPolicy::First);
    let mut reader = cluster.client()?;
    reader.set_policy(CoordinatorPolicy::RoundRobin);
    let mut errors = 0;
    for round in 0..ROUNDS {
        for k in 0..KEYS {
            let key = format!("account-{k}");
            if writer.put(&key, format!("balance-{round}")).is_err() {
                errors += 1;
            }
            cluster.run_for(GAP);
            if reader.get(&key).is_err() {
                errors += 1;
            }
            cluster.run_for(GAP);
        }
    }
    let history = cluster.history();
    let staleness = StalenessReport::from_history(&history);
    let metrics = cluster.metrics();
    Ok(Measured {
        history,
        reads: staleness.reads,
        stale: staleness.stale_reads,
        k_max: staleness.k_max,
        errors,
        read_ms: metrics.read_latency.mean_us / 1000.0,
        write_ms: metrics.write_latency.mean_us / 1000.0,
        panics: metrics.node_panics(),
    })
}

fn run(r: usize, w: usize, seed: u64) -> Result<Grade> {
    let m = measure(r, w, seed)?;
    let n = QUORUM_REPLICAS;
    let measured = format!(
        "R = {r}, W = {w}, N = {n}: {} of {} reads stale ({:.0} %, k max {}), {} errors; \
         mean read {:.2} ms, mean write {:.2} ms (replication lag {} ms per message; simulated, seed {seed})",
        m.stale,
        m.reads,
        100.0 * ratio(m.stale as f64, m.reads as f64),
        m.k_max,
        m.errors,
        m.read_ms,
        m.write_ms,
        LAG.as_millis()
    );
    let fresh = m.stale == 0 && m.errors == 0 && m.reads > 0;
    let (passed, explanation, hint) = if fresh && r + w <= n {
        (
            false,
            format!(
                "no stale read this time, but R + W = {} ≤ N = {n} guarantees nothing: a read \
                 quorum and a write quorum can miss each other, and with other timing they will",
                r + w
            ),
            "make every read quorum overlap every write quorum",
        )
    } else if !fresh {
        (
            false,
            format!(
                "stale reads (or errors) with R + W = {}: a read may ask only replicas that \
                 the last write has not reached yet, and then returns an older value",
                r + w
            ),
            "make every read quorum overlap every write quorum",
        )
    } else if r + w > n + 1 {
        (
            false,
            format!(
                "no stale reads, but R + W = {} is more than needed: every extra replica a \
                 read or write waits for adds latency and one more node that must be up",
                r + w
            ),
            "find the smallest R + W that still guarantees an overlap",
        )
    } else {
        (
            true,
            format!(
                "R + W = {} > N = {n}: every read quorum of {r} shares a replica with every \
                 write quorum of {w}, so each read sees the latest acknowledged write, at the \
                 least cost",
                r + w
            ),
            "",
        )
    };
    let grade = Grade {
        exercise: EXERCISE,
        passed,
        measured,
        explanation,
        hint: hint.into(),
        replay: Some(super::replay_command("exercise_01_quorums", seed)),
        history: None,
    };
    Ok(grade.with_history(m.history).unless_panicked(&m.panics))
}
