//! The `replikv` command: each subcommand runs, prints what it promises, and
//! refuses bad input with a clear message and a non-zero exit.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `replikv` with `args` and fails the test if it has not exited within
/// `limit`: a command that must refuse its input before any work starts would
/// otherwise run for minutes.
fn replikv_within(limit: Duration, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = Instant::now() + limit;
    while child
        .try_wait()
        .expect("the child can be waited on")
        .is_none()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child
                .wait_with_output()
                .expect("the killed child is reaped");
            panic!(
                "`replikv {}` still running after {limit:?}: it did not refuse its input \
                 before starting the work (stderr: {})",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the child's output")
}

/// Asserts that `args` are refused with exit code 2 and an error on stderr
/// containing every one of `needles`, quickly, and with nothing on stdout.
fn refused_before_work(args: &[&str], needles: &[&str]) {
    let out = replikv_within(Duration::from_secs(20), args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} lacks {needle:?}"
        );
    }
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed before refusing: {}",
        stdout(&out)
    );
}

/// Runs `replikv` with a stdout whose reader has already gone, as in
/// `replikv partitions | head -0`: every write to it fails with `EPIPE`.
fn replikv_into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs")
}

/// A small history file that `check` judges linearizable.
fn linearizable_history(dir: &Path) -> String {
    let path = dir.join("ok.json");
    std::fs::write(
        &path,
        r#"[{"client":1,"key":"x","op":"put","value":"1","output":null,"ok":true,"call_ns":0,"return_ns":10}]"#,
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
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
    assert_eq!(
        modes,
        ["strong", "eventual", "eventual", "single", "consensus"]
    );
    assert_eq!(reports[2]["config"]["r"], 2);
    // Every mode counts messages per operation; only consensus elects.
    for report in &reports {
        let sent = report["messages"]["sent"].as_f64().unwrap();
        let ops = report["ops"].as_f64().unwrap();
        assert_eq!(report["messages_per_op"].as_f64().unwrap(), sent / ops);
    }
    for report in &reports[..4] {
        assert!(report["leadership"].is_null(), "{report}");
    }
    let raft = &reports[4]["leadership"];
    assert!(raft["leaders_elected"].as_u64().unwrap() >= 1, "{raft}");
    assert!(raft["elections"].as_u64().unwrap() >= 1, "{raft}");
    assert_eq!(raft["max_leaders_in_a_term"], 1, "{raft}");
    // Nobody leads until the first election timeout (150 ms at least).
    assert!(
        raft["longest_without_leader_ns"].as_u64().unwrap() >= 150_000_000,
        "{raft}"
    );
    let table = replikv(&["compare", "--clients", "2", "--ops", "20"]);
    let text = stdout(&table);
    for label in [
        "strong",
        "eventual R=1 W=1",
        "eventual R=2 W=2",
        "single",
        "consensus",
        "linearizable",
        "messages / operation",
        "elections / leader changes",
        "longest without leader (ms)",
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
    assert_eq!(shares.len(), 4, "ring, rendezvous, maglev, bounded: {row}");
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
    // No verdict unless --tolerance asks for one: 30 trials are too few to judge.
    assert!(!text.contains("within ±") && !text.contains("NO"), "{text}");
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

#[test]
fn every_subcommand_ends_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let history = linearizable_history(dir.path());
    let stale = dir.path().join("stale.json");
    std::fs::write(
        &stale,
        r#"[{"client":1,"key":"x","op":"put","value":"1","output":null,"ok":true,"call_ns":0,"return_ns":10},
            {"client":2,"key":"x","op":"get","value":null,"output":null,"ok":true,"call_ns":20,"return_ns":30}]"#,
    )
    .unwrap();
    for (args, code) in [
        (vec!["run", "--ops", "10", "--keys", "2"], 0),
        (vec!["run", "--ops", "10", "--report", "json"], 0),
        (
            vec!["compare", "--modes", "strong,single", "--ops", "10"],
            0,
        ),
        (vec!["check", &history], 0),
        // The verdict still decides the exit code.
        (vec!["check", stale.to_str().unwrap()], 1),
        (vec!["staleness", "--trials", "2", "--t", "0ms"], 0),
        (vec!["partitions", "--nodes", "3", "--keys", "100"], 0),
        (
            vec![
                "partitions",
                "--nodes",
                "2",
                "--keys",
                "100",
                "--weights",
                "1,2",
            ],
            0,
        ),
        (vec!["--help"], 0),
        (vec!["run", "--help"], 0),
    ] {
        let out = replikv_into_closed_pipe(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{args:?} was not quiet about the closed pipe: {stderr}"
        );
    }
}

#[test]
fn a_storage_directory_that_holds_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let storage = storage.to_str().unwrap();
    let run = ["run", "--ops", "20", "--keys", "2", "--storage", storage];
    let first = replikv_ok(&run);
    assert!(first.contains("linearizable"), "{first}");
    // A second run would read the first run's values, which its own history
    // does not contain: refused, naming the directory.
    refused_before_work(&run, &[storage, "empty or new directory"]);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    refused_before_work(
        &["run", "--storage", file.to_str().unwrap()],
        &[file.to_str().unwrap(), "--storage"],
    );
    refused_before_work(
        &[
            "compare",
            "--storage",
            dir.path().join("new").to_str().unwrap(),
        ],
        &["--storage", "one mode"],
    );
}

#[test]
fn durability_is_chosen_on_the_command_line_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&replikv_ok(args)).expect("valid JSON")
    };
    let default = json(&["run", "--ops", "5", "--report", "json"]);
    assert_eq!(default["config"]["durability"], "periodic");
    let flushed = json(&[
        "run",
        "--ops",
        "5",
        "--report",
        "json",
        "--storage",
        storage.to_str().unwrap(),
        "--durability",
        "flush-before-ack",
    ]);
    assert_eq!(flushed["config"]["durability"], "flush-before-ack");
    let help = replikv_ok(&["run", "--help"]);
    assert!(
        help.contains("--durability") && help.contains("loses the writes acknowledged"),
        "{help}"
    );
}

#[test]
fn sizes_beyond_the_documented_limits_are_refused_before_any_work() {
    for (args, needles) in [
        (
            vec!["run", "--nodes", "100000"],
            vec!["--nodes 100000", "1024"],
        ),
        (vec!["compare", "--nodes", "100000"], vec!["--nodes 100000"]),
        (vec!["run", "--clients", "100000"], vec!["--clients 100000"]),
        (
            vec!["run", "--partitioning", "ring:100000000"],
            vec!["vnodes 100000000"],
        ),
        (vec!["staleness", "--n", "100000"], vec!["--n 100000", "64"]),
        (
            vec!["partitions", "--nodes", "100000000"],
            vec!["--nodes 100000000"],
        ),
        (
            vec!["partitions", "--keys", "1000000000000"],
            vec!["--keys 1000000000000"],
        ),
        (
            vec!["partitions", "--nodes", "1000", "--keys", "1000000"],
            vec!["--keys × --nodes"],
        ),
        (
            vec!["partitions", "--vnodes", "100000000"],
            vec!["--vnodes 100000000"],
        ),
    ] {
        refused_before_work(&args, &needles);
    }
    // The limits are the ones `--help` documents.
    assert!(replikv_ok(&["--help"]).contains("--nodes and --clients at most 1024"));
}

#[test]
fn settings_that_would_be_ignored_or_meaningless_are_refused() {
    for (args, needles) in [
        (vec!["staleness", "--trials", "0"], vec!["--trials 0"]),
        (vec!["staleness", "--tolerance=-1"], vec!["--tolerance -1"]),
        (
            vec!["partitions", "--nodes", "3", "--replicas", "0"],
            vec!["--replicas 0"],
        ),
        (
            vec!["partitions", "--nodes", "3", "--replicas", "20"],
            vec!["--replicas 20", "(3)"],
        ),
        (vec!["partitions", "--keys", "0"], vec!["--keys 0"]),
        (
            vec!["run", "--consistency", "strong", "--r", "2"],
            vec!["--r and --w"],
        ),
        (
            vec!["run", "--consistency", "single", "--w", "1"],
            vec!["--r and --w"],
        ),
        // Checked before the (long) work, not after it.
        (
            vec![
                "partitions",
                "--nodes",
                "3",
                "--keys",
                "1000000",
                "--weights",
                "1,2",
            ],
            vec!["2 weights given for 3 nodes"],
        ),
        (
            vec![
                "partitions",
                "--nodes",
                "2",
                "--keys",
                "1000000",
                "--weights",
                "1,-2",
            ],
            vec!["--weights -2", "positive"],
        ),
        (
            vec![
                "compare",
                "--modes",
                "strong,eventual:9:9",
                "--ops",
                "100000000",
            ],
            vec!["R = 9"],
        ),
    ] {
        refused_before_work(&args, &needles);
    }
}

#[test]
fn an_output_path_that_cannot_be_written_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("out");
    let missing = missing.to_str().unwrap();
    // Each would take minutes if it ran before looking at the path.
    refused_before_work(
        &["run", "--ops", "100000000", "--history", missing],
        &["--history", missing],
    );
    refused_before_work(
        &["staleness", "--trials", "100000", "--csv", missing],
        &["--csv", missing],
    );
    refused_before_work(
        &["staleness", "--trials", "100000", "--svg", missing],
        &["--svg", missing],
    );
}

#[test]
fn compare_describes_the_nemesis_that_ran() {
    let note = |nemesis: &str| {
        replikv_ok(&[
            "compare",
            "--modes",
            "single",
            "--ops",
            "10",
            "--nemesis",
            nemesis,
        ])
        .lines()
        .skip_while(|l| !l.starts_with("note:"))
        .collect::<Vec<_>>()
        .join("\n")
    };
    let skew = note("skew");
    assert!(
        skew.contains("skew nemesis") && !skew.contains("crash") && !skew.contains("cuts"),
        "{skew}"
    );
    let partition = note("partition");
    assert!(
        partition.contains("partition nemesis") && !partition.contains("crash"),
        "{partition}"
    );
    let crash = note("crash");
    assert!(
        crash.contains("crash nemesis") && !crash.contains("cuts"),
        "{crash}"
    );
    let all = note("all");
    for name in ["partition", "crash", "skew"] {
        assert!(all.contains(&format!("{name} nemesis")), "{all}");
    }
    assert_eq!(note("none"), "");
}

#[test]
fn the_coordinator_default_is_the_librarys() {
    let json: serde_json::Value =
        serde_json::from_str(&replikv_ok(&["run", "--ops", "5", "--report", "json"])).unwrap();
    let library = format!("{:?}", replikv::CoordinatorPolicy::default()).to_lowercase();
    assert_eq!(json["config"]["coordinator"], library.as_str());
    let help = replikv_ok(&["run", "--help"]);
    assert!(help.contains(&format!("[default: {library}]")), "{help}");
}

#[test]
fn staleness_compares_with_the_model_only_when_asked() {
    let text = replikv_ok(&[
        "staleness",
        "--trials",
        "10",
        "--t",
        "0ms",
        "--tolerance",
        "100",
    ]);
    assert!(text.contains("within ±100 pp"), "{text}");
    assert!(
        text.contains("model comparison: measured is within ±100 pp"),
        "{text}"
    );
}

#[test]
fn partitions_compares_skew_and_scaling_of_every_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("scaling.svg");
    let text = replikv_ok(&[
        "partitions",
        "--nodes",
        "10",
        "--keys",
        "4000",
        "--scaling",
        "--scale-nodes",
        "5,20",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    for name in [
        "maglev:65537",
        "multiprobe:21",
        "bounded:0.25",
        "bounded:0.25/keys",
        "zipf 0.99",
        "hottest node's share",
        "memory per node",
        "add: moved ÷ 1/(n+1)",
    ] {
        assert!(text.contains(name), "lacks {name}: {text}");
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg") && chart.contains("maglev"),
        "{chart}"
    );
    // --svg belongs to --scaling; bad exponents and node counts are refused.
    for bad in [
        vec!["partitions", "--svg", "x.svg"],
        vec!["partitions", "--zipf", "-1"],
        vec!["partitions", "--scaling", "--scale-nodes", "0"],
        vec!["partitions", "--scaling", "--scale-nodes", "5000"],
    ] {
        assert_eq!(replikv(&bad).status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn balance_compares_every_coordinator_policy() {
    let text = replikv_ok(&["balance", "--clients", "4", "--ops", "30"]);
    for name in [
        "First",
        "Random",
        "RoundRobin",
        "LeastOutstanding",
        "PowerOfTwoChoices",
        "slow node's share",
        "p99",
    ] {
        assert!(text.contains(name), "lacks {name}: {text}");
    }
    assert_eq!(replikv(&["balance", "--nodes", "1"]).status.code(), Some(2));
    assert_eq!(
        replikv(&["balance", "--slow", "soon"]).status.code(),
        Some(2)
    );
}

#[test]
fn run_accepts_the_load_aware_coordinators() {
    for policy in ["least-outstanding", "power-of-two"] {
        replikv_ok(&["run", "--ops", "10", "--keys", "2", "--coordinator", policy]);
    }
}

#[test]
fn check_reads_compare_and_set_histories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cas.json");
    let ops = |second: &str| {
        format!(
            r#"[
  {{"client":1,"key":"x","op":"cas","expected":null,"value":"a","swapped":true,"ok":true,"call_ns":0,"return_ns":10}},
  {{"client":2,"key":"x","op":"cas","expected":"b","value":"c","swapped":null,"ok":false,"call_ns":5,"return_ns":null}},
  {{"client":3,"key":"x","op":"get","value":null,"output":"{second}","ok":true,"call_ns":20,"return_ns":30}}
]"#
        )
    };
    std::fs::write(&path, ops("a")).unwrap();
    let out = replikv(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("linearizable: 3 operations"),
        "{}",
        stdout(&out)
    );
    // Reading "c" needs the indeterminate swap from "b", which never held.
    std::fs::write(&path, ops("c")).unwrap();
    let out = replikv(&["check", path.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("cas"), "{}", stdout(&out));
}

/// LESSON.md (Part 5, vertical scaling) shows the weights table of its
/// `partitions --weights` command exactly: placement is arithmetic, so the
/// command prints that table on every machine.
#[test]
fn lesson_shows_the_weights_table_exactly() {
    let text = replikv_ok(&[
        "partitions",
        "--nodes",
        "4",
        "--keys",
        "20000",
        "--weights",
        "1,1,1,3",
    ]);
    let printed = &text[text.find("with weights").expect("a weights table")..];
    let lesson = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LESSON.md"))
        .expect("LESSON.md");
    let shown = lesson
        .split("--weights 1,1,1,3\n```")
        .nth(1)
        .and_then(|rest| rest.split("```text\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("LESSON.md shows the weights table after the command");
    let trim = |t: &str| t.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    assert_eq!(trim(shown).trim(), trim(printed).trim());
}
