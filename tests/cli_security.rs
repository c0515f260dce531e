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
