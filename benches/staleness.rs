//! t-visibility of replikv's eventual mode, measured on a running cluster
//! beside the WARS model's prediction (Bailis et al., *Probabilistically
//! Bounded Staleness for Practical Partial Quorums*, VLDB 2012).
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench staleness
//! ```
//!
//! N = 3, R = W = 1, exponential node-to-node delays with mean 1 ms, instant
//! client links, random coordinators, anti-entropy off. For each t it prints
//! the fraction of reads that returned a write acknowledged t earlier, the
//! model's probability, their difference in percentage points and whether it
//! is within the goal of ±3 pp. It writes `staleness.csv` and `staleness.svg`
//! to `$REPLIKV_PBS_OUT` (default: `$CARGO_TARGET_DIR`, else `target/`), and
//! exits with status 1 when some t misses the goal.
//!
//! Environment knobs: `REPLIKV_PBS_TRIALS` (per t, default 2000),
//! `REPLIKV_PBS_CLIENTS` (default 4), `REPLIKV_SEED` (default 0).

use replikv::lab::pbs::{StalenessCurve, StalenessExperiment};
use replikv::network::Latency;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The goal: measured within this many percentage points of predicted.
const TOLERANCE_PP: f64 = 3.0;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // of the sort and only wants to know that the binary runs.
    if !std::env::args().any(|a| a == "--bench") {
        println!("staleness: run with `cargo bench --bench staleness`");
        return;
    }
    let experiment = StalenessExperiment {
        trials_per_t: env_or("REPLIKV_PBS_TRIALS", 2000),
        clients: env_or("REPLIKV_PBS_CLIENTS", 4) as usize,
        seed: env_or("REPLIKV_SEED", 0),
        ..StalenessExperiment::default()
    };
    let started = Instant::now();
    eprintln!(
        "t-visibility, {}: {} trials per t over {} clients",
        experiment.title(),
        experiment.trials_per_t,
        experiment.clients
    );
    let mut last = 0;
    let curve = match experiment.run_with_progress(&mut |done, total| {
        let percent = done * 100 / total.max(1);
        if percent >= last + 10 {
            last = percent - percent % 10;
            eprint!("{last}% ");
            let _ = std::io::stderr().flush();
        }
    }) {
        Ok(curve) => curve,
        Err(e) => {
            eprintln!("\nstaleness bench failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("\n");
    println!("t-visibility, {} — measured vs WARS", curve.title);
    println!("{}", curve.report(TOLERANCE_PP));
    println!(
        "largest difference: {:.2} pp; {} (took {:.1} s)",
        curve.max_difference_pp(),
        if curve.within(TOLERANCE_PP) {
            format!("every t within ±{TOLERANCE_PP} pp")
        } else {
            format!("NOT every t within ±{TOLERANCE_PP} pp")
        },
        started.elapsed().as_secs_f64()
    );
    // The same measurement against the pure model, without overheads.
    if let Ok(pure) = experiment.predict() {
        let worst = curve
            .points
            .iter()
            .zip(&pure.points)
            .map(|(m, p)| (m.measured - p.predicted).abs() * 100.0)
            .fold(0.0, f64::max);
        println!(
            "against the pure WARS model (no overheads) the largest difference is {worst:.2} pp"
        );
    }
    resolution_check(&experiment);
    write_files(&curve);
    if !curve.within(TOLERANCE_PP) {
        eprintln!("staleness bench: the goal of ±{TOLERANCE_PP} pp was missed");
        std::process::exit(1);
    }
}

/// Writes the curve as CSV and SVG (a failure to write is reported, not fatal).
fn write_files(curve: &StalenessCurve) {
    let dir = std::env::var_os("REPLIKV_PBS_OUT")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return;
    }
    let (csv, svg) = (dir.join("staleness.csv"), dir.join("staleness.svg"));
    match std::fs::write(&csv, curve.to_csv()) {
        Ok(()) => println!("wrote {}", csv.display()),
        Err(e) => eprintln!("cannot write {}: {e}", csv.display()),
    }
    match curve.to_svg(&svg) {
        Ok(()) => println!("wrote {}", svg.display()),
        Err(e) => eprintln!("cannot write {}: {e}", svg.display()),
    }
}

/// Not part of the goal: with *fixed* 1 ms delays the model predicts a
/// step from 1/3 to 1 at t = 1 ms; where the measured step lands shows how
/// much the simulation's thread hand-offs add to the write's path beyond
/// the read's (see the `replikv::lab::pbs` module docs).
fn resolution_check(base: &StalenessExperiment) {
    let experiment = StalenessExperiment {
        latency: Latency::Fixed(Duration::from_millis(1)),
        times: [900, 950, 1000, 1050, 1100, 1200]
            .into_iter()
            .map(Duration::from_micros)
            .collect(),
        trials_per_t: 600,
        ..base.clone()
    };
    match experiment.run() {
        Ok(curve) => {
            println!(
                "\ntiming resolution (not part of the goal): {} — the model's step is at 1 ms",
                curve.title
            );
            println!("{curve}");
        }
        Err(e) => eprintln!("resolution check failed: {e}"),
    }
}
