//! The fencing-token story (`replikv::lab::lock`), on the simulator: a
//! holder paused past its lease writes after another client took the lock.
//! Without fencing the storage takes the stale write and an acknowledged
//! increment is lost; with fencing the write is refused and none is.

use replikv::lab::lock::{Fencing, LockScenario, run_scenario};

fn scenario(fencing: Fencing, seed: u64) -> LockScenario {
    LockScenario {
        rounds: 12,
        fencing,
        seed,
        ..LockScenario::default()
    }
}

#[test]
fn without_fencing_every_stale_write_is_accepted_and_loses_an_increment() {
    for seed in [1, 2, 3] {
        let r = run_scenario(&scenario(Fencing::Off, seed)).unwrap();
        assert!(
            r.stale_writes > 0,
            "seed {seed}: no pause outlived its lease: {r:?}"
        );
        assert_eq!(
            r.stale_writes_accepted, r.stale_writes,
            "seed {seed}: {r:?}"
        );
        assert_eq!(r.lost_increments, r.stale_writes, "seed {seed}: {r:?}");
        assert!(r.counter < r.increments_acknowledged, "seed {seed}: {r:?}");
        assert!(r.tokens_increase(), "seed {seed}: {:?}", r.tokens);
    }
}

#[test]
fn with_fencing_every_stale_write_is_refused_and_nothing_is_lost() {
    for seed in [1, 2, 3] {
        let r = run_scenario(&scenario(Fencing::On, seed)).unwrap();
        assert!(
            r.stale_writes > 0,
            "seed {seed}: no pause outlived its lease: {r:?}"
        );
        assert_eq!(r.stale_writes_refused, r.stale_writes, "seed {seed}: {r:?}");
        assert_eq!(r.stale_writes_accepted, 0, "seed {seed}: {r:?}");
        assert_eq!(r.lost_increments, 0, "seed {seed}: {r:?}");
        assert_eq!(r.counter, r.increments_acknowledged, "seed {seed}: {r:?}");
        assert!(r.tokens_increase(), "seed {seed}: {:?}", r.tokens);
    }
}

/// Fencing changes what the storage does, not the schedule: the same seed
/// pauses the same rounds past their lease, and hands out the same tokens.
#[test]
fn the_same_seed_pauses_the_same_rounds_with_and_without_fencing() {
    let off = run_scenario(&scenario(Fencing::Off, 5)).unwrap();
    let on = run_scenario(&scenario(Fencing::On, 5)).unwrap();
    assert_eq!(off.stale_writes, on.stale_writes);
    assert_eq!(off.tokens, on.tokens);
    assert_eq!(
        off,
        run_scenario(&scenario(Fencing::Off, 5)).unwrap(),
        "a replay"
    );
}
