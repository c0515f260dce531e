//! The orders and payments services, a run of them under faults, and the
//! invariant checker (see the [module docs](super)).
//!
//! - Orders (its own Raft cluster) keeps `order/ID` — the saga's state:
//!   `accepted`, `charged`, `compensating`, then `confirmed` or
//!   `cancelled` — and the queue `orders.placed`.
//! - Payments (another Raft cluster) keeps `account/ID`: how many times
//!   the order was charged and refunded, and whether it is closed.
//! - The saga: accept → charge (payments; declined above
//!   [`CARD_LIMIT`]) → ship (refused for every [`SHIP_REFUSED_EVERY`]th
//!   order) → confirm; a failed or unknown charge, or a refused shipment,
//!   leads to compensating → refund (payments) → cancelled.
//!
//! ```
//! use replikv::services::shop::{Defences, Shop};
//! let report = Shop { orders: 10, ..Shop::default() }.run()?;
//! assert!(report.violations.is_empty(), "{:?}", report.violations);
//! assert_eq!(report.confirmed + report.cancelled, report.accepted);
//! # Ok::<(), replikv::Error>(())
//! ```

use super::{Link, backoff};
use crate::client::Client;
use crate::codec;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::network::Latency;
use crate::queue::{Delivery, MessageId, Queue, QueueConfig, QueueCounts};
use crate::{Cluster, Consistency, Runtime};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Payments declines a charge above this amount.
pub const CARD_LIMIT: u64 = 900;
/// Shipping refuses every order whose number is a multiple of this.
pub const SHIP_REFUSED_EVERY: u64 = 7;
/// The queue orders are placed on.
pub const ORDERS_QUEUE: &str = "orders.placed";

/// The two defences the checker depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defences {
    /// Payments handlers deduplicate by order id (and a refund closes the
    /// account, so a late charge is refused); the orders worker resumes a
    /// redelivered order from its saved state instead of starting over.
    pub idempotency: bool,
    /// A failed or unknown charge, or a refused shipment, is refunded
    /// before the order is cancelled.
    pub compensation: bool,
}

impl Default for Defences {
    /// Both on.
    fn default() -> Self {
        Defences {
            idempotency: true,
            compensation: true,
        }
    }
}

/// One run of the two services.
#[derive(Clone, Debug, PartialEq)]
pub struct Shop {
    /// Seed of both clusters, the link, the faults and the order amounts.
    pub seed: u64,
    /// Orders placed.
    pub orders: usize,
    /// The defences.
    pub defences: Defences,
    /// Faults: node crashes and partitions on both sides, a lossy and slow
    /// link, and an orders worker that crashes mid-order.
    pub faults: bool,
}

impl Default for Shop {
    /// Seed 1, 30 orders, both defences on, faults on.
    fn default() -> Self {
        Shop {
            seed: 1,
            orders: 30,
            defences: Defences::default(),
            faults: true,
        }
    }
}

/// What a run did, and what the checker found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShopReport {
    /// The seed that replays it.
    pub seed: u64,
    /// Orders accepted (their place-order send was acknowledged).
    pub accepted: u64,
    /// Orders confirmed.
    pub confirmed: u64,
    /// Orders cancelled.
    pub cancelled: u64,
    /// Refunds that payments carried out.
    pub refunds: u64,
    /// Charges payments carried out (duplicates included).
    pub charges: u64,
    /// Request/response calls between the services, and how many timed out.
    pub calls: u64,
    /// Calls that timed out.
    pub timeouts: u64,
    /// Retries after a timeout.
    pub retries: u64,
    /// The orders queue's counters.
    pub queue: QueueCounts,
    /// Invariant violations; empty means the run is correct.
    pub violations: Vec<Violation>,
    /// Virtual time the run took, in nanoseconds (the orders cluster's clock).
    pub elapsed_ns: u64,
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Violation {
    /// An order was charged more than once.
    ChargedTwice {
        /// The order.
        order: u64,
        /// How many charges.
        charges: u32,
    },
    /// Money kept (charges minus refunds) for an order that is not
    /// confirmed, or does not exist.
    ChargeWithoutOrder {
        /// The order.
        order: u64,
        /// Its state in the orders service (`None`: unknown there).
        state: Option<String>,
    },
    /// An accepted order is not settled: neither confirmed and charged
    /// once, nor cancelled and charged nothing.
    Unsettled {
        /// The order.
        order: u64,
        /// Its state.
        state: Option<String>,
        /// Charges minus refunds.
        kept: i64,
    },
}

/// What payments keeps per order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Charges carried out.
    pub charges: u32,
    /// Refunds carried out.
    pub refunds: u32,
    /// Refunded (or refunded before any charge): a later charge is refused.
    pub closed: bool,
}

/// What a placed order says.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct PlaceOrder {
    order: u64,
    amount: u64,
}

/// Payments' answer to a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charge {
    Charged,
    Declined,
}

/// The final states of both services, for [`check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Orders whose place-order send was acknowledged.
    pub accepted: Vec<u64>,
    /// The orders service's state per order.
    pub orders: BTreeMap<u64, String>,
    /// The payments service's account per order.
    pub accounts: BTreeMap<u64, Account>,
}

/// The invariants: no order charged twice; no money kept without a
/// confirmed order; every accepted order confirmed with one charge kept,
/// or cancelled with none.
///
/// ```
/// use replikv::services::shop::{check, Account, Outcome, Violation};
/// let mut outcome = Outcome::default();
/// outcome.accepted.push(1);
/// outcome.orders.insert(1, "confirmed".into());
/// outcome.accounts.insert(1, Account { charges: 1, refunds: 0, closed: false });
/// assert!(check(&outcome).is_empty());
/// outcome.accounts.insert(1, Account { charges: 2, refunds: 0, closed: false });
/// assert!(matches!(check(&outcome)[0], Violation::ChargedTwice { order: 1, charges: 2 }));
/// ```
pub fn check(outcome: &Outcome) -> Vec<Violation> {
    let mut violations = Vec::new();
    let kept = |order: &u64| {
        outcome
            .accounts
            .get(order)
            .map_or(0, |a| i64::from(a.charges) - i64::from(a.refunds))
    };
    for (&order, account) in &outcome.accounts {
        if account.charges > 1 {
            violations.push(Violation::ChargedTwice {
                order,
                charges: account.charges,
            });
        }
        let state = outcome.orders.get(&order);
        if kept(&order) > 0 && state.map(String::as_str) != Some("confirmed") {
            violations.push(Violation::ChargeWithoutOrder {
                order,
                state: state.cloned(),
            });
        }
    }
    for order in &outcome.accepted {
        let state = outcome.orders.get(order).map(String::as_str);
        let settled = matches!(
            (state, kept(order)),
            (Some("confirmed"), 1) | (Some("cancelled"), 0)
        );
        if !settled {
            violations.push(Violation::Unsettled {
                order: *order,
                state: state.map(str::to_string),
                kept: kept(order),
            });
        }
    }
    violations
}

fn raft(seed: u64) -> Result<Cluster> {
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .durability(crate::storage::Durability::FlushBeforeAck)
        .seed(seed)
        .record_history(false)
        .latency(Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(3),
        })
        .build()
}

/// Everything the orders worker needs.
struct World {
    orders: Cluster,
    payments: Cluster,
    pay_client: Client,
    link: Link,
    defences: Defences,
    retries: u64,
    attempt_seed: u64,
}

const CALL_TIMEOUT: Duration = Duration::from_millis(300);
const RETRIES: usize = 5;

impl World {
    /// Calls payments with retries (backoff and jitter on the orders
    /// clock); `Err(Timeout)` once they are exhausted.
    fn call_payments<T>(&mut self, mut handler: impl FnMut(&mut Client) -> Result<T>) -> Result<T> {
        self.attempt_seed += 1;
        let mut delays = backoff(self.attempt_seed, RETRIES);
        loop {
            let pay_client = &mut self.pay_client;
            let result = self
                .link
                .call(&self.orders, &self.payments, CALL_TIMEOUT, || {
                    handler(pay_client)
                });
            match result {
                Err(Error::Timeout(_)) => match delays.next() {
                    Some(delay) => {
                        self.retries += 1;
                        self.orders.run_for(delay);
                    }
                    None => return result,
                },
                other => return other,
            }
        }
    }

    /// Payments' charge handler.
    fn charge(&mut self, order: u64, amount: u64) -> Result<Charge> {
        let idempotent = self.defences.idempotency;
        self.call_payments(|client| {
            if amount > CARD_LIMIT {
                return Ok(Charge::Declined);
            }
            update_account(client, order, |account| {
                if idempotent && account.closed {
                    return (account, Charge::Declined);
                }
                if idempotent && account.charges > 0 {
                    return (account, Charge::Charged);
                }
                let charged = Account {
                    charges: account.charges + 1,
                    ..account
                };
                (charged, Charge::Charged)
            })
        })
    }

    /// Payments' refund handler.
    fn refund(&mut self, order: u64) -> Result<()> {
        let idempotent = self.defences.idempotency;
        self.call_payments(|client| {
            update_account(client, order, |account| {
                let refunds = if account.refunds < account.charges {
                    if idempotent {
                        account.charges
                    } else {
                        account.refunds + 1
                    }
                } else {
                    account.refunds
                };
                let closed = Account {
                    refunds,
                    closed: idempotent || account.closed,
                    ..account
                };
                (closed, ())
            })
        })
    }
}

/// A read-modify-write of `account/ORDER` by compare-and-set.
fn update_account<T>(
    client: &mut Client,
    order: u64,
    f: impl Fn(Account) -> (Account, T),
) -> Result<T> {
    let key = format!("account/{order}");
    loop {
        let raw = client.get(&key)?;
        let account = match &raw {
            None => Account::default(),
            Some(bytes) => codec::decode(bytes).map_err(Error::Decode)?,
        };
        let (new, answer) = f(account);
        if new == account {
            return Ok(answer);
        }
        let bytes = codec::encode(&new).map_err(Error::Encode)?;
        if client.compare_and_set(&key, raw.as_deref(), Some(&bytes))? {
            return Ok(answer);
        }
    }
}

/// Moves `order/ID` from `from` to `to`; false when it was not at `from`.
fn advance(queue: &mut Queue, order: u64, from: Option<&str>, to: &str) -> Result<bool> {
    let key = format!("order/{order}");
    queue
        .client_mut()
        .compare_and_set(key, from.map(str::as_bytes), Some(to.as_bytes()))
}

fn order_state(client: &mut Client, order: u64) -> Result<Option<String>> {
    Ok(client
        .get(format!("order/{order}"))?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// What the worker did with one delivery.
enum Step {
    /// The order is settled: acknowledge.
    Done,
    /// Stop without acknowledging (an error, or a crash of the worker).
    Abandon,
}

impl Shop {
    /// Runs it on the simulator and checks the invariants.
    pub fn run(&self) -> Result<ShopReport> {
        let orders = raft(self.seed)?;
        let payments = raft(self.seed.wrapping_add(1000))?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5348_4f50);
        let mut link = Link::new(self.seed ^ 0x4c49_4e4b, Duration::from_millis(5));
        if self.faults {
            link.drop = 0.1;
            link.slow = 0.1;
            link.slow_by = Duration::from_secs(1);
        }
        let config = QueueConfig {
            visibility_timeout: Duration::from_secs(20),
            max_deliveries: 50,
        };
        let mut shopper = Queue::open(&orders, ORDERS_QUEUE, config)?;
        let mut worker =
            Queue::open(&orders, ORDERS_QUEUE, config)?.with_metrics(shopper.metrics().clone());
        let mut world = World {
            pay_client: payments.client()?,
            orders,
            payments,
            link,
            defences: self.defences,
            retries: 0,
            attempt_seed: self.seed,
        };
        let mut accepted = Vec::new();
        let mut pending: Option<(MessageId, PlaceOrder)> = None;
        let mut placed = 0u64;
        let mut down: Option<(bool, NodeId, u64)> = None;
        let limit_ns = 3_600_000_000_000u64;
        let mut tick = 0u64;
        loop {
            tick += 1;
            let placing = (placed as usize) < self.orders;
            let faults = self.faults && placing;
            // The nemesis: one node of one side down at a time.
            match down {
                Some((side, node, until)) if !faults || tick >= until => {
                    let cluster = if side { &world.orders } else { &world.payments };
                    if cluster.is_up(node)? {
                        cluster.network().heal();
                    } else {
                        cluster.restart(node)?;
                    }
                    down = None;
                }
                None if faults && tick.is_multiple_of(6) => {
                    let side = rng.random_bool(0.5);
                    let cluster = if side { &world.orders } else { &world.payments };
                    let nodes = cluster.nodes();
                    let node = nodes[rng.random_range(0..nodes.len())];
                    if rng.random_bool(0.5) {
                        cluster.crash(node)?;
                    } else {
                        cluster.network().isolate(node)?;
                    }
                    down = Some((side, node, tick + 3));
                }
                _ => {}
            }
            if !faults {
                world.link.drop = 0.0;
                world.link.slow = 0.0;
            }
            // A shopper places one order per tick (retried with the same id).
            if placing {
                let (id, order) = pending.unwrap_or_else(|| {
                    let order = PlaceOrder {
                        order: placed + 1,
                        amount: rng.random_range(1..1000),
                    };
                    (shopper.next_id(), order)
                });
                let body = codec::encode(&order).map_err(Error::Encode)?;
                match shopper.send_with_id(id, body) {
                    Ok(()) => {
                        accepted.push(order.order);
                        placed += 1;
                        pending = None;
                    }
                    Err(_) => pending = Some((id, order)),
                }
            }
            // The orders worker: one delivery per tick.
            let crash_chance = if faults { 0.15 } else { 0.0 };
            match worker.receive() {
                Ok(Some(delivery)) => {
                    match self.saga(&mut world, &mut worker, &delivery, &mut rng, crash_chance) {
                        Ok(Step::Done) => {
                            let _ = worker.ack(&delivery);
                        }
                        Ok(Step::Abandon) | Err(_) => {
                            // A crashed worker comes back as a fresh handle.
                            worker = Queue::open(&world.orders, ORDERS_QUEUE, config)?
                                .with_metrics(shopper.metrics().clone());
                        }
                    }
                }
                Ok(None) if !placing && down.is_none() => {
                    if let Ok(depth) = shopper.depth()
                        && depth.visible == 0
                        && depth.in_flight == 0
                    {
                        break;
                    }
                    world.orders.run_for(Duration::from_secs(1));
                }
                _ => world.orders.run_for(Duration::from_millis(100)),
            }
            if world.orders.clock().now_ns() > limit_ns {
                break;
            }
        }
        if let Some((side, node, _)) = down {
            let cluster = if side { &world.orders } else { &world.payments };
            if !cluster.is_up(node)? {
                cluster.restart(node)?;
            }
        }
        world.orders.network().heal();
        world.payments.network().heal();
        self.collect(world, worker, accepted)
    }

    /// Runs (or resumes) the saga of one placed order.
    fn saga(
        &self,
        world: &mut World,
        worker: &mut Queue,
        delivery: &Delivery,
        rng: &mut ChaCha8Rng,
        crash_chance: f64,
    ) -> Result<Step> {
        let order: PlaceOrder = codec::decode(&delivery.body).map_err(Error::Decode)?;
        let id = order.order;
        // Without idempotency the worker starts every delivery afresh.
        let mut state = if self.defences.idempotency {
            order_state(worker.client_mut(), id)?
        } else {
            worker.client_mut().put(format!("order/{id}"), "accepted")?;
            Some("accepted".to_string())
        };
        loop {
            if rng.random_bool(crash_chance) {
                return Ok(Step::Abandon);
            }
            let current = state.clone();
            let next = match current.as_deref() {
                None => "accepted",
                Some("accepted") => match world.charge(id, order.amount) {
                    Ok(Charge::Charged) => "charged",
                    Ok(Charge::Declined) => "cancelled",
                    // Unknown outcome: it may have been charged.
                    Err(Error::Timeout(_)) => "compensating",
                    Err(e) => return Err(e),
                },
                Some("charged") => {
                    if id.is_multiple_of(SHIP_REFUSED_EVERY) {
                        "compensating"
                    } else {
                        "confirmed"
                    }
                }
                Some("compensating") => {
                    if self.defences.compensation {
                        // Retried until payments answers: a refund must
                        // not be given up (the order stays compensating and
                        // the message comes back).
                        if world.refund(id).is_err() {
                            return Ok(Step::Abandon);
                        }
                    }
                    "cancelled"
                }
                Some(_) => return Ok(Step::Done),
            };
            if advance(worker, id, current.as_deref(), next)? {
                state = Some(next.to_string());
            } else {
                state = order_state(worker.client_mut(), id)?;
            }
        }
    }

    /// Reads both services back and checks them.
    fn collect(
        &self,
        mut world: World,
        mut worker: Queue,
        accepted: Vec<u64>,
    ) -> Result<ShopReport> {
        let mut outcome = Outcome {
            accepted: accepted.clone(),
            ..Outcome::default()
        };
        for &order in &accepted {
            if let Some(state) = retry(|| order_state(worker.client_mut(), order))? {
                outcome.orders.insert(order, state);
            }
            let key = format!("account/{order}");
            if let Some(bytes) = retry(|| world.pay_client.get(&key))? {
                let account: Account = codec::decode(&bytes).map_err(Error::Decode)?;
                outcome.accounts.insert(order, account);
            }
        }
        let count = |s: &str| outcome.orders.values().filter(|v| *v == s).count() as u64;
        Ok(ShopReport {
            seed: self.seed,
            accepted: accepted.len() as u64,
            confirmed: count("confirmed"),
            cancelled: count("cancelled"),
            refunds: outcome
                .accounts
                .values()
                .map(|a| u64::from(a.refunds))
                .sum(),
            charges: outcome
                .accounts
                .values()
                .map(|a| u64::from(a.charges))
                .sum(),
            calls: world.link.calls,
            timeouts: world.link.timeouts,
            retries: world.retries,
            queue: worker.metrics().counts(),
            violations: check(&outcome),
            elapsed_ns: world.orders.clock().now_ns(),
        })
    }
}

/// Retries a read that failed on a timeout or an unavailable cluster.
fn retry<T>(mut op: impl FnMut() -> Result<T>) -> Result<T> {
    let mut last = None;
    for _ in 0..20 {
        match op() {
            Err(e @ (Error::Timeout(_) | Error::Unavailable(_))) => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| Error::Unavailable("no attempt".into())))
}
