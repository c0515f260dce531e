//! The orders and payments services, a run of them under faults, and the
//! invariant checker (see the [module docs](super)).
//!
//! - Orders (its own Raft cluster) keeps `order/ID` — the saga's state:
//!   `accepted`, `charged`, `compensating`, then `confirmed` or
//!   `cancelled` — and the queue `orders.placed`.
//! - Payments (another Raft cluster) keeps `account/ID`: how many times
//!   the order was charged and refunded, and whether it is closed — and
//!   the queue `payments.refunds`.
//! - The saga: accept → charge (payments, by request/response; declined
//!   above [`CARD_LIMIT`]) → ship (refused for every
//!   [`SHIP_REFUSED_EVERY`]th order) → confirm; a failed or unknown
//!   charge, or a refused shipment, leads to compensating → refund
//!   requested (a message on `payments.refunds`, sent by the orders worker
//!   to the payments cluster) → cancelled. The payments worker takes the
//!   refunds from that queue and carries them out.
//!
//! ```
//! use replikv::services::shop::{Defences, Shop};
//! let report = Shop { orders: 10, ..Shop::default() }.run()?;
//! assert!(report.violations.is_empty(), "{:?}", report.violations);
//! assert_eq!(report.confirmed + report.cancelled, report.accepted);
//! # Ok::<(), replikv::Error>(())
//! ```

use super::{Link, LinkFaults, backoff};
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
/// The queue orders are placed on (in the orders cluster).
pub const ORDERS_QUEUE: &str = "orders.placed";
/// The queue refunds are requested on (in the payments cluster).
pub const REFUNDS_QUEUE: &str = "payments.refunds";

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
    /// Faults: node crashes and partitions on both sides, a link that
    /// loses and delays requests and responses, and workers on both sides
    /// that crash mid-message.
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
    /// Charge requests that reached payments after their caller gave up.
    pub late_charges: u64,
    /// Late charges refused because the account was closed by a refund.
    pub late_charges_refused: u64,
    /// The orders queue's counters.
    pub queue: QueueCounts,
    /// The refunds queue's counters.
    pub refunds_queue: QueueCounts,
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
    /// The account was closed by a refund: too late.
    Closed,
}

/// A charge request, sent from orders to payments over the [`Link`].
#[derive(Clone, Copy, Debug)]
struct ChargeRequest {
    order: u64,
    amount: u64,
}

/// A refund request, sent from orders to payments on [`REFUNDS_QUEUE`].
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct RefundRequest {
    order: u64,
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

/// Everything the workers need.
struct World {
    orders: Cluster,
    payments: Cluster,
    pay_client: Client,
    link: Link<ChargeRequest>,
    defences: Defences,
    retries: u64,
    late_refused: u64,
    attempt_seed: u64,
}

const CALL_TIMEOUT: Duration = Duration::from_millis(300);
const RETRIES: usize = 5;

/// Payments' charge handler.
fn charge_handler(client: &mut Client, idempotent: bool, request: ChargeRequest) -> Result<Charge> {
    if request.amount > CARD_LIMIT {
        return Ok(Charge::Declined);
    }
    update_account(client, request.order, |account| {
        if idempotent && account.closed {
            return (account, Charge::Closed);
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
}

/// Payments' refund handler (the consumer of [`REFUNDS_QUEUE`]).
fn refund_handler(client: &mut Client, idempotent: bool, order: u64) -> Result<()> {
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
}

impl World {
    /// Asks payments to charge, with retries (backoff and jitter on the
    /// orders clock); `Err(Timeout)` once they are exhausted.
    fn charge(&mut self, order: u64, amount: u64) -> Result<Charge> {
        let idempotent = self.defences.idempotency;
        self.attempt_seed += 1;
        let mut delays = backoff(self.attempt_seed, RETRIES);
        let request = ChargeRequest { order, amount };
        loop {
            let pay_client = &mut self.pay_client;
            let result = self
                .link
                .call(&self.orders, &self.payments, CALL_TIMEOUT, request, |r| {
                    charge_handler(pay_client, idempotent, r)
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

    /// Hands payments the charge requests that have arrived late by now.
    fn deliver_late_charges(&mut self) {
        let idempotent = self.defences.idempotency;
        let now = self.orders.clock().now_ns();
        let pay_client = &mut self.pay_client;
        let answers = self.link.deliver_late(&self.payments, now, |r| {
            charge_handler(pay_client, idempotent, r)
        });
        self.late_refused += answers
            .iter()
            .filter(|a| matches!(a, Ok(Charge::Closed)))
            .count() as u64;
        super::align(&self.orders, self.payments.clock().now_ns());
    }

    /// Sends a refund request to payments' queue (the payments cluster's
    /// clock brought to the orders clock first, and back).
    fn request_refund(&mut self, refunds: &mut Queue, order: u64) -> Result<()> {
        super::align(&self.payments, self.orders.clock().now_ns());
        let body = codec::encode(&RefundRequest { order }).map_err(Error::Encode)?;
        let sent = refunds.send(body);
        super::align(&self.orders, self.payments.clock().now_ns());
        sent.map(|_| ())
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

/// The two queues' handles: the shopper's and the orders worker's on
/// `orders.placed`, the orders worker's sender and the payments worker's
/// on `payments.refunds`.
struct Queues {
    shopper: Queue,
    worker: Queue,
    refund_sender: Queue,
    refund_worker: Queue,
}

impl Queues {
    fn open(orders: &Cluster, payments: &Cluster, config: QueueConfig) -> Result<Queues> {
        let shopper = Queue::open(orders, ORDERS_QUEUE, config)?;
        let worker =
            Queue::open(orders, ORDERS_QUEUE, config)?.with_metrics(shopper.metrics().clone());
        let refund_sender = Queue::open(payments, REFUNDS_QUEUE, config)?;
        let refund_worker = Queue::open(payments, REFUNDS_QUEUE, config)?
            .with_metrics(refund_sender.metrics().clone());
        Ok(Queues {
            shopper,
            worker,
            refund_sender,
            refund_worker,
        })
    }
}

impl Shop {
    /// Runs it on the simulator and checks the invariants.
    pub fn run(&self) -> Result<ShopReport> {
        let orders = raft(self.seed)?;
        let payments = raft(self.seed.wrapping_add(1000))?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5348_4f50);
        let mut link = Link::new(self.seed ^ 0x4c49_4e4b, Duration::from_millis(5));
        if self.faults {
            link.set_faults(LinkFaults {
                drop: 0.1,
                slow: 0.1,
                slow_by: Duration::from_secs(1),
                late: 0.2,
                late_by: Duration::from_secs(10),
            })?;
        }
        let config = QueueConfig {
            visibility_timeout: Duration::from_secs(20),
            max_deliveries: 50,
        };
        let mut q = Queues::open(&orders, &payments, config)?;
        let mut world = World {
            pay_client: payments.client()?,
            orders,
            payments,
            link,
            defences: self.defences,
            retries: 0,
            late_refused: 0,
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
                world.link.set_faults(LinkFaults::default())?;
            }
            // A shopper places one order per tick (retried with the same id).
            if placing {
                let (id, order) = pending.unwrap_or_else(|| {
                    let order = PlaceOrder {
                        order: placed + 1,
                        amount: rng.random_range(1..1000),
                    };
                    (q.shopper.next_id(), order)
                });
                let body = codec::encode(&order).map_err(Error::Encode)?;
                match q.shopper.send_with_id(id, body) {
                    Ok(()) => {
                        accepted.push(order.order);
                        placed += 1;
                        pending = None;
                    }
                    Err(_) => pending = Some((id, order)),
                }
            }
            let crash_chance = if faults { 0.15 } else { 0.0 };
            // The payments worker: one refund per tick, on its own queue.
            self.refund_step(&mut world, &mut q, config, &mut rng)?;
            world.deliver_late_charges();
            // The orders worker: one delivery per tick.
            match q.worker.receive() {
                Ok(Some(delivery)) => {
                    let step = self.saga(
                        &mut world,
                        &mut q.worker,
                        &mut q.refund_sender,
                        &delivery,
                        &mut rng,
                        crash_chance,
                    );
                    match step {
                        Ok(Step::Done) => {
                            let _ = q.worker.ack(&delivery);
                        }
                        Ok(Step::Abandon) | Err(_) => {
                            // A crashed worker comes back as a fresh handle.
                            q.worker = Queue::open(&world.orders, ORDERS_QUEUE, config)?
                                .with_metrics(q.shopper.metrics().clone());
                        }
                    }
                }
                Ok(None) if !placing && down.is_none() => {
                    if world.link.in_transit() == 0 && self.drained(&mut world, &mut q) {
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
        self.collect(world, q, accepted)
    }

    /// Both queues empty (nothing visible, nothing in flight).
    fn drained(&self, world: &mut World, q: &mut Queues) -> bool {
        super::align(&world.payments, world.orders.clock().now_ns());
        let empty = |d: Result<crate::queue::DepthSample>| matches!(d, Ok(d) if d.visible == 0 && d.in_flight == 0);
        empty(q.shopper.depth()) && empty(q.refund_sender.depth())
    }

    /// The payments worker takes one refund request, if any, and carries
    /// it out (or crashes before acknowledging it: with faults on, a first
    /// delivery does so with chance 0.3, after the refund and before the
    /// acknowledgement).
    fn refund_step(
        &self,
        world: &mut World,
        q: &mut Queues,
        config: QueueConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        super::align(&world.payments, world.orders.clock().now_ns());
        if let Ok(Some(delivery)) = q.refund_worker.receive() {
            let crash_chance = if self.faults && delivery.delivery == 1 {
                0.3
            } else {
                0.0
            };
            let request: RefundRequest = codec::decode(&delivery.body).map_err(Error::Decode)?;
            let idempotent = self.defences.idempotency;
            let done = refund_handler(q.refund_worker.client_mut(), idempotent, request.order);
            if done.is_ok() && !rng.random_bool(crash_chance) {
                let _ = q.refund_worker.ack(&delivery);
            } else {
                // Crashed (after or before the refund): a fresh handle; the
                // request comes back after its visibility timeout.
                q.refund_worker = Queue::open(&world.payments, REFUNDS_QUEUE, config)?
                    .with_metrics(q.refund_sender.metrics().clone());
            }
        }
        super::align(&world.orders, world.payments.clock().now_ns());
        Ok(())
    }

    /// Runs (or resumes) the saga of one placed order.
    fn saga(
        &self,
        world: &mut World,
        worker: &mut Queue,
        refunds: &mut Queue,
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
                    Ok(Charge::Declined | Charge::Closed) => "cancelled",
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
                        // The refund must not be given up: if payments'
                        // queue cannot take it now, the order stays
                        // compensating and the message comes back.
                        if world.request_refund(refunds, id).is_err() {
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
    fn collect(&self, mut world: World, mut q: Queues, accepted: Vec<u64>) -> Result<ShopReport> {
        let outcome = outcome(
            &world.payments,
            q.worker.client_mut(),
            &mut world.pay_client,
            accepted,
        )?;
        let count = |s: &str| outcome.orders.values().filter(|v| *v == s).count() as u64;
        Ok(ShopReport {
            seed: self.seed,
            accepted: outcome.accepted.len() as u64,
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
            calls: world.link.calls(),
            timeouts: world.link.timeouts(),
            retries: world.retries,
            late_charges: world.link.late_requests(),
            late_charges_refused: world.late_refused,
            queue: q.worker.metrics().counts(),
            refunds_queue: q.refund_sender.metrics().counts(),
            violations: check(&outcome),
            elapsed_ns: world.orders.clock().now_ns(),
        })
    }
}

/// Both services' final state: the accepted orders' states, and *every*
/// account payments holds (found in its nodes' stores, read through the
/// client) — a charge for an order nobody accepted is reported too — with
/// the orders' state of each.
fn outcome(
    payments: &Cluster,
    orders_client: &mut Client,
    pay_client: &mut Client,
    accepted: Vec<u64>,
) -> Result<Outcome> {
    let mut charged = std::collections::BTreeSet::new();
    for node in payments.nodes() {
        for (key, _) in payments.store(node)?.records()? {
            if let Some(order) = key
                .strip_prefix(b"account/")
                .and_then(|id| std::str::from_utf8(id).ok())
                .and_then(|id| id.parse::<u64>().ok())
            {
                charged.insert(order);
            }
        }
    }
    let mut outcome = Outcome::default();
    for &order in accepted.iter().chain(&charged) {
        if let Some(state) = retry(|| order_state(orders_client, order))? {
            outcome.orders.insert(order, state);
        }
        let key = format!("account/{order}");
        if let Some(bytes) = retry(|| pay_client.get(&key))? {
            let account: Account = codec::decode(&bytes).map_err(Error::Decode)?;
            outcome.accounts.insert(order, account);
        }
    }
    outcome.accepted = accepted;
    Ok(outcome)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_for_an_order_nobody_placed_is_reported() {
        let run = || -> Result<Vec<Violation>> {
            let orders = raft(1)?;
            let payments = raft(2)?;
            let mut pay_client = payments.client()?;
            let account = Account {
                charges: 1,
                ..Account::default()
            };
            let bytes = codec::encode(&account).map_err(Error::Encode)?;
            pay_client.put("account/999", bytes)?;
            payments.run_for(Duration::from_secs(1));
            let outcome = outcome(&payments, &mut orders.client()?, &mut pay_client, vec![])?;
            Ok(check(&outcome))
        };
        let violations = run().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            violations,
            vec![Violation::ChargeWithoutOrder {
                order: 999,
                state: None
            }]
        );
    }
}
