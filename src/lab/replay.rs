//! One line to replay a run: the `replikv run` command that rebuilds an
//! [`Experiment`] on the simulator.
//!
//! A violation found by a [`Sweep`](super::Sweep) is only useful if anyone
//! can see it again. On the simulator a configuration and a seed *are* the
//! run, so the command line that names them is the whole bug report. Every
//! setting the command line has is written out, defaults included, so the
//! line still replays the run after a default changes.

use super::experiment::Experiment;
use crate::cache::CacheConfig;
use crate::client::CoordinatorPolicy;
use crate::cluster::Consistency;
use crate::network::MessageKind;
use crate::protocol::eventual::ReadStrategy;
use crate::storage::Durability;
use std::time::Duration;

/// A duration as the command line reads it back exactly: whole seconds,
/// milliseconds, microseconds or nanoseconds, whichever is exact.
///
/// ```
/// use replikv::lab::duration_arg;
/// use std::time::Duration;
/// assert_eq!(duration_arg(Duration::from_millis(200)), "200ms");
/// assert_eq!(duration_arg(Duration::from_micros(1500)), "1500us");
/// assert_eq!(duration_arg(Duration::from_secs(2)), "2s");
/// assert_eq!(duration_arg(Duration::ZERO), "0");
/// ```
pub fn duration_arg(d: Duration) -> String {
    let ns = d.as_nanos();
    match ns {
        0 => "0".into(),
        _ if ns.is_multiple_of(1_000_000_000) => format!("{}s", ns / 1_000_000_000),
        _ if ns.is_multiple_of(1_000_000) => format!("{}ms", ns / 1_000_000),
        _ if ns.is_multiple_of(1_000) => format!("{}us", ns / 1_000),
        _ => format!("{ns}ns"),
    }
}

/// The `replikv run --runtime sim …` command that replays `experiment`.
///
/// It uses [`Experiment::seed`] for the cluster, the workload and the
/// nemesis alike, as the command line does (a [`Sweep`](super::Sweep) sets
/// all three). The value size, the checker's budget and the convergence
/// deadline are the command line's own (16 bytes, 10 s, 10 s), and
/// storage is in memory. A [`CoordinatorPolicy::Fixed`] coordinator has no
/// command-line form (it is written `fixed:nN`), so a sweep refuses it.
///
/// ```
/// use replikv::lab::{Experiment, Mutant, replay_command};
/// use replikv::Consistency;
/// let e = Experiment { consistency: Consistency::Eventual { r: 1, w: 2 }, seed: 7, ..Experiment::default() };
/// let line = replay_command(&e);
/// assert!(line.starts_with("replikv run --runtime sim --consistency eventual --r 1 --w 2 "));
/// assert!(line.ends_with(" --seed 7"));
/// let mutant = replay_command(&e.with_mutant(Mutant::AbdWithoutWriteBack));
/// assert!(mutant.contains(" --protocol abd-without-write-back "));
/// ```
pub fn replay_command(e: &Experiment) -> String {
    let mut line = Line(String::from("replikv run --runtime sim"));
    match (e.mutant, e.consistency) {
        (Some(mutant), _) => line.arg("protocol", mutant),
        (None, Consistency::Eventual { r, w }) => {
            line.arg("consistency", "eventual");
            line.arg("r", r);
            line.arg("w", w);
        }
        (None, other) => line.arg("consistency", other),
    }
    if e.hybrid_clock {
        line.flag("hybrid-clock");
    }
    line.arg("nodes", e.nodes);
    line.arg("replicas", e.replicas);
    line.arg("partitioning", e.partitioning);
    let w = &e.workload;
    line.arg("clients", w.clients);
    match w.duration {
        Some(d) => line.arg("duration", duration_arg(d)),
        None => line.arg("ops", w.ops_per_client),
    }
    line.arg("keys", w.keys);
    line.arg("read-ratio", w.read_ratio);
    if let Some(zipf) = w.zipf {
        line.arg("zipf", zipf);
    }
    line.arg("latency", e.latency);
    for &(kind, latency) in &e.kind_latencies {
        let option = match kind {
            MessageKind::WriteRequest => "write-latency",
            MessageKind::WriteAck => "ack-latency",
            MessageKind::ReadRequest => "read-latency",
            MessageKind::ReadResponse => "response-latency",
            // Not a command-line choice.
            MessageKind::Other => continue,
        };
        line.arg(option, latency);
    }
    if let Some(latency) = e.client_latency {
        line.arg("client-latency", latency);
    }
    if e.read_strategy == ReadStrategy::AskAll {
        line.arg("read-strategy", "all");
    }
    line.arg("drop", e.drop);
    line.arg("duplicate", e.duplicate);
    line.arg("faults-on", e.fault_scope);
    line.arg("nemesis", e.nemesis.kind);
    line.arg("nemesis-interval", duration_arg(e.nemesis.interval));
    if let Some(CacheConfig { capacity, ttl }) = e.cache {
        line.arg("cache-capacity", capacity);
        line.arg("cache-ttl", duration_arg(ttl));
    }
    line.arg("timeout", duration_arg(e.client_timeout));
    line.arg(
        "coordinator",
        match e.coordinator {
            CoordinatorPolicy::First => "first".to_string(),
            CoordinatorPolicy::Random => "random".into(),
            CoordinatorPolicy::RoundRobin => "round-robin".into(),
            CoordinatorPolicy::NonReplica => "non-replica".into(),
            CoordinatorPolicy::LeastOutstanding => "least-outstanding".into(),
            CoordinatorPolicy::PowerOfTwoChoices => "power-of-two".into(),
            // Not a command-line choice: a sweep refuses it.
            CoordinatorPolicy::Fixed(node) => format!("fixed:{node}"),
        },
    );
    line.arg(
        "durability",
        match e.durability {
            Durability::Periodic => "periodic",
            Durability::FlushBeforeAck => "flush-before-ack",
        },
    );
    if let Some(attack) = e.attack {
        line.arg("attack", attack);
        line.arg("attack-probability", e.attack_probability);
    }
    if e.authenticate_links {
        line.flag("authenticate-links");
    }
    if !e.check_linearizability {
        line.flag("no-check");
    }
    line.arg("seed", e.seed);
    line.0
}

/// A command line being written.
struct Line(String);

impl Line {
    fn arg(&mut self, name: &str, value: impl std::fmt::Display) {
        self.0.push_str(&format!(" --{name} {value}"));
    }

    fn flag(&mut self, name: &str) {
        self.0.push_str(&format!(" --{name}"));
    }
}
