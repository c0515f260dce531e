//! The simulator on the command line: `--runtime sim`, `--check-determinism`
//! and `replikv sweep`, whose printed replay lines are run back through the
//! command.

use std::process::{Command, Output};

fn replikv<S: AsRef<str>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args.iter().map(AsRef::as_ref))
        .output()
        .expect("the replikv binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The sweep configuration of `tests/mutants.rs`, on the command line.
const HUNT: &[&str] = &[
    "--latency",
    "pareto:1ms,1.1",
    "--duplicate",
    "0.5",
    "--nemesis",
    "all",
    "--nemesis-interval",
    "5ms",
    "--keys",
    "2",
    "--ops",
    "50",
    "--timeout",
    "200ms",
    "--coordinator",
    "random",
];

#[test]
fn a_sweep_prints_replay_lines_that_reproduce_the_violation() {
    let mut args = vec![
        "sweep",
        "--protocol",
        "abd-without-write-back",
        "--seeds",
        "1..41",
    ];
    args.extend(HUNT);
    args.extend(["--shrink-budget", "12"]);
    let out = replikv(&args);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a violation exits 1:\n{stdout}{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("40 schedules in"), "{stdout}");
    assert!(stdout.contains("schedules/s"), "{stdout}");
    assert!(stdout.contains("not linearizable"), "{stdout}");
    assert!(stdout.contains("shrunk in"), "{stdout}");
    let replays: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("replay: "))
        .collect();
    assert!(
        replays.len() >= 2,
        "a violation and the shrunk one:\n{stdout}"
    );
    // The first violation's line and the shrunk configuration's, each
    // replayed three times: not linearizable every time.
    for line in [replays[0], replays[replays.len() - 1]] {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.remove(0), "replikv");
        words.extend(["--report", "json"]);
        let mut reports = Vec::new();
        for attempt in 1..=3 {
            let out = replikv(&words);
            let json = text(&out.stdout);
            assert!(out.status.success(), "{line}: {}", text(&out.stderr));
            assert!(
                json.contains("\"linearizable\": false"),
                "replay {attempt} of `{line}` did not reproduce the violation:\n{json}"
            );
            reports.push(json);
        }
        assert!(
            reports.windows(2).all(|w| w[0] == w[1]),
            "{line}: replays differ"
        );
    }
}

#[test]
fn a_correct_mode_passes_the_sweep_and_exits_zero() {
    let mut args = vec!["sweep", "--consistency", "strong", "--seeds", "1..11"];
    args.extend(HUNT);
    let out = replikv(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("10 schedules in") && stdout.contains("0 violations"),
        "{stdout}"
    );
}

#[test]
fn run_on_the_simulator_repeats_itself_and_says_so() {
    let args = [
        "run",
        "--runtime",
        "sim",
        "--check-determinism",
        "--nemesis",
        "all",
        "--drop",
        "0.05",
        "--duplicate",
        "0.05",
        "--latency",
        "exp:1ms",
        "--nemesis-interval",
        "20ms",
        "--ops",
        "50",
        "--seed",
        "9",
    ];
    let out = replikv(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("deterministic: two runs of seed 9"),
        "{stdout}"
    );

    // Without the check, two runs print the same report, virtual time in it.
    let json = |_: u8| {
        text(
            &replikv(&[
                "run",
                "--runtime",
                "sim",
                "--ops",
                "50",
                "--latency",
                "exp:1ms",
                "--report",
                "json",
            ])
            .stdout,
        )
    };
    let (a, b) = (json(1), json(2));
    assert_eq!(a, b);
    assert!(
        a.contains("\"runtime\": \"sim\"") && a.contains("\"virtual_duration_s\": 0."),
        "{a}"
    );
}

#[test]
fn compare_and_staleness_run_on_the_simulator() {
    let out = replikv(&[
        "compare",
        "--runtime",
        "sim",
        "--ops",
        "30",
        "--latency",
        "exp:1ms",
        "--report",
        "json",
    ]);
    let json = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The five default modes: strong, eventual 1/1 and 2/2, single, consensus.
    assert_eq!(json.matches("\"runtime\": \"sim\"").count(), 5, "{json}");

    let staleness = || {
        let out = replikv(&[
            "staleness",
            "--runtime",
            "sim",
            "--trials",
            "300",
            "--seed",
            "4",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let first = staleness();
    assert!(first.contains("measured"), "{first}");
    assert_eq!(first, staleness(), "the same seed gave another curve");
}

#[test]
fn options_that_make_no_sense_with_the_runtime_are_refused() {
    for (args, needle) in [
        (&["run", "--check-determinism"][..], "--runtime sim"),
        (&["sweep", "--runtime", "threads"][..], "simulator"),
        (&["sweep", "--no-check"][..], "--no-check"),
        (&["sweep", "--report", "json"][..], "--report json"),
        (&["sweep", "--seeds", "5..5"][..], "empty"),
        (
            &["run", "--protocol", "no-such-thing"][..],
            "abd-without-write-back",
        ),
        (
            &[
                "run",
                "--protocol",
                "abd-without-write-back",
                "--consistency",
                "eventual",
            ][..],
            "cannot be used",
        ),
    ] {
        let out = replikv(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
