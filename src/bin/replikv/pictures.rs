//! The pictures: `run --trace/--html/--plot`, `check --html` and `diagram`.
//! Each output file is created before any work starts, so that a path that
//! cannot be written fails at once, naming the option.

use crate::args::{DiagramArgs, RunPictureArgs};
use crate::commands::{progress_bar, run_one};
use crate::limits::{at_least_one, at_most, create_output, invalid};
use crate::output::Stdout;
use replikv::history::{Checker, History, LinearizationPoint, html};
use replikv::lab::{Experiment, ExperimentReport, RunSeries};
use replikv::network::parse_duration;
use replikv::trace::{DiagramOptions, Trace};
use replikv::{Error, Result};
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// The most messages `diagram --max-messages` accepts.
const MAX_DIAGRAM_MESSAGES: usize = 100_000;
/// Slices of a run in `run --plot`.
const PLOT_SLICES: usize = 100;

/// The files `run` was asked to draw, already created.
pub struct RunPictures<'a> {
    args: &'a RunPictureArgs,
    trace: Option<File>,
    html: Option<File>,
    plot: Option<File>,
}

impl<'a> RunPictures<'a> {
    pub fn open(args: &'a RunPictureArgs) -> Result<Self> {
        let open = |option, path: &Option<std::path::PathBuf>| {
            path.as_deref()
                .map(|p| create_output(option, p))
                .transpose()
        };
        Ok(RunPictures {
            args,
            trace: open("--trace", &args.trace)?,
            html: open("--html", &args.html)?,
            plot: open("--plot", &args.plot)?,
        })
    }

    /// Runs the experiment, recording its trace when one was asked for.
    pub fn run(
        &self,
        experiment: &Experiment,
    ) -> Result<(ExperimentReport, History, Option<Trace>)> {
        if self.trace.is_none() {
            let (report, history) = run_one(experiment, "running")?;
            return Ok((report, history, None));
        }
        let bar = progress_bar(experiment.workload.total_ops(), "running");
        let result = experiment.run_traced(&mut |done| bar.set_position(done));
        bar.finish_and_clear();
        result.map(|(report, history, trace)| (report, history, Some(trace)))
    }

    /// Writes what was asked for.
    pub fn write(
        self,
        experiment: &Experiment,
        report: &ExperimentReport,
        history: &History,
        trace: Option<Trace>,
    ) -> Result<()> {
        if let (Some(mut file), Some(path), Some(trace)) = (self.trace, &self.args.trace, trace) {
            file.write_all(trace.to_json().as_bytes())?;
            eprintln!(
                "message trace of {} events ({}) written to {}",
                trace.events.len(),
                if trace.exact {
                    "exact: simulator"
                } else {
                    "best effort: threads"
                },
                path.display()
            );
        }
        if let (Some(file), Some(path)) = (self.html, &self.args.html) {
            let (verdict, points) = Checker::new()
                .time_budget(experiment.checker_budget)
                .check_with_points(history);
            write_timeline(history, &verdict, &points, path, file)?;
        }
        if let (Some(mut file), Some(path)) = (self.plot, &self.args.plot) {
            let title = format!(
                "{}, nemesis {}: latency and throughput over time",
                report.mode_label(),
                report.config.nemesis
            );
            let svg = RunSeries::from_history(history, &report.nemesis_faults, PLOT_SLICES)
                .and_then(|series| series.to_svg(&title))
                .inspect_err(|_| remove_unwritten(path))?;
            file.write_all(svg.as_bytes())?;
            eprintln!("plot written to {}", path.display());
        }
        Ok(())
    }
}

/// Removes the empty file created early for `path` (so that an unwritable
/// path is reported before the work) when there turned out to be nothing to
/// write: an error leaves no empty picture behind.
fn remove_unwritten(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Writes the HTML timeline of `history` to `file` (created from `path`).
pub fn write_timeline(
    history: &History,
    verdict: &replikv::history::CheckResult,
    points: &[LinearizationPoint],
    path: &Path,
    mut file: File,
) -> Result<()> {
    let page = html::timeline_with_points(history, verdict, points)
        .inspect_err(|_| remove_unwritten(path))?;
    file.write_all(page.as_bytes())?;
    eprintln!("timeline written to {}", path.display());
    Ok(())
}

/// `replikv diagram`.
pub fn diagram(args: DiagramArgs, out: &mut Stdout) -> Result<ExitCode> {
    at_least_one("--max-messages", args.max_messages as u64)?;
    at_most("--max-messages", args.max_messages, MAX_DIAGRAM_MESSAGES)?;
    let ns = |option: &str, text: &Option<String>| -> Result<Option<u64>> {
        text.as_deref()
            .map(|t| {
                parse_duration(t)
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                    .map_err(|e| match e {
                        Error::InvalidConfig(why) => invalid(option, t, &why),
                        other => other,
                    })
            })
            .transpose()
    };
    let options = DiagramOptions {
        from_ns: ns("--from", &args.from)?,
        to_ns: ns("--to", &args.to)?,
        key: args.key.clone(),
        max_messages: args.max_messages.max(1),
    };
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::InvalidTrace(format!("{}: {e}", args.file.display())))?;
    let trace = Trace::from_json(&text)?;
    // Drawn before the file is created: a window with nothing in it is an
    // error, and leaves no empty file behind.
    let svg = trace.to_svg(&options)?;
    let mut file = create_output("--svg", &args.svg)?;
    file.write_all(svg.as_bytes())?;
    out.line(format_args!(
        "sequence diagram of {} ({} trace) written to {}",
        args.file.display(),
        if trace.exact {
            "exact simulator"
        } else {
            "best-effort threads"
        },
        args.svg.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
