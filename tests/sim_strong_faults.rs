//! Strong mode is linearizable under every fault — thousands of fault
//! schedules on the deterministic simulator, each replayable from its seed.
//!
//! Each schedule is a [`replikv::lab::Experiment`] with
//! `runtime: Runtime::Simulated`: the lab's own workload (several clients
//! hammering three keys with unique values, so operations collide) and its
//! own nemesis (crash, partition, pause, skew) run as events on virtual
//! time, with the network's loss, duplication and latency drawn from the
//! same seed. The recorded history goes to the linearizability checker,
//! which must say `Linearizable`. On the simulator a seed fixes the whole
//! *execution*, not only its inputs, so a failure is a bug report: the
//! message names the seed, the fault and the command that replays it, and
//! that command fails the same way every time.
//!
//! The default run is 1,000 schedules (ten fault kinds × 100 seeds) and
//! takes well under a minute in a debug build. The soak is 20,000
//! schedules (ten fault kinds × 2,000 seeds), ignored by default; run it in
//! release:
//!
//! ```text
//! cargo test --release --test sim_strong_faults -- --ignored --nocapture
//! ```
//!
//! `REPLIKV_SIM_SEEDS=5000..5100` sweeps other seeds (in every test of the
//! file, so it also narrows a replay to one seed).
//!
//! `tests/strong_faults.rs` runs the same faults on threads, for what only
//! real concurrency shows.

mod sim_support;

use replikv::Consistency;
use replikv::lab::Experiment;
use sim_support::{Fault, ms, replay_line, seeds};
use std::time::Duration;

const FAULTS: [Fault; 10] = [
    Fault::Drop,
    Fault::DelayExp,
    Fault::DelayUniform,
    Fault::Duplicate,
    Fault::Reorder,
    Fault::Partition,
    Fault::Crash,
    Fault::Pause,
    Fault::All,
    Fault::LateDuplicatesAndCrashes,
];

/// The experiment that schedule `seed` of `fault` runs. Partitions outlast
/// the protocol's 500 ms deadline, so the cut-off side also answers
/// `Unavailable`.
fn experiment(fault: Fault, seed: u64) -> Experiment {
    let e = sim_support::experiment(Consistency::Strong, 3, fault, seed, ms(700));
    Experiment {
        client_timeout: ms(1000),
        checker_budget: Duration::from_secs(60),
        ..e
    }
}

/// The name of the test that runs `fault` by default, for replay lines.
fn test_name(fault: Fault) -> &'static str {
    match fault {
        Fault::Drop => "linearizable_under_message_loss",
        Fault::DelayExp => "linearizable_under_exponential_delays",
        Fault::DelayUniform => "linearizable_under_uniform_delays",
        Fault::Duplicate => "linearizable_under_duplication",
        Fault::Reorder => "linearizable_under_reordering",
        Fault::Partition => "linearizable_across_minority_partitions",
        Fault::Crash => "linearizable_across_minority_crashes",
        Fault::Pause => "linearizable_across_paused_nodes",
        Fault::All => "linearizable_under_all_faults_at_once",
        Fault::LateDuplicatesAndCrashes => {
            "linearizable_with_late_duplicates_across_coordinator_restarts"
        }
        Fault::Skew => unreachable!("strong mode runs no skew-only schedule"),
    }
}

/// Runs schedule `seed` of `fault` and checks it: linearizable (proven, not
/// "unknown"), and enough operations succeeded that the check means
/// something. Returns how many operations succeeded.
fn schedule(fault: Fault, seed: u64) -> u64 {
    let e = experiment(fault, seed);
    let replay = replay_line("sim_strong_faults", test_name(fault), seed);
    let report = match e.run(&mut |_| {}) {
        Ok(report) => report,
        Err(err) => panic!("seed {seed}, {fault:?}: the run failed: {err}\n{replay}"),
    };
    assert_eq!(
        report.linearizable,
        Some(true),
        "seed {seed}, {fault:?}: not proven linearizable ({} ops, {} ok)\n{replay}",
        report.ops,
        report.ops - report.errors.timeout - report.errors.unavailable - report.errors.other,
    );
    let ok = report.ops - report.errors.timeout - report.errors.unavailable - report.errors.other;
    assert_eq!(
        report.ops,
        e.workload.total_ops().unwrap_or(0),
        "seed {seed}, {fault:?}: operations missing\n{replay}"
    );
    assert!(
        ok * 4 >= report.ops,
        "seed {seed}, {fault:?}: only {ok} of {} operations succeeded\n{replay}",
        report.ops
    );
    ok
}

/// Runs `fault` over every seed of `default` (or `REPLIKV_SIM_SEEDS`).
fn sweep(fault: Fault, default: std::ops::Range<u64>) -> u64 {
    let started = std::time::Instant::now();
    let mut runs = 0;
    let mut ok = 0;
    for seed in seeds(default) {
        ok += schedule(fault, seed);
        runs += 1;
    }
    eprintln!(
        "{fault:?}: {runs} schedules linearizable, {ok} operations acknowledged, {:?}",
        started.elapsed()
    );
    runs
}

/// Seeds every fault runs in the default (debug) test run: 10 × 100 =
/// 1,000 schedules.
const DEFAULT_SEEDS: std::ops::Range<u64> = 0..100;

#[test]
fn linearizable_under_message_loss() {
    sweep(Fault::Drop, DEFAULT_SEEDS);
}

#[test]
fn linearizable_under_exponential_delays() {
    sweep(Fault::DelayExp, DEFAULT_SEEDS);
}

#[test]
fn linearizable_under_uniform_delays() {
    sweep(Fault::DelayUniform, DEFAULT_SEEDS);
}

#[test]
fn linearizable_under_duplication() {
    sweep(Fault::Duplicate, DEFAULT_SEEDS);
}

#[test]
fn linearizable_under_reordering() {
    sweep(Fault::Reorder, DEFAULT_SEEDS);
}

#[test]
fn linearizable_across_minority_partitions() {
    sweep(Fault::Partition, DEFAULT_SEEDS);
}

#[test]
fn linearizable_across_minority_crashes() {
    sweep(Fault::Crash, DEFAULT_SEEDS);
}

#[test]
fn linearizable_across_paused_nodes() {
    sweep(Fault::Pause, DEFAULT_SEEDS);
}

#[test]
fn linearizable_under_all_faults_at_once() {
    sweep(Fault::All, DEFAULT_SEEDS);
}

#[test]
fn linearizable_with_late_duplicates_across_coordinator_restarts() {
    sweep(Fault::LateDuplicatesAndCrashes, DEFAULT_SEEDS);
}

/// The nemesis really strikes in the schedules above: a crash schedule
/// leaves timeouts (requests sent to the crashed coordinator), a pause
/// schedule slows operations down, and a partition schedule makes the
/// network drop messages and the cut-off side refuse operations. Without this, a nemesis that did nothing would
/// pass every test above.
#[test]
fn the_nemesis_strikes_in_every_fault_schedule() {
    let seed = 3;
    let quiet = experiment(Fault::Drop, seed);
    let quiet = Experiment { drop: 0.0, ..quiet };
    let baseline = quiet.run(&mut |_| {}).expect("runs");
    let crash = experiment(Fault::Crash, seed)
        .run(&mut |_| {})
        .expect("runs");
    assert!(
        crash.errors.timeout > 0,
        "seed {seed}: crashes left no timeout"
    );
    let partition = experiment(Fault::Partition, seed)
        .run(&mut |_| {})
        .expect("runs");
    assert!(
        partition.messages.dropped > baseline.messages.dropped,
        "seed {seed}: partitions dropped nothing"
    );
    assert!(
        partition.errors.unavailable > 0,
        "seed {seed}: no partition outlasted the protocol's deadline"
    );
    let pause = experiment(Fault::Pause, seed)
        .run(&mut |_| {})
        .expect("runs");
    // A request to a paused coordinator waits for it to wake (up to one
    // 30 ms interval); without pauses no operation takes 10 ms.
    assert!(
        pause.latency_us.max >= 10_000 && baseline.latency_us.max < 10_000,
        "seed {seed}: pauses slowed nothing down ({} µs vs {} µs)",
        pause.latency_us.max,
        baseline.latency_us.max
    );
}

/// The soak: 20,000 schedules (ten fault kinds × 2,000 seeds). Run it in
/// release: `cargo test --release --test sim_strong_faults -- --ignored
/// --nocapture`; `REPLIKV_SIM_SEEDS=a..b` sweeps other seeds.
#[test]
#[ignore = "long: run with --release -- --ignored"]
fn soak_of_twenty_thousand_schedules() {
    let started = std::time::Instant::now();
    let runs: u64 = FAULTS.iter().map(|&fault| sweep(fault, 1000..3000)).sum();
    println!(
        "{runs} schedules, all linearizable, in {:?}",
        started.elapsed()
    );
}
