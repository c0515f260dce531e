//! The pictures from the command line: `run --trace/--html/--plot`,
//! `check --html` and `diagram`, and the errors they give bad input.

use std::path::Path;
use std::process::{Command, Output};

fn replikv(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = replikv(dir, args);
    assert!(
        out.status.success(),
        "`replikv {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a failing command; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = replikv(dir, args);
    assert_eq!(out.status.code(), Some(2), "`replikv {}`", args.join(" "));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn well_formed(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    if let Err(e) = roxmltree::Document::parse_with_options(&text, options) {
        panic!("{} is not well-formed: {e}", path.display());
    }
    text
}

#[test]
fn a_run_draws_its_trace_timeline_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "run",
            "--nodes",
            "3",
            "--clients",
            "2",
            "--ops",
            "40",
            "--nemesis",
            "crash",
            "--nemesis-interval",
            "5ms",
            "--timeout",
            "100ms",
            "--trace",
            "t.json",
            "--html",
            "h.html",
            "--plot",
            "p.svg",
            "--history",
            "h.json",
        ],
    );
    let page = well_formed(&d.join("h.html"));
    assert!(
        page.contains("80 operations by 2 clients"),
        "the timeline's summary"
    );
    let plot = well_formed(&d.join("p.svg"));
    assert!(plot.contains("latency"));
    let trace = std::fs::read_to_string(d.join("t.json")).unwrap();
    assert!(trace.starts_with("{\"version\":1,\"runtime\":\"threads\",\"exact\":false"));
    let said = ok(
        d,
        &[
            "diagram",
            "t.json",
            "--svg",
            "d.svg",
            "--max-messages",
            "50",
        ],
    );
    assert!(said.contains("best-effort threads"), "{said}");
    let svg = well_formed(&d.join("d.svg"));
    assert_eq!(svg.matches("<g class=\"msg").count(), 50);
    // check --html draws the same history, verdict and all.
    let out = replikv(d, &["check", "h.json", "--html", "c.html"]);
    assert!(out.status.code().is_some_and(|c| c == 0 || c == 1));
    well_formed(&d.join("c.html"));
}

#[test]
fn bad_input_to_the_pictures_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("empty.json"), "[]").unwrap();
    std::fs::write(d.join("garbage.json"), "[{\"client\": 1,").unwrap();
    std::fs::write(d.join("old.json"), "{\"version\":0,\"events\":[]}").unwrap();
    let err = fails(d, &["check", "empty.json", "--html", "e.html"]);
    assert!(err.contains("history is empty"), "{err}");
    let err = fails(d, &["check", "garbage.json", "--html", "g.html"]);
    assert!(err.contains("invalid history"), "{err}");
    let err = fails(d, &["diagram", "old.json", "--svg", "o.svg"]);
    assert!(err.contains("format version 0"), "{err}");
    assert!(!d.join("o.svg").exists(), "no empty picture left behind");
    let err = fails(d, &["diagram", "empty.json", "--svg", "o.svg"]);
    assert!(err.contains("not an object"), "{err}");
    let err = fails(d, &["diagram", "missing.json", "--svg", "o.svg"]);
    assert!(err.contains("missing.json"), "{err}");
    let err = fails(
        d,
        &["diagram", "old.json", "--svg", "o.svg", "--from", "soon"],
    );
    assert!(err.contains("--from soon"), "{err}");
    let err = fails(
        d,
        &[
            "diagram",
            "old.json",
            "--svg",
            "o.svg",
            "--max-messages",
            "1000000",
        ],
    );
    assert!(err.contains("--max-messages"), "{err}");
    let err = fails(d, &["run", "--ops", "1", "--html", "no/such/dir/h.html"]);
    assert!(err.contains("--html"), "{err}");
}

/// The value of the report row whose name starts with `measure`.
fn report_row(out: &str, measure: &str) -> String {
    out.lines()
        .find(|l| l.trim_start_matches('│').trim_start().starts_with(measure))
        .and_then(|l| l.split('┆').nth(1))
        .map(|v| {
            v.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .to_string()
        })
        .unwrap_or_else(|| panic!("no row {measure:?} in:\n{out}"))
}

/// LESSON.md (Coordination) draws what a partition does to each mode, on the
/// simulator: strong waits out timeouts and stays linearizable, eventual
/// never times out and is not linearizable — and both plots shade the
/// partitions.
#[test]
fn the_lessons_partition_plots_show_strong_waiting_and_eventual_answering() {
    let dir = tempfile::tempdir().unwrap();
    let run = |consistency: &str, svg: &str| {
        ok(
            dir.path(),
            &[
                "run",
                "--runtime",
                "sim",
                "--latency",
                "exp:1ms",
                "--consistency",
                consistency,
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "100ms",
                "--coordinator",
                "random",
                "--timeout",
                "50ms",
                "--ops",
                "300",
                "--plot",
                svg,
            ],
        )
    };
    let strong = run("strong", "strong.svg");
    let eventual = run("eventual", "eventual.svg");
    let timeouts = |out: &str| -> u64 {
        let row = report_row(out, "timeouts / unavailable / other");
        row.split('/').next().unwrap().trim().parse().unwrap()
    };
    assert!(
        timeouts(&strong) > 0,
        "strong waits out timeouts:\n{strong}"
    );
    assert_eq!(report_row(&strong, "linearizable"), "yes", "{strong}");
    assert_eq!(timeouts(&eventual), 0, "eventual answers:\n{eventual}");
    assert_eq!(report_row(&eventual, "linearizable"), "NO", "{eventual}");
    for svg in ["strong.svg", "eventual.svg"] {
        let text = well_formed(&dir.path().join(svg));
        assert!(
            text.contains("partition (nemesis)"),
            "{svg} shades the partitions"
        );
    }
}
