//! Two services under faults (`replikv::services`): the invariants hold
//! with idempotency and compensation on, and fail with either off.

use replikv::services::shop::{Defences, Shop, Violation};

fn shop(seed: u64, idempotency: bool, compensation: bool, faults: bool) -> Shop {
    Shop {
        seed,
        orders: 30,
        defences: Defences {
            idempotency,
            compensation,
        },
        faults,
    }
}

#[test]
fn with_both_defences_the_invariants_hold_under_crashes_partitions_loss_and_slow_responses() {
    for seed in 1..=2 {
        let r = shop(seed, true, true, true).run().unwrap();
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
        assert_eq!(r.confirmed + r.cancelled, r.accepted, "seed {seed}");
        assert!(
            r.timeouts > 0 && r.retries > 0,
            "seed {seed}: the faults must bite: {r:?}"
        );
        assert!(
            r.queue.redeliveries > 0,
            "seed {seed}: the worker must crash mid-order: {r:?}"
        );
        assert!(r.refunds > 0, "seed {seed}: some sagas must compensate");
    }
}

#[test]
fn without_idempotency_retries_and_redeliveries_charge_orders_twice() {
    let r = shop(1, false, true, true).run().unwrap();
    assert!(
        r.violations
            .iter()
            .any(|v| matches!(v, Violation::ChargedTwice { .. })),
        "{r:?}"
    );
}

#[test]
fn without_compensation_cancelled_orders_keep_their_charge() {
    let r = shop(1, true, false, true).run().unwrap();
    assert!(
        r.violations
            .iter()
            .any(|v| matches!(v, Violation::ChargeWithoutOrder { .. })),
        "{r:?}"
    );
    assert_eq!(r.refunds, 0);
}

#[test]
fn without_faults_idempotency_is_never_exercised() {
    // The same run as above, minus the faults: no timeout, no redelivery,
    // so the missing idempotency does no harm — it is faults that need it.
    let r = shop(1, false, true, false).run().unwrap();
    assert_eq!((r.timeouts, r.queue.redeliveries), (0, 0));
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}
