//! Eventual consistency, Dynamo style: tunable N, R and W, sloppy quorums
//! with hinted handoff, read repair, anti-entropy, and last-writer-wins by
//! timestamp.
//!
//! This follows *Dynamo: Amazon's Highly Available Key-value Store*
//! (DeCandia et al., SOSP 2007) and its open-source descendants (Cassandra,
//! Riak), simplified where noted below.
//!
//! # N, R and W
//!
//! Every key is stored on **N** replicas: the first N nodes of its
//! preference list ([`crate::partition`]). N is the cluster's replication
//! factor ([`Context::replication`]). A client sends a request to any node,
//! the *coordinator*:
//!
//! - a **write** (put or delete) is stamped with a version, stored locally if
//!   the coordinator is a replica, sent to the other replicas, and answered
//!   `Done` after **W** of them (the coordinator included) have stored it
//!   durably;
//! - a **read** asks replicas for the key and answers with the newest
//!   version among the first **R** answers. Which replicas it asks is the
//!   [`ReadStrategy`]: exactly R of them (the coordinator first, if it is
//!   one, then the preference list in order; the default, fewest messages),
//!   or all N (Dynamo's and the PBS paper's reads: the R fastest answers
//!   win, and the later ones still feed read repair).
//!
//! The coordinator need not be a replica of the key: with
//! [`crate::CoordinatorPolicy::NonReplica`] a client sends its operations to
//! a node outside the key's N replicas, which stores nothing itself and
//! reaches all N over the network — the setting of the PBS paper's WARS
//! model ([`crate::lab::pbs`]).
//!
//! When **R + W > N**, every read quorum overlaps every write quorum in at
//! least one replica, so — without concurrent writes and without faults that
//! push writes outside the first N nodes — a read sees the latest acknowledged
//! write. With R + W ≤ N (say R = W = 1) reads and writes are faster and
//! survive more failures, but a read may miss a write that is still on its
//! way: a *stale read*. The [`crate::history`] staleness oracle measures how
//! stale, and how often.
//!
//! # Sloppy quorum and hinted handoff
//!
//! A strict quorum becomes unavailable when too many of a key's N replicas
//! are unreachable. Dynamo instead counts acknowledgements from *the first W
//! healthy nodes* of the preference list: if a replica does not answer within
//! [`EventualConfig::hint_after`] (or is already suspected down), the write is
//! sent to the next node beyond the first N with a *hint* naming the intended
//! replica. The hint holder stores it durably, acknowledges (counting toward
//! W), and hands it over once the replica is back ([`hints`]). So writes are
//! accepted on both sides of a partition — at the price that R + W > N no
//! longer guarantees fresh reads while hints are outstanding.
//!
//! # Read repair and anti-entropy
//!
//! A read that sees older versions (or nothing) on some replicas sends them
//! the newest record: **read repair**. Keys that are never read again are
//! repaired by **anti-entropy** (`anti_entropy.rs`): every
//! [`EventualConfig::anti_entropy`] each node compares a digest of the keys it
//! shares with one peer and exchanges the newer records. Once faults heal,
//! every replica of every key converges to the same version
//! ([`crate::Cluster::wait_for_convergence`]).
//!
//! # Last-writer-wins, and why clock skew loses writes
//!
//! Conflicting versions are resolved by **last-writer-wins (LWW)**: the
//! record with the highest [`Version`](crate::storage::Version) wins, and a
//! version is a timestamp from the coordinator's own clock ([`hlc`]), ties
//! broken by node id. Dynamo keeps conflicting siblings with vector clocks
//! and lets the application merge them; Cassandra, like this module, picks
//! the highest timestamp. LWW is simple and converges, but it *discards*
//! writes: of two concurrent writes, one disappears. Worse, timestamps are
//! by default not merged on receipt (see [`hlc`] for why), so a coordinator
//! whose clock runs behind — [`crate::Cluster::set_clock_skew`] — stamps its
//! writes in the past. A write it makes *after* another write (by the global
//! observer's clock) loses to it: acknowledged, then silently gone. That is
//! the lesson. [`EventualConfig::hybrid_clock`] merges received stamps (a
//! full hybrid logical clock), which saves the writes made after their
//! coordinator had heard of the other one — and only those.
//!
//! Deletes are **tombstones**: a record with no value and its own version,
//! so that an older value on a lagging replica cannot resurrect the key.
//!
//! # Faults and outcomes
//!
//! Each pending operation is retransmitted every [`EventualConfig::tick`]
//! until answered. A read that cannot gather R answers before
//! [`EventualConfig::op_deadline`] (300 ms, well below the 1 s client
//! timeout) answers [`Response::Unavailable`](crate::protocol::Response::Unavailable): a read changes nothing. A
//! write that cannot gather W acknowledgements answers [`Response::Failed`](crate::protocol::Response::Failed)
//! (indeterminate): its stores went out and may have been applied.
//! Replicas persist a record before acknowledging it. A crash loses the
//! coordinator's pending operations (their clients time out); hints and
//! records survive in storage.
//!
//! # What is simplified
//!
//! - Versions are single timestamps (LWW), not vector clocks with siblings.
//! - Anti-entropy uses a one-level hash tree (64 XOR-hashed buckets per peer
//!   pair), not Dynamo's Merkle trees per key range.
//! - No gossip or failure detector beyond "this replica did not answer in
//!   time". Membership changes are the cluster's job: it stops the nodes,
//!   copies the moving keys, hands every hint to its key's replicas and
//!   restarts them under the new preference lists
//!   ([`crate::Cluster::add_node`]), where Dynamo streams ranges while serving.
//! - Tombstones are kept forever (Cassandra drops them after `gc_grace_seconds`).
//! - The coordinator is whatever node the client picked; a non-replica
//!   coordinator does not forward to a replica as Dynamo's would, it
//!   coordinates the operation itself, as Cassandra's does.
//!
//! # Example
//!
//! ```
//! // Three nodes, N = 3, R = W = 2: reads overlap writes.
//! use replikv::{Cluster, Consistency, StorageKind};
//! use std::time::Duration;
//! let cluster = Cluster::builder()
//!     .nodes(3)
//!     .storage(StorageKind::Memory)
//!     .consistency(Consistency::Eventual { r: 2, w: 2 })
//!     .build()?;
//! let mut client = cluster.client()?;
//! client.put("colour", "blue")?;
//! assert_eq!(client.get("colour")?, Some(b"blue".to_vec()));
//! client.delete("colour")?;
//! assert_eq!(client.get("colour")?, None);
//! assert!(cluster.wait_for_convergence(Duration::from_secs(5))?);
//! # Ok::<(), replikv::Error>(())
//! ```

mod anti_entropy;
mod coordinator;
pub mod hints;
pub mod hlc;
mod messages;
mod read_strategy;
mod replica;
#[cfg(test)]
mod tests;

pub use anti_entropy::{BUCKETS, MAX_SYNC_RECORDS};
pub use messages::EventualMessage;
pub use read_strategy::ReadStrategy;

use super::{Context, MessageKind, PendingRecord, Protocol, ReplyTo, Request};
use crate::error::Result;
use crate::ids::NodeId;
use crate::storage::{NodeStore, Record};
use coordinator::{PendingRead, PendingWrite};
use hlc::WriteClock;
use rand::RngExt;
use replica::Replica;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Settings of the eventual protocol. The cluster builder sets `r` and `w`
/// from [`crate::Consistency::Eventual`] and keeps the defaults for the rest;
/// a custom protocol factory can change them.
///
/// ```
/// use replikv::protocol::eventual::{Eventual, EventualConfig};
/// use std::time::Duration;
/// let config = EventualConfig { anti_entropy: None, ..EventualConfig::new(2, 2) };
/// let _protocol = Eventual::with_config(config);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventualConfig {
    /// Read quorum R: answers needed before a read returns.
    pub r: usize,
    /// Which replicas a read asks: exactly R (default) or all N, answering
    /// after the first R.
    pub read_strategy: ReadStrategy,
    /// Write quorum W: acknowledgements needed before a write returns.
    pub w: usize,
    /// Period of the protocol's one timer, which drives retransmission,
    /// hints and deadlines (default 20 ms: short next to the deadline, long
    /// enough not to flood a healthy network with retransmissions).
    pub tick: Duration,
    /// How long a replica may stay silent before the write goes to a hint
    /// holder (default 40 ms: a few ticks, so a merely slow replica is not
    /// replaced at once).
    pub hint_after: Duration,
    /// How long an operation may wait for its quorum before it gives up
    /// (default 300 ms, well below the 1 s default client timeout, so the
    /// client hears `Unavailable`/`Failed` rather than a timeout).
    pub op_deadline: Duration,
    /// Period of anti-entropy rounds, `None` to disable them (default
    /// 100 ms: convergence within a few hundred ms of healing on small
    /// clusters, at one 64-hash message per node per round when quiet).
    pub anti_entropy: Option<Duration>,
    /// Period of hinted-handoff rounds (default 100 ms).
    pub handoff: Duration,
    /// Merge the version of every record received into the write clock, as
    /// a full hybrid logical clock does ([`hlc::WriteClock::observe`]): a
    /// write is then stamped above every write its coordinator has stored,
    /// read or been sent. Default `false`: stamps come from the
    /// coordinator's own clock alone, as Cassandra's do, so a node whose
    /// clock runs behind loses even writes it knew were older. See [`hlc`].
    pub hybrid_clock: bool,
}

impl EventualConfig {
    /// The defaults with the given R and W.
    pub fn new(r: usize, w: usize) -> Self {
        EventualConfig {
            r,
            read_strategy: ReadStrategy::AskR,
            w,
            tick: Duration::from_millis(20),
            hint_after: Duration::from_millis(40),
            op_deadline: Duration::from_millis(300),
            anti_entropy: Some(Duration::from_millis(100)),
            handoff: Duration::from_millis(100),
            hybrid_clock: false,
        }
    }
}

/// The timer token of the protocol's periodic tick.
const TICK: u64 = 1;

/// The eventual (Dynamo-style) protocol run by one node. See the module docs.
///
/// ```
/// // A unit test of the state machine: no threads, no network.
/// use replikv::protocol::eventual::{Eventual, EventualMessage};
/// use replikv::protocol::{Context, Effect, Protocol, ReplyTo, Request, Response};
/// use replikv::{ClientId, NodeId};
///
/// let mut ctx = Context::<EventualMessage>::for_test(NodeId(0), 3, 7);
/// let mut node = Eventual::new(1, 1);
/// node.on_start(&mut ctx)?;
/// let to = ReplyTo { client: ClientId(1), request: 1 };
/// node.on_request(&mut ctx, to, Request::Put { key: b"k".to_vec(), value: b"v".to_vec() })?;
/// let effects = ctx.take_effects();
/// // W = 1: stored locally and answered at once; the other two replicas get a Store.
/// assert!(effects.contains(&Effect::Reply { to, response: Response::Done }));
/// let stores = effects.iter().filter(|e| matches!(e, Effect::Send { message: EventualMessage::Store { .. }, .. })).count();
/// assert_eq!(stores, 2);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug)]
pub struct Eventual {
    config: EventualConfig,
    clock: WriteClock,
    replica: Replica,
    writes: BTreeMap<u64, PendingWrite>,
    reads: BTreeMap<u64, PendingRead>,
    next_op: u64,
    /// Replicas that recently left a write unacknowledged past `hint_after`;
    /// new writes hint for them at once. Cleared by any message from them.
    suspects: BTreeSet<NodeId>,
    ticks: u64,
    sync_cursor: usize,
    hint_after_ticks: u32,
    deadline_ticks: u32,
}

fn ticks(of: Duration, tick: Duration) -> u32 {
    let tick = tick.as_nanos().max(1);
    u32::try_from(of.as_nanos().div_ceil(tick))
        .unwrap_or(u32::MAX)
        .max(1)
}

impl Eventual {
    /// A node with quorums `r` and `w` and default timings.
    pub fn new(r: usize, w: usize) -> Self {
        Self::with_config(EventualConfig::new(r, w))
    }

    /// A node with the given settings.
    pub fn with_config(config: EventualConfig) -> Self {
        let tick = if config.tick.is_zero() {
            Duration::from_millis(1)
        } else {
            config.tick
        };
        Eventual {
            hint_after_ticks: ticks(config.hint_after, tick),
            deadline_ticks: ticks(config.op_deadline, tick),
            config: EventualConfig { tick, ..config },
            clock: WriteClock::default(),
            replica: Replica::default(),
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            next_op: 0,
            suspects: BTreeSet::new(),
            ticks: 0,
            sync_cursor: 0,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &EventualConfig {
        &self.config
    }

    /// The hybrid clock's receive rule: take in the version of every record
    /// `message` carries.
    fn observe_stamps(&mut self, message: &EventualMessage) {
        let clock = &mut self.clock;
        let mut observe = |record: &Record| clock.observe(record.version.counter);
        match message {
            EventualMessage::Store { record, .. } | EventualMessage::Repair { record, .. } => {
                observe(record);
            }
            EventualMessage::ReadReply { record, .. } => record.iter().for_each(observe),
            EventualMessage::Handoff { records } | EventualMessage::SyncPush { records, .. } => {
                records.iter().for_each(|(_, record)| observe(record));
            }
            EventualMessage::StoreAck { .. }
            | EventualMessage::Read { .. }
            | EventualMessage::HandoffAck { .. }
            | EventualMessage::SyncDigest { .. }
            | EventualMessage::SyncKeys { .. } => {}
        }
    }

    fn every(&self, period: Duration, offset: u64) -> bool {
        let n = u64::from(ticks(period, self.config.tick));
        self.ticks.wrapping_add(offset).is_multiple_of(n)
    }
}

impl Protocol for Eventual {
    type Message = EventualMessage;

    /// The quorum round trips are the WARS legs: `Store` (W), `StoreAck`
    /// (A), `Read` (R), `ReadReply` (S). Hinted stores are write requests
    /// too. Repair, handoff and anti-entropy are [`MessageKind::Other`].
    fn message_kind(message: &EventualMessage) -> MessageKind {
        match message {
            EventualMessage::Store { .. } => MessageKind::WriteRequest,
            EventualMessage::StoreAck { .. } => MessageKind::WriteAck,
            EventualMessage::Read { .. } => MessageKind::ReadRequest,
            EventualMessage::ReadReply { .. } => MessageKind::ReadResponse,
            EventualMessage::Repair { .. }
            | EventualMessage::Handoff { .. }
            | EventualMessage::HandoffAck { .. }
            | EventualMessage::SyncDigest { .. }
            | EventualMessage::SyncKeys { .. }
            | EventualMessage::SyncPush { .. } => MessageKind::Other,
        }
    }

    fn mode_name(&self) -> String {
        "eventual".into()
    }

    fn on_start(&mut self, ctx: &mut Context<EventualMessage>) -> Result<()> {
        self.replica = Replica::load(ctx)?;
        let restart_above = if self.config.hybrid_clock {
            // Everything stored was seen before the crash.
            self.replica.highest_stamp()
        } else {
            self.replica.highest_own_stamp(ctx.node())
        };
        self.clock = WriteClock::starting_after(restart_above);
        // Operation ids start at a random point per incarnation, so a late
        // ack addressed to a previous incarnation matches nothing.
        self.next_op = u64::from(ctx.rng().random::<u32>()) << 24;
        // Spread the nodes' anti-entropy rounds and peers apart.
        self.ticks = u64::from(ctx.rng().random::<u16>());
        self.sync_cursor = usize::from(ctx.rng().random::<u8>());
        ctx.set_timer(self.config.tick, TICK);
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<EventualMessage>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        // Duplicate client requests never get here (the runtime's
        // `RequestFilter`), not even across a restart.
        match request {
            Request::Get { key } => self.start_read(ctx, reply_to, key),
            Request::Put { key, value } => self.start_write(ctx, reply_to, key, Some(value)),
            Request::Delete { key } => self.start_write(ctx, reply_to, key, None),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<EventualMessage>,
        from: NodeId,
        message: EventualMessage,
    ) -> Result<()> {
        self.suspects.remove(&from);
        if self.config.hybrid_clock {
            self.observe_stamps(&message);
        }
        match message {
            EventualMessage::Store {
                op,
                key,
                record,
                hint_for,
            } => {
                match hint_for {
                    Some(target) if target != ctx.node() => {
                        self.hold_hint(ctx, target, key, record)?;
                    }
                    _ => {
                        self.replica.apply(ctx, &key, &record)?;
                    }
                }
                ctx.send(from, EventualMessage::StoreAck { op });
                Ok(())
            }
            EventualMessage::StoreAck { op } => {
                self.on_store_ack(ctx, from, op);
                Ok(())
            }
            EventualMessage::Read { op, key } => {
                let record = self.replica.get(ctx, &key)?;
                ctx.send(from, EventualMessage::ReadReply { op, record });
                Ok(())
            }
            EventualMessage::ReadReply { op, record } => self.on_read_reply(ctx, from, op, record),
            EventualMessage::Repair { key, record } => {
                self.replica.apply(ctx, &key, &record).map(|_| ())
            }
            EventualMessage::Handoff { records } => self.on_handoff(ctx, from, records),
            EventualMessage::HandoffAck { delivered } => self.on_handoff_ack(ctx, from, delivered),
            EventualMessage::SyncDigest { buckets } => {
                self.on_sync_digest(ctx, from, buckets);
                Ok(())
            }
            EventualMessage::SyncKeys { buckets, entries } => {
                self.on_sync_keys(ctx, from, buckets, entries)
            }
            EventualMessage::SyncPush { records, want } => {
                self.on_sync_push(ctx, from, records, want)
            }
        }
    }

    fn on_timer(
        &mut self,
        ctx: &mut Context<EventualMessage>,
        _timer: super::TimerId,
        token: u64,
    ) -> Result<()> {
        if token != TICK {
            return Ok(());
        }
        // Re-arm first, so a storage error below cannot stop the clockwork.
        ctx.set_timer(self.config.tick, TICK);
        self.ticks = self.ticks.wrapping_add(1);
        self.tick_operations(ctx)?;
        if let Some(period) = self.config.anti_entropy
            && self.every(period, 0)
        {
            self.start_anti_entropy(ctx);
        }
        if self.every(self.config.handoff, 1) {
            self.hand_off(ctx)?;
        }
        Ok(())
    }

    /// Hints: writes held for a replica, until handed off.
    fn pending_records(store: &NodeStore) -> Result<Vec<PendingRecord>> {
        hints::pending_records(store)
    }
}
