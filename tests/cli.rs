//! The `replikv` command: each subcommand runs, prints what it promises, and
//! refuses bad input with a clear message and a non-zero exit.

use std::process::{Command, Output};

fn replikv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `replikv` with `args`, asserts that it succeeded (showing its stderr
/// if not) and returns what it printed.
fn replikv_ok(args: &[&str]) -> String {
    let out = replikv(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn run_reports_json_with_the_stable_field_names() {
    let printed = replikv_ok(&[
        "run",
        "--consistency",
        "eventual",
        "--r",
        "1",
        "--w",
        "1",
        "--clients",
        "2",
        "--ops",
        "50",
        "--latency",
        "exp:0.2ms",
        "--report",
        "json",
        "--seed",
        "3",
    ]);
    let json: serde_json::Value = serde_json::from_str(&printed).expect("valid JSON");
    for field in [
        "ops",
        "duration_s",
        "throughput_ops_s",
        "latency_us",
        "reads",
        "writes",
        "errors",
        "stale_reads",
        "stale_fraction",
        "k_staleness",
        "t_staleness_ms",
        "lost_writes",
        "linearizable",
        "converged",
        "messages",
        "cache",
        "seed",
        "config",
    ] {
        assert!(json.get(field).is_some(), "missing field {field}");
    }
    for (object, fields) in [
        ("latency_us", &["p50", "p90", "p99", "max"][..]),
        ("errors", &["timeout", "unavailable", "other"]),
        ("k_staleness", &["max", "mean"]),
        ("t_staleness_ms", &["p50", "p99", "max"]),
        (
            "messages",
            &["sent", "delivered", "dropped", "duplicated", "bytes"],
        ),
        ("cache", &["hits", "misses", "stale_hits"]),
    ] {
        for field in fields {
            assert!(
                json[object].get(*field).is_some(),
                "missing {object}.{field}"
            );
        }
    }
    assert_eq!(json["ops"], 100);
    assert_eq!(json["seed"], 3);
    assert_eq!(json["config"]["consistency"], "eventual");
    assert_eq!(json["converged"], true);
}

#[test]
fn faults_on_nodes_spares_the_client_links() {
    // With R = W = 1 the coordinator answers from its own copy, so when only
    // node-to-node messages are lost no client operation can time out.
    let printed = replikv_ok(&[
        "run",
        "--consistency",
        "eventual",
        "--drop",
        "0.3",
        "--faults-on",
        "nodes",
        "--ops",
        "40",
        "--keys",
        "4",
        "--report",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(json["config"]["faults_on"], "nodes");
    assert_eq!(json["errors"]["timeout"], 0, "{json}");
    assert!(json["messages"]["dropped"].as_u64().unwrap() > 0);
}

#[test]
fn a_history_written_by_run_is_judged_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    let path = path.to_str().unwrap();
    replikv_ok(&[
        "run",
        "--clients",
        "3",
        "--ops",
        "40",
        "--keys",
        "3",
        "--history",
        path,
    ]);
    let out = replikv(&["check", path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("linearizable: 120 operations"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_prints_a_counterexample_for_a_stale_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.json");
    std::fs::write(
        &path,
        r#"[
        {"client":1,"key":"x","op":"put","value":"1","output":null,"ok":true,"call_ns":0,"return_ns":10},
        {"client":1,"key":"x","op":"put","value":"2","output":null,"ok":true,"call_ns":20,"return_ns":30},
        {"client":2,"key":"x","op":"get","value":null,"output":"1","ok":true,"call_ns":40,"return_ns":50}
        ]"#,
    )
    .unwrap();
    let out = replikv(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("NOT linearizable"), "{text}");
    assert!(
        text.lines().count() >= 4,
        "the counterexample lists the operations: {text}"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_two() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    for (args, needle) in [
        (vec!["check", junk.to_str().unwrap()], "invalid history"),
        (vec!["check", "/no/such/file.json"], "no/such/file"),
        (vec!["run", "--drop", "2"], "drop probability"),
        (vec!["run", "--latency", "gaussian:1ms"], "unknown latency"),
        (
            vec!["run", "--consistency", "eventual", "--r", "4"],
            "R = 4",
        ),
        (vec!["run", "--nodes", "0"], "at least one node"),
        (vec!["run", "--nemesis", "meteor"], "unknown nemesis"),
        (vec!["run", "--partitioning", "ring:0"], "vnodes"),
        (vec!["compare", "--modes", "paxos"], "unknown mode"),
        (vec!["run", "--hybrid-clock"], "--hybrid-clock"),
    ] {
        let out = replikv(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} lacks {needle:?}"
        );
    }
}

#[test]
fn compare_runs_every_mode_side_by_side() {
    let printed = replikv_ok(&[
        "compare",
        "--clients",
        "2",
        "--ops",
        "30",
        "--report",
        "json",
    ]);
    let reports: Vec<serde_json::Value> = serde_json::from_str(&printed).unwrap();
    let modes: Vec<_> = reports
        .iter()
        .map(|r| r["config"]["consistency"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(modes, ["strong", "eventual", "eventual", "single"]);
    assert_eq!(reports[2]["config"]["r"], 2);
    let table = replikv(&["compare", "--clients", "2", "--ops", "20"]);
    let text = stdout(&table);
    for label in [
        "strong",
        "eventual R=1 W=1",
        "eventual R=2 W=2",
        "single",
        "linearizable",
    ] {
        assert!(text.contains(label), "table lacks {label}: {text}");
    }
}

#[test]
fn partitions_prints_every_strategy() {
    let out = replikv(&["partitions", "--nodes", "5", "--keys", "5000"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in ["modulo", "ring:256", "jump", "rendezvous"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn partitions_shows_weighted_shares_for_vertical_scaling() {
    let text = replikv_ok(&[
        "partitions",
        "--nodes",
        "3",
        "--keys",
        "6000",
        "--weights",
        "1,1,2",
    ]);
    let row = text
        .lines()
        .find(|l| l.contains("n2") && l.contains("50.0 %"))
        .expect("n2's row with its fair share");
    let shares: Vec<f64> = row
        .split('┆')
        .skip(3)
        .map(|cell| {
            cell.trim()
                .trim_end_matches('│')
                .trim()
                .trim_end_matches(" %")
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(shares.len(), 2, "{row}");
    assert!(
        shares.iter().all(|s| (44.0..56.0).contains(s)),
        "the weight-2 node holds about half: {row}"
    );
    let bad = replikv(&["partitions", "--nodes", "3", "--weights", "1,2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn staleness_prints_measured_beside_predicted_and_writes_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("curve.csv");
    let svg = dir.path().join("curve.svg");
    let text = replikv_ok(&[
        "staleness",
        "--trials",
        "30",
        "--t",
        "0ms,3ms",
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(
        text.contains("predicted") && text.contains("measured"),
        "{text}"
    );
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "header and one line per t: {csv}");
    assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
}

#[test]
fn hybrid_clock_flag_is_reported_in_the_config_and_the_mode_label() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--consistency",
            "eventual",
            "--ops",
            "20",
            "--keys",
            "3",
        ];
        args.extend_from_slice(extra);
        replikv_ok(&args)
    };
    let json = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
    assert_eq!(
        json(run(&["--report", "json"]))["config"]["hybrid_clock"],
        false
    );
    assert_eq!(
        json(run(&["--hybrid-clock", "--report", "json"]))["config"]["hybrid_clock"],
        true
    );
    assert!(run(&["--hybrid-clock"]).contains("eventual R=1 W=1 HLC"));
}
