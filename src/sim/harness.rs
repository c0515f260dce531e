//! The stepping harness: a protocol's nodes on one virtual clock, where the
//! test — not an event queue — decides which message arrives next.
//!
//! The [`World`](super::World) orders events by time, so a test can shape a
//! run only through the fault model. A protocol's unit tests want more: hold
//! every message, deliver the one the scenario names, drop another, deliver
//! a third twice, fire one node's timer, crash a node between two messages.
//! [`Harness`] gives them that over the very node core both runtimes drive
//! (`node::NodeCore`): client requests pass the runtime's duplicate rule,
//! peer messages are encoded, size-checked and decoded, a handler's error
//! becomes the client's answer, timers are data. Nothing is sent anywhere
//! until the test says so.

use crate::clock::Clock;
use crate::codec;
use crate::ids::{ClientId, Endpoint, NodeId};
use crate::network::{Envelope, Payload};
use crate::node::{Core, CoreEnv, NodeCore, NodeCounters};
use crate::partition::{Member, Partitioner, Rendezvous};
use crate::placement::Placement;
use crate::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response};
use crate::storage::{Durability, MemoryStorage, NodeStore, Record};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The number of a message held by a [`Harness`], in the order messages
/// were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

/// A peer message a [`Harness`] holds, decoded for the test to look at.
#[derive(Clone, Debug, PartialEq)]
pub struct Held<M> {
    /// Its number: what [`Harness::deliver`] and friends take.
    pub id: MessageId,
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// The message.
    pub message: M,
}

/// A message in flight: the envelope as the sender's core produced it, and
/// the receiver's incarnation when it was sent (a message reaches only the
/// incarnation it was sent to, as on the network).
struct InFlight {
    id: MessageId,
    envelope: Envelope,
    to_incarnation: u64,
}

struct Slot<P: Protocol> {
    /// `None` while crashed.
    core: Option<NodeCore<P>>,
    store: NodeStore,
    incarnation: u64,
    counters: Arc<NodeCounters>,
}

type Factory<P> = Box<dyn Fn(&NodeSetup) -> P>;

/// A protocol's nodes, stepped by hand: every peer message is held until the
/// test delivers, drops or duplicates it, and timers fire only when the test
/// fires them. Deterministic: the same calls give the same run.
///
/// ```
/// use replikv::protocol::{Request, Response, SingleCopy};
/// use replikv::sim::Harness;
/// // Three nodes, one copy of each key: a put answers at once, locally.
/// let mut h = Harness::new(3, 1, |_| SingleCopy::new())?;
/// let owner = h.placement().replicas(b"k")[0];
/// let put = h.request(owner, Request::Put { key: b"k".to_vec(), value: b"v".to_vec() })?;
/// assert_eq!(h.response(put), Some(&Response::Done));
/// assert_eq!(h.record(owner, b"k")?.and_then(|r| r.value), Some(b"v".to_vec()));
/// // Asked elsewhere, the request is forwarded: a message the test holds.
/// let other = replikv::NodeId((owner.0 + 1) % 3);
/// let get = h.request(other, Request::Get { key: b"k".to_vec() })?;
/// assert_eq!(h.response(get), None);
/// let forward = h.in_flight()[0].id;
/// h.duplicate(forward)?; // the network may deliver it twice
/// assert_eq!(h.deliver_all()?, 2, "both copies arrive");
/// // The owner runs a forwarded request once: one answer, not two.
/// assert_eq!(h.responses(), &[(put, Response::Done), (get, Response::Value(Some(b"v".to_vec())))]);
/// # Ok::<(), replikv::Error>(())
/// ```
pub struct Harness<P: Protocol> {
    clock: Arc<Clock>,
    placement: Arc<Placement>,
    factory: Factory<P>,
    nodes: BTreeMap<NodeId, Slot<P>>,
    in_flight: Vec<InFlight>,
    next_message: u64,
    responses: Vec<(ReplyTo, Response)>,
    client: ClientId,
    next_request: u64,
    /// At most this many messages per `deliver_all`: a protocol whose nodes
    /// argue for ever ends the step with an error, not the test run.
    budget: usize,
}

impl<P: Protocol> std::fmt::Debug for Harness<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("now_ns", &self.clock.now_ns())
            .field("nodes", &self.nodes.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> Harness<P> {
    /// `nodes` nodes placed by rendezvous hashing with `replication` copies
    /// of each key, in-memory storage, a virtual clock at zero; each node's
    /// protocol comes from `factory` and has run its `on_start`.
    pub fn new(
        nodes: u32,
        replication: usize,
        factory: impl Fn(&NodeSetup) -> P + 'static,
    ) -> Result<Self> {
        let members: Vec<Member> = (0..nodes).map(|i| Member::new(NodeId(i))).collect();
        let partitioner: Box<dyn Partitioner> = Box::new(Rendezvous::new(&members)?);
        let mut harness = Harness {
            clock: Arc::new(Clock::simulated(members.len())),
            placement: Arc::new(Placement::new(partitioner, replication)),
            factory: Box::new(factory),
            nodes: BTreeMap::new(),
            in_flight: Vec::new(),
            next_message: 0,
            responses: Vec::new(),
            client: ClientId(1),
            next_request: 0,
            budget: 100_000,
        };
        for i in 0..nodes {
            let node = NodeId(i);
            let store = NodeStore::new(node, Arc::new(MemoryStorage::new()), Durability::Periodic);
            let slot = Slot {
                core: None,
                store,
                incarnation: 0,
                counters: Arc::default(),
            };
            harness.nodes.insert(node, slot);
            harness.boot(node);
        }
        Ok(harness)
    }

    /// The cluster's placement (which nodes hold which key).
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The virtual clock (set a node's skew with [`Clock::set_skew`]).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Moves virtual time forward by `by`. No timer fires on its own.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.clock
            .advance_to(self.clock.now_ns().saturating_add(by));
    }

    fn slot(&self, node: NodeId) -> Result<&Slot<P>> {
        self.nodes.get(&node).ok_or(Error::UnknownNode(node))
    }

    fn running(&mut self, node: NodeId) -> Result<&mut NodeCore<P>> {
        let slot = self.nodes.get_mut(&node).ok_or(Error::UnknownNode(node))?;
        slot.core.as_mut().ok_or(Error::NodeAlreadyCrashed(node))
    }

    /// Builds `node`'s next incarnation and runs its `on_start`.
    fn boot(&mut self, node: NodeId) {
        let now = self.clock.now_ns();
        let Some(slot) = self.nodes.get_mut(&node) else {
            return;
        };
        let protocol = (self.factory)(&NodeSetup {
            node,
            incarnation: slot.incarnation,
            placement: self.placement.clone(),
            store: slot.store.clone(),
        });
        let mut core = NodeCore::new(
            protocol,
            CoreEnv {
                node,
                incarnation: slot.incarnation,
                seed: 0,
                store: slot.store.clone(),
                placement: self.placement.clone(),
                clock: self.clock.clone(),
                counters: slot.counters.clone(),
                links: None,
                access: None,
            },
        );
        core.start(now);
        slot.core = Some(core);
        self.collect(node);
    }

    /// Takes what `node`'s core produced: answers to clients are recorded,
    /// peer messages held.
    fn collect(&mut self, node: NodeId) {
        let mut produced = Vec::new();
        if let Some(core) = self.nodes.get_mut(&node).and_then(|s| s.core.as_mut()) {
            core.take_outbox(&mut produced);
        }
        for envelope in produced {
            match (envelope.to, envelope.payload) {
                (Endpoint::Client(client), Payload::Response { id, response }) => {
                    let to = ReplyTo {
                        client,
                        request: id,
                    };
                    self.responses.push((to, response));
                }
                (Endpoint::Node(to), payload) => {
                    let to_incarnation = self.nodes.get(&to).map_or(0, |s| s.incarnation);
                    self.next_message += 1;
                    self.in_flight.push(InFlight {
                        id: MessageId(self.next_message),
                        envelope: Envelope {
                            payload,
                            ..envelope
                        },
                        to_incarnation,
                    });
                }
                _ => {} // a core sends nothing else
            }
        }
    }

    /// A client sends `request` to `node`, which handles it at once; the
    /// address its answer will carry. Each call is a new request.
    pub fn request(&mut self, node: NodeId, request: Request) -> Result<ReplyTo> {
        self.next_request += 1;
        let to = ReplyTo {
            client: self.client,
            request: self.next_request,
        };
        self.resend(node, to, request)?;
        Ok(to)
    }

    /// Sends `request` to `node` as request `to` (a client's retry, or a
    /// network duplicate of an earlier request: the node's duplicate rule
    /// decides whether the protocol sees it).
    pub fn resend(&mut self, node: NodeId, to: ReplyTo, request: Request) -> Result<()> {
        let now = self.clock.now_ns();
        let envelope = Envelope::new(
            Endpoint::Client(to.client),
            Endpoint::Node(node),
            Payload::Request {
                id: to.request,
                request,
            },
        );
        self.running(node)?.handle(envelope, now);
        self.collect(node);
        Ok(())
    }

    /// The peer messages held, oldest first.
    pub fn in_flight(&self) -> Vec<Held<P::Message>> {
        self.in_flight.iter().filter_map(Self::held).collect()
    }

    /// A message in flight, decoded.
    fn held(m: &InFlight) -> Option<Held<P::Message>> {
        let (Endpoint::Node(from), Endpoint::Node(to), Payload::Peer(bytes)) =
            (m.envelope.from, m.envelope.to, &m.envelope.payload)
        else {
            return None;
        };
        Some(Held {
            id: m.id,
            from,
            to,
            message: codec::decode(bytes).ok()?,
        })
    }

    fn take(&mut self, id: MessageId) -> Result<InFlight> {
        let at = (self.in_flight.iter().position(|m| m.id == id))
            .ok_or_else(|| Error::InvalidConfig(format!("no message {} is held", id.0)))?;
        Ok(self.in_flight.remove(at))
    }

    /// Delivers message `id` now. True when it reached its receiver; false
    /// when that incarnation is gone (crashed, or restarted since).
    pub fn deliver(&mut self, id: MessageId) -> Result<bool> {
        let message = self.take(id)?;
        Ok(self.arrive(message))
    }

    fn arrive(&mut self, message: InFlight) -> bool {
        let Endpoint::Node(to) = message.envelope.to else {
            return false;
        };
        let now = self.clock.now_ns();
        let Some(slot) = self.nodes.get_mut(&to) else {
            return false;
        };
        let Some(core) = slot.core.as_mut() else {
            return false;
        };
        if slot.incarnation != message.to_incarnation {
            return false;
        }
        core.handle(message.envelope, now);
        self.collect(to);
        true
    }

    /// Loses message `id`.
    pub fn drop_message(&mut self, id: MessageId) -> Result<()> {
        self.take(id).map(|_| ())
    }

    /// Holds a second copy of message `id` (the network duplicated it); the
    /// copy's number.
    pub fn duplicate(&mut self, id: MessageId) -> Result<MessageId> {
        let original = (self.in_flight.iter().find(|m| m.id == id))
            .ok_or_else(|| Error::InvalidConfig(format!("no message {} is held", id.0)))?;
        let envelope = original.envelope.clone();
        let to_incarnation = original.to_incarnation;
        self.next_message += 1;
        let copy = MessageId(self.next_message);
        self.in_flight.push(InFlight {
            id: copy,
            envelope,
            to_incarnation,
        });
        Ok(copy)
    }

    /// Holds `message` from `from` to `to` as if `from` had sent it: for a
    /// scenario no node would produce on its own (a reply from an earlier
    /// incarnation, a forged record). Its number.
    pub fn inject(&mut self, from: NodeId, to: NodeId, message: &P::Message) -> Result<MessageId> {
        let to_incarnation = self.slot(to)?.incarnation;
        let bytes = codec::encode(message).map_err(Error::Encode)?;
        let mut envelope = Envelope::new(
            Endpoint::Node(from),
            Endpoint::Node(to),
            Payload::Peer(bytes),
        );
        envelope.kind = P::message_kind(message);
        self.next_message += 1;
        let id = MessageId(self.next_message);
        self.in_flight.push(InFlight {
            id,
            envelope,
            to_incarnation,
        });
        Ok(id)
    }

    /// Delivers held messages, oldest first, and what they cause, until none
    /// is held; how many reached their receiver.
    pub fn deliver_all(&mut self) -> Result<usize> {
        self.deliver_all_where(|_| true)
    }

    /// Like [`Harness::deliver_all`], but a message `allow` refuses is lost
    /// (a partition, a cut link, one kind of message lost).
    pub fn deliver_all_where(
        &mut self,
        allow: impl Fn(&Held<P::Message>) -> bool,
    ) -> Result<usize> {
        let mut delivered = 0;
        for _ in 0..self.budget {
            if self.in_flight.is_empty() {
                return Ok(delivered);
            }
            let message = self.in_flight.remove(0);
            if Self::held(&message).is_some_and(|held| allow(&held)) && self.arrive(message) {
                delivered += 1;
            }
        }
        Err(Error::Protocol(format!(
            "still sending after {} messages: the nodes never fall quiet",
            self.budget
        )))
    }

    /// `node`'s live timers as (deadline in virtual nanoseconds, token),
    /// earliest first.
    pub fn timers(&self, node: NodeId) -> Result<Vec<(u64, u64)>> {
        let slot = self.slot(node)?;
        let core = slot.core.as_ref().ok_or(Error::NodeAlreadyCrashed(node))?;
        Ok(core.timers())
    }

    /// Fires `node`'s earliest timer with `token`, due or not: virtual time
    /// first moves to its deadline if that is later. False when `node` has
    /// no such timer.
    pub fn fire_timer(&mut self, node: NodeId, token: u64) -> Result<bool> {
        let clock = self.clock.clone();
        let fired = self.running(node)?.fire_timer(token, |at| {
            if at != u64::MAX {
                clock.advance_to(at);
            }
            clock.now_ns()
        });
        self.collect(node);
        Ok(fired.is_some())
    }

    /// Runs `call` on `node`'s protocol and context as if it were a handler
    /// (its effects are carried out): to reach into a protocol's own
    /// methods from its unit tests.
    pub fn with_protocol(
        &mut self,
        node: NodeId,
        call: impl FnOnce(&mut P, &mut Context<P::Message>) -> Result<()>,
    ) -> Result<()> {
        let now = self.clock.now_ns();
        self.running(node)?.call(now, call);
        self.collect(node);
        Ok(())
    }

    /// `node`'s protocol (`None` while it is crashed).
    pub fn protocol(&self, node: NodeId) -> Option<&P> {
        self.nodes.get(&node)?.core.as_ref().map(|c| c.protocol())
    }

    /// `node`'s storage, which outlives its crashes.
    pub fn store(&self, node: NodeId) -> Result<&NodeStore> {
        Ok(&self.slot(node)?.store)
    }

    /// The record `node` stores for `key`.
    pub fn record(&self, node: NodeId, key: &[u8]) -> Result<Option<Record>> {
        self.store(node)?.get_record(key)
    }

    /// Crashes `node`: its protocol, timers and the messages held for it are
    /// gone (a message to it is lost when delivered); its storage stays.
    pub fn crash(&mut self, node: NodeId) -> Result<()> {
        self.running(node)?;
        if let Some(slot) = self.nodes.get_mut(&node) {
            slot.core = None;
        }
        Ok(())
    }

    /// Restarts `node` (crashing it first if it runs): a fresh protocol, the
    /// next incarnation, over the same storage.
    pub fn restart(&mut self, node: NodeId) -> Result<()> {
        let slot = self.nodes.get_mut(&node).ok_or(Error::UnknownNode(node))?;
        slot.core = None;
        slot.incarnation += 1;
        self.boot(node);
        Ok(())
    }

    /// Every answer sent to a client so far, in order.
    pub fn responses(&self) -> &[(ReplyTo, Response)] {
        &self.responses
    }

    /// The first answer to request `to`, if any.
    pub fn response(&self, to: ReplyTo) -> Option<&Response> {
        (self.responses.iter().find(|(r, _)| *r == to)).map(|(_, response)| response)
    }

    /// Takes the answers sent so far (to assert what one step answered).
    pub fn take_responses(&mut self) -> Vec<(ReplyTo, Response)> {
        std::mem::take(&mut self.responses)
    }

    /// How many handler calls returned an error, on every node and
    /// incarnation (each one a `Failed` answer when it was a request's).
    pub fn handler_errors(&self) -> u64 {
        (self.nodes.values())
            .map(|s| s.counters.handler_errors.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
#[path = "harness_tests.rs"]
mod tests;
