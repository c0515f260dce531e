//! `replikv run --attack ...` and `--authenticate-links` on the simulator:
//! the JSON report carries what the attacker injected, what the nodes
//! refused and the values no client wrote; sweep replay lines keep the
//! attack; a bad attack name is a clear error.

use replikv::lab::replay_command;
use std::process::{Command, Output};

fn replikv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .output()
        .expect("run replikv")
}

const RUN: &[&str] = &[
    "run",
    "--runtime",
    "sim",
    "--consistency",
    "strong",
    "--nodes",
    "3",
    "--clients",
    "3",
    "--ops",
    "60",
    "--keys",
    "3",
    "--latency",
    "fixed:1ms",
    "--timeout",
    "200ms",
    "--attack-probability",
    "0.3",
    "--report",
    "json",
    "--seed",
    "1",
];

fn report(extra: &[&str]) -> serde_json::Value {
    let mut args = RUN.to_vec();
    args.extend_from_slice(extra);
    let out = replikv(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

#[test]
fn a_forger_breaks_an_open_cluster_and_is_refused_by_an_authenticated_one() {
    let open = report(&["--attack", "forge"]);
    let s = &open["security"];
    assert_eq!(s["links"], "open");
    assert!(s["injected"].as_u64().unwrap() > 0, "{s}");
    assert!(s["foreign_reads"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(open["linearizable"], false);

    let closed = report(&["--attack", "forge", "--authenticate-links"]);
    let s = &closed["security"];
    assert_eq!(s["links"], "authenticated");
    assert!(s["injected"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["refused_unauthentic"], s["injected"], "{s}");
    assert_eq!(
        (s["foreign_reads"].as_u64(), s["foreign_stored"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(closed["linearizable"], true);
}

#[test]
fn an_unknown_attack_is_a_clear_error() {
    let out = replikv(&["run", "--runtime", "sim", "--attack", "sniff"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown attack \"sniff\""), "{err}");
    let out = replikv(&[
        "run",
        "--runtime",
        "sim",
        "--attack",
        "forge",
        "--attack-probability",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("attack probability"));
}

#[test]
fn replay_lines_keep_the_attack_and_the_defence() {
    let e = replikv::lab::Experiment {
        attack: Some(replikv::security::AttackKind::Replay),
        attack_probability: 0.25,
        authenticate_links: true,
        ..replikv::lab::Experiment::default()
    };
    let line = replay_command(&e);
    assert!(
        line.contains(" --attack replay --attack-probability 0.25 --authenticate-links"),
        "{line}"
    );
}

/// LESSON.md's Security section quotes report rows of its two `--attack`
/// commands; the simulator makes them exact, so each quoted row must be a
/// line the commands print.
#[test]
fn the_lesson_quotes_rows_the_attack_commands_print() {
    let lesson =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LESSON.md")).unwrap();
    let section = lesson
        .split("\n### Security\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("LESSON.md has a Security section");
    let mut printed = String::new();
    let mut commands = 0;
    for line in section
        .lines()
        .filter(|l| l.contains("-- run ") && l.contains("--attack "))
    {
        let args: Vec<&str> = line
            .split(" -- ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect();
        let out = replikv(&args);
        assert!(out.status.success(), "{line}");
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        commands += 1;
    }
    assert_eq!(commands, 2, "the two attack commands");
    // The report rows quoted (the network_attack example's table, also in
    // this section, has other first columns).
    let quoted: Vec<&str> = section
        .lines()
        .filter(|l| {
            [
                "│ linearizable ",
                "│ attack / links ",
                "│ injected / refused ",
                "│ values no client ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect();
    assert_eq!(quoted.len(), 8, "{quoted:?}");
    for row in quoted {
        assert!(
            printed.lines().any(|l| l == row),
            "LESSON.md quotes a row the commands did not print:\n{row}\n{printed}"
        );
    }
}

/// `RUN` with another `--consistency`.
fn run_in(mode: &str, extra: &[&str]) -> Output {
    let mut args = RUN.to_vec();
    let at = args.iter().position(|a| *a == "strong").unwrap();
    args[at] = mode;
    args.extend_from_slice(extra);
    replikv(&args)
}

#[test]
fn consensus_mode_is_attacked_and_defended_like_the_others() {
    let parse = |out: Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON report")
    };
    let open = parse(run_in("consensus", &["--attack", "forge"]));
    assert!(open["security"]["injected"].as_u64().unwrap() > 0, "{open}");
    let defended = parse(run_in(
        "consensus",
        &["--attack", "tamper", "--authenticate-links"],
    ));
    let s = &defended["security"];
    assert!(s["injected"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["refused_unauthentic"], s["injected"], "{s}");
}

#[test]
fn attacking_single_copy_mode_is_a_clear_error() {
    let out = run_in("single", &["--attack", "forge"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("single-copy nodes send each other no messages"),
        "{err}"
    );
}
