//! Per-read staleness and its summary.

use super::writes::{self, ValueOrigin};
use crate::history::op::{History, OpKind};
use std::collections::BTreeMap;
use std::fmt;

/// How stale one read was.
///
/// ```
/// use replikv::history::{StalenessReport, random_plan, simulate};
/// let report = StalenessReport::from_history(&simulate(&random_plan(2, 300, 3, 2)));
/// // A perfect register never serves a stale read.
/// assert!(report.entries.iter().all(|e| e.k == 0 && e.t_ns.is_none()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadStaleness {
    /// Position of the get in the history.
    pub index: usize,
    /// The version it read (never [`ValueOrigin::Unknown`]).
    pub read_from: ValueOrigin,
    /// How many newer acknowledged writes it missed; 0 = fresh.
    pub k: u64,
    /// How long before the read was invoked the first of them was
    /// acknowledged, in ns; `None` when fresh.
    pub t_ns: Option<u64>,
    /// Whether the client cache answered.
    pub cached: bool,
}

impl ReadStaleness {
    /// True when the read missed at least one acknowledged write.
    ///
    /// ```
    /// use replikv::history::{ReadStaleness, ValueOrigin};
    /// let fresh = ReadStaleness { index: 0, read_from: ValueOrigin::Initial, k: 0, t_ns: None, cached: false };
    /// assert!(!fresh.is_stale());
    /// ```
    pub fn is_stale(&self) -> bool {
        self.k > 0
    }
}

/// The staleness of every read in a history, and a summary.
///
/// Only completed, successful gets count as reads. Percentiles of
/// t-staleness are over the *stale* reads (a fresh read has none), by the
/// nearest-rank method on the exactly sorted values.
///
/// ```
/// use replikv::ClientId;
/// use replikv::history::{History, OpKind, Operation, StalenessReport};
///
/// let op = |kind, v: &str, call_ns, return_ns| Operation {
///     client: ClientId(1),
///     key: b"x".to_vec(),
///     kind,
///     value: (kind == OpKind::Put).then(|| v.as_bytes().to_vec()),
///     output: (kind == OpKind::Get).then(|| v.as_bytes().to_vec()),
///     expected: None,
///     swapped: None,
///     ok: true,
///     call_ns,
///     return_ns: Some(return_ns),
///     cached: false,
/// };
/// // "b" was acknowledged at 30 ns, yet a read invoked at 40 ns saw "a".
/// let history = History::new(vec![
///     op(OpKind::Put, "a", 0, 10),
///     op(OpKind::Put, "b", 20, 30),
///     op(OpKind::Get, "a", 40, 50),
/// ]);
/// let report = StalenessReport::from_history(&history);
/// assert_eq!((report.reads, report.stale_reads), (1, 1));
/// assert_eq!((report.entries[0].k, report.entries[0].t_ns), (1, Some(10)));
/// println!("{report}");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StalenessReport {
    /// One entry per explained read, in history order.
    pub entries: Vec<ReadStaleness>,
    /// Positions of reads that returned a value no write produced.
    pub unexplained: Vec<usize>,
    /// Explained reads (`entries.len()`).
    pub reads: u64,
    /// Reads with `k > 0`.
    pub stale_reads: u64,
    /// The largest k.
    pub k_max: u64,
    /// How many reads had each k (including 0).
    pub k_histogram: BTreeMap<u64, u64>,
    /// Median t-staleness of the stale reads, ns.
    pub t_p50_ns: Option<u64>,
    /// 99th percentile t-staleness of the stale reads, ns.
    pub t_p99_ns: Option<u64>,
    /// Largest t-staleness, ns.
    pub t_max_ns: Option<u64>,
    /// Reads answered by a client cache.
    pub cached_reads: u64,
    /// Stale reads answered by a client cache.
    pub stale_hits: u64,
    /// Reads answered by the cluster.
    pub uncached_reads: u64,
    /// Stale reads answered by the cluster.
    pub uncached_stale_reads: u64,
}

/// The nearest-rank `p`-th percentile of sorted, non-empty `values`.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

impl StalenessReport {
    /// Measures every read of `history` (see the [module docs](crate::history::staleness) for
    /// the rules).
    ///
    /// Cost: for each read, a pass over the acknowledged writes to its key
    /// that returned before it was invoked.
    ///
    /// ```
    /// use replikv::history::{History, StalenessReport};
    /// let report = StalenessReport::from_history(&History::default());
    /// assert_eq!((report.reads, report.stale_reads, report.k_max), (0, 0, 0));
    /// ```
    pub fn from_history(history: &History) -> StalenessReport {
        let keys = writes::index(history);
        let mut report = StalenessReport::default();
        for (index, r) in history.ops.iter().enumerate() {
            let (OpKind::Get, true, Some(r_ret)) = (r.kind, r.ok, r.return_ns) else {
                continue;
            };
            let best = keys.get(r.key.as_slice()).map_or_else(
                // No writes to this key at all: only the initial state.
                || {
                    r.output
                        .is_none()
                        .then_some((0, None, ValueOrigin::Initial))
                },
                |w| {
                    (w.versions(history, r.output.as_deref(), r_ret))
                        .map(|version| {
                            let after = writes::finish(history, version);
                            let newer = w.acked_after(after, Some(r.call_ns));
                            let (k, first) = newer.fold((0u64, None::<u64>), |(k, m), n| {
                                (k + 1, Some(m.map_or(n.ret, |m| m.min(n.ret))))
                            });
                            (k, first.map(|f| r.call_ns.saturating_sub(f)), version)
                        })
                        .min_by_key(|&(k, t, _)| (k, t))
                },
            );
            match best {
                Some((k, t_ns, read_from)) => report.entries.push(ReadStaleness {
                    index,
                    read_from,
                    k,
                    t_ns,
                    cached: r.cached,
                }),
                None => report.unexplained.push(index),
            }
        }
        report.summarise();
        report
    }

    fn summarise(&mut self) {
        let mut t: Vec<u64> = Vec::new();
        for e in &self.entries {
            self.reads += 1;
            *self.k_histogram.entry(e.k).or_default() += 1;
            self.k_max = self.k_max.max(e.k);
            let stale = u64::from(e.is_stale());
            self.stale_reads += stale;
            if e.cached {
                self.cached_reads += 1;
                self.stale_hits += stale;
            } else {
                self.uncached_reads += 1;
                self.uncached_stale_reads += stale;
            }
            t.extend(e.t_ns);
        }
        t.sort_unstable();
        self.t_p50_ns = percentile(&t, 50);
        self.t_p99_ns = percentile(&t, 99);
        self.t_max_ns = t.last().copied();
    }

    /// Stale reads / reads (0 when there are no reads).
    ///
    /// ```
    /// use replikv::history::{History, StalenessReport};
    /// assert_eq!(StalenessReport::from_history(&History::default()).stale_fraction(), 0.0);
    /// ```
    pub fn stale_fraction(&self) -> f64 {
        ratio(self.stale_reads, self.reads)
    }

    /// Mean k over all reads, fresh ones included (0 when there are no reads).
    ///
    /// ```
    /// use replikv::history::{History, StalenessReport};
    /// assert_eq!(StalenessReport::from_history(&History::default()).k_mean(), 0.0);
    /// ```
    pub fn k_mean(&self) -> f64 {
        let total: u64 = self.entries.iter().map(|e| e.k).sum();
        ratio(total, self.reads)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for StalenessReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |t: Option<u64>| t.map_or("-".to_string(), crate::history::show::micros);
        writeln!(
            f,
            "{} reads, {} stale ({:.1} %); k max {}, mean {:.3}",
            self.reads,
            self.stale_reads,
            100.0 * self.stale_fraction(),
            self.k_max,
            self.k_mean()
        )?;
        writeln!(
            f,
            "t-staleness of stale reads: p50 {} µs, p99 {} µs, max {} µs",
            us(self.t_p50_ns),
            us(self.t_p99_ns),
            us(self.t_max_ns)
        )?;
        write!(
            f,
            "answered by the client cache: {} ({} stale); by the cluster: {} ({} stale); \
             unexplained: {}",
            self.cached_reads,
            self.stale_hits,
            self.uncached_reads,
            self.uncached_stale_reads,
            self.unexplained.len()
        )
    }
}
