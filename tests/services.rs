//! Two services under faults (`replikv::services`): the invariants hold
//! with idempotency and compensation on, and fail with either off.

use replikv::services::shop::{Defences, Shop, Violation};
use replikv::services::{Link, LinkFaults};
use replikv::{Cluster, Error, Runtime};
use std::time::Duration;

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
        // The refunds went through payments' queue, and its worker crashed
        // mid-refund too.
        assert!(r.refunds_queue.acked > 0, "seed {seed}: {r:?}");
        assert!(r.refunds_queue.redeliveries > 0, "seed {seed}: {r:?}");
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

#[test]
fn a_charge_that_arrives_after_the_refund_is_refused() {
    // Late charge requests reach payments after the orders worker gave up
    // on them and compensated: the refund closed the account, so they are
    // refused, and nothing is kept.
    let mut refused = 0;
    for seed in 1..=2 {
        let r = shop(seed, true, true, true).run().unwrap();
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
        assert!(r.late_charges > 0, "seed {seed}: {r:?}");
        refused += r.late_charges_refused;
    }
    assert!(refused > 0, "some late charge must come after its refund");
}

#[test]
fn without_idempotency_a_late_charge_after_the_refund_is_kept() {
    let found = (1..=3).any(|seed| {
        let r = shop(seed, false, true, true).run().unwrap();
        r.violations.iter().any(
            |v| matches!(v, Violation::ChargeWithoutOrder { state: Some(s), .. } if s == "cancelled"),
        )
    });
    assert!(found, "a charge kept on a cancelled order");
}

#[test]
fn a_link_refuses_probabilities_outside_zero_to_one() {
    let mut link: Link<u32> = Link::new(1, Duration::from_millis(1));
    for bad in [1.5, -0.1, f64::NAN] {
        for faults in [
            LinkFaults {
                drop: bad,
                ..LinkFaults::default()
            },
            LinkFaults {
                slow: bad,
                ..LinkFaults::default()
            },
            LinkFaults {
                late: bad,
                ..LinkFaults::default()
            },
        ] {
            assert!(
                matches!(link.set_faults(faults), Err(Error::InvalidConfig(_))),
                "{faults:?}"
            );
        }
    }
    // Nothing was set: a call still works, no panic.
    let a = Cluster::builder()
        .runtime(Runtime::Simulated)
        .build()
        .unwrap();
    let b = Cluster::builder()
        .runtime(Runtime::Simulated)
        .build()
        .unwrap();
    assert_eq!(link.call(&a, &b, Duration::from_secs(1), 1, Ok).unwrap(), 1);
}
