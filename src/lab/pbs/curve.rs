//! The result: measured t-visibility beside both WARS predictions — the
//! model of the configured system and the paper's — as a table, CSV or an
//! SVG chart, with k-staleness below.

use super::{KPoint, Overheads, WarsVariant};
#[cfg(feature = "plot")]
use crate::error::{Error, Result};
use comfy_table::{Table, presets::UTF8_FULL};
#[cfg(feature = "plot")]
use plotters::prelude::*;
use std::fmt;
#[cfg(feature = "plot")]
use std::path::Path;
use std::time::Duration;

/// One `t` of a [`StalenessCurve`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    /// Time from the write's commit (acknowledgement) to the read's start.
    pub t: Duration,
    /// Fraction of measured reads that returned the write (`NaN` when the
    /// curve has no measurement).
    pub measured: f64,
    /// The probability of a fresh read predicted by the WARS model of the
    /// system as configured ([`WarsVariant::System`]).
    pub predicted: f64,
    /// The probability predicted by the PBS paper's WARS model
    /// ([`WarsVariant::Paper`]: reads to all N, first R answers, a
    /// coordinator that holds no copy), on the same latencies.
    pub paper: f64,
    /// Measured trials behind `measured`.
    pub trials: u64,
    /// Trials lost to client errors (not in `trials`).
    pub errors: u64,
    /// Mean time by which measured reads started later than `t`.
    pub lag: Duration,
}

impl CurvePoint {
    /// `|measured − predicted|` in percentage points: the gap to the
    /// system's model.
    pub fn difference_pp(&self) -> f64 {
        self.difference_from(WarsVariant::System)
    }

    /// The prediction of `model`.
    pub fn prediction(&self, model: WarsVariant) -> f64 {
        match model {
            WarsVariant::System => self.predicted,
            WarsVariant::Paper => self.paper,
        }
    }

    /// `|measured − prediction(model)|` in percentage points.
    pub fn difference_from(&self, model: WarsVariant) -> f64 {
        (self.measured - self.prediction(model)).abs() * 100.0
    }

    /// Half-width of the 95 % confidence interval of `measured` (normal
    /// approximation to the binomial), in percentage points: how far the
    /// measurement may stray from the truth by chance alone.
    pub fn confidence_pp(&self) -> f64 {
        if self.trials == 0 {
            return f64::NAN;
        }
        let p = self.measured;
        1.96 * (p * (1.0 - p) / self.trials as f64).sqrt() * 100.0
    }
}

/// t-visibility, measured on a cluster beside two WARS predictions, and
/// k-staleness.
///
/// ```
/// use replikv::lab::pbs::{CurvePoint, Overheads, StalenessCurve, WarsVariant};
/// use std::time::Duration;
/// let curve = StalenessCurve {
///     title: "N=3 R=1 W=1".into(),
///     overheads: Overheads::NONE,
///     model: WarsVariant::System,
///     system: "coordinator a random replica, reads ask exactly R".into(),
///     points: vec![CurvePoint {
///         t: Duration::from_micros(500),
///         measured: 0.61,
///         predicted: 0.5956,
///         paper: 0.8712,
///         trials: 1000,
///         errors: 0,
///         lag: Duration::from_micros(20),
///     }],
///     k: Vec::new(),
/// };
/// assert_eq!(
///     curve.to_csv(),
///     "t_ms,trials,errors,measured,predicted,paper,diff_pp,lag_ms\n0.500,1000,0,0.610000,0.595600,0.871200,1.44,0.020\n"
/// );
/// assert!(curve.within(3.0)); // judged against the system's model
/// let judged_by_paper = StalenessCurve { model: WarsVariant::Paper, ..curve.clone() };
/// assert!(!judged_by_paper.within(3.0));
/// assert!((judged_by_paper.max_difference_pp() - 26.12).abs() < 1e-9);
/// assert!(curve.to_string().contains("59.56") && curve.to_string().contains("87.12"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StalenessCurve {
    /// What was run, e.g. `N=3 R=1 W=1, exp:1ms links`.
    pub title: String,
    /// The per-message overheads both predictions included.
    pub overheads: Overheads,
    /// The model the verdict ([`StalenessCurve::within`],
    /// [`StalenessCurve::max_difference_pp`], the table's `|Δ|` column)
    /// compares the measurement with.
    pub model: WarsVariant,
    /// The system's model in words (who coordinates, which replicas a read
    /// asks), for the legend.
    pub system: String,
    /// One point per `t`, in the order asked for.
    pub points: Vec<CurvePoint>,
    /// k-staleness, one entry per `k` asked for (may be empty).
    pub k: Vec<KPoint>,
}

/// The paper's model in words, for the legend.
const PAPER_LEGEND: &str = "Bailis et al.'s WARS: coordinator outside the replicas, write and \
                            read to all N, first R read answers";

impl StalenessCurve {
    /// The largest `|measured − prediction|` against the verdict's
    /// [`StalenessCurve::model`], in percentage points.
    pub fn max_difference_pp(&self) -> f64 {
        self.points
            .iter()
            .map(|p| p.difference_from(self.model))
            .fold(0.0, f64::max)
    }

    /// True when every point's measurement is within `tolerance_pp`
    /// percentage points of the prediction of [`StalenessCurve::model`].
    pub fn within(&self, tolerance_pp: f64) -> bool {
        self.points
            .iter()
            .all(|p| p.difference_from(self.model) <= tolerance_pp)
    }

    /// One line per point after a header:
    /// `t_ms,trials,errors,measured,predicted,paper,diff_pp,lag_ms`, where
    /// `predicted` is the system's model, `paper` the paper's, and `diff_pp`
    /// the gap to the verdict's model.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("t_ms,trials,errors,measured,predicted,paper,diff_pp,lag_ms\n");
        for p in &self.points {
            csv.push_str(&format!(
                "{:.3},{},{},{:.6},{:.6},{:.6},{:.2},{:.3}\n",
                ms(p.t),
                p.trials,
                p.errors,
                p.measured,
                p.predicted,
                p.paper,
                p.difference_from(self.model),
                ms(p.lag)
            ));
        }
        csv
    }

    /// The legend and the k-staleness lines under the table.
    fn legend(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\nsystem %: predicted by the WARS model of this cluster ({})\npaper %:  predicted by {PAPER_LEGEND}\n|Δ| is measured against the {} model",
            self.system, self.model
        )?;
        if !self.k.is_empty() {
            write!(
                f,
                "\nk-staleness (read at once after k committed writes; closed form \
                 1 − (C(N−W,R)/C(N,R))^k, exact for writes on exactly W random replicas, \
                 a lower bound when writes go on to all N):"
            )?;
            for point in &self.k {
                write!(f, "\n  {point}")?;
            }
        }
        Ok(())
    }

    /// The table, with a last column saying whether each point is within
    /// `tolerance_pp` percentage points of the prediction.
    pub fn report(&self, tolerance_pp: f64) -> String {
        struct Footer<'a>(&'a StalenessCurve);
        impl fmt::Display for Footer<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.footer(f)
            }
        }
        format!("{}{}", self.table(Some(tolerance_pp)), Footer(self))
    }

    /// The lines under the table: the legend, k-staleness, and the
    /// overheads in the predictions.
    fn footer(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.legend(f)?;
        if self.overheads == Overheads::NONE {
            return Ok(());
        }
        write!(
            f,
            "\nprediction includes measured overheads: +{:.1} µs per node message, +{:.1} µs per client hop",
            self.overheads.network.as_secs_f64() * 1e6,
            self.overheads.client.as_secs_f64() * 1e6
        )
    }

    fn table(&self, tolerance_pp: Option<f64>) -> Table {
        let mut table = Table::new();
        table.load_style(UTF8_FULL);
        let mut header = vec![
            "t (ms)".to_string(),
            "trials".into(),
            "measured %".into(),
            "±95% CI".into(),
            "system %".into(),
            "paper %".into(),
            format!("|Δ| vs {} pp", self.model),
            "read lag (ms)".into(),
        ];
        if let Some(tol) = tolerance_pp {
            header.push(format!("within ±{tol} pp"));
        }
        table.set_header(header);
        for p in &self.points {
            let mut row = vec![
                format!("{:.3}", ms(p.t)),
                if p.errors > 0 {
                    format!("{} (+{} errors)", p.trials, p.errors)
                } else {
                    p.trials.to_string()
                },
                format!("{:.2}", p.measured * 100.0),
                format!("{:.2}", p.confidence_pp()),
                format!("{:.2}", p.predicted * 100.0),
                format!("{:.2}", p.paper * 100.0),
                format!("{:.2}", p.difference_from(self.model)),
                format!("{:.3}", ms(p.lag)),
            ];
            if let Some(tol) = tolerance_pp {
                row.push(
                    if p.difference_from(self.model) <= tol {
                        "yes"
                    } else {
                        "NO"
                    }
                    .into(),
                );
            }
            table.add_row(row);
        }
        table
    }

    /// Draws measured and predicted `P(consistent)` against `t` as an SVG
    /// line chart at `path` (feature `plot`, on by default).
    #[cfg(feature = "plot")]
    pub fn to_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.draw(path)
            .map_err(|e| Error::Io(std::io::Error::other(format!("{}: {e}", path.display()))))
    }

    #[cfg(feature = "plot")]
    fn draw(&self, path: &Path) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_max = self
            .points
            .iter()
            .map(|p| ms(p.t))
            .fold(0.0, f64::max)
            .max(1e-3);
        let y_min = self
            .points
            .iter()
            .flat_map(|p| [p.measured, p.predicted, p.paper])
            .filter(|v| v.is_finite())
            .fold(1.0, f64::min);
        let y_min = ((y_min * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("t-visibility: {}", self.title), ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max * 1.02, y_min..1.0)?;
        chart
            .configure_mesh()
            .x_desc("t after the write's commit (ms)")
            .y_desc("P(read returns the write)")
            .draw()?;
        let predicted: Vec<(f64, f64)> =
            self.points.iter().map(|p| (ms(p.t), p.predicted)).collect();
        let paper: Vec<(f64, f64)> = self.points.iter().map(|p| (ms(p.t), p.paper)).collect();
        let measured: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.measured.is_finite())
            .map(|p| (ms(p.t), p.measured))
            .collect();
        chart
            .draw_series(LineSeries::new(predicted.clone(), BLUE.stroke_width(2)))?
            .label("WARS, this system's model")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart.draw_series(
            predicted
                .iter()
                .map(|&xy| Circle::new(xy, 3, BLUE.filled())),
        )?;
        let green = RGBColor(0, 140, 60);
        chart
            .draw_series(LineSeries::new(paper.clone(), green.stroke_width(2)))?
            .label("WARS, the paper's model (reads to all N)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], green.stroke_width(2))
            });
        chart.draw_series(paper.iter().map(|&xy| Circle::new(xy, 3, green.filled())))?;
        if !measured.is_empty() {
            chart
                .draw_series(LineSeries::new(measured.clone(), RED.stroke_width(2)))?
                .label("measured")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
            chart.draw_series(measured.iter().map(|&xy| Circle::new(xy, 3, RED.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }
}

impl fmt::Display for StalenessCurve {
    /// The table of measured against predicted, one row per `t`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table(None))?;
        self.footer(f)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
