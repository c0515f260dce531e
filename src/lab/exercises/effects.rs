//! Exercise 12, message queues: make a consumer's effects exactly-once.
//!
//! A queue delivers at least once: a consumer that crashed after acting on
//! a message and before acknowledging it gets the message again (see
//! [`crate::queue`]). The learner writes the consumer's handler — given a
//! delivered message and the [`Ledger`], apply the message's [`Deposit`] to
//! its [`Account`] — so that every deposit shows up exactly once however
//! often its message is delivered.
//!
//! The grader sends deposits through a queue on a 3-node Raft cluster to
//! two consumer processes, under the faults that cause redeliveries: a
//! consumer process crashes while handling a message (right after one of
//! its writes, or after its handler returned and before the
//! acknowledgement), the network loses and duplicates messages (so
//! acknowledgements and answers are lost), and one node at a time crashes
//! and restarts. A crashed process is replaced by a fresh one — a fresh
//! handler from the learner's factory, with nothing in memory. Once every
//! deposit is sent and acknowledged by the queue, the faults stop and the
//! queue drains; then the grader reads the accounts back and counts, per
//! deposit, its entries: PASS means no deposit applied twice and none
//! missing (Helland, "Idempotence Is Not a Medical Condition", CACM 2012).

use super::Grade;
use super::ledger::{Account, Deposit, Ledger};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::network::Latency;
use crate::queue::{Delivery, MessageId, Queue, QueueConfig};
use crate::{Consistency, Runtime};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::time::Duration;

const EXERCISE: &str = "exercise 12: exactly-once effects";
const EXAMPLE: &str = "exercise_12_exactly_once";
/// Seed of the cluster, the network faults and the crashes.
const SEED: u64 = 12;
/// Deposits sent.
const MESSAGES: usize = 30;
/// Accounts the deposits are spread over.
const ACCOUNTS: usize = 3;
/// Consumer processes.
const CONSUMERS: usize = 2;
/// Chance that a consumer process crashes while handling a message.
const CONSUMER_CRASH: f64 = 0.3;
/// A crashing process dies right after its first, second or third write
/// request; if the handler makes fewer, after it returned (before the ack).
const CRASH_POINTS: usize = 3;
/// Chance the network drops, and duplicates, a message while deposits are
/// being sent.
const NETWORK_FAULT: f64 = 0.05;
/// The queue hides a delivered message for 2 s; after 50 deliveries it
/// gives up (a right answer never gets near).
const CONFIG: QueueConfig = QueueConfig {
    visibility_timeout: Duration::from_secs(2),
    max_deliveries: 50,
};
/// The run gives up after ten virtual minutes.
const LIMIT_NS: u64 = 600_000_000_000;

/// Grades a consumer: `new_consumer()` starts one consumer process and
/// returns its handler, which is called with each message the process
/// receives and the [`Ledger`] it may use; `Ok(())` tells the grader to
/// acknowledge the message, an error leaves it to be delivered again.
///
/// ```no_run
/// use replikv::lab::exercises::{Account, Deposit, Ledger, grade_exactly_once};
/// use replikv::queue::Delivery;
/// // Applying every delivery blindly duplicates redelivered deposits.
/// let grade = grade_exactly_once(|| {
///     |message: &Delivery, ledger: &mut Ledger<'_>| {
///         let deposit = Deposit::of(message)?;
///         loop {
///             let old = ledger.account(&deposit.account)?;
///             let mut new = old.clone().unwrap_or_default();
///             new.entries.push(deposit.entry.clone());
///             if ledger.swap_account(&deposit.account, old.as_ref(), &new)? {
///                 return Ok(());
///             }
///         }
///     }
/// });
/// assert!(!grade.passed);
/// ```
pub fn grade_exactly_once<F, H>(new_consumer: F) -> Grade
where
    F: Fn() -> H,
    H: FnMut(&Delivery, &mut Ledger<'_>) -> Result<()>,
{
    grade_exactly_once_with_seed(new_consumer, None)
}

/// [`grade_exactly_once`] with another seed (`None`: the exercise's own,
/// 12) — what `cargo run --release --example exercise_12_exactly_once --
/// --seed N` runs.
pub fn grade_exactly_once_with_seed<F, H>(new_consumer: F, seed: Option<u64>) -> Grade
where
    F: Fn() -> H,
    H: FnMut(&Delivery, &mut Ledger<'_>) -> Result<()>,
{
    let seed = seed.unwrap_or(SEED);
    let (cluster, run) = match run(&new_consumer, seed) {
        Ok(run) => run,
        Err(e) => {
            return Grade::could_not_run(
                EXERCISE,
                &e,
                "the queue run failed before your handler could be judged",
            );
        }
    };
    let passed = run.drained && run.duplicated == 0 && run.lost.is_empty() && run.foreign == 0;
    let measured = format!(
        "{} deposits sent, {} deliveries ({} redeliveries) to consumers that crashed {} times \
         mid-message, {} node crashes, {} acknowledgements failed; {} entries applied: {} \
         duplicated, {} lost{}{}{} [simulated, seed {seed}]",
        MESSAGES,
        run.deliveries,
        run.redeliveries,
        run.consumer_crashes,
        run.node_crashes,
        run.lost_acks,
        run.entries,
        run.duplicated,
        run.lost.len(),
        if run.lost.is_empty() {
            String::new()
        } else {
            format!(" ({})", run.lost.join(", "))
        },
        if run.foreign == 0 {
            String::new()
        } else {
            format!(", {} entries of no deposit", run.foreign)
        },
        if run.drained {
            ""
        } else {
            ", and the queue never drained"
        },
    );
    let explanation = if passed {
        "every deposit shows up exactly once, although its message was delivered again after \
         every crash: delivery is at-least-once, and your handler turned it into exactly-once \
         effects"
            .to_string()
    } else {
        "a queue delivers at least once: a consumer that crashed after acting looks, to the \
         queue, just like one that crashed before, so the message comes back — the handler \
         must make a second delivery harmless, and must never skip a first one"
            .to_string()
    };
    let grade = Grade {
        exercise: EXERCISE,
        passed,
        measured,
        explanation,
        hint: hint(&run),
        replay: Some(super::replay_command(EXAMPLE, seed)),
        history: None,
    }
    .with_history(cluster.history());
    grade.unless_panicked(&cluster.metrics().node_panics())
}

/// The hint for what went wrong.
fn hint(run: &RunOutcome) -> String {
    if run.duplicated > 0 {
        "a redelivered deposit was applied again: remember which messages you applied, by \
         message id, and skip one you have seen — and keep that memory where a crash cannot \
         lose it or split it from the deposit: in the store, in the same account record as the \
         entry, written by the same compare-and-set (memory dies with the process; a separate \
         key can be written without the other when the process crashes in between)"
            .into()
    } else if !run.lost.is_empty() {
        "a message was acknowledged but its deposit is missing: the handler must return Ok only \
         once the deposit is in the store, and a message marked as applied must have its \
         entry — write both in one compare-and-set of the account record"
            .into()
    } else if run.foreign > 0 {
        "an account holds entries that are no deposit's: add exactly the message's \
         `Deposit::entry`"
            .into()
    } else {
        "messages were still in the queue after ten virtual minutes: does your handler return \
         Ok for a deposit it applied, and also for a duplicate it skipped?"
            .into()
    }
}

/// What the graded run measured.
struct RunOutcome {
    deliveries: u64,
    redeliveries: u64,
    consumer_crashes: u64,
    node_crashes: u64,
    lost_acks: u64,
    entries: u64,
    duplicated: u64,
    lost: Vec<String>,
    foreign: u64,
    drained: bool,
}

/// One consumer process: its queue handle and its handler.
struct Process<H> {
    queue: Queue,
    handler: H,
}

/// Runs the deposits through the queue to the learner's consumers under
/// faults, and counts each deposit's entries.
fn run<F, H>(new_consumer: &F, seed: u64) -> Result<(Cluster, RunOutcome)>
where
    F: Fn() -> H,
    H: FnMut(&Delivery, &mut Ledger<'_>) -> Result<()>,
{
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .durability(crate::storage::Durability::FlushBeforeAck)
        .seed(seed)
        .latency(Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(3),
        })
        .build()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4558_4143_544c_5931);
    let mut producer = Queue::open(&cluster, "deposits", CONFIG)?;
    let metrics = producer.metrics().clone();
    let start = |cluster: &Cluster| -> Result<Process<H>> {
        Ok(Process {
            queue: Queue::open(cluster, "deposits", CONFIG)?.with_metrics(metrics.clone()),
            handler: new_consumer(),
        })
    };
    let mut consumers = (0..CONSUMERS)
        .map(|_| start(&cluster))
        .collect::<Result<Vec<_>>>()?;
    cluster.network().set_drop_probability(NETWORK_FAULT)?;
    cluster.network().set_duplicate_probability(NETWORK_FAULT)?;

    let mut sent: BTreeMap<MessageId, String> = BTreeMap::new();
    let mut pending: Option<MessageId> = None;
    let nodes = cluster.nodes();
    let mut down: Option<(NodeId, u64)> = None;
    let (mut consumer_crashes, mut node_crashes, mut lost_acks) = (0, 0, 0);
    let mut tick: u64 = 0;
    let mut drained = false;
    loop {
        tick += 1;
        let faults_on = sent.len() < MESSAGES;
        // The nemesis: one node down at a time while deposits are sent.
        match down {
            Some((node, until)) if !faults_on || tick >= until => {
                cluster.restart(node)?;
                down = None;
            }
            None if faults_on && tick.is_multiple_of(8) => {
                let node = nodes[rng.random_range(0..nodes.len())];
                cluster.crash(node)?;
                node_crashes += 1;
                down = Some((node, tick + 4));
            }
            _ => {}
        }
        if !faults_on {
            cluster.network().set_drop_probability(0.0)?;
            cluster.network().set_duplicate_probability(0.0)?;
        }
        // The producer: one deposit per tick, a failed send retried with
        // the same id (so the queue may hold two copies of it).
        if faults_on {
            let id = pending.unwrap_or_else(|| producer.next_id());
            let deposit = Deposit {
                account: format!("account/{}", sent.len() % ACCOUNTS),
                entry: format!("deposit #{}", sent.len() + 1),
            };
            match producer.send_with_id(id, deposit.to_body()) {
                Ok(()) => {
                    sent.insert(id, deposit.entry);
                    pending = None;
                }
                Err(_) => pending = Some(id),
            }
        }
        // Each consumer process: one message per tick.
        let mut idle = true;
        for slot in consumers.iter_mut() {
            let Ok(Some(message)) = slot.queue.receive() else {
                continue;
            };
            idle = false;
            let crash_after = rng
                .random_bool(CONSUMER_CRASH)
                .then(|| rng.random_range(1..=CRASH_POINTS));
            let handled = {
                let mut ledger = Ledger::new(slot.queue.client_mut(), crash_after);
                (slot.handler)(&message, &mut ledger)
            };
            if crash_after.is_some() {
                // Died mid-message (or after the handler, before the ack):
                // a fresh process, with nothing in memory.
                consumer_crashes += 1;
                *slot = start(&cluster)?;
                continue;
            }
            if handled.is_ok() && slot.queue.ack(&message).is_err() {
                lost_acks += 1;
            }
        }
        if (tick.is_multiple_of(5) || idle)
            && !faults_on
            && down.is_none()
            && let Ok(depth) = producer.depth()
            && depth.visible == 0
            && depth.in_flight == 0
        {
            drained = true;
            break;
        }
        if idle {
            cluster.run_for(Duration::from_millis(100));
        }
        if cluster.clock().now_ns() > LIMIT_NS {
            break;
        }
    }
    if let Some((node, _)) = down {
        cluster.restart(node)?;
    }
    cluster.network().heal();
    cluster.network().set_drop_probability(0.0)?;
    cluster.network().set_duplicate_probability(0.0)?;

    // Count each deposit's entries.
    let by_entry: BTreeMap<&str, MessageId> =
        sent.iter().map(|(id, e)| (e.as_str(), *id)).collect();
    let mut applied: BTreeMap<MessageId, u64> = BTreeMap::new();
    let (mut entries, mut foreign) = (0, 0);
    let client = producer.client_mut();
    for account in 0..ACCOUNTS {
        let key = format!("account/{account}");
        let Some(bytes) = retry(|| client.get(&key))? else {
            continue;
        };
        for entry in Account::decode(&bytes)?.entries {
            entries += 1;
            match by_entry.get(entry.as_str()) {
                Some(id) => *applied.entry(*id).or_default() += 1,
                None => foreign += 1,
            }
        }
    }
    let duplicated = applied.values().map(|n| n - 1).sum();
    let lost = sent
        .iter()
        .filter(|(id, _)| !applied.contains_key(id))
        .map(|(_, entry)| entry.clone())
        .collect();
    let counts = metrics.counts();
    Ok((
        cluster,
        RunOutcome {
            deliveries: counts.deliveries,
            redeliveries: counts.redeliveries,
            consumer_crashes,
            node_crashes,
            lost_acks,
            entries,
            duplicated,
            lost,
            foreign,
            drained,
        },
    ))
}

/// Retries a read that timed out or found no leader (the faults are healed
/// when this is used), a bounded number of times.
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
