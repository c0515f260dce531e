//! Every figure of every strategy on one table, as the node count grows.
//!
//! For each candidate and node count `n` (10, 100 and 1,000 by default),
//! [`scaling_table`] measures:
//!
//! * **balance of keys**: max/mean of keys owned;
//! * **balance of load**: max/mean of requests under a Zipf workload
//!   ([`super::zipf_loads`]);
//! * **movement**: owners moved when node `n` joins, ÷ the ideal `1/(n+1)`,
//!   and when the last node leaves, ÷ the ideal `1/n` (1.0 is minimal;
//!   modulo is near `n`);
//! * **lookup time**: ns per preference list of N, and as a multiple of
//!   [`crate::partition::key_hash`] alone, timed in the same run;
//! * **memory per node**: [`crate::partition::Partitioner::memory_bytes`] ÷ n;
//! * **build time**: building the placement from its member list.
//!
//! Times are wall-clock on this machine, in whatever build profile runs
//! them: compare rows with each other (and use the ratio to `key_hash`),
//! not with other machines. [`scaling_svg`] draws balance and movement
//! against the node count (feature `plot`).

use super::{Candidate, balance, load, movement, sample_keys, zipf_loads};
use crate::error::Result;
use crate::ids::NodeId;
use crate::partition::{Member, key_hash};
use std::hint::black_box;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingConfig {
    /// Node counts (each before one is added), e.g. `[10, 100, 1000]`.
    pub node_counts: Vec<usize>,
    /// Keys placed (`key-0`, …).
    pub keys: u64,
    /// Zipf exponent of the load columns.
    pub zipf: f64,
    /// Preference-list length of the lookup timing.
    pub replicas: usize,
}

impl Default for ScalingConfig {
    fn default() -> Self {
        ScalingConfig {
            node_counts: vec![10, 100, 1000],
            keys: 100_000,
            zipf: 0.99,
            replicas: 3,
        }
    }
}

/// One candidate at one node count.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingRow {
    /// The candidate's name.
    pub candidate: String,
    /// Nodes.
    pub nodes: usize,
    /// Max/mean of keys owned.
    pub key_max_over_mean: f64,
    /// Max/mean of request load under the Zipf workload.
    pub load_max_over_mean: f64,
    /// The busiest node's share of requests.
    pub hottest_node_share: f64,
    /// Owners moved when one node joins, as a fraction of keys.
    pub add_moved: f64,
    /// `add_moved ÷ 1/(n+1)`.
    pub add_over_ideal: f64,
    /// Owners moved when the last node leaves, as a fraction of keys.
    pub remove_moved: f64,
    /// `remove_moved ÷ 1/n`.
    pub remove_over_ideal: f64,
    /// Nanoseconds per preference list.
    pub lookup_ns: f64,
    /// `lookup_ns ÷` nanoseconds per `key_hash`, timed in the same run.
    pub lookup_over_hash: f64,
    /// Bytes of placement state per node.
    pub memory_per_node: f64,
    /// Milliseconds to build the placement.
    pub build_ms: f64,
}

fn members(n: usize) -> Vec<Member> {
    (0..n as u32).map(|i| Member::new(NodeId(i))).collect()
}

/// Measures every candidate at every node count (see the module docs).
/// Errors when a candidate cannot be built (say, a Maglev table smaller
/// than the node count) or cannot remove its last node.
///
/// ```
/// use replikv::partition::analysis::{Candidate, ScalingConfig, scaling_table};
/// use replikv::partition::Strategy;
/// let config = ScalingConfig { node_counts: vec![5, 20], keys: 4_000, ..ScalingConfig::default() };
/// let rows = scaling_table(&[Candidate::Strategy(Strategy::Jump)], &config)?;
/// assert_eq!(rows.len(), 2);
/// assert!((rows[0].add_over_ideal - 1.0).abs() < 0.3, "{rows:?}");
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn scaling_table(candidates: &[Candidate], config: &ScalingConfig) -> Result<Vec<ScalingRow>> {
    let keys: Vec<Vec<u8>> = sample_keys(config.keys).collect();
    let loads = zipf_loads(config.keys, config.zipf);
    // One baseline for the whole table, the fastest of three passes, so
    // that every row is divided by the same figure.
    let hash_ns = (0..3)
        .map(|_| {
            time_per_key(&keys, |k| {
                black_box(key_hash(black_box(k)));
            })
        })
        .fold(f64::MAX, f64::min);
    let mut rows = Vec::new();
    for &n in &config.node_counts {
        let n = n.max(1);
        for candidate in candidates {
            rows.push(measure(
                *candidate,
                n,
                &keys,
                &loads,
                config.replicas,
                hash_ns,
            )?);
        }
    }
    Ok(rows)
}

fn measure(
    candidate: Candidate,
    n: usize,
    keys: &[Vec<u8>],
    loads: &[(Vec<u8>, f64)],
    replicas: usize,
    hash_ns: f64,
) -> Result<ScalingRow> {
    let nodes = members(n);
    let started = Instant::now();
    let p = candidate.build(&nodes, loads)?;
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let keys_balance = balance(p.as_ref(), keys);
    let request_load = load(p.as_ref(), loads.iter().map(|(k, w)| (k, *w)));
    let added = p.with_node(Member::new(NodeId(n as u32)))?;
    let add = movement(p.as_ref(), added.as_ref(), 1, keys).owner_moved_fraction;
    let (remove, remove_over_ideal) = if n > 1 {
        let removed = p.without_node(NodeId(n as u32 - 1))?;
        let moved = movement(p.as_ref(), removed.as_ref(), 1, keys).owner_moved_fraction;
        (moved, moved * n as f64)
    } else {
        (1.0, 1.0)
    };
    // The faster of two passes: the first may pay for cold caches.
    let lookup_ns = (0..2)
        .map(|_| {
            time_per_key(keys, |k| {
                black_box(p.preference_list(black_box(k), replicas));
            })
        })
        .fold(f64::MAX, f64::min);
    Ok(ScalingRow {
        candidate: candidate.name(),
        nodes: n,
        key_max_over_mean: keys_balance.max_over_mean,
        load_max_over_mean: request_load.max_over_mean,
        hottest_node_share: request_load.hottest_node_share,
        add_moved: add,
        add_over_ideal: add * (n as f64 + 1.0),
        remove_moved: remove,
        remove_over_ideal,
        lookup_ns,
        lookup_over_hash: lookup_ns / hash_ns.max(1e-3),
        memory_per_node: p.memory_bytes() as f64 / n as f64,
        build_ms,
    })
}

/// Nanoseconds per call of `f`, averaged over `keys`.
fn time_per_key(keys: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> f64 {
    let started = Instant::now();
    for key in keys {
        f(key);
    }
    started.elapsed().as_nanos() as f64 / keys.len().max(1) as f64
}

/// One figure of a [`ScalingRow`], as drawn by [`scaling_svg`].
pub type Metric = fn(&ScalingRow) -> f64;

/// The y range [`scaling_svg`] draws `metric` over: from a little below the
/// smallest value (and at most 0.9) to a little above the largest — leaving
/// out modulo, whose movement (about `n` × the ideal) would flatten every
/// other line; its legend says it is off the chart.
///
/// ```
/// use replikv::partition::analysis::{Candidate, ScalingConfig, axis_range, scaling_table};
/// use replikv::partition::Strategy;
/// let config = ScalingConfig { node_counts: vec![5, 20], keys: 2_000, ..ScalingConfig::default() };
/// let rows = scaling_table(&[Candidate::Strategy(Strategy::Ring { vnodes: 4 })], &config)?;
/// let (lo, hi) = axis_range(&rows, |r| r.add_over_ideal);
/// assert!(rows.iter().all(|r| (lo..=hi).contains(&r.add_over_ideal)));
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn axis_range(rows: &[ScalingRow], metric: Metric) -> (f64, f64) {
    let drawn = rows
        .iter()
        .filter(|r| r.candidate != "modulo")
        .map(metric)
        .filter(|v| v.is_finite());
    let (lo, hi) = drawn.fold((0.9f64, 1.1f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
}

/// Draws key balance (max/mean) and owners moved on add (÷ ideal) against
/// the node count, one line per candidate, as an SVG document (feature
/// `plot`). Each panel's axis covers every value ([`axis_range`]) except
/// modulo's movement (about `n` × the ideal), which would flatten the
/// others: it is drawn off the chart's top, and its legend entry says so
/// and gives its largest value; the table has them all.
///
/// ```
/// use replikv::partition::analysis::{Candidate, ScalingConfig, scaling_svg, scaling_table};
/// use replikv::partition::Strategy;
/// let config = ScalingConfig { node_counts: vec![5, 20], keys: 2_000, ..ScalingConfig::default() };
/// let rows = scaling_table(&[Candidate::Strategy(Strategy::Rendezvous)], &config)?;
/// let svg = scaling_svg(&rows)?;
/// assert!(svg.starts_with("<svg") && svg.contains("rendezvous"));
/// # Ok::<(), replikv::Error>(())
/// ```
#[cfg(feature = "plot")]
pub fn scaling_svg(rows: &[ScalingRow]) -> Result<String> {
    let mut svg = String::new();
    draw(rows, &mut svg).map_err(|e| crate::Error::Io(std::io::Error::other(e.to_string())))?;
    Ok(svg)
}

#[cfg(feature = "plot")]
fn draw(
    rows: &[ScalingRow],
    out: &mut String,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        if !names.contains(&row.candidate.as_str()) {
            names.push(&row.candidate);
        }
    }
    let x = |n: usize| (n.max(1) as f64).log10();
    let (x_min, x_max) = rows.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| {
        (lo.min(x(r.nodes)), hi.max(x(r.nodes)))
    });
    let (x_min, x_max) = if x_min < x_max {
        (x_min - 0.1, x_max + 0.1)
    } else {
        (x_min - 1.0, x_min + 1.0)
    };
    let root = SVGBackend::with_string(out, (1100, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let specs: [(&str, &str, Metric); 2] = [
        ("key balance", "max/mean keys per node", |r| {
            r.key_max_over_mean
        }),
        ("movement on add", "owners moved ÷ ideal 1/(n+1)", |r| {
            r.add_over_ideal
        }),
    ];
    for (panel, (title, y_desc, metric)) in panels.iter().zip(specs) {
        let (y_min, y_max) = axis_range(rows, metric);
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x_min..x_max, y_min..y_max)?;
        chart
            .configure_mesh()
            .x_desc("nodes (log scale)")
            .y_desc(y_desc)
            .x_label_formatter(&|v| format!("{:.0}", 10f64.powf(*v)))
            .draw()?;
        for (i, name) in names.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.candidate == *name)
                .map(|r| (x(r.nodes), metric(r)))
                .collect();
            let highest = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            let label = if highest > y_max {
                format!("{name} (off the chart, up to {highest:.1})")
            } else {
                name.to_string()
            };
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    drop(root);
    Ok(())
}
