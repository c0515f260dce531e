//! What an experiment measured, with stable field names for JSON and a
//! table for people.

use super::experiment::Experiment;
use super::nemesis::FaultWindow;
use super::workload::RunOutcome;
use crate::history::StalenessReport;
use crate::metrics::Report;
use comfy_table::{Table, presets::UTF8_FULL};
use serde::Serialize;
use std::fmt;

/// Latency percentiles of successful operations, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencyUs {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest.
    pub max: u64,
}

/// Failed operations by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// Timeouts (outcome unknown).
    pub timeout: u64,
    /// Refused (certainly no effect).
    pub unavailable: u64,
    /// Anything else.
    pub other: u64,
}

/// k-staleness summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct KStaleness {
    /// Largest k seen.
    pub max: u64,
    /// Mean k over all reads.
    pub mean: f64,
}

/// t-staleness of stale reads, ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TStalenessMs {
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

/// Network counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// Envelopes sent.
    pub sent: u64,
    /// Copies delivered.
    pub delivered: u64,
    /// Copies lost.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Bytes sent.
    pub bytes: u64,
}

/// Read-cache counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheCounts {
    /// Reads answered by a cache.
    pub hits: u64,
    /// Reads a cache could not answer.
    pub misses: u64,
    /// Cache answers older than an acknowledged write (staleness oracle).
    pub stale_hits: u64,
}

/// A node whose protocol panicked during the experiment: the panic crashed
/// it (see [`Cluster::crash`](crate::Cluster::crash)), and every request it
/// swallowed timed out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodePanic {
    /// The node's id.
    pub node: u32,
    /// How many of its incarnations ended in a panic.
    pub panics: u64,
    /// The latest panic's message.
    pub message: String,
}

/// The experiment's settings, as reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportConfig {
    /// Nodes.
    pub nodes: usize,
    /// Replication factor N.
    pub replicas: usize,
    /// Consistency mode.
    pub consistency: String,
    /// Read quorum (eventual mode).
    pub r: Option<usize>,
    /// Write quorum (eventual mode).
    pub w: Option<usize>,
    /// Whether eventual mode ran with a hybrid logical clock.
    pub hybrid_clock: bool,
    /// Which replicas eventual-mode reads asked: `r` or `all` (eventual
    /// mode only).
    pub read_strategy: Option<String>,
    /// Placement strategy.
    pub partitioning: String,
    /// Client threads.
    pub clients: usize,
    /// Operations each client kept in flight (1: blocking).
    pub in_flight: usize,
    /// Operations per client (when not run by duration).
    pub ops_per_client: Option<u64>,
    /// Duration, when run by time.
    pub duration_s: Option<f64>,
    /// Key space size.
    pub keys: u64,
    /// Fraction of reads.
    pub read_ratio: f64,
    /// Zipf exponent.
    pub zipf: Option<f64>,
    /// Link latency.
    pub latency: String,
    /// Node-to-node latency by message kind, as `kind=latency` (empty:
    /// `latency` for every kind).
    pub kind_latency: Vec<String>,
    /// Client ↔ node latency, when it differs from `latency`.
    pub client_latency: Option<String>,
    /// Drop probability.
    pub drop: f64,
    /// Duplicate probability.
    pub duplicate: f64,
    /// Links the random faults act on: `all` or `nodes`.
    pub faults_on: String,
    /// Nemesis.
    pub nemesis: String,
    /// Nemesis interval, ms.
    pub nemesis_interval_ms: f64,
    /// Cache capacity.
    pub cache_capacity: Option<usize>,
    /// Cache TTL, ms.
    pub cache_ttl_ms: Option<f64>,
    /// Client timeout, ms.
    pub client_timeout_ms: f64,
    /// Coordinator policy.
    pub coordinator: String,
    /// Storage.
    pub storage: String,
    /// When writes become durable: `periodic` or `flush-before-ack`.
    pub durability: String,
    /// The known-bad variant that ran instead of the built-in mode, if any
    /// ([`crate::lab::Mutant`]; absent from the JSON when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
}

/// Everything an experiment measured. Field names are stable: the JSON of
/// `replikv run --report json` is this struct.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExperimentReport {
    /// Which driver ran the nodes: `threads` or `sim`.
    pub runtime: String,
    /// Operations attempted.
    pub ops: u64,
    /// Time the workload took, s: wall time on threads, virtual time on the
    /// simulator.
    pub duration_s: f64,
    /// The workload's virtual time on the simulator, s (`None` on threads).
    pub virtual_duration_s: Option<f64>,
    /// Operations per second.
    pub throughput_ops_s: f64,
    /// Latency of successful operations.
    pub latency_us: LatencyUs,
    /// Reads attempted.
    pub reads: u64,
    /// Writes attempted.
    pub writes: u64,
    /// Failures.
    pub errors: Errors,
    /// Reads older than an acknowledged write.
    pub stale_reads: u64,
    /// Stale reads / successful reads.
    pub stale_fraction: f64,
    /// k-staleness.
    pub k_staleness: KStaleness,
    /// How many reads had each k (k = 0 are the fresh reads).
    pub k_distribution: std::collections::BTreeMap<u64, u64>,
    /// t-staleness.
    pub t_staleness_ms: TStalenessMs,
    /// Acknowledged writes lost to last-writer-wins (`None` unless eventual
    /// mode converged).
    pub lost_writes: Option<u64>,
    /// Checker verdict (`None`: not checked, or budget ran out).
    pub linearizable: Option<bool>,
    /// Whether replicas converged after healing (`None`: not applicable).
    pub converged: Option<bool>,
    /// Network counters.
    pub messages: Messages,
    /// Messages sent per operation attempted.
    pub messages_per_op: f64,
    /// Elections, leader changes and the longest time without a leader,
    /// for a mode whose nodes elect leaders (`None` otherwise; see
    /// [`crate::leadership`]).
    pub leadership: Option<crate::leadership::LeadershipSummary>,
    /// Cache counters.
    pub cache: CacheCounts,
    /// Client requests each node coordinated, in node order — how evenly
    /// the coordinator policy spread the load.
    pub node_requests: Vec<u64>,
    /// Nodes whose protocol panicked (empty when none did). A panic is a
    /// bug, and it makes every other figure suspect: the timeouts it causes
    /// are indeterminate, so the checker accepts them.
    pub node_panics: Vec<NodePanic>,
    /// The faults the nemesis injected, each with when it struck and when
    /// it was healed, on the history's clock (empty without a nemesis).
    pub nemesis_faults: Vec<FaultWindow>,
    /// What a network attacker did and what the nodes refused (absent from
    /// the JSON when the run had neither an attacker nor authenticated
    /// links; see [`crate::lab::SecurityReport`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<super::attack::SecurityReport>,
    /// The seed.
    pub seed: u64,
    /// The settings.
    pub config: ReportConfig,
}

/// What [`ExperimentReport::new`] is made from.
pub(crate) struct ReportInputs<'a> {
    pub experiment: &'a Experiment,
    pub outcome: &'a RunOutcome,
    pub metrics: &'a Report,
    pub staleness: &'a StalenessReport,
    pub lost_writes: Option<u64>,
    pub linearizable: Option<bool>,
    pub converged: Option<bool>,
    pub faults: &'a [FaultWindow],
    pub security: Option<super::attack::SecurityReport>,
}

fn ms(ns: Option<u64>) -> Option<f64> {
    ns.map(|ns| ns as f64 / 1e6)
}

impl ExperimentReport {
    pub(crate) fn new(i: ReportInputs<'_>) -> Self {
        let e = i.experiment;
        let secs = i.outcome.elapsed.as_secs_f64();
        let l = i.metrics.latency;
        let n = i.metrics.network;
        let (consistency, r, w) = match e.consistency {
            crate::Consistency::Eventual { r, w } => ("eventual".to_string(), Some(r), Some(w)),
            other => (other.to_string(), None, None),
        };
        let simulated = e.runtime == crate::Runtime::Simulated;
        ExperimentReport {
            runtime: e.runtime.to_string(),
            ops: i.outcome.ops,
            duration_s: secs,
            virtual_duration_s: simulated.then_some(secs),
            throughput_ops_s: if secs > 0.0 {
                i.outcome.ops as f64 / secs
            } else {
                0.0
            },
            latency_us: LatencyUs {
                p50: l.p50_us,
                p90: l.p90_us,
                p99: l.p99_us,
                max: l.max_us,
            },
            reads: i.outcome.reads,
            writes: i.outcome.writes,
            errors: Errors {
                timeout: i.outcome.timeouts,
                unavailable: i.outcome.unavailable,
                other: i.outcome.other_errors,
            },
            stale_reads: i.staleness.stale_reads,
            stale_fraction: i.staleness.stale_fraction(),
            k_staleness: KStaleness {
                max: i.staleness.k_max,
                mean: i.staleness.k_mean(),
            },
            k_distribution: i.staleness.k_histogram.clone(),
            t_staleness_ms: TStalenessMs {
                p50: ms(i.staleness.t_p50_ns),
                p99: ms(i.staleness.t_p99_ns),
                max: ms(i.staleness.t_max_ns),
            },
            lost_writes: i.lost_writes,
            linearizable: i.linearizable,
            converged: i.converged,
            messages: Messages {
                sent: n.sent,
                delivered: n.delivered,
                dropped: n.dropped,
                duplicated: n.duplicated,
                bytes: n.bytes,
            },
            messages_per_op: if i.outcome.ops == 0 {
                0.0
            } else {
                n.sent as f64 / i.outcome.ops as f64
            },
            leadership: i.metrics.leadership,
            cache: CacheCounts {
                hits: i.metrics.cache_hits,
                misses: i.metrics.cache_misses,
                stale_hits: i.staleness.stale_hits,
            },
            node_requests: i.metrics.nodes.iter().map(|n| n.requests).collect(),
            node_panics: i
                .metrics
                .nodes
                .iter()
                .filter(|n| n.panics > 0)
                .map(|n| NodePanic {
                    node: n.node.0,
                    panics: n.panics,
                    message: n.last_panic.clone().unwrap_or_default(),
                })
                .collect(),
            nemesis_faults: i.faults.to_vec(),
            security: i.security,
            seed: e.seed,
            config: ReportConfig {
                nodes: e.nodes,
                replicas: e.replicas,
                consistency,
                r,
                w,
                hybrid_clock: e.hybrid_clock,
                read_strategy: r.map(|_| e.read_strategy.to_string()),
                partitioning: e.partitioning.to_string(),
                clients: e.workload.clients,
                in_flight: e.workload.in_flight,
                ops_per_client: e
                    .workload
                    .duration
                    .is_none()
                    .then_some(e.workload.ops_per_client),
                duration_s: e.workload.duration.map(|d| d.as_secs_f64()),
                keys: e.workload.keys,
                read_ratio: e.workload.read_ratio,
                zipf: e.workload.zipf,
                latency: e.latency.to_string(),
                kind_latency: e
                    .kind_latencies
                    .iter()
                    .map(|(kind, latency)| format!("{kind}={latency}"))
                    .collect(),
                client_latency: e.client_latency.map(|l| l.to_string()),
                drop: e.drop,
                duplicate: e.duplicate,
                faults_on: e.fault_scope.to_string(),
                nemesis: e.nemesis.kind.to_string(),
                nemesis_interval_ms: e.nemesis.interval.as_secs_f64() * 1e3,
                cache_capacity: e.cache.map(|c| c.capacity),
                cache_ttl_ms: e.cache.map(|c| c.ttl.as_secs_f64() * 1e3),
                client_timeout_ms: e.client_timeout.as_secs_f64() * 1e3,
                coordinator: format!("{:?}", e.coordinator).to_lowercase(),
                storage: match &e.storage {
                    crate::StorageKind::Temporary => "temporary".into(),
                    crate::StorageKind::Memory => "memory".into(),
                    crate::StorageKind::Directory(d) => d.display().to_string(),
                    crate::StorageKind::Custom(_) => "custom".into(),
                },
                durability: match e.durability {
                    crate::storage::Durability::Periodic => "periodic".into(),
                    crate::storage::Durability::FlushBeforeAck => "flush-before-ack".into(),
                },
                mutant: e.mutant.map(|m| m.to_string()),
            },
        }
    }

    /// Busiest node's requests over the mean (1.0 = perfectly even).
    pub fn load_imbalance(&self) -> f64 {
        let total: u64 = self.node_requests.iter().sum();
        let max = self.node_requests.iter().copied().max().unwrap_or(0);
        if total == 0 {
            return 1.0;
        }
        max as f64 * self.node_requests.len() as f64 / total as f64
    }

    /// The report as JSON (pretty-printed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A short label for the mode, e.g. `eventual R=1 W=1` (and ` HLC` with
    /// a hybrid logical clock, ` read-all` when reads ask all N).
    pub fn mode_label(&self) -> String {
        let mut clock = if self.config.hybrid_clock { " HLC" } else { "" }.to_string();
        if self.config.read_strategy.as_deref() == Some("all") {
            clock.push_str(" read-all");
        }
        if let Some(mutant) = &self.config.mutant {
            return format!("mutant {mutant}");
        }
        match (self.config.r, self.config.w) {
            (Some(r), Some(w)) => format!("{} R={r} W={w}{clock}", self.config.consistency),
            _ => format!("{}{clock}", self.config.consistency),
        }
    }

    /// Rows of (name, value) shown in tables, in order.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let verdict = |v: Option<bool>| {
            v.map_or("-".to_string(), |b| {
                if b { "yes" } else { "NO" }.to_string()
            })
        };
        let mut rows = vec![
            ("mode", self.mode_label()),
            ("operations", self.ops.to_string()),
            (
                "throughput (ops/s)",
                format!("{:.0}", self.throughput_ops_s),
            ),
            (
                "latency p50 / p99 (µs)",
                format!("{} / {}", self.latency_us.p50, self.latency_us.p99),
            ),
            (
                "timeouts / unavailable / other",
                format!(
                    "{} / {} / {}",
                    self.errors.timeout, self.errors.unavailable, self.errors.other
                ),
            ),
            (
                "stale reads",
                format!("{} ({:.1}%)", self.stale_reads, self.stale_fraction * 100.0),
            ),
            (
                "k-staleness max / mean",
                format!("{} / {:.3}", self.k_staleness.max, self.k_staleness.mean),
            ),
            (
                "t-staleness p50 / p99 (ms)",
                format!(
                    "{} / {}",
                    opt(self.t_staleness_ms.p50),
                    opt(self.t_staleness_ms.p99)
                ),
            ),
            (
                "lost writes",
                self.lost_writes.map_or("-".into(), |n| n.to_string()),
            ),
            ("linearizable", verdict(self.linearizable)),
            ("converged", verdict(self.converged)),
            (
                "messages sent / dropped",
                format!("{} / {}", self.messages.sent, self.messages.dropped),
            ),
            (
                "messages / operation",
                format!("{:.1}", self.messages_per_op),
            ),
            (
                "elections / leader changes",
                self.leadership.map_or("-".into(), |l| {
                    format!("{} / {}", l.elections, l.leader_changes)
                }),
            ),
            (
                "longest without leader (ms)",
                self.leadership.map_or("-".into(), |l| {
                    format!("{:.0}", l.longest_without_leader_ns as f64 / 1e6)
                }),
            ),
            (
                "cache hits / stale hits",
                format!("{} / {}", self.cache.hits, self.cache.stale_hits),
            ),
            ("node panics", self.panic_summary()),
        ];
        if let Some(s) = &self.security {
            rows.push((
                "attack / links",
                format!("{} / {}", s.attack.as_deref().unwrap_or("none"), s.links),
            ));
            rows.push((
                "injected / refused (forged / replayed)",
                format!(
                    "{} / {} / {}",
                    s.injected, s.refused_unauthentic, s.refused_replayed
                ),
            ));
            rows.push((
                "values no client wrote (read / stored)",
                format!("{} / {}", s.foreign_reads, s.foreign_stored),
            ));
        }
        rows
    }

    /// `none`, or each panicked node with its message: `n1: boom`.
    fn panic_summary(&self) -> String {
        if self.node_panics.is_empty() {
            return "none".into();
        }
        self.node_panics
            .iter()
            .map(|p| match p.panics {
                1 => format!("n{}: {}", p.node, p.message),
                n => format!("n{} ({n}×): {}", p.node, p.message),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Several reports side by side, one column each.
    pub fn comparison_table(reports: &[ExperimentReport]) -> Table {
        let mut table = Table::new();
        table.load_style(UTF8_FULL);
        let mut header = vec![String::new()];
        header.extend(reports.iter().map(|r| r.mode_label()));
        table.set_header(header);
        let rows: Vec<_> = reports.iter().map(|r| r.rows()).collect();
        // The longest list of rows names them (security rows exist only in
        // runs that had an attacker or authenticated links).
        if let Some(first) = rows.iter().max_by_key(|r| r.len()) {
            for (i, (name, _)) in first.iter().enumerate().skip(1) {
                let mut row = vec![name.to_string()];
                row.extend(
                    rows.iter()
                        .map(|r| r.get(i).map_or("-".to_string(), |(_, v)| v.clone())),
                );
                table.add_row(row);
            }
        }
        table
    }
}

impl fmt::Display for ExperimentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut table = Table::new();
        table.load_style(UTF8_FULL);
        table.set_header(vec!["measure", "value"]);
        for (name, value) in self.rows() {
            table.add_row(vec![name.to_string(), value]);
        }
        write!(f, "{table}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::metrics::NodeLoad;

    fn load(node: u32, panics: u64, last_panic: Option<&str>) -> NodeLoad {
        NodeLoad {
            node: NodeId(node),
            requests: 10,
            peer_messages: 0,
            handler_errors: 0,
            garbled_messages: 0,
            unauthentic_messages: 0,
            replayed_messages: 0,
            refused_requests: 0,
            forged_requests: 0,
            duplicate_requests: 0,
            batches: 0,
            batched_envelopes: 0,
            panics,
            last_panic: last_panic.map(str::to_string),
            up: panics == 0,
        }
    }

    fn report_of(nodes: Vec<NodeLoad>) -> ExperimentReport {
        let metrics = Report {
            nodes,
            ..Report::default()
        };
        ExperimentReport::new(ReportInputs {
            experiment: &Experiment::default(),
            outcome: &RunOutcome::default(),
            metrics: &metrics,
            staleness: &StalenessReport::default(),
            lost_writes: None,
            linearizable: Some(true),
            converged: None,
            faults: &[],
            security: None,
        })
    }

    #[test]
    fn node_panics_show_in_the_table_and_the_json() {
        let report = report_of(vec![
            load(0, 0, None),
            load(1, 1, Some("boom")),
            load(2, 3, Some("bang")),
        ]);
        assert_eq!(
            report.node_panics,
            vec![
                NodePanic {
                    node: 1,
                    panics: 1,
                    message: "boom".into()
                },
                NodePanic {
                    node: 2,
                    panics: 3,
                    message: "bang".into()
                },
            ]
        );
        let table = report.to_string();
        let row = table
            .lines()
            .find(|line| line.contains("node panics"))
            .unwrap_or_else(|| panic!("no node panics row in\n{table}"));
        assert!(row.contains("n1: boom; n2 (3×): bang"), "{row}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(
            json["node_panics"],
            serde_json::json!([
                {"node": 1, "panics": 1, "message": "boom"},
                {"node": 2, "panics": 3, "message": "bang"},
            ])
        );
    }

    #[test]
    fn a_run_without_panics_reports_none() {
        let report = report_of(vec![load(0, 0, None), load(1, 0, None)]);
        assert!(report.node_panics.is_empty());
        let table = report.to_string();
        let row = table.lines().find(|line| line.contains("node panics"));
        assert!(row.is_some_and(|row| row.contains("none")), "{table}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["node_panics"], serde_json::json!([]));
    }
}
