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

use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Consistency, CoordinatorPolicy, Runtime, StorageKind};
use sim_support::{replay_line, seeds};
use std::time::Duration;

/// One kind of fault, applied for a whole schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// 15 % of messages lost.
    Drop,
    /// Exponential delays, mean 2 ms.
    DelayExp,
    /// Uniform delays, 0–5 ms.
    DelayUniform,
    /// 20 % of messages delivered twice, 0–2 ms apart.
    Duplicate,
    /// Heavy-tailed (Pareto) delays: most messages quick, a few very late,
    /// overtaken by many others.
    Reorder,
    /// A minority node cut off, then healed, over and over.
    Partition,
    /// A minority node crashed, then restarted, over and over.
    Crash,
    /// A minority node stalled, then woken, over and over.
    Pause,
    /// The nemesis' partition, crash and skew in turn, with loss,
    /// duplication and delays at once (milder rates).
    All,
    /// Heavy-tailed latency, half of all messages duplicated, and crashes:
    /// a copy of a client request can arrive after its coordinator
    /// restarted (the combination that once broke strong mode, and that no
    /// fault alone finds).
    LateDuplicatesAndCrashes,
}

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

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The experiment that schedule `seed` of `fault` runs.
fn experiment(fault: Fault, seed: u64) -> Experiment {
    let nemesis = |kind, interval| Nemesis {
        kind,
        interval,
        seed,
    };
    let mut e = Experiment {
        nodes: 3,
        replicas: 3,
        consistency: Consistency::Strong,
        runtime: Runtime::Simulated,
        storage: StorageKind::Memory,
        workload: Workload {
            clients: 4,
            ops_per_client: 25,
            keys: 3,
            read_ratio: 0.5,
            seed,
            ..Workload::default()
        },
        coordinator: CoordinatorPolicy::Random,
        client_timeout: ms(1000),
        checker_budget: Duration::from_secs(60),
        // A little latency keeps operations in flight while the nemesis
        // strikes.
        latency: Latency::Uniform {
            min: Duration::ZERO,
            max: ms(1),
        },
        seed,
        ..Experiment::default()
    };
    match fault {
        Fault::Drop => e.drop = 0.15,
        Fault::DelayExp => e.latency = Latency::Exponential { mean: ms(2) },
        Fault::DelayUniform => {
            e.latency = Latency::Uniform {
                min: Duration::ZERO,
                max: ms(5),
            }
        }
        Fault::Duplicate => {
            e.duplicate = 0.2;
            e.latency = Latency::Uniform {
                min: Duration::ZERO,
                max: ms(2),
            };
        }
        Fault::Reorder => {
            e.latency = Latency::Pareto {
                scale: Duration::from_micros(200),
                shape: 1.2,
            }
        }
        // Partitions outlast the protocol's 500 ms deadline, so the cut-off
        // side also answers `Unavailable`; crashes and pauses come every
        // 30 ms, several times per schedule. Virtual time costs nothing.
        Fault::Partition => e.nemesis = nemesis(NemesisKind::Partition, ms(700)),
        Fault::Crash => e.nemesis = nemesis(NemesisKind::Crash, ms(30)),
        Fault::Pause => e.nemesis = nemesis(NemesisKind::Pause, ms(30)),
        Fault::All => {
            e.nemesis = nemesis(NemesisKind::All, ms(30));
            e.drop = 0.05;
            e.duplicate = 0.05;
            e.latency = Latency::Exponential {
                mean: Duration::from_micros(700),
            };
        }
        Fault::LateDuplicatesAndCrashes => {
            e.nemesis = nemesis(NemesisKind::Crash, ms(30));
            e.duplicate = 0.5;
            e.latency = Latency::Pareto {
                scale: ms(1),
                shape: 1.1,
            };
        }
    }
    e
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
