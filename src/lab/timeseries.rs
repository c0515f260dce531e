//! A run over time: latency and throughput slice by slice, with the
//! nemesis's faults beside them.
//!
//! The report's table gives one figure per run — p99 latency, operations per
//! second — which hides *when*. A partition that stalls a minority for
//! 200 ms and a steady slowdown can have the same p99; over time they look
//! nothing alike. [`RunSeries`] cuts a history into equal slices of time and
//! [`RunSeries::to_svg`] (feature `plot`) draws latency and throughput
//! against time with each [`FaultWindow`] shaded, so a partition's effect
//! on availability is seen, not read.
//!
//! An operation counts in the slice where it returned (throughput is
//! completions per second); one that timed out counts where it was called,
//! since it never returned.

use super::nemesis::FaultWindow;
use crate::error::{Error, Result};
use crate::history::History;

/// One slice of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSlice {
    /// Start, ns since the run's first call.
    pub start_ns: u64,
    /// Operations that completed successfully in it.
    pub ok: u64,
    /// Operations that failed without effect (refused) in it.
    pub failed: u64,
    /// Operations called in it that timed out.
    pub timed_out: u64,
    /// Median latency of its successful operations, µs.
    pub p50_us: Option<f64>,
    /// 99th percentile latency of its successful operations, µs.
    pub p99_us: Option<f64>,
}

/// A run cut into slices of equal length. See the [module docs](self).
///
/// ```
/// use replikv::history::{random_plan, simulate};
/// use replikv::lab::RunSeries;
/// let history = simulate(&random_plan(1, 1_000, 4, 3));
/// let series = RunSeries::from_history(&history, &[], 50)?;
/// assert_eq!(series.slices.len(), 50);
/// let done: u64 = series.slices.iter().map(|s| s.ok).sum();
/// assert_eq!(done, history.ops.iter().filter(|o| o.ok && o.return_ns.is_some()).count() as u64);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RunSeries {
    /// The slices, in time order.
    pub slices: Vec<TimeSlice>,
    /// Length of a slice, ns.
    pub slice_ns: u64,
    /// The run's first call, ns on the cluster clock (slices start here).
    pub origin_ns: u64,
    /// The nemesis's faults, on the cluster clock.
    pub faults: Vec<FaultWindow>,
}

impl RunSeries {
    /// Cuts `history` into `slices` slices (at least 1). An empty history is
    /// an [`Error::InvalidHistory`]: it has no time to cut.
    pub fn from_history(history: &History, faults: &[FaultWindow], slices: usize) -> Result<Self> {
        if history.is_empty() {
            return Err(Error::InvalidHistory(
                "the history is empty: there is no run to plot".into(),
            ));
        }
        let slices = slices.max(1);
        let origin = history.ops.iter().map(|o| o.call_ns).min().unwrap_or(0);
        let end = (history.ops.iter())
            .map(|o| o.return_ns.unwrap_or(o.call_ns).max(o.call_ns))
            .max()
            .unwrap_or(origin);
        let slice_ns = ((end - origin) / slices as u64 + 1).max(1);
        let mut out: Vec<TimeSlice> = (0..slices)
            .map(|i| TimeSlice {
                start_ns: i as u64 * slice_ns,
                ..TimeSlice::default()
            })
            .collect();
        let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); slices];
        let slot = |t: u64| (((t - origin) / slice_ns) as usize).min(slices - 1);
        for op in &history.ops {
            match op.return_ns {
                None => out[slot(op.call_ns)].timed_out += 1,
                Some(r) => {
                    let r = r.max(op.call_ns);
                    let i = slot(r);
                    if op.ok {
                        out[i].ok += 1;
                        latencies[i].push(r - op.call_ns);
                    } else {
                        out[i].failed += 1;
                    }
                }
            }
        }
        for (slice, mut lat) in out.iter_mut().zip(latencies) {
            lat.sort_unstable();
            let pick = |q: f64| {
                let n = lat.len();
                (n > 0).then(|| lat[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1e3)
            };
            slice.p50_us = pick(0.5);
            slice.p99_us = pick(0.99);
        }
        Ok(RunSeries {
            slices: out,
            slice_ns,
            origin_ns: origin,
            faults: faults.to_vec(),
        })
    }

    /// Length of a slice in seconds.
    fn slice_s(&self) -> f64 {
        self.slice_ns as f64 / 1e9
    }

    /// Successful operations per second in each slice.
    ///
    /// ```
    /// use replikv::history::{random_plan, simulate};
    /// use replikv::lab::RunSeries;
    /// let series = RunSeries::from_history(&simulate(&random_plan(1, 100, 2, 2)), &[], 4)?;
    /// assert_eq!(series.throughput().len(), 4);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn throughput(&self) -> Vec<f64> {
        let s = self.slice_s();
        self.slices.iter().map(|x| x.ok as f64 / s).collect()
    }

    /// Draws latency (p50, p99) and throughput (successful and failed
    /// operations per second) against time, one above the other, with the
    /// nemesis's faults shaded, as an SVG document (feature `plot`).
    #[cfg(feature = "plot")]
    pub fn to_svg(&self, title: &str) -> Result<String> {
        let mut svg = String::new();
        super::plots::draw(self, title, &mut svg)
            .map_err(|e| Error::Io(std::io::Error::other(format!("plot: {e}"))))?;
        Ok(svg)
    }

    #[cfg(feature = "plot")]
    /// A time given in ns since the first call, in ms on the cluster clock
    /// (the clock of the history, the trace and `replikv diagram --from`),
    /// for the plots.
    pub(crate) fn ms(&self, ns_since_origin: u64) -> f64 {
        self.origin_ns.saturating_add(ns_since_origin) as f64 / 1e6
    }

    #[cfg(feature = "plot")]
    /// A fault window in ms on the cluster clock, clipped to the run.
    pub(crate) fn window_ms(&self, w: &FaultWindow) -> (f64, f64) {
        let end = self.ms(self.slice_ns * self.slices.len() as u64);
        let start = self.ms(0);
        (
            (w.start_ns as f64 / 1e6).clamp(start, end),
            (w.end_ns as f64 / 1e6).clamp(start, end),
        )
    }

    #[cfg(feature = "plot")]
    /// Failed and timed-out operations per second in each slice.
    pub(crate) fn failures(&self) -> Vec<f64> {
        let s = self.slice_s();
        (self.slices.iter())
            .map(|x| (x.failed + x.timed_out) as f64 / s)
            .collect()
    }
}
