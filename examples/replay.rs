//! Replay a faulty run from its seed, on the deterministic simulator.
//!
//! One experiment — 5 nodes, N = 3, eventual mode with R = W = 1, 4 clients
//! on 5 keys, exponential links with a mean of 1 ms, 5 % of messages lost and
//! 5 % duplicated, and the nemesis partitioning, crashing and skewing the
//! clock of a node in turn — runs on `Runtime::Simulated` three times: twice
//! with seed 7, once with seed 8. It prints a summary of each run and a
//! fingerprint of its history (an xxh3 hash of the history's JSON: every
//! operation, its answer and its virtual call and return times).
//!
//! What to look for in the output:
//!
//! - the two runs with seed 7 are the same run: the same counts, the same
//!   stale reads and lost writes, the same fingerprint — the histories are
//!   identical byte for byte. A failure found with a seed is a failure
//!   anyone can replay;
//! - seed 8 is another run: other faults at other moments;
//! - `virtual s`: the time the run covered — links of 1 ms, fault intervals
//!   of 50 ms — computed in a few milliseconds of real time.
//!
//! On threads (`Runtime::Threads`, the default) the same seed fixes the
//! dice — which message is lost, which node is crashed — but not which
//! thread runs when, so two runs with one seed differ. Run it with:
//!
//! ```text
//! cargo run --release --example replay
//! cargo run --release --example replay -- --seed 42
//! ```
//!
//! (`--seed N` replaces seed 7; seed 8 becomes N + 1.)

use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Consistency, CoordinatorPolicy, Runtime};
use std::process::ExitCode;
use std::time::Duration;

fn experiment(seed: u64) -> Experiment {
    Experiment {
        nodes: 5,
        replicas: 3,
        consistency: Consistency::Eventual { r: 1, w: 1 },
        runtime: Runtime::Simulated,
        workload: Workload {
            clients: 4,
            ops_per_client: 100,
            keys: 5,
            seed,
            ..Workload::default()
        },
        latency: Latency::Exponential {
            mean: Duration::from_millis(1),
        },
        drop: 0.05,
        duplicate: 0.05,
        nemesis: Nemesis {
            kind: NemesisKind::All,
            interval: Duration::from_millis(50),
            seed,
        },
        client_timeout: Duration::from_millis(200),
        coordinator: CoordinatorPolicy::Random,
        check_linearizability: false,
        seed,
        ..Experiment::default()
    }
}

/// One line about a run: what the clients saw and the history's fingerprint.
fn summary(seed: u64) -> replikv::Result<(String, u64)> {
    let (report, history) = experiment(seed).run_with_history(&mut |_| {})?;
    let fingerprint = xxhash_rust::xxh3::xxh3_64(history.to_json().as_bytes());
    let line = format!(
        "seed {seed}: {} ops, {} timed out, {} stale reads, {} lost writes, {:.3} virtual s, \
         history {fingerprint:016x}",
        report.ops,
        report.errors.timeout,
        report.stale_reads,
        report
            .lost_writes
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        report.virtual_duration_s.unwrap_or(0.0),
    );
    Ok((line, fingerprint))
}

/// `--seed N`, if given.
fn seed_arg() -> Result<Option<u64>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, n] if flag == "--seed" => n
            .parse()
            .map(Some)
            .map_err(|_| format!("--seed needs a whole number, got {n:?}")),
        _ => Err("usage: cargo run --release --example replay [-- --seed N]".into()),
    }
}

fn main() -> ExitCode {
    let seed = match seed_arg() {
        Ok(seed) => seed.unwrap_or(7),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runs = [seed, seed, seed.wrapping_add(1)].map(summary);
    let mut fingerprints = Vec::new();
    for run in runs {
        match run {
            Ok((line, fingerprint)) => {
                println!("{line}");
                fingerprints.push(fingerprint);
            }
            Err(e) => {
                eprintln!("the experiment failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let same = fingerprints[0] == fingerprints[1];
    println!(
        "seed {seed} twice: {}",
        if same {
            "the same run, event for event"
        } else {
            "DIFFERENT runs — the simulation is not deterministic"
        }
    );
    if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
