//! Protocols: how replicas agree (or don't) on the value of a key.
//!
//! A protocol is a **synchronous state machine** (toydb's Raft node,
//! stateright's `Actor`): the runtime feeds it one input at a time — a client
//! request, a peer message, a timer — and the protocol answers by writing
//! effects into its [`Context`]: messages to send, replies to clients, timers
//! to set. It never spawns threads, sleeps, reads the wall clock or touches a
//! channel. That makes a protocol unit-testable without any thread (build a
//! [`Context`] by hand and inspect [`Context::take_effects`]) and makes the
//! runtime reusable: the built-in protocols use exactly the public trait a
//! learner implements. To test several nodes talking, put them on
//! [`crate::sim::Harness`]: it runs them on the runtime's own node core
//! (duplicate-request rule, encoding, timers) and holds every message until
//! the test delivers, drops or duplicates it, fires timers and crashes
//! nodes when the test says, and shows the answers and what each node
//! stored.
//!
//! Peer messages are the protocol's own serde type; the runtime encodes them
//! with bincode on the wire so the network can count bytes, and decodes them
//! (with a size limit) at the receiver. A message that fails to decode is
//! dropped and counted, as a real node would drop a garbled packet.
//!
//! # Which duplicates the runtime removes, and which a protocol must
//!
//! The network may lose, delay, reorder and duplicate any message. The
//! runtime removes two kinds of copies before a protocol sees them:
//!
//! - **Duplicate client requests.** A node runs each client request at most
//!   once ([`RequestFilter`], the one place the rule lives): a second copy,
//!   or a copy from far below the client's latest request, never reaches
//!   [`Protocol::on_request`].
//! - **Anything sent to an earlier incarnation.** A message is delivered only
//!   to the node incarnation it was sent to, as a TCP connection dies with
//!   its process: after a restart, no copy of a request, forward, reply or
//!   acknowledgement sent before the restart arrives. So nothing is acted on
//!   twice across a restart, and the duplicate memory needs not be durable.
//!
//! Everything else is the protocol's to handle:
//!
//! - **Duplicates of its own peer messages**, delayed by any amount: make
//!   handlers idempotent (store only newer versions; count an
//!   acknowledgement once per replica; ignore replies to finished
//!   operations).
//! - **Forwarded client requests.** A request handed on to another node
//!   travels as a peer message, so the runtime does not filter it: the node
//!   that runs it keeps its own [`RequestFilter`] and admits each forward
//!   before running it ([`SingleCopy`] shows how). Without it, a late
//!   duplicate of an old put overwrites a newer value.
//!
//! Built in: [`SingleCopy`], the baseline where each key lives on one node;
//! [`Strong`], linearizable majority quorums (ABD, [`strong`]); and
//! [`Eventual`], Dynamo-style eventual consistency ([`eventual`]); and
//! [`Consensus`], Raft with a linearizable compare-and-set ([`consensus`]).
//! [`mutants`] keeps broken variants of them, for tests that must fail.

pub mod consensus;
mod context;
mod dedup;
pub mod eventual;
mod message;
pub mod mutants;
pub mod rebalance;
pub mod single_copy;
pub mod strong;

pub use crate::network::MessageKind;
pub use consensus::{Consensus, ConsensusConfig};
pub use context::{Context, Effect, TimerId};
pub use dedup::{REQUEST_WINDOW, RequestFilter};
pub use eventual::{Eventual, EventualConfig};
pub use message::{Cas, ReplyTo, Request, Response};
pub use rebalance::PendingRecord;
pub use single_copy::SingleCopy;
pub use strong::{Strong, StrongConfig};

use crate::error::Result;
use crate::ids::NodeId;
use crate::placement::Placement;
use crate::storage::{NodeStore, Record};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;

/// A replication protocol, run by one node.
///
/// A fresh value is made by the cluster's factory when a node starts and
/// again when it restarts after a crash: whatever must survive a crash has to
/// be in [`Context::store`], and [`Protocol::on_start`] rebuilds volatile state
/// from it.
///
/// Handlers return [`Result`] so storage errors can use `?`. An error from
/// [`Protocol::on_request`] is answered to the client — as
/// [`Response::Corrupt`] for a record that does not decode, otherwise as
/// [`Response::Failed`] (outcome unknown); an error from the other handlers is
/// counted in the node's metrics.
pub trait Protocol: Send + 'static {
    /// The protocol's peer-to-peer message type.
    type Message: Serialize + DeserializeOwned + Send + Debug + 'static;

    /// Called once when the node (re)starts, before any input.
    fn on_start(&mut self, ctx: &mut Context<Self::Message>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// A client request arrived; answer it now or later with [`Context::reply`].
    fn on_request(
        &mut self,
        ctx: &mut Context<Self::Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()>;

    /// A client's compare-and-set arrived ([`Cas`]); answer it with
    /// [`Response::Swapped`], now or later.
    ///
    /// The default answers [`Response::Unsupported`] naming the protocol:
    /// a compare-and-set is only worth having when it is atomic, which a
    /// quorum register or an eventually consistent store cannot promise, so
    /// a protocol offers it only by overriding this (the built-in
    /// [`Consensus`] does).
    ///
    /// ```
    /// use replikv::protocol::{Cas, Context, Effect, Protocol, ReplyTo, Response, SingleCopy};
    /// use replikv::{ClientId, NodeId};
    /// let mut ctx = Context::<<SingleCopy as Protocol>::Message>::for_test(NodeId(0), 1, 7);
    /// let to = ReplyTo { client: ClientId(1), request: 1 };
    /// let cas = Cas { key: b"k".to_vec(), expected: None, new: Some(b"v".to_vec()) };
    /// SingleCopy::new().on_cas(&mut ctx, to, cas)?;
    /// assert!(matches!(&ctx.take_effects()[..],
    ///     [Effect::Reply { response: Response::Unsupported(why), .. }] if why.contains("single-copy")));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn on_cas(
        &mut self,
        ctx: &mut Context<Self::Message>,
        reply_to: ReplyTo,
        cas: Cas,
    ) -> Result<()> {
        let _ = cas;
        ctx.reply(
            reply_to,
            Response::Unsupported(cas_unsupported(self.mode_name())),
        );
        Ok(())
    }

    /// The protocol's name in messages such as the refusal of a
    /// compare-and-set (default: its type name).
    fn mode_name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// A message from another node arrived.
    fn on_message(
        &mut self,
        ctx: &mut Context<Self::Message>,
        from: NodeId,
        message: Self::Message,
    ) -> Result<()>;

    /// A timer set with [`Context::set_timer`] fired; `token` is what was set.
    fn on_timer(
        &mut self,
        ctx: &mut Context<Self::Message>,
        timer: TimerId,
        token: u64,
    ) -> Result<()> {
        let _ = (ctx, timer, token);
        Ok(())
    }

    /// What `message` is for — a write request, a write acknowledgement, a
    /// read request, a read response, or something else — so that the
    /// network can give each kind its own latency
    /// ([`crate::network::Network::set_kind_latency`]; the four legs of the
    /// PBS paper's WARS model) and a fault hook can tell them apart. The
    /// node core writes it on the envelope of every message the protocol
    /// sends; the network never decodes a message to find out.
    ///
    /// The default labels every message [`MessageKind::Other`]: one latency
    /// for all, as if kinds did not exist.
    ///
    /// ```
    /// use replikv::protocol::{Eventual, MessageKind, Protocol};
    /// use replikv::protocol::eventual::EventualMessage;
    /// let ack = EventualMessage::StoreAck { op: 1 };
    /// assert_eq!(Eventual::message_kind(&ack), MessageKind::WriteAck);
    /// ```
    fn message_kind(message: &Self::Message) -> MessageKind {
        let _ = message;
        MessageKind::Other
    }

    /// Which record the replicas of `key` should hold, given every copy the
    /// cluster found (never empty): called when a membership change moves
    /// the key and when the cluster checks convergence ([`rebalance`]).
    /// `None` means the key holds nothing: no record is written to its new
    /// replicas (copies on nodes that stop being replicas are still removed).
    ///
    /// The default, [`rebalance::newest`], keeps the highest version — the
    /// rule of every built-in protocol. Override it when your replicas merge
    /// differently, or rebalancing will overrule your protocol.
    ///
    /// ```
    /// use replikv::protocol::{Protocol, SingleCopy};
    /// use replikv::storage::{Record, Version};
    /// use replikv::NodeId;
    /// let a = Record::value(Version::new(1, NodeId(0)), b"a".to_vec());
    /// let b = Record::value(Version::new(2, NodeId(0)), b"b".to_vec());
    /// assert_eq!(SingleCopy::reconcile(b"k", &[b.clone(), a]), Some(b));
    /// ```
    fn reconcile(key: &[u8], copies: &[Record]) -> Option<Record> {
        let _ = key;
        rebalance::newest(copies)
    }

    /// The records this protocol holds in `store`'s metadata on behalf of a
    /// key's replicas (the eventual protocol's hints); default: none.
    ///
    /// A membership change hands each to its key's replicas (through
    /// [`Protocol::reconcile`]) and then deletes its metadata entry; a
    /// convergence check counts the cluster as not converged while one
    /// would still change what its key's replicas hold. Other metadata is
    /// never read, copied or deleted by the cluster. See [`rebalance`].
    ///
    /// ```
    /// use replikv::protocol::{Eventual, Protocol};
    /// use replikv::protocol::eventual::hints::{Hint, store_hint};
    /// use replikv::storage::{Durability, MemoryStorage, NodeStore, Record, Version};
    /// use replikv::NodeId;
    /// use std::sync::Arc;
    /// let store = NodeStore::new(NodeId(3), Arc::new(MemoryStorage::new()), Durability::Periodic);
    /// let record = Record::value(Version::new(9, NodeId(0)), b"v".to_vec());
    /// store_hint(&store, &Hint { target: NodeId(1), key: b"k".to_vec(), record: record.clone() })?;
    /// let held = Eventual::pending_records(&store)?;
    /// assert_eq!((held[0].key.as_slice(), &held[0].record), (&b"k"[..], &record));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn pending_records(store: &NodeStore) -> Result<Vec<PendingRecord>> {
        let _ = store;
        Ok(Vec::new())
    }
}

/// The text of [`Response::Unsupported`] for a compare-and-set in `mode`.
fn cas_unsupported(mode: String) -> String {
    format!(
        "compare-and-set is not offered by the {mode} mode: it cannot make a read-modify-write \
         atomic, and a CAS that is not atomic silently races; use Consistency::Consensus"
    )
}

/// What a protocol factory is told about the node it builds a protocol for.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    /// The node.
    pub node: NodeId,
    /// How many times this node has been (re)started (0 the first time).
    pub incarnation: u64,
    /// The cluster's placement (partitioner and N).
    pub placement: Arc<Placement>,
    /// The node's storage.
    pub store: NodeStore,
}
