//! The sans-I/O node: everything a node does between receiving an input and
//! handing over what it wants sent, with no thread, channel or clock of its
//! own (quinn-proto's `Connection`, rustls' `Connection`).
//!
//! [`NodeCore`] owns the protocol and its [`Context`], the duplicate-request
//! rule ([`RequestFilter`]), the decoding of peer messages with the size
//! limit, the mapping of a handler's error to the client's answer, the
//! encoding of the protocol's messages, the seal and check of authenticated
//! links when the cluster has a link key ([`crate::security`]: every peer
//! message it sends is sealed here, every one it receives is checked here
//! before it is decoded), the node's timers *as data* (deadlines on the
//! cluster clock, in nanoseconds), and the labelling of every envelope with
//! its [`MessageKind`] (the protocol's [`Protocol::message_kind`] for peer
//! messages), so the network can delay each kind its own way without
//! decoding anything. A driver feeds it
//! envelopes and the current time and takes the envelopes it produced:
//!
//! - the thread driver (`runtime.rs`) waits on the node's channels and the
//!   monotonic clock, and sends what the core produced through the network;
//! - the simulator ([`crate::sim`]) calls the same core from its event loop
//!   on virtual time.
//!
//! So there is no behaviour that exists in only one runtime: a protocol
//! cannot tell which driver runs it.
//!
//! # Batches and group commit
//!
//! What a core produces is *held* until the end of a batch. A driver that
//! batches says where one begins and ends ([`Core::begin_batch`],
//! [`Core::end_batch`]); any call made outside a batch is a batch of its
//! own. At the end of a batch the core commits the node's store — the
//! batch's writes applied as one engine batch and, under
//! [`Durability::FlushBeforeAck`](crate::storage::Durability::FlushBeforeAck),
//! flushed once ([`crate::storage`], "Group commit") — and only then
//! releases the batch's replies and messages to [`Core::take_outbox`]. So
//! nothing that acknowledges a write leaves before the write is applied
//! (and flushed when the cluster asks for it), however many writes the
//! batch made. When the commit fails, the batch's envelopes are dropped
//! and counted as handler errors: to everyone else the node looks as if
//! those messages were lost, which every protocol already tolerates, and
//! a client that waited for an answer times out (an indeterminate
//! operation), never hears a false "done".
//!
//! The thread driver makes a batch of everything waiting in the inbox at a
//! wake-up; the simulator hands the core one message per step, so each of
//! its calls is a batch of one, through the same code.

use super::runtime::NodeCounters;
use super::timers::Timers;
use crate::clock::Clock;
use crate::codec;
use crate::ids::{Endpoint, NodeId};
use crate::leadership::RoleChange;
use crate::network::{Envelope, MessageKind, Payload};
use crate::placement::Placement;
use crate::protocol::{Context, Effect, Protocol, ReplyTo, RequestFilter, Response};
use crate::security::link::{Links, Refusal};
use crate::security::{Access, AccessControl, Denial};
use crate::storage::NodeStore;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a core is built from.
pub(crate) struct CoreEnv {
    pub node: NodeId,
    pub incarnation: u64,
    pub seed: u64,
    pub store: NodeStore,
    pub placement: Arc<Placement>,
    pub clock: Arc<Clock>,
    pub counters: Arc<NodeCounters>,
    /// The authenticated links' state, when the cluster has a link key.
    pub links: Option<Links>,
    /// Client sessions and grants, when access control is on.
    pub access: Option<Arc<AccessControl>>,
}

/// One node incarnation's state machine. See the module docs.
pub(crate) struct NodeCore<P: Protocol> {
    node: NodeId,
    protocol: P,
    ctx: Context<P::Message>,
    effects: Vec<Effect<P::Message>>,
    timers: Timers,
    /// The duplicate-request rule (volatile: see [`RequestFilter`]).
    requests: RequestFilter,
    counters: Arc<NodeCounters>,
    /// Envelopes produced in the open batch, held until its commit.
    outbox: Vec<Envelope>,
    /// Envelopes of committed batches, not yet taken by the driver.
    released: Vec<Envelope>,
    /// The node's store (a clone of the context's): committed at the end
    /// of each batch.
    store: NodeStore,
    /// Whether the driver opened a batch ([`Core::begin_batch`]).
    in_batch: bool,
    /// Envelopes handled in the open batch.
    handled: u64,
    /// Seals what it sends and checks what it receives (see
    /// [`crate::security`]); `None` when links are not authenticated.
    links: Option<Links>,
    /// Checks every client request before the protocol sees it (see
    /// [`crate::security::AccessPolicy`]); `None` when access control is off.
    access: Option<Arc<AccessControl>>,
}

/// The driver-facing face of a core, with the protocol type erased so that a
/// cluster of any protocol is one type.
pub(crate) trait Core: Send {
    /// Runs [`Protocol::on_start`]; call once, before any other input.
    fn start(&mut self, now_ns: u64);
    /// One envelope from the node's inbox.
    fn handle(&mut self, envelope: Envelope, now_ns: u64);
    /// Fires every timer due at `now_ns`, in deadline order. Timers the
    /// handlers set meanwhile are due later, so they wait for the next call.
    fn fire_due_timers(&mut self, now_ns: u64);
    /// The deadline of the next live timer, on the cluster clock.
    fn next_timer_ns(&mut self) -> Option<u64>;
    /// Moves the envelopes of every committed batch into `out`, in
    /// production order.
    fn take_outbox(&mut self, out: &mut Vec<Envelope>);
    /// Opens a batch: what the next calls produce is held, and their
    /// writes wait, until [`Core::end_batch`].
    fn begin_batch(&mut self);
    /// Closes the open batch: commits its writes, then releases what it
    /// produced (see the module docs).
    fn end_batch(&mut self);
}

impl<P: Protocol> NodeCore<P> {
    pub(crate) fn new(protocol: P, env: CoreEnv) -> Self {
        // Each incarnation draws from its own stream, reproducibly.
        let seed = env.seed
            ^ (u64::from(env.node.0) << 32)
            ^ env.incarnation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let store = env.store.clone();
        let ctx = Context::new(env.node, env.store, env.placement, env.clock, seed);
        NodeCore {
            node: env.node,
            protocol,
            ctx,
            effects: Vec::new(),
            timers: Timers::default(),
            requests: RequestFilter::new(),
            counters: env.counters,
            outbox: Vec::new(),
            released: Vec::new(),
            store,
            in_batch: false,
            handled: 0,
            links: env.links,
            access: env.access,
        }
    }

    /// The protocol, for a test to look at (the harness, [`crate::sim::Harness`]).
    pub(crate) fn protocol(&self) -> &P {
        &self.protocol
    }

    /// Runs `call` on the protocol and its context as if it were a handler:
    /// its effects are carried out, an error counted.
    pub(crate) fn call(
        &mut self,
        now_ns: u64,
        call: impl FnOnce(&mut P, &mut Context<P::Message>) -> crate::Result<()>,
    ) {
        let result = call(&mut self.protocol, &mut self.ctx);
        self.after_handler(result, None, now_ns);
        self.end_lone_batch();
    }

    /// The live timers as (deadline, token), earliest first.
    pub(crate) fn timers(&self) -> Vec<(u64, u64)> {
        self.timers.pending()
    }

    /// Fires the earliest live timer whose token is `token` at `now_ns`
    /// (due or not); its deadline, or `None` when there is none. `now_ns`
    /// gets the deadline and returns the time to fire at.
    pub(crate) fn fire_timer(
        &mut self,
        token: u64,
        now_ns: impl FnOnce(u64) -> u64,
    ) -> Option<u64> {
        let (id, at) = self.timers.take(token)?;
        let now = now_ns(at);
        self.call(now, |protocol, ctx| protocol.on_timer(ctx, id, token));
        Some(at)
    }

    /// Answers and returns false when access control refuses `client`
    /// `access` to `key`; the protocol never sees a refused request.
    fn permitted(&mut self, reply_to: ReplyTo, access: Access, key: &[u8], now_ns: u64) -> bool {
        let Some(control) = &self.access else {
            return true;
        };
        let response = match control.check(reply_to.client, access, key) {
            Ok(()) => return true,
            Err(Denial::Unauthenticated(why)) => Response::Unauthenticated(why),
            Err(Denial::PermissionDenied(why)) => Response::PermissionDenied(why),
            Err(Denial::Forged) => Response::Unauthenticated("forged request".into()),
        };
        self.count(|c| &c.refused_requests);
        self.ctx.reply(reply_to, response);
        self.after_handler(Ok(()), None, now_ns);
        false
    }

    /// Ends the batch a call made on its own, outside a driver's batch.
    fn end_lone_batch(&mut self) {
        if !self.in_batch {
            self.commit();
        }
    }

    /// Commits the store, then releases the batch's envelopes (or drops
    /// them when the commit failed: see the module docs).
    fn commit(&mut self) {
        if self.handled > 0 {
            self.count(|c| &c.batches);
            self.counters
                .batched_envelopes
                .fetch_add(self.handled, Ordering::Relaxed);
            self.handled = 0;
        }
        match self.store.commit() {
            Ok(_) => self.released.append(&mut self.outbox),
            Err(_) => {
                self.count(|c| &c.handler_errors);
                self.outbox.clear();
            }
        }
    }

    fn count(&self, counter: impl Fn(&NodeCounters) -> &std::sync::atomic::AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
    }

    /// Carries out the handler's effects; answers a failed request.
    fn after_handler(&mut self, result: crate::Result<()>, request: Option<ReplyTo>, now_ns: u64) {
        if let Err(error) = result {
            self.count(|c| &c.handler_errors);
            if let Some(reply_to) = request {
                let response = match error {
                    crate::Error::Corrupt { node, key, reason } => {
                        Response::Corrupt { node, key, reason }
                    }
                    other => Response::Failed(other.to_string()),
                };
                self.ctx.reply(reply_to, response);
            }
        }
        self.ctx.drain_effects_into(&mut self.effects);
        let roles = self.ctx.take_roles();
        if !roles.is_empty() {
            let node = self.node;
            self.counters
                .roles
                .lock()
                .extend(roles.into_iter().map(|(term, role)| RoleChange {
                    at_ns: now_ns,
                    node,
                    term,
                    role,
                }));
        }
        let me = Endpoint::Node(self.node);
        for effect in std::mem::take(&mut self.effects) {
            match effect {
                Effect::Send { to, message } => match codec::encode(&message) {
                    Ok(bytes) => {
                        let bytes = match &mut self.links {
                            Some(links) => links.seal(to, &bytes, now_ns),
                            None => bytes,
                        };
                        self.outbox.push(Envelope {
                            from: me,
                            to: Endpoint::Node(to),
                            payload: Payload::Peer(bytes),
                            // The protocol's label: the network cannot decode.
                            kind: P::message_kind(&message),
                        })
                    }
                    Err(_) => self.count(|c| &c.handler_errors),
                },
                Effect::Reply { to, response } => self.outbox.push(Envelope {
                    from: me,
                    to: Endpoint::Client(to.client),
                    kind: MessageKind::of_response(&response),
                    payload: Payload::Response {
                        id: to.request,
                        response,
                    },
                }),
                Effect::SetTimer { id, after, token } => {
                    // At least one nanosecond ahead: a timer set while timers
                    // fire is never part of the same round, so a protocol
                    // whose period is shorter than its handler cannot keep
                    // the node (or the simulator's virtual time) in one
                    // instant for ever.
                    let after_ns = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
                    self.timers
                        .set(id, now_ns.saturating_add(after_ns.max(1)), token);
                }
                Effect::CancelTimer(id) => self.timers.cancel(id),
            }
        }
    }
}

impl<P: Protocol> Core for NodeCore<P> {
    fn start(&mut self, now_ns: u64) {
        let started = self.protocol.on_start(&mut self.ctx);
        self.after_handler(started, None, now_ns);
        self.end_lone_batch();
    }

    fn handle(&mut self, envelope: Envelope, now_ns: u64) {
        self.handled += 1;
        self.handle_one(envelope, now_ns);
        self.end_lone_batch();
    }

    fn fire_due_timers(&mut self, now_ns: u64) {
        while let Some((id, token)) = self.timers.pop_due(now_ns) {
            let result = self.protocol.on_timer(&mut self.ctx, id, token);
            self.after_handler(result, None, now_ns);
        }
        self.end_lone_batch();
    }

    fn next_timer_ns(&mut self) -> Option<u64> {
        self.timers.next_deadline()
    }

    fn take_outbox(&mut self, out: &mut Vec<Envelope>) {
        out.append(&mut self.released);
    }

    fn begin_batch(&mut self) {
        self.in_batch = true;
    }

    fn end_batch(&mut self) {
        self.in_batch = false;
        self.commit();
    }
}

impl<P: Protocol> NodeCore<P> {
    /// A client's request or compare-and-set, with the tag it carried:
    /// authenticated (when access control is on), then the duplicate rule,
    /// then the grants, and only then the protocol.
    fn client_request(
        &mut self,
        client: crate::ids::ClientId,
        payload: Payload,
        tag: Option<[u8; 32]>,
        now_ns: u64,
    ) {
        let id = match &payload {
            Payload::Request { id, .. } | Payload::Cas { id, .. } => *id,
            _ => {
                self.count(|c| &c.garbled_messages);
                return;
            }
        };
        let reply_to = ReplyTo {
            client,
            request: id,
        };
        // First: a forgery must not use up the real request's number in
        // the duplicate rule below.
        let mut unauthenticated = None;
        if let Some(control) = &self.access {
            match control.authenticate(client, &payload, tag.as_ref()) {
                Ok(()) => {}
                Err(Denial::Unauthenticated(why)) => unauthenticated = Some(why),
                Err(_) => {
                    self.count(|c| &c.forged_requests);
                    return;
                }
            }
        }
        // A duplicate, or a late copy of a request its client gave up on:
        // running it again could undo a later write.
        if !self.requests.admit(reply_to) {
            self.count(|c| &c.duplicate_requests);
            return;
        }
        if let Some(why) = unauthenticated {
            self.count(|c| &c.refused_requests);
            self.ctx.reply(reply_to, Response::Unauthenticated(why));
            self.after_handler(Ok(()), None, now_ns);
            return;
        }
        match payload {
            Payload::Request { request, .. } => {
                let access = match request {
                    crate::protocol::Request::Get { .. } => Access::Read,
                    _ => Access::Write,
                };
                if !self.permitted(reply_to, access, request.key(), now_ns) {
                    return;
                }
                self.count(|c| &c.requests);
                let result = self.protocol.on_request(&mut self.ctx, reply_to, request);
                self.after_handler(result, Some(reply_to), now_ns);
            }
            Payload::Cas { cas, .. } => {
                // Its answer tells whether the value was the expected one.
                if !self.permitted(reply_to, Access::ReadWrite, &cas.key, now_ns) {
                    return;
                }
                self.count(|c| &c.requests);
                let result = self.protocol.on_cas(&mut self.ctx, reply_to, cas);
                self.after_handler(result, Some(reply_to), now_ns);
            }
            _ => self.count(|c| &c.garbled_messages),
        }
    }

    /// One envelope from the inbox, inside the open batch.
    fn handle_one(&mut self, envelope: Envelope, now_ns: u64) {
        match (envelope.from, envelope.payload) {
            (Endpoint::Client(client), Payload::Authenticated { tag, payload }) => {
                self.client_request(client, *payload, Some(tag), now_ns)
            }
            (
                Endpoint::Client(client),
                payload @ (Payload::Request { .. } | Payload::Cas { .. }),
            ) => self.client_request(client, payload, None, now_ns),
            (Endpoint::Node(from), Payload::Peer(bytes)) => {
                self.count(|c| &c.peer_messages);
                let bytes = match &mut self.links {
                    None => &bytes[..],
                    Some(links) => match links.open(from, &bytes) {
                        Ok(message) => message,
                        Err(Refusal::Unauthentic) => {
                            self.count(|c| &c.unauthentic_messages);
                            return;
                        }
                        Err(Refusal::Replayed) => {
                            self.count(|c| &c.replayed_messages);
                            return;
                        }
                    },
                };
                match codec::decode::<P::Message>(bytes) {
                    Ok(message) => {
                        let result = self.protocol.on_message(&mut self.ctx, from, message);
                        self.after_handler(result, None, now_ns);
                    }
                    Err(_) => self.count(|c| &c.garbled_messages),
                }
            }
            // Anything else (a response addressed to a node, a peer message
            // claiming to come from a client) is garbage: drop it.
            _ => self.count(|c| &c.garbled_messages),
        }
    }
}
