//! The drawing of [`RunSeries::to_svg`] with plotters (feature `plot`), as
//! the staleness curve is drawn.

use super::timeseries::RunSeries;
use plotters::prelude::*;

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// The shade of each kind of fault (a kind not named here is grey).
fn shade(kind: &str) -> RGBColor {
    match kind {
        "partition" => RGBColor(240, 160, 30),
        "crash" => RGBColor(210, 40, 40),
        "skew" => RGBColor(130, 80, 220),
        _ => RGBColor(128, 128, 128),
    }
}

pub(super) fn draw(series: &RunSeries, title: &str, out: &mut String) -> DrawResult {
    {
        let root = SVGBackend::with_string(out, (900, 680)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 20))?;
        let (upper, lower) = root.split_vertically(320);
        let x_min = series.ms(0);
        let x_max = series.ms(series.slice_ns * series.slices.len() as u64);
        let mid = |i: usize| series.ms(series.slice_ns * i as u64 + series.slice_ns / 2);

        // Latency.
        let p50: Vec<(f64, f64)> = (series.slices.iter().enumerate())
            .filter_map(|(i, s)| s.p50_us.map(|v| (mid(i), v / 1e3)))
            .collect();
        let p99: Vec<(f64, f64)> = (series.slices.iter().enumerate())
            .filter_map(|(i, s)| s.p99_us.map(|v| (mid(i), v / 1e3)))
            .collect();
        let y_max = p99.iter().map(|p| p.1).fold(0.001, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&upper)
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("time on the cluster clock (ms)")
            .y_desc("latency of successful ops (ms)")
            .draw()?;
        shade_faults(&mut chart, series, y_max)?;
        chart
            .draw_series(LineSeries::new(p50, BLUE.stroke_width(2)))?
            .label("p50")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(p99, MAGENTA.stroke_width(2)))?
            .label("p99")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], MAGENTA.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;

        // Throughput.
        let ok: Vec<(f64, f64)> = (series.throughput().into_iter().enumerate())
            .map(|(i, v)| (mid(i), v))
            .collect();
        let failed: Vec<(f64, f64)> = (series.failures().into_iter().enumerate())
            .map(|(i, v)| (mid(i), v))
            .collect();
        let y_max = ok.iter().chain(&failed).map(|p| p.1).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&lower)
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("time on the cluster clock (ms)")
            .y_desc("operations per second")
            .draw()?;
        shade_faults(&mut chart, series, y_max)?;
        let green = RGBColor(30, 150, 70);
        chart
            .draw_series(LineSeries::new(ok, green.stroke_width(2)))?
            .label("succeeded")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], green.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(failed, RED.stroke_width(2)))?
            .label("failed or timed out")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(())
}

/// One shaded rectangle per fault, one legend entry per kind.
fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    series: &RunSeries,
    y_max: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut kinds: Vec<&str> = series.faults.iter().map(|w| w.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        let color = shade(kind);
        let rects: Vec<Rectangle<(f64, f64)>> = (series.faults.iter())
            .filter(|w| w.kind == kind)
            .map(|w| {
                let (a, b) = series.window_ms(w);
                Rectangle::new([(a, 0.0), (b, y_max)], color.mix(0.2).filled())
            })
            .collect();
        chart
            .draw_series(rects)?
            .label(format!("{kind} (nemesis)"))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], color.mix(0.4).filled())
            });
    }
    Ok(())
}
