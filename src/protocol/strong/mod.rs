//! Strong consistency: a linearizable, multi-writer, majority-quorum register
//! per key — the ABD algorithm.
//!
//! # The algorithm
//!
//! Attiya, Bar-Noy and Dolev ("Sharing memory robustly in message-passing
//! systems", JACM 1995) showed that a read/write register can be emulated
//! over an asynchronous network that loses nodes, as long as a majority of
//! the replicas is alive and reachable, and with no leader, no clocks and no
//! consensus. Lynch and Shvartsman (1997) gave the multi-writer form used
//! here. Each replica stores a *record*: a value (or a tombstone) with a
//! version, `(counter, writer)`, ordered lexicographically. Any node can
//! *coordinate* an operation on a key whose `N` replicas are
//! [`Context::replicas`](crate::protocol::Context::replicas); a *majority* is
//! `N/2 + 1` of them.
//!
//! - **Write** (put, or delete as a tombstone). *Phase 1*: ask the replicas
//!   for their record and wait for a majority; take the highest version.
//!   *Phase 2*: send the new value with version `(max.counter + 1, me)` to the
//!   replicas, which keep it only if it is newer than theirs; answer `Done`
//!   once a majority has acknowledged.
//! - **Read**. *Phase 1*: the same query; take the record with the highest
//!   version. *Phase 2*: write that very record back to a majority; then
//!   answer its value.
//!
//! Why it works: any two majorities of the same replicas share a replica,
//! and a replica's version only grows. Once a write has been acknowledged by
//! a majority, every later phase 1 meets at least one replica holding it (or
//! something newer), so later writes get higher versions and later reads
//! return it or something newer. The version order *is* the linearization
//! order of the writes, and each read sits right after the write it returned.
//!
//! # Why reads write back: the new/old inversion
//!
//! A read that skipped phase 2 could see a write *in progress*. Say replicas
//! A, B, C hold `x = 1`, and a put of `x = 2` has reached only A so far.
//! Reader 1 queries {A, B}, sees version 2, and returns `2`. Then — strictly
//! after reader 1 has returned — reader 2 queries {B, C}, sees only `1` and
//! returns `1`. The new value was visible and then it was not: no
//! sequential order explains both reads, so the history is not
//! linearizable, although each read returned a value that was written.
//! Writing the record back to a majority before answering closes the gap:
//! once reader 1 returns `2`, a majority holds it, and reader 2's majority
//! must include one of them. ([`AbdWithoutWriteBack`](crate::protocol::mutants::AbdWithoutWriteBack)
//! is ABD with this shortcut, and `tests/mutants.rs` checks that a
//! `replikv sweep` finds the inversion and replays it from its seed.)
//!
//! # Faults
//!
//! - *Lost, duplicated, reordered, delayed messages.* The coordinator
//!   retransmits each phase's request to the replicas that have not answered,
//!   every [`StrongConfig::retransmit`]. Each request carries an [`OpId`] and
//!   each reply echoes it, so replies to a finished operation, to the other
//!   phase or from a node already counted are ignored. Replicas keep no
//!   per-operation state: a duplicated query is answered twice, a duplicated
//!   store is "not newer" and acknowledged again.
//! - *Duplicated client requests.* The network may deliver a client's
//!   request twice. Run twice, a put would store its value again with a
//!   newer version — possibly after its client saw it complete and wrote
//!   something else, undoing that later write. The runtime runs each client
//!   request at most once, across restarts too (see
//!   [`RequestFilter`](crate::protocol::RequestFilter)), so the coordinator
//!   never sees a second copy.
//! - *Crashed replicas.* A replica writes a record to its storage before it
//!   acknowledges it, so a restarted replica never goes back in time. Any
//!   minority of a key's replicas can be down.
//! - *Crashed coordinators.* In-flight operations are volatile and die with
//!   the coordinator; their clients time out and record them as
//!   indeterminate, which is what they are.
//! - *Partitions.* On the side without a majority of a key's replicas,
//!   phase 1 never completes: after [`StrongConfig::deadline`] the
//!   coordinator answers `Unavailable` (nothing was stored anywhere), or the
//!   client times out first. It never answers from its own stale copy.
//!
//! # Where the code deviates from the paper
//!
//! - **Unique versions.** The paper's writers each issue one write at a
//!   time and never restart. A node here coordinates many concurrent
//!   operations and restarts after crashes, so counters come from a
//!   per-node Lamport clock whose high-water mark is reserved in storage in
//!   blocks: a coordinator never issues the same version for two different
//!   values, not even across a restart (the `tags` module explains why this
//!   matters).
//! - **Requests go to all N replicas**, and the first majority of replies
//!   counts (the paper does the same; the text above says "a majority" for
//!   short). The coordinator does not have to be one of the replicas.
//! - **One-round-trip reads when the majority agrees.** When every reply in
//!   the phase 1 majority carries the same, highest version, that majority
//!   already stores it and the write-back would change nothing, so it is
//!   skipped. This is a standard optimisation and safe for the same reason
//!   the write-back is: what the read returns is already on a majority.
//! - **Operations give up.** After [`StrongConfig::deadline`] an operation
//!   still in phase 1 answers `Unavailable`. A put or delete already in
//!   phase 2 may have been stored by some replicas, so it stays *silent*
//!   instead: its client times out and records it as indeterminate. (It
//!   could answer `Failed`, which the client also records as indeterminate,
//!   but `Timeout` is the error whose documented meaning is "outcome
//!   unknown".) A read may answer `Unavailable` in either phase: its
//!   write-back only copies a record some write already stored.
//! - **A fixed replica set.** An operation uses the replicas the placement
//!   named when it started. ABD assumes a static set: if the placement
//!   changes (a node joins or leaves), majorities of the old and the new set
//!   need not intersect, and linearizability across the change is not
//!   guaranteed. Reconfiguration (RAMBO, Lynch and Shvartsman 2002) is out
//!   of scope.
//! - **Client sessions are per connection.** The duplicate-request memory
//!   is volatile; it needs not be durable because the network never
//!   delivers a copy sent before a restart to the restarted node (a
//!   connection dies with its process). Real systems that let clients
//!   retry keep client sessions in durable, replicated state instead
//!   (Raft's thesis, §6.3).
//! - **Tombstones are never collected.** A delete is a write of a
//!   tombstone, which must stay so that an old value is never "newer".
//! - **Durability** is the storage's: replicas store before acknowledging,
//!   which always survives a simulated crash; surviving a crash of the
//!   whole process as well needs
//!   [`Durability::FlushBeforeAck`](crate::storage::Durability::FlushBeforeAck).
//!
//! # Layout
//!
//! - `messages`: [`StrongMessage`] and [`OpId`].
//! - `coordinator`: in-flight operations and their two phases.
//! - `replica`: answering queries and applying stores.
//! - `tags`: unique version counters.
//! - `config`: [`StrongConfig`], retransmission and deadline.
//!
//! # Example
//!
//! ```
//! // A 3-node strong cluster keeps serving with one node down.
//! use replikv::{Cluster, Consistency, NodeId, StorageKind};
//! let cluster = Cluster::builder()
//!     .nodes(3)
//!     .consistency(Consistency::Strong)
//!     .storage(StorageKind::Memory)
//!     .build()?;
//! let mut client = cluster.client()?;
//! client.put("k", "v1")?;
//! cluster.crash(NodeId(0))?;
//! client.set_policy(replikv::CoordinatorPolicy::RoundRobin);
//! // Whichever live node coordinates, a majority (2 of 3) answers.
//! let mut read = None;
//! for _ in 0..3 {
//!     if let Ok(value) = client.get("k") {
//!         read = value;
//!         break;
//!     }
//! }
//! assert_eq!(read, Some(b"v1".to_vec()));
//! # Ok::<(), replikv::Error>(())
//! ```

mod config;
mod coordinator;
mod messages;
mod replica;
mod tags;

pub use config::StrongConfig;
pub use messages::{OpId, StrongMessage};

use super::{Context, MessageKind, Protocol, ReplyTo, Request, TimerId};
use crate::error::Result;
use crate::ids::NodeId;
use coordinator::{Coordinator, TICK};

/// The strong (ABD) protocol, run by one node: coordinator of the requests
/// its clients send it, and replica of the keys placed on it.
///
/// Built in as [`Consistency::Strong`](crate::Consistency::Strong). Driven by
/// hand, it shows its phases as effects:
///
/// ```
/// use replikv::protocol::strong::{Strong, StrongMessage};
/// use replikv::protocol::{Context, Effect, Protocol, ReplyTo, Request};
/// use replikv::{ClientId, NodeId};
///
/// let mut ctx = Context::<StrongMessage>::for_test(NodeId(0), 3, 7);
/// let mut strong = Strong::new(0);
/// let to = ReplyTo { client: ClientId(1), request: 1 };
/// strong.on_request(&mut ctx, to, Request::Get { key: b"k".to_vec() })?;
/// // Phase 1: a query to each of the key's 3 replicas.
/// let queries = ctx
///     .take_effects()
///     .into_iter()
///     .filter(|e| matches!(e, Effect::Send { message: StrongMessage::Query { .. }, .. }))
///     .count();
/// assert_eq!(queries, 3);
/// assert_eq!(strong.in_flight(), 1);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug)]
pub struct Strong {
    coordinator: Coordinator,
}

impl Strong {
    /// The protocol for a node's `incarnation` (from
    /// [`NodeSetup::incarnation`](crate::protocol::NodeSetup::incarnation)),
    /// with the default [`StrongConfig`]. The incarnation tells this run's
    /// operations apart from those of the node's earlier runs.
    pub fn new(incarnation: u64) -> Self {
        Strong::with_config(incarnation, StrongConfig::default())
    }

    /// The protocol with other timings, for use with
    /// [`ClusterBuilder::protocol`](crate::ClusterBuilder::protocol):
    ///
    /// ```
    /// use replikv::protocol::strong::{Strong, StrongConfig};
    /// use replikv::protocol::NodeSetup;
    /// use replikv::{Cluster, StorageKind};
    /// use std::time::Duration;
    ///
    /// // Give up after 200 ms, retransmitting every 10 ms.
    /// let config = StrongConfig::new(Duration::from_millis(10), Duration::from_millis(200))?;
    /// let cluster = Cluster::builder()
    ///     .storage(StorageKind::Memory)
    ///     .protocol(move |setup: &NodeSetup| Strong::with_config(setup.incarnation, config))
    ///     .build()?;
    /// cluster.client()?.put("k", "v")?;
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn with_config(incarnation: u64, config: StrongConfig) -> Self {
        Strong {
            coordinator: Coordinator::new(incarnation, config),
        }
    }

    /// The mutant whose reads skip phase 2 (crate-internal: the public face
    /// is [`crate::protocol::mutants::AbdWithoutWriteBack`]).
    pub(crate) fn without_write_back(incarnation: u64, config: StrongConfig) -> Self {
        let mut strong = Strong::with_config(incarnation, config);
        strong.coordinator.skip_write_back();
        strong
    }

    /// Operations this node is coordinating right now.
    pub fn in_flight(&self) -> usize {
        self.coordinator.in_flight()
    }
}

impl Protocol for Strong {
    type Message = StrongMessage;

    /// ABD's query phase is a read (R, S) — for writes too, which ask for
    /// the highest version first — and its store phase a write (W, A).
    fn message_kind(message: &StrongMessage) -> MessageKind {
        match message {
            StrongMessage::Query { .. } => MessageKind::ReadRequest,
            StrongMessage::QueryReply { .. } | StrongMessage::Corrupt { .. } => {
                MessageKind::ReadResponse
            }
            StrongMessage::Store { .. } => MessageKind::WriteRequest,
            StrongMessage::StoreAck { .. } => MessageKind::WriteAck,
        }
    }

    fn mode_name(&self) -> String {
        "strong (ABD)".into()
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        self.coordinator.start(ctx, reply_to, request);
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        from: NodeId,
        message: StrongMessage,
    ) -> Result<()> {
        match message {
            StrongMessage::Query { op, key } => replica::on_query(ctx, from, op, &key),
            StrongMessage::Store { op, key, record } => {
                replica::on_store(ctx, from, op, &key, &record)
            }
            StrongMessage::QueryReply { op, record } => {
                self.coordinator.on_query_reply(ctx, from, op, record);
                Ok(())
            }
            StrongMessage::StoreAck { op } => {
                self.coordinator.on_store_ack(ctx, from, op);
                Ok(())
            }
            StrongMessage::Corrupt { op, reason } => {
                self.coordinator.on_corrupt_reply(ctx, from, op, reason);
                Ok(())
            }
        }
    }

    fn on_timer(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        _timer: TimerId,
        token: u64,
    ) -> Result<()> {
        if token == TICK {
            self.coordinator.on_tick(ctx);
        }
        Ok(())
    }
}
