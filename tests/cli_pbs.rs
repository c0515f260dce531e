//! The command line of issue 28: `--read-strategy`, `--coordinator
//! non-replica`, latencies by message kind and mixtures, and `staleness`
//! printing both WARS predictions, labelled, with k-staleness beside its
//! closed form, judged against the model `--model` names.

use std::process::{Command, Output};

fn replikv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn replikv_ok(args: &[&str]) -> String {
    let out = replikv(args);
    assert!(
        out.status.success(),
        "replikv {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `args`, expects exit code 2 (bad input) and a message containing
/// every needle.
fn refused(args: &[&str], needles: &[&str]) {
    let out = replikv(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "replikv {}: {stderr}",
        args.join(" ")
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "replikv {}: {stderr}",
            args.join(" ")
        );
    }
}

#[test]
fn staleness_prints_both_models_labelled_and_judges_by_the_one_asked_for() {
    let text = replikv_ok(&[
        "staleness",
        "--trials",
        "20",
        "--t",
        "0ms,2ms",
        "--coordinator",
        "non-replica",
        "--read-strategy",
        "all",
        "--latency",
        "mix:0.9*exp:1ms+0.1*fixed:3ms",
        "--ack-latency",
        "exp:0.5ms",
        "--model",
        "paper",
        "--k",
        "1,2",
        "--tolerance",
        "100",
    ]);
    for needle in [
        "system %",
        "paper %",
        "|Δ| vs paper pp",
        "system %: predicted by the WARS model of this cluster (coordinator outside the replicas",
        "reads ask all N and use the first R answers",
        "paper %:  predicted by Bailis et al.'s WARS",
        "k=1: measured",
        "k=2: measured",
        "closed form 55.56 %",
        "of the paper model's WARS prediction",
        "A=exp:500µs",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // The default judges against the configured system's model.
    let text = replikv_ok(&[
        "staleness",
        "--trials",
        "10",
        "--t",
        "0ms",
        "--k",
        "0",
        "--tolerance",
        "100",
    ]);
    assert!(text.contains("|Δ| vs system pp"), "{text}");
    assert!(text.contains("coordinator a random replica"), "{text}");
    assert!(text.contains("reads ask exactly R"), "{text}");
    assert!(
        !text.contains("k=1"),
        "--k 0 measures no k-staleness:\n{text}"
    );
}

#[test]
fn run_takes_the_read_strategy_and_kind_latencies_and_reports_them() {
    let json = replikv_ok(&[
        "run",
        "--consistency",
        "eventual",
        "--nodes",
        "4",
        "--coordinator",
        "non-replica",
        "--read-strategy",
        "all",
        "--write-latency",
        "mix:50%*fixed:1ms+50%*fixed:2ms",
        "--client-latency",
        "fixed:0.1ms",
        "--ops",
        "10",
        "--keys",
        "3",
        "--no-check",
        "--report",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let config = &report["config"];
    assert_eq!(config["read_strategy"], "all");
    assert_eq!(config["coordinator"], "nonreplica");
    assert_eq!(
        config["kind_latency"][0],
        "write=mix:0.5*fixed:1ms+0.5*fixed:2ms"
    );
    assert_eq!(config["client_latency"], "fixed:100µs");
    let table = replikv_ok(&[
        "compare",
        "--modes",
        "strong,eventual:1:1",
        "--read-strategy",
        "all",
        "--ops",
        "10",
        "--no-check",
    ]);
    assert!(table.contains("eventual R=1 W=1 read-all"), "{table}");
}

#[test]
fn bad_latencies_and_misplaced_settings_are_refused_with_a_clear_message() {
    refused(
        &[
            "run",
            "--latency",
            "mix:0.5*exp:1ms+0.4*exp:2ms",
            "--ops",
            "1",
        ],
        &["--latency", "add up to 0.9"],
    );
    refused(
        &["run", "--latency", "mix:0.5exp:1ms", "--ops", "1"],
        &["--latency", "wants WEIGHT*LATENCY"],
    );
    refused(
        &["staleness", "--read-latency", "mix:1*gauss:1ms"],
        &["--read-latency", "unknown latency \"gauss\""],
    );
    refused(
        &[
            "run",
            "--consistency",
            "strong",
            "--read-strategy",
            "all",
            "--ops",
            "1",
        ],
        &["--read-strategy is a setting of --consistency eventual"],
    );
    refused(
        &[
            "run",
            "--consistency",
            "eventual",
            "--nodes",
            "3",
            "--coordinator",
            "non-replica",
        ],
        &["NonReplica", "at least 4 nodes"],
    );
}

/// `staleness --reproduce-pbs` measures the paper's own setting: curve
/// options are refused with it, its own options are refused without it,
/// and an absurd `--p` or `--trials` is named in the error.
#[test]
fn reproduce_pbs_refuses_misplaced_and_absurd_options() {
    refused(&["staleness", "--fits", "bogus"], &["--reproduce-pbs"]);
    refused(&["staleness", "--p", "0.5"], &["--reproduce-pbs"]);
    refused(&["staleness", "--seeds", "7"], &["--reproduce-pbs"]);
    refused(&["staleness", "--model-trials", "5"], &["--reproduce-pbs"]);
    for curve in [
        &["--n", "5"][..],
        &["--coordinator", "first"],
        &["--read-strategy", "r"],
        &["--model", "system"],
        &["--latency", "fixed:5ms"],
        &["--runtime", "sim"],
    ] {
        let mut args = vec!["staleness", "--reproduce-pbs"];
        args.extend_from_slice(curve);
        refused(&args, &["cannot be used with", curve[0]]);
    }
    refused(
        &["staleness", "--reproduce-pbs", "--p", "0.9999999"],
        &["--p 0.9999999", "0.99999"],
    );
    refused(
        &[
            "staleness",
            "--reproduce-pbs",
            "--trials",
            "18446744073709551615",
        ],
        &["--trials"],
    );
}

/// When no cell's WARS t is above 1 ms, the summary says none was held to
/// the goal instead of printing a vacuous 0 % (LESSON's quick command).
#[test]
fn reproduce_pbs_summary_never_reports_an_empty_comparison_as_met() {
    let out = replikv_ok(&[
        "staleness",
        "--reproduce-pbs",
        "--fits",
        "lnkd-ssd",
        "--p",
        "0.99",
        "--trials",
        "500",
        "--seeds",
        "1",
        "--model-trials",
        "50000",
    ]);
    assert!(out.contains("no cell has a WARS t above 1 ms"), "{out}");
    assert!(!out.contains("largest |measured/WARS"), "{out}");
}
