//! Measurements: operation latencies and outcomes (recorded by clients),
//! message counts (from the network) and per-node load, gathered into a
//! [`Report`] that prints as a table.

use crate::history::OpKind;
use crate::ids::NodeId;
use crate::network::NetworkStats;
use comfy_table::{Table, presets::UTF8_FULL};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latencies are recorded in microseconds, from 1 µs to 1 hour, with 3
/// significant digits: enough to tell 1.00 ms from 1.01 ms.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Outcome and latency counters shared by all clients of a cluster.
#[derive(Debug)]
pub(crate) struct OpMetrics {
    latency: [Mutex<Histogram<u64>>; 4],
    ok: AtomicU64,
    timeouts: AtomicU64,
    unavailable: AtomicU64,
    other_errors: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    cache_evictions: AtomicU64,
}

fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
}

fn kind_index(kind: OpKind) -> usize {
    match kind {
        OpKind::Get => 0,
        OpKind::Put => 1,
        OpKind::Delete => 2,
        OpKind::Cas => 3,
    }
}

/// How an operation ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Timeout,
    Unavailable,
    OtherError,
}

impl Default for OpMetrics {
    fn default() -> Self {
        OpMetrics {
            latency: [
                Mutex::new(new_histogram()),
                Mutex::new(new_histogram()),
                Mutex::new(new_histogram()),
                Mutex::new(new_histogram()),
            ],
            ok: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            other_errors: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            cache_evictions: AtomicU64::new(0),
        }
    }
}

impl OpMetrics {
    pub(crate) fn record_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_cache_evictions(&self, n: u64) {
        self.cache_evictions.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, kind: OpKind, outcome: Outcome, latency: Duration) {
        let counter = match outcome {
            Outcome::Ok => &self.ok,
            Outcome::Timeout => &self.timeouts,
            Outcome::Unavailable => &self.unavailable,
            Outcome::OtherError => &self.other_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if outcome == Outcome::Ok {
            let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
            self.latency[kind_index(kind)].lock().saturating_record(us);
        }
    }

    pub(crate) fn latency_summary(&self, kinds: &[OpKind]) -> LatencySummary {
        let mut merged = new_histogram();
        for &kind in kinds {
            // Same bounds, so adding cannot fail.
            let _ = merged.add(&*self.latency[kind_index(kind)].lock());
        }
        LatencySummary::from_histogram(&merged)
    }
}

/// Latency percentiles of successful operations, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    /// How many operations.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

impl LatencySummary {
    fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// Per-node load, and what went wrong on the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLoad {
    /// The node.
    pub node: NodeId,
    /// Client requests it coordinated.
    pub requests: u64,
    /// Peer messages it received.
    pub peer_messages: u64,
    /// Handler errors (storage failures, corrupt records).
    pub handler_errors: u64,
    /// Peer messages that did not decode.
    pub garbled_messages: u64,
    /// Peer messages refused because their link tag did not verify: forged,
    /// or altered in flight (0 unless links are authenticated; see
    /// [`crate::security`]).
    pub unauthentic_messages: u64,
    /// Authentic peer messages refused as replays (see
    /// [`crate::security::Replay`]).
    pub replayed_messages: u64,
    /// Client requests refused by access control, unauthenticated or not
    /// permitted (0 unless it is on; see [`crate::security::AccessPolicy`]).
    pub refused_requests: u64,
    /// Client requests dropped unanswered because they claimed the id of a
    /// client with a session but their tag did not verify: a client id
    /// rewritten or a request altered on the network (see
    /// [`crate::security::AccessPolicy`]).
    pub forged_requests: u64,
    /// Client requests not run because they were duplicates or late copies
    /// ([`crate::protocol::RequestFilter`]).
    pub duplicate_requests: u64,
    /// Batches of envelopes the node handled, each closed by one group
    /// commit (see [`ClusterBuilder::batching`](crate::ClusterBuilder::batching));
    /// a node that does not batch handles every envelope as a batch of one.
    pub batches: u64,
    /// Envelopes handled in those batches: `batched_envelopes / batches`
    /// is the mean batch size.
    pub batched_envelopes: u64,
    /// Incarnations that ended because the protocol panicked (each one
    /// crashed the node; see [`Cluster::crash`](crate::Cluster::crash)).
    pub panics: u64,
    /// The latest panic's message.
    pub last_panic: Option<String>,
    /// Whether it is up now.
    pub up: bool,
}

impl NodeLoad {
    /// `node 1 panicked: <message>` (with a count when it panicked more
    /// than once), or `None` when its protocol never panicked.
    pub fn panic_summary(&self) -> Option<String> {
        if self.panics == 0 {
            return None;
        }
        let message = self.last_panic.as_deref().unwrap_or("(no message)");
        Some(match self.panics {
            1 => format!("node {} panicked: {message}", self.node.0),
            n => format!("node {} panicked {n} times, last: {message}", self.node.0),
        })
    }
}

/// A snapshot of a cluster's measurements.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that timed out (outcome unknown).
    pub timeouts: u64,
    /// Operations refused for lack of replicas.
    pub unavailable: u64,
    /// Operations that failed otherwise.
    pub other_errors: u64,
    /// Latency of successful reads.
    pub read_latency: LatencySummary,
    /// Latency of successful writes (puts and deletes).
    pub write_latency: LatencySummary,
    /// Latency of every successful operation.
    pub latency: LatencySummary,
    /// Reads answered by a client-side cache.
    pub cache_hits: u64,
    /// Reads a cache could not answer.
    pub cache_misses: u64,
    /// Cache entries evicted for room.
    pub cache_evictions: u64,
    /// Network counters.
    pub network: NetworkStats,
    /// Per-node load.
    pub nodes: Vec<NodeLoad>,
    /// Elections, leaders and time without one, for protocols that
    /// announce their roles (`None` for the others; see
    /// [`crate::leadership`]).
    pub leadership: Option<crate::leadership::LeadershipSummary>,
}

impl Report {
    pub(crate) fn new(ops: &OpMetrics, network: NetworkStats, nodes: Vec<NodeLoad>) -> Self {
        Report {
            ok: ops.ok.load(Ordering::Relaxed),
            timeouts: ops.timeouts.load(Ordering::Relaxed),
            unavailable: ops.unavailable.load(Ordering::Relaxed),
            other_errors: ops.other_errors.load(Ordering::Relaxed),
            read_latency: ops.latency_summary(&[OpKind::Get]),
            write_latency: ops.latency_summary(&[OpKind::Put, OpKind::Delete, OpKind::Cas]),
            latency: ops.latency_summary(&[OpKind::Get, OpKind::Put, OpKind::Delete, OpKind::Cas]),
            cache_hits: ops.cache_hits.load(Ordering::Relaxed),
            cache_misses: ops.cache_misses.load(Ordering::Relaxed),
            cache_evictions: ops.cache_evictions.load(Ordering::Relaxed),
            network,
            nodes,
            leadership: None,
        }
    }

    /// Messages sent per operation attempted (0 without operations): what
    /// coordination costs.
    pub fn messages_per_operation(&self) -> f64 {
        match self.operations() {
            0 => 0.0,
            ops => self.network.sent as f64 / ops as f64,
        }
    }

    /// Every operation attempted.
    pub fn operations(&self) -> u64 {
        self.ok + self.timeouts + self.unavailable + self.other_errors
    }

    /// One line per node whose protocol panicked (see
    /// [`NodeLoad::panic_summary`]); empty when none did. A run with a
    /// panic proves nothing about a protocol: the panicking node stopped
    /// answering, and every request it swallowed is a timeout, which any
    /// consistency check must accept.
    pub fn node_panics(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(NodeLoad::panic_summary)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ops = Table::new();
        ops.load_style(UTF8_FULL);
        ops.set_header(vec![
            "operations",
            "count",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "max µs",
        ]);
        for (name, l) in [
            ("reads ok", self.read_latency),
            ("writes ok", self.write_latency),
        ] {
            ops.add_row(vec![
                name.to_string(),
                l.count.to_string(),
                l.p50_us.to_string(),
                l.p90_us.to_string(),
                l.p99_us.to_string(),
                l.max_us.to_string(),
            ]);
        }
        for (name, n) in [
            ("timeouts", self.timeouts),
            ("unavailable", self.unavailable),
            ("other errors", self.other_errors),
        ] {
            ops.add_row(vec![name.to_string(), n.to_string()]);
        }
        writeln!(f, "{ops}")?;
        if self.cache_hits + self.cache_misses > 0 {
            let mut cache = Table::new();
            cache.load_style(UTF8_FULL);
            cache.set_header(vec!["cache hits", "misses", "hit rate", "evictions"]);
            let rate = self.cache_hits as f64 / (self.cache_hits + self.cache_misses) as f64;
            cache.add_row(vec![
                self.cache_hits.to_string(),
                self.cache_misses.to_string(),
                format!("{rate:.3}"),
                self.cache_evictions.to_string(),
            ]);
            writeln!(f, "{cache}")?;
        }
        let n = &self.network;
        let mut net = Table::new();
        net.load_style(UTF8_FULL);
        net.set_header(vec![
            "messages sent",
            "delivered",
            "dropped",
            "duplicated",
            "bytes",
        ]);
        net.add_row(vec![
            n.sent.to_string(),
            n.delivered.to_string(),
            n.dropped.to_string(),
            n.duplicated.to_string(),
            n.bytes.to_string(),
        ]);
        writeln!(f, "{net}")?;
        let mut nodes = Table::new();
        nodes.load_style(UTF8_FULL);
        nodes.set_header(vec![
            "node",
            "up",
            "requests",
            "peer msgs",
            "errors",
            "panics",
        ]);
        for load in &self.nodes {
            nodes.add_row(vec![
                load.node.to_string(),
                load.up.to_string(),
                load.requests.to_string(),
                load.peer_messages.to_string(),
                (load.handler_errors + load.garbled_messages).to_string(),
                load.panics.to_string(),
            ]);
        }
        write!(f, "{nodes}")?;
        for line in self.node_panics() {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}
