//! A measured queue run on the simulator: producers, consumers that crash
//! mid-message, node crashes, partitions, message loss and duplication —
//! and what came out: every acknowledged message applied, how many effects
//! were duplicated, and the queue's own figures.
//!
//! The consumers' effect: each message appends its id to one of a few
//! shared "account" records ([`exactly_once::apply_once`] when
//! [`QueueRun::dedup`] is on, [`exactly_once::apply_always`] when off). At
//! the end the run reads the accounts back and counts, per message, how
//! many times it was applied: zero for an acknowledged send is a **loss**
//! (unless it went to the dead-letter queue), more than one is a
//! **duplicated effect**.
//!
//! ```
//! use replikv::queue::run::QueueRun;
//! let report = QueueRun { messages: 20, ..QueueRun::default() }.run()?;
//! assert!(report.lost.is_empty());
//! assert_eq!(report.duplicated_effects, 0, "dedup is on by default");
//! # Ok::<(), replikv::Error>(())
//! ```

use super::exactly_once::{self, apply_always, apply_once};
use super::{DepthSample, LatencySummary, MessageId, Queue, QueueConfig, QueueCounts};
use crate::codec;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::network::Latency;
use crate::{Cluster, Consistency, Runtime};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The settings of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueRun {
    /// Seed of the cluster, the faults and the consumers' crashes.
    pub seed: u64,
    /// Nodes of the (Raft) cluster.
    pub nodes: usize,
    /// Messages to send.
    pub messages: usize,
    /// Consumers, interleaved one operation at a time.
    pub consumers: usize,
    /// The queue's settings.
    pub config: QueueConfig,
    /// Deduplicate effects by message id ([`exactly_once::apply_once`]).
    pub dedup: bool,
    /// Chance that a consumer crashes after applying a message's effect and
    /// before acknowledging it (it comes back as a fresh handle).
    pub consumer_crash: f64,
    /// Chance that the network drops a message.
    pub drop: f64,
    /// Chance that the network duplicates a message.
    pub duplicate: f64,
    /// Crash and restart one node at a time, over and over.
    pub node_crashes: bool,
    /// Isolate one node at a time, over and over.
    pub partitions: bool,
}

impl Default for QueueRun {
    /// 3 nodes, 40 messages, 2 consumers, a 2 s visibility timeout, 4
    /// deliveries, dedup on, consumers crash 20% of the time, no network
    /// faults.
    fn default() -> Self {
        QueueRun {
            seed: 1,
            nodes: 3,
            messages: 40,
            consumers: 2,
            config: QueueConfig {
                visibility_timeout: Duration::from_secs(2),
                max_deliveries: 4,
            },
            dedup: true,
            consumer_crash: 0.2,
            drop: 0.0,
            duplicate: 0.0,
            node_crashes: false,
            partitions: false,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueRunReport {
    /// The seed that replays it.
    pub seed: u64,
    /// Sends acknowledged.
    pub acknowledged_sends: u64,
    /// The queue's counters (all handles together).
    pub counts: QueueCounts,
    /// Send-to-acknowledgement latency.
    pub latency: LatencySummary,
    /// Queue depth over time.
    pub depth: Vec<DepthSample>,
    /// Effects applied (every application, duplicates included).
    pub effects: u64,
    /// Applications beyond the first of a message.
    pub duplicated_effects: u64,
    /// Messages found in the dead-letter queue.
    pub dead_letters: u64,
    /// Acknowledged sends never applied nor dead-lettered: must be empty.
    pub lost: Vec<String>,
    /// Whether the queue drained (nothing visible or in flight at the end).
    pub drained: bool,
    /// Virtual time the run took, in nanoseconds.
    pub elapsed_ns: u64,
}

/// Accounts the effects are spread over.
const ACCOUNTS: u64 = 4;
/// The name of the queue a run uses.
pub const QUEUE: &str = "work";

impl QueueRun {
    /// Runs it on the simulator.
    pub fn run(&self) -> Result<QueueRunReport> {
        if self.consumers == 0 || self.nodes == 0 {
            return Err(Error::InvalidConfig(
                "a queue run needs at least one node and one consumer".into(),
            ));
        }
        for p in [self.consumer_crash, self.drop, self.duplicate] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidConfig(format!(
                    "a probability must be within 0..=1, not {p}"
                )));
            }
        }
        let cluster = Cluster::builder()
            .runtime(Runtime::Simulated)
            .nodes(self.nodes)
            .consistency(Consistency::Consensus)
            .durability(crate::storage::Durability::FlushBeforeAck)
            // A node crash is a power cut: unflushed writes are gone.
            .lose_unflushed_on_crash(true)
            .seed(self.seed)
            .record_history(false)
            .latency(Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(3),
            })
            .build()?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5155_4555_4555);
        let mut producer = Queue::open(&cluster, QUEUE, self.config)?;
        let metrics = producer.metrics().clone();
        let mut consumers = (0..self.consumers)
            .map(|_| Ok(Queue::open(&cluster, QUEUE, self.config)?.with_metrics(metrics.clone())))
            .collect::<Result<Vec<_>>>()?;
        cluster.network().set_drop_probability(self.drop)?;
        cluster
            .network()
            .set_duplicate_probability(self.duplicate)?;

        let mut acknowledged: Vec<MessageId> = Vec::new();
        let mut pending: Option<MessageId> = None;
        let mut sent = 0;
        let mut down: Option<(NodeId, u64)> = None;
        let nodes = cluster.nodes();
        let limit_ns = 600_000_000_000u64; // ten virtual minutes
        let mut tick: u64 = 0;
        let mut drained = false;
        loop {
            tick += 1;
            let faults_on = sent < self.messages;
            // The nemesis: one node down (crashed or isolated) at a time.
            match down {
                Some((node, until)) if !faults_on || tick >= until => {
                    if cluster.is_up(node)? {
                        cluster.network().heal();
                    } else {
                        cluster.restart(node)?;
                    }
                    down = None;
                }
                None if faults_on
                    && (self.node_crashes || self.partitions)
                    && tick.is_multiple_of(10) =>
                {
                    let node = nodes[rng.random_range(0..nodes.len())];
                    let crash = self.node_crashes && (!self.partitions || rng.random_bool(0.5));
                    if crash {
                        cluster.crash(node)?;
                    } else {
                        cluster.network().isolate(node)?;
                    }
                    down = Some((node, tick + 5));
                }
                _ => {}
            }
            if !faults_on {
                cluster.network().set_drop_probability(0.0)?;
                cluster.network().set_duplicate_probability(0.0)?;
            }
            // The producer: one send per tick, retried with the same id.
            if sent < self.messages {
                let id = pending.unwrap_or_else(|| producer.next_id());
                match producer.send_with_id(id, format!("message {sent}")) {
                    Ok(()) => {
                        acknowledged.push(id);
                        pending = None;
                        sent += 1;
                    }
                    Err(_) => pending = Some(id),
                }
            }
            // Each consumer: one message per tick.
            let mut idle = true;
            for consumer in consumers.iter_mut() {
                let Ok(Some(delivery)) = consumer.receive() else {
                    continue;
                };
                idle = false;
                let account = format!("account/{}", delivery.id.number % ACCOUNTS);
                let id = delivery.id;
                let effect = |old: Option<&[u8]>| append_id(old, id);
                let applied = if self.dedup {
                    apply_once(consumer.client_mut(), &account, id, effect).map(|_| ())
                } else {
                    apply_always(consumer.client_mut(), &account, effect)
                };
                if applied.is_err() {
                    continue; // not acknowledged: it comes back
                }
                if rng.random_bool(self.consumer_crash) {
                    // Crashed between the effect and the ack: a new process
                    // opens a new handle; the delivery is forgotten.
                    *consumer =
                        Queue::open(&cluster, QUEUE, self.config)?.with_metrics(metrics.clone());
                    continue;
                }
                let _ = consumer.ack(&delivery);
            }
            if (tick.is_multiple_of(5) || (idle && !faults_on))
                && let Ok(depth) = producer.depth()
                && !faults_on
                && down.is_none()
                && depth.visible == 0
                && depth.in_flight == 0
            {
                drained = true;
                break;
            }
            if idle {
                cluster.run_for(Duration::from_millis(100));
            }
            if cluster.clock().now_ns() > limit_ns {
                break;
            }
        }
        if let Some((node, _)) = down
            && !cluster.is_up(node)?
        {
            cluster.restart(node)?;
        }
        cluster.network().heal();
        self.collect(&cluster, producer, acknowledged, drained)
    }

    /// Reads the accounts and the dead-letter queue back and compares.
    fn collect(
        &self,
        cluster: &Cluster,
        mut producer: Queue,
        acknowledged: Vec<MessageId>,
        drained: bool,
    ) -> Result<QueueRunReport> {
        let mut applied: BTreeMap<MessageId, u64> = BTreeMap::new();
        let client = producer.client_mut();
        for account in 0..ACCOUNTS {
            let key = format!("account/{account}");
            if let Some(bytes) = retry(|| exactly_once::read(client, &key))? {
                let ids: Vec<MessageId> = codec::decode(&bytes).map_err(Error::Decode)?;
                for id in ids {
                    *applied.entry(id).or_default() += 1;
                }
            }
        }
        let dead_name = producer
            .dead_letter_queue()
            .map(str::to_string)
            .ok_or_else(|| Error::InvalidConfig(format!("{QUEUE} is a dead-letter queue")))?;
        let mut dead = Queue::open(cluster, &dead_name, self.config)?;
        let mut dead_ids = Vec::new();
        while let Some(delivery) = retry(|| dead.receive())? {
            dead_ids.push(delivery.id);
            retry(|| dead.ack(&delivery))?;
        }
        let lost = acknowledged
            .iter()
            .filter(|id| !applied.contains_key(id) && !dead_ids.contains(id))
            .map(MessageId::to_string)
            .collect();
        let effects = applied.values().sum();
        let metrics = producer.metrics().clone();
        Ok(QueueRunReport {
            seed: self.seed,
            acknowledged_sends: acknowledged.len() as u64,
            counts: metrics.counts(),
            latency: metrics.latency(),
            depth: metrics.depth_samples(),
            effects,
            duplicated_effects: effects - applied.len() as u64,
            dead_letters: dead_ids.len() as u64,
            lost,
            drained,
            elapsed_ns: cluster.clock().now_ns(),
        })
    }
}

/// The account's list of applied ids with `id` appended.
fn append_id(old: Option<&[u8]>, id: MessageId) -> Vec<u8> {
    let mut ids: Vec<MessageId> = old
        .and_then(|bytes| codec::decode(bytes).ok())
        .unwrap_or_default();
    ids.push(id);
    codec::encode(&ids).unwrap_or_default()
}

/// Retries an operation that failed on a timeout or an unavailable cluster
/// (faults are healed when this is used), a bounded number of times.
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
