//! Helpers shared by the simulator's fault suites (`sim_strong_faults`,
//! `sim_eventual_faults`): which seeds to run, and how a failure names its
//! replay.
#![allow(dead_code)]

use std::ops::Range;

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
