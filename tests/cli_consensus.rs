//! `replikv run --consistency consensus --read-mode …`: each read mode
//! runs and stays linearizable under crashes on the simulator; the flag is
//! refused for other modes and unknown values.

use std::process::{Command, Output};

fn replikv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replikv"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn every_read_mode_runs_linearizably_under_crashes() {
    for mode in ["log", "read-index", "lease"] {
        let out = replikv(&[
            "run",
            "--consistency",
            "consensus",
            "--read-mode",
            mode,
            "--runtime",
            "sim",
            "--nemesis",
            "crash",
            "--clients",
            "3",
            "--ops",
            "40",
            "--cas-ratio",
            "0.2",
            "--report",
            "json",
            "--seed",
            "4",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {stderr}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        assert_eq!(
            json["linearizable"],
            serde_json::json!(true),
            "{mode}: {json}"
        );
    }
}

#[test]
fn read_mode_is_refused_outside_consensus_and_for_unknown_values() {
    let out = replikv(&["run", "--consistency", "strong", "--read-mode", "lease"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--read-mode"));
    let out = replikv(&["run", "--consistency", "consensus", "--read-mode", "quorum"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-index"));
}

#[test]
fn an_explicit_read_mode_even_log_is_refused_outside_consensus() {
    for mode in ["strong", "eventual", "single"] {
        let out = replikv(&["run", "--consistency", mode, "--read-mode", "log"]);
        assert_eq!(out.status.code(), Some(2), "{mode}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--read-mode"),
            "{mode}"
        );
    }
}

#[test]
fn a_cas_ratio_is_refused_up_front_for_modes_without_compare_and_set() {
    for mode in ["strong", "eventual", "single"] {
        let out = replikv(&[
            "run",
            "--consistency",
            mode,
            "--runtime",
            "sim",
            "--cas-ratio",
            "0.5",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{mode}: {stderr}");
        assert!(
            stderr.contains("--cas-ratio") && stderr.contains(mode),
            "{mode}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{mode}: nothing ran");
    }
    let out = replikv(&[
        "run",
        "--protocol",
        "abd-without-write-back",
        "--cas-ratio",
        "0.5",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
