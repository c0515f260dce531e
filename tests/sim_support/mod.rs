//! Helpers shared by the simulator's fault suites (`sim_strong_faults`,
//! `sim_eventual_faults`): the faults and the schedule they strike, which
//! seeds to run, and how a failure names its replay.
#![allow(dead_code)]

use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Consistency, CoordinatorPolicy, Runtime, StorageKind};
use std::ops::Range;
use std::time::Duration;

/// One kind of fault, applied for a whole schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
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
    /// One node's clock set up to ±5 s off, then back: in eventual mode,
    /// last-writer-wins may lose writes, which is measured.
    Skew,
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Schedule `seed` of `fault` for a cluster of `nodes` nodes (N = 3) in
/// `consistency`: the lab's workload (four clients, 25 operations each, on
/// three keys, half of them reads) through random coordinators over links
/// of 0–1 ms, on the simulator. A partition lasts `partition` (the suites
/// choose it against their protocol's deadlines); crashes, pauses and skew
/// strike every 30 ms, several times per schedule (virtual time costs
/// nothing). The caller sets what its checks need on top.
pub fn experiment(
    consistency: Consistency,
    nodes: usize,
    fault: Fault,
    seed: u64,
    partition: Duration,
) -> Experiment {
    let nemesis = |kind, interval| Nemesis {
        kind,
        interval,
        seed,
    };
    let mut e = Experiment {
        nodes,
        replicas: 3,
        consistency,
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
        Fault::Partition => e.nemesis = nemesis(NemesisKind::Partition, partition),
        Fault::Crash => e.nemesis = nemesis(NemesisKind::Crash, ms(30)),
        Fault::Pause => e.nemesis = nemesis(NemesisKind::Pause, ms(30)),
        Fault::Skew => e.nemesis = nemesis(NemesisKind::Skew, ms(30)),
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

/// The seeds to run: `REPLIKV_SIM_SEEDS` (`first..end`) if set, else
/// `default`. A malformed value is a failure, not a silent default.
pub fn seeds(default: Range<u64>) -> Range<u64> {
    let Ok(range) = std::env::var("REPLIKV_SIM_SEEDS") else {
        return default;
    };
    let parsed = range
        .split_once("..")
        .and_then(|(first, end)| Some(first.trim().parse().ok()?..end.trim().parse().ok()?));
    match parsed {
        Some(seeds) if !seeds.is_empty() => seeds,
        _ => panic!("REPLIKV_SIM_SEEDS must look like 1000..1100, not {range:?}"),
    }
}

/// The command that replays `seed` of `test` in `suite` (a simulated run
/// is the same run every time: same seed, same history, byte for byte).
pub fn replay_line(suite: &str, test: &str, seed: u64) -> String {
    format!(
        "replay: REPLIKV_SIM_SEEDS={seed}..{} cargo test --test {suite} {test} -- --include-ignored --exact --nocapture",
        seed + 1
    )
}
