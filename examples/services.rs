//! Two services, orders and payments, each its own Raft cluster, in one
//! process on the simulator. Orders asks payments to charge by
//! request/response with a timeout (retries with backoff and jitter; a
//! request may also arrive late, after the caller gave up) and asks for
//! refunds through a queue (`payments.refunds`, stored in the payments
//! cluster, consumed by payments' worker); shoppers place orders on a
//! queue in the orders cluster. A saga with compensation; an invariant
//! checker over both services' final state.
//!
//! ```sh
//! cargo run --release --example services -- --seed 3                    # defences on, faults on
//! cargo run --release --example services -- --seed 3 --no-idempotency  # charged twice
//! cargo run --release --example services -- --seed 3 --no-compensation # charges kept on cancelled orders
//! ```
//!
//! Exits with a failure when the checker finds a violation although both
//! defences are on; with one switched off, the violations it prints are
//! the point of the run.

use replikv::services::shop::Shop;

fn main() -> Result<(), replikv::Error> {
    let mut shop = Shop::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => {
                shop.seed = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| replikv::Error::InvalidConfig("--seed needs a number".into()))?;
            }
            "--no-idempotency" => shop.defences.idempotency = false,
            "--no-compensation" => shop.defences.compensation = false,
            "--no-faults" => shop.faults = false,
            other => {
                return Err(replikv::Error::InvalidConfig(format!(
                    "unknown argument {other}; use --seed N, --no-idempotency, --no-compensation, --no-faults"
                )));
            }
        }
    }
    let r = shop.run()?;
    println!(
        "shop: seed {}, {} orders, idempotency {}, compensation {}, faults {}",
        r.seed,
        shop.orders,
        on(shop.defences.idempotency),
        on(shop.defences.compensation),
        on(shop.faults)
    );
    println!(
        "orders     {} accepted, {} confirmed, {} cancelled",
        r.accepted, r.confirmed, r.cancelled
    );
    println!("payments   {} charges, {} refunds", r.charges, r.refunds);
    println!(
        "calls      {} ({} timed out, {} retries, {} charges arrived late, {} of them refused)",
        r.calls, r.timeouts, r.retries, r.late_charges, r.late_charges_refused
    );
    println!(
        "orders q   {} deliveries, {} redeliveries",
        r.queue.deliveries, r.queue.redeliveries
    );
    println!(
        "refunds q  {} sent, {} deliveries, {} redeliveries",
        r.refunds_queue.sent, r.refunds_queue.deliveries, r.refunds_queue.redeliveries
    );
    println!("violations {}", r.violations.len());
    for v in r.violations.iter().take(5) {
        println!("  {v:?}");
    }
    let defended = shop.defences.idempotency && shop.defences.compensation;
    if r.violations.is_empty() || !defended {
        Ok(())
    } else {
        Err(replikv::Error::Protocol(format!(
            "{} invariant violations",
            r.violations.len()
        )))
    }
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}
