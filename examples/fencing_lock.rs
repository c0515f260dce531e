//! A lock with fencing tokens, and the GC pause that breaks a lock without
//! them — on the simulator.
//!
//! A lease lock is built on compare-and-set in consensus mode
//! (`replikv::lab::lock`); each grant carries a fencing token one higher
//! than the last. Two clients take turns incrementing a counter under the
//! lock. Each round the holder reads the counter and then pauses (as a long
//! garbage-collection pause would stop it) for between half a lease and two
//! leases; when the pause outlives the lease, the other client takes the
//! lock, increments the counter and lets go — and then the first one wakes
//! and writes its own increment. The same seeded rounds run twice: once
//! with storage that takes any write, once with storage that refuses a
//! token lower than one it has seen.
//!
//! Run: `cargo run --release --example fencing_lock` (virtual time: the same
//! output on every run).

use replikv::lab::lock::{Fencing, LockScenario, run_scenario};

fn main() -> replikv::Result<()> {
    let scenario = LockScenario::default();
    println!(
        "{} rounds, lease {} ms, pauses of {}–{} ms (seed {})",
        scenario.rounds,
        scenario.lease.as_millis(),
        scenario.lease.as_millis() / 2,
        scenario.lease.as_millis() * 2,
        scenario.seed
    );
    for fencing in [Fencing::Off, Fencing::On] {
        let r = run_scenario(&LockScenario {
            fencing,
            ..scenario.clone()
        })?;
        println!(
            "{fencing:<16}: {} grants (tokens 1..={}, increasing: {}); {} stale writes: \
             {} accepted, {} refused; counter {} of {} acknowledged increments -> {} lost",
            r.grants,
            r.tokens.last().copied().unwrap_or(0),
            r.tokens_increase(),
            r.stale_writes,
            r.stale_writes_accepted,
            r.stale_writes_refused,
            r.counter,
            r.increments_acknowledged,
            r.lost_increments
        );
    }
    Ok(())
}
