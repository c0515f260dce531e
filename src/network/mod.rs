//! The simulated network: every message between nodes, and between clients
//! and nodes, goes through here.
//!
//! # Why simulate
//!
//! The lesson's first two challenges are that messages can be lost or delayed
//! and that parts of a system fail independently. A real network does both,
//! but rarely and never on demand. Here every hazard is a named knob that can
//! be turned while the cluster runs, and every random choice comes from one
//! seeded generator. On the simulator ([`crate::Runtime::Simulated`]) that
//! makes a run that found a bug replayable from its seed, event for event
//! (see [`crate::sim`]). On threads the seed fixes the dice — which message
//! is lost, how long each one travels — but not which thread runs when, so
//! the same seed can give a different interleaving, and a different run.
//!
//! # How a message travels
//!
//! [`Network::send`] runs on the sender's thread. It counts the message, and
//! then either hands it straight to the receiver's channel (the fast path,
//! taken when no fault is configured) or decides its fate: dropped
//! ([`Network::set_drop_probability`], a cut link, or a [`FaultHook`]), or
//! delivered once or twice ([`Network::set_duplicate_probability`]) after a
//! delay drawn from a [`Latency`]. Delayed messages wait in a single *delay
//! thread*, a timer heap that releases each message when due. Because each
//! message draws its own delay, messages overtake each other: reordering
//! needs no knob of its own. On the simulator a message's fate is decided
//! the same way; only the transport differs (`transport.rs`): every message
//! waits in the simulator's event queue until its virtual arrival time.
//!
//! Partitions are decided when a message is sent; a message already in flight
//! when a partition starts is still delivered, as on a real network. A
//! message to a crashed node is dropped.
//!
//! # Connections die with a restart
//!
//! A message is delivered only to the node *incarnation* it was sent to. Each
//! time a node's inbox is attached (at start and at every restart) its
//! connection number moves on; a message remembers the connection it was sent
//! on, and a copy still in flight when the node restarts is dropped on
//! arrival, as the bytes on a TCP connection die with the process at its
//! end. Without this, a copy of a client request delayed across a crash and
//! restart of its coordinator would run again on the new incarnation, which
//! has forgotten that it ran the request before — a second write with a newer
//! version, which breaks strong mode and loses acknowledged writes in
//! eventual mode. The [`crate::protocol`] docs list which other duplicates
//! the runtime removes and which a protocol must handle.
//!
//! [`Network::set_connections_survive_restart`] turns this off, for teaching
//! only: with it on, a copy sent to an earlier incarnation reaches the new
//! one, and the old hole — a late duplicate run again by a restarted node
//! that forgot it — can be shown and found ([`crate::lab::Mutant`]).
//!
//! # Latency: which setting a message gets
//!
//! The network never looks inside a message: peer messages are opaque
//! bincode bytes, and a [`FaultHook`] sees only endpoints, sizes and the
//! [`MessageKind`] the sender wrote on the envelope (write request, write
//! ack, read request, read response, other: the protocol labels its own
//! messages through [`crate::protocol::Protocol::message_kind`]). The one
//! component that does look inside is an [`Adversary`] (`adversary.rs`),
//! the attacker of [`crate::security`]: kept apart from the faults, it sees
//! each envelope first and may rewrite it. A
//! message's delay is drawn from the first of these that is set:
//!
//! 1. the latency of its directed link ([`Network::set_link_latency`]);
//! 2. on a link with a client at one end, the client latency
//!    ([`Network::set_client_latency`]); on a node-to-node link, the latency
//!    of its kind ([`Network::set_kind_latency`]) — the four legs W, A, R, S
//!    of the PBS paper's WARS model ([`crate::lab::pbs`]);
//! 3. the latency of every link ([`Network::set_latency`]).
//!
//! Any of them may be a [`Latency::Mixture`], as the paper's production
//! fits are.

mod adversary;
#[cfg(test)]
mod batch_tests;
mod controls;
mod delay;
mod faults;
mod kind;
mod latency;
mod mixture;
mod transport;

pub use adversary::Adversary;
pub use faults::{EnvelopeInfo, FaultHook, FaultScope, Verdict};
pub use kind::MessageKind;
pub use latency::{Latency, parse_duration};
pub use mixture::{MAX_MIXTURE_PARTS, Mixture};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{ClientId, Endpoint, NodeId};
use crate::protocol::{Cas, Request, Response};
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender};
use delay::DelayLine;
use faults::Faults;
use parking_lot::{Mutex, RwLock};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use transport::Transport;
pub(crate) use transport::{InFlight, SimOutbox};

/// Fixed per-envelope overhead counted for client traffic (ids, framing).
const CLIENT_FRAME_BYTES: usize = 16;

/// A message in transit.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// Sender.
    pub from: Endpoint,
    /// Receiver.
    pub to: Endpoint,
    /// Contents.
    pub payload: Payload,
    /// What the message is for, as its sender labels it: the fault model
    /// may give each kind its own latency ([`Network::set_kind_latency`]).
    /// See [`MessageKind`] for who labels what.
    pub kind: MessageKind,
}

/// What an envelope carries.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A protocol message between nodes, bincode-encoded.
    Peer(Vec<u8>),
    /// A client request.
    Request {
        /// The client's request number.
        id: u64,
        /// The request.
        request: Request,
    },
    /// A client's compare-and-set (a separate payload from
    /// [`Payload::Request`] because it is a separate handler,
    /// [`Protocol::on_cas`](crate::protocol::Protocol::on_cas)).
    Cas {
        /// The client's request number.
        id: u64,
        /// The compare-and-set.
        cas: Cas,
    },
    /// A [`Payload::Request`] or [`Payload::Cas`] from a client made with
    /// [`Cluster::client_as`](crate::Cluster::client_as), with a tag under
    /// the client's session key over its id, the request number and the
    /// request: the node checks it before anything else (see
    /// [`crate::security::AccessPolicy`]), so a request whose client id an
    /// attacker rewrote, or whose contents it altered, is dropped.
    Authenticated {
        /// Keyed BLAKE3 under the session key.
        tag: [u8; 32],
        /// The request or compare-and-set.
        payload: Box<Payload>,
    },
    /// A reply to a client.
    Response {
        /// The request number answered.
        id: u64,
        /// The answer.
        response: Response,
    },
}

impl Envelope {
    /// An envelope labelled by its payload: a client request or reply gets
    /// its kind from what it asks or answers ([`MessageKind::of_request`],
    /// [`MessageKind::of_response`]), a peer message [`MessageKind::Other`]
    /// (the node core labels its protocol's messages itself).
    ///
    /// ```
    /// use replikv::network::{Envelope, MessageKind, Payload};
    /// use replikv::protocol::Request;
    /// use replikv::{ClientId, Endpoint, NodeId};
    /// let get = Envelope::new(
    ///     Endpoint::Client(ClientId(1)),
    ///     Endpoint::Node(NodeId(0)),
    ///     Payload::Request { id: 1, request: Request::Get { key: b"k".to_vec() } },
    /// );
    /// assert_eq!(get.kind, MessageKind::ReadRequest);
    /// ```
    pub fn new(from: Endpoint, to: Endpoint, payload: Payload) -> Self {
        fn kind_of(payload: &Payload) -> MessageKind {
            match payload {
                Payload::Peer(_) => MessageKind::Other,
                Payload::Request { request, .. } => MessageKind::of_request(request),
                // A compare-and-set reads and writes: a write request.
                Payload::Cas { .. } => MessageKind::WriteRequest,
                Payload::Authenticated { payload, .. } => kind_of(payload),
                Payload::Response { response, .. } => MessageKind::of_response(response),
            }
        }
        let kind = kind_of(&payload);
        Envelope {
            from,
            to,
            payload,
            kind,
        }
    }

    /// Size on the wire in bytes: the encoded peer message, or key and value
    /// plus a small fixed frame for client traffic.
    pub fn size(&self) -> usize {
        fn size_of(payload: &Payload) -> usize {
            match payload {
                Payload::Peer(bytes) => bytes.len(),
                Payload::Request { request, .. } => request.payload_len() + CLIENT_FRAME_BYTES,
                Payload::Cas { cas, .. } => cas.payload_len() + CLIENT_FRAME_BYTES,
                Payload::Authenticated { tag, payload } => tag.len() + size_of(payload),
                Payload::Response { response, .. } => response.payload_len() + CLIENT_FRAME_BYTES,
            }
        }
        size_of(&self.payload)
    }
}

/// Message counters, since the network was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Envelopes handed to [`Network::send`].
    pub sent: u64,
    /// Copies put into a receiver's inbox. Derived rather than counted:
    /// `sent + duplicated − dropped − waiting in the delay line`, exact
    /// whenever no send is half-way through.
    pub delivered: u64,
    /// Copies lost: dropped by a fault, a cut link, or a dead receiver.
    pub dropped: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Bytes handed to [`Network::send`].
    pub bytes: u64,
}

impl NetworkStats {
    /// Copies still in flight: `sent + duplicated − delivered − dropped`.
    pub fn in_flight(&self) -> u64 {
        (self.sent + self.duplicated).saturating_sub(self.delivered + self.dropped)
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    bytes: AtomicU64,
}

/// A member node's route.
#[derive(Clone, Default)]
struct NodeRoute {
    /// The running incarnation's inbox; `None` while the node is crashed.
    inbox: Option<Sender<Envelope>>,
    /// Moves on at every attach: a delayed message is delivered only when
    /// the connection it was sent on is still the node's current one.
    connection: u64,
}

/// Where envelopes go. Read on every send, changed only when a node crashes,
/// restarts, joins or leaves, or a client comes or goes — so it is an
/// immutable value swapped whole (read-copy-update through `arc-swap`): a
/// send reads it without taking a lock.
#[derive(Clone, Default)]
struct Routes {
    /// Route of each node; `None` for ids that are not (or no longer) in
    /// the cluster.
    nodes: Vec<Option<NodeRoute>>,
    clients: HashMap<ClientId, Sender<Envelope>>,
}

/// Routes and fault state shared by every handle.
pub(crate) struct Shared {
    routes: ArcSwap<Routes>,
    /// Serializes route changes (each copies, edits and swaps the routes).
    route_changes: Mutex<()>,
    faults: RwLock<Faults>,
    quiet: AtomicBool,
    /// Off by default: a delayed message dies with the incarnation it was
    /// sent to. On, it reaches the node's next incarnation (a teaching
    /// mutant, see [`Network::set_connections_survive_restart`]).
    survive_restart: AtomicBool,
    rng: Mutex<ChaCha8Rng>,
    counters: Counters,
    clock: Arc<Clock>,
    /// The message trace, once [`Network::record_trace`] started it.
    trace: OnceLock<crate::trace::Recorder>,
    /// The attacker, if any (see `adversary.rs`); `attacked` says whether
    /// there is one without taking the lock.
    adversary: RwLock<Option<Arc<dyn Adversary>>>,
    attacked: AtomicBool,
}

/// A handle on the simulated network. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Network {
    shared: Arc<Shared>,
    transport: Arc<Transport>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("faults", &*self.shared.faults.read())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Network {
    /// A network for node ids `0..nodes`, with every random choice drawn
    /// from `seed`. Starts the delay thread; [`Network::shutdown`] (called
    /// when the cluster drops) stops it.
    ///
    /// ```
    /// use replikv::network::{Network, Payload, Envelope};
    /// use replikv::{Endpoint, NodeId};
    /// use std::sync::Arc;
    ///
    /// let clock = Arc::new(replikv::Clock::new(2));
    /// let net = Network::new(2, 42, clock)?;
    /// let inbox = net.attach_node(NodeId(1))?;
    /// net.send(Envelope::new(
    ///     Endpoint::Node(NodeId(0)),
    ///     Endpoint::Node(NodeId(1)),
    ///     Payload::Peer(b"hello".to_vec()),
    /// ));
    /// assert!(matches!(inbox.try_recv().map(|e| e.payload), Ok(Payload::Peer(b)) if b == b"hello"));
    /// net.shutdown();
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn new(nodes: usize, seed: u64, clock: Arc<Clock>) -> Result<Self> {
        let shared = Shared::new(nodes, seed, clock);
        let delay = DelayLine::start(shared.clone())?;
        Ok(Network {
            shared,
            transport: Arc::new(Transport::Threads(delay)),
        })
    }

    /// A network whose messages travel on the simulator's virtual time: every
    /// message the fault model lets through waits in the returned outbox
    /// until the simulator takes it.
    pub(crate) fn simulated(nodes: usize, seed: u64, clock: Arc<Clock>) -> (Self, Arc<SimOutbox>) {
        let outbox = Arc::new(SimOutbox::default());
        let network = Network {
            shared: Shared::new(nodes, seed, clock),
            transport: Arc::new(Transport::Simulated(outbox.clone())),
        };
        (network, outbox)
    }

    /// Puts a message the simulator took from its outbox into its inbox
    /// now, or drops it (the receiver restarted or is gone). True when it
    /// reached the inbox.
    pub(crate) fn deliver_simulated(&self, message: InFlight) -> bool {
        if let Transport::Simulated(outbox) = &*self.transport {
            outbox.settled();
        }
        self.shared
            .deliver(message.envelope, message.connection, message.trace)
    }

    /// Sends an envelope, subject to the attacker (if any, see
    /// [`Network::set_adversary`]) and then the faults in force.
    pub fn send(&self, envelope: Envelope) {
        self.send_caused(envelope, None);
    }

    /// Sends what one node released at the end of a batch (see
    /// `src/node/core.rs`): one call through the network for the batch,
    /// with the messages to each receiver next to one another, in the
    /// order they were produced. When no fault, attacker or trace is set,
    /// the batch is counted once and its routes read once, and each
    /// message goes straight into its receiver's channel.
    ///
    /// The fault model still decides each message's fate on its own: a
    /// loss probability of 10 % loses a tenth of the messages, not a tenth
    /// of the batches. That is the honest choice here. The fault sweeps,
    /// the lesson's figures and the protocols' retry rules are all stated
    /// per message, and a batch that travelled as one unit would change
    /// what a given knob setting means with the load (a loaded node sends
    /// bigger batches, so fewer, more correlated losses). A real network
    /// loses whole segments, but TCP retransmits them, so what reaches a
    /// receiver late or never is still decided message by message at the
    /// application's level. `envelopes` is empty afterwards.
    pub(crate) fn send_batch(&self, envelopes: &mut Vec<Envelope>) {
        // Stable: messages to one receiver keep their production order.
        envelopes.sort_by_key(|envelope| envelope.to);
        let shared = &self.shared;
        let plain = shared.quiet.load(Ordering::Acquire)
            && !shared.attacked.load(Ordering::Acquire)
            && shared.trace.get().is_none()
            && matches!(&*self.transport, Transport::Threads(_));
        if !plain {
            for envelope in envelopes.drain(..) {
                self.send(envelope);
            }
            return;
        }
        let bytes: usize = envelopes.iter().map(Envelope::size).sum();
        let counters = &shared.counters;
        counters
            .sent
            .fetch_add(envelopes.len() as u64, Ordering::Relaxed);
        counters.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let routes = shared.routes.load();
        for envelope in envelopes.drain(..) {
            shared.deliver_via(&routes, envelope, None, None);
        }
    }

    /// [`Network::send`], naming for the trace the message whose handling
    /// produced this one (the simulator knows it; see [`crate::trace`]).
    pub(crate) fn send_caused(&self, envelope: Envelope, cause: Option<u64>) {
        let counters = &self.shared.counters;
        counters.sent.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes
            .fetch_add(envelope.size() as u64, Ordering::Relaxed);
        match self.intercept(envelope) {
            Err(untouched) => self.route(untouched, cause),
            Ok(instead) => {
                // What the attacker suppressed is lost; what it added is
                // sent (and counted) as any other message.
                match instead.len() {
                    0 => counters.dropped.fetch_add(1, Ordering::Relaxed),
                    n => counters.sent.fetch_add(n as u64 - 1, Ordering::Relaxed),
                };
                for envelope in instead {
                    self.route(envelope, cause);
                }
            }
        }
    }

    /// The faults' part of [`Network::send`].
    fn route(&self, envelope: Envelope, cause: Option<u64>) {
        let counters = &self.shared.counters;
        let trace = self.shared.trace.get();
        let id = trace.map(|t| t.send(&envelope, self.shared.clock.now_ns(), cause));
        if self.shared.quiet.load(Ordering::Acquire) {
            self.deliver_after(envelope, Duration::ZERO, id);
            return;
        }
        let info = EnvelopeInfo {
            from: envelope.from,
            to: envelope.to,
            bytes: envelope.size(),
            at_ns: self.shared.clock.now_ns(),
            kind: envelope.kind,
        };
        match self.decide(&info) {
            Verdict::Drop => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                if let (Some(trace), Some(id)) = (trace, id) {
                    let cut = self.shared.faults.read().is_cut(info.from, info.to);
                    let reason = if cut {
                        crate::trace::DropReason::Cut
                    } else {
                        crate::trace::DropReason::Fault
                    };
                    trace.drop(id, info.at_ns, reason);
                }
            }
            Verdict::Deliver(delay) => self.deliver_after(envelope, delay, id),
            Verdict::Duplicate(first, second) => {
                counters.duplicated.fetch_add(1, Ordering::Relaxed);
                if let (Some(trace), Some(id)) = (trace, id) {
                    trace.duplicate(id, info.at_ns);
                }
                self.deliver_after(envelope.clone(), first, id);
                self.deliver_after(envelope, second, id);
            }
        }
    }

    /// Starts recording the message trace (see [`crate::trace`]): every
    /// message sent from now on, what became of it, crashes, restarts,
    /// partitions and (on the simulator) timers. Calling it again changes
    /// nothing. Recording changes no decision the network makes, so a
    /// simulated run with a trace is the run without one.
    ///
    /// ```
    /// # use replikv::{Cluster, StorageKind};
    /// let cluster = Cluster::builder().nodes(1).storage(StorageKind::Memory).build()?;
    /// assert!(cluster.network().trace().is_none());
    /// cluster.network().record_trace();
    /// cluster.client()?.put("k", "v")?;
    /// let trace = cluster.network().trace().expect("recording");
    /// assert!(!trace.exact); // threads: best effort
    /// assert_eq!(trace.events.len(), 4); // request and response: sent, delivered
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn record_trace(&self) {
        let routes = self.shared.routes.load();
        let mut nodes = Vec::new();
        let mut down = Vec::new();
        for (i, slot) in routes.nodes.iter().enumerate() {
            if let Some(route) = slot {
                nodes.push(i as u32);
                if route.inbox.is_none() {
                    down.push(i as u32);
                }
            }
        }
        let exact = matches!(&*self.transport, Transport::Simulated(_));
        let now = self.shared.clock.now_ns();
        let _ = self
            .shared
            .trace
            .set(crate::trace::Recorder::new(exact, now, nodes, down));
        let cut = self.shared.faults.read().cut.clone();
        if let Some(trace) = self.shared.trace.get()
            && !cut.is_empty()
        {
            trace.partition(&cut, now);
        }
    }

    /// A copy of the trace recorded so far, or `None` when
    /// [`Network::record_trace`] was never called.
    pub fn trace(&self) -> Option<crate::trace::Trace> {
        self.shared.trace.get().map(|t| t.snapshot())
    }

    /// The recorder, when a trace is being recorded.
    pub(crate) fn recorder(&self) -> Option<&crate::trace::Recorder> {
        self.shared.trace.get()
    }

    fn decide(&self, info: &EnvelopeInfo) -> Verdict {
        let faults = self.shared.faults.read();
        if faults.is_cut(info.from, info.to) {
            return Verdict::Drop;
        }
        if let Some(verdict) = faults.hook.as_ref().and_then(|hook| hook.decide(info)) {
            return verdict;
        }
        if faults.spares(info.from, info.to) {
            let latency = faults.own_latency_of(info.from, info.to, info.kind);
            let mut rng = self.shared.rng.lock();
            return Verdict::Deliver(latency.map_or(Duration::ZERO, |l| l.sample(&mut rng)));
        }
        let latency = faults.latency_of(info.from, info.to, info.kind);
        let mut rng = self.shared.rng.lock();
        if faults.drop > 0.0 && rng.random_bool(faults.drop) {
            return Verdict::Drop;
        }
        let first = latency.sample(&mut rng);
        if faults.duplicate > 0.0 && rng.random_bool(faults.duplicate) {
            return Verdict::Duplicate(first, latency.sample(&mut rng));
        }
        Verdict::Deliver(first)
    }

    fn deliver_after(&self, envelope: Envelope, delay: Duration, trace: Option<u64>) {
        match &*self.transport {
            Transport::Threads(_) if delay.is_zero() => {
                self.shared.deliver(envelope, None, trace);
            }
            Transport::Threads(line) => {
                let connection = self.shared.connection(envelope.to);
                line.schedule(envelope, connection, delay, trace);
            }
            Transport::Simulated(outbox) => {
                let connection = self.shared.connection(envelope.to);
                Transport::simulate(
                    outbox,
                    InFlight {
                        envelope,
                        connection,
                        delay,
                        trace,
                    },
                );
            }
        }
    }

    /// **A deliberate bug, off by default.** When on, a message still in
    /// flight when its receiver crashes and restarts reaches the *new*
    /// incarnation, as if connections survived the restart — while each
    /// node's duplicate-request memory ([`crate::protocol::RequestFilter`])
    /// is volatile and dies with it. A late copy of a client request that
    /// the old incarnation already ran is then run again by a node that has
    /// forgotten it: the hole this network closes by delivering a message
    /// only to the incarnation it was sent to. Keep it for mutation tests
    /// and the lesson ([`crate::lab::Mutant::StrongAmnesiacRestart`]);
    /// messages sent while the node is down are still lost.
    ///
    /// ```
    /// use replikv::network::{Envelope, Latency, Network, Payload};
    /// use replikv::{Clock, Endpoint, NodeId};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let net = Network::new(2, 7, Arc::new(Clock::new(2)))?;
    /// net.set_connections_survive_restart(true);
    /// net.set_latency(Latency::Fixed(Duration::from_millis(20)))?;
    /// let _first = net.attach_node(NodeId(1))?;
    /// net.send(Envelope::new(
    ///     Endpoint::Node(NodeId(0)),
    ///     Endpoint::Node(NodeId(1)),
    ///     Payload::Peer(b"old".to_vec()),
    /// ));
    /// net.detach_node(NodeId(1))?; // crash
    /// let second = net.attach_node(NodeId(1))?; // restart
    /// // The copy sent to the first incarnation reaches the second.
    /// let got = second.recv_timeout(Duration::from_secs(5)).map(|e| e.payload);
    /// assert!(matches!(got, Ok(Payload::Peer(b)) if b == b"old"));
    /// net.shutdown();
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn set_connections_survive_restart(&self, on: bool) {
        self.shared.survive_restart.store(on, Ordering::Relaxed);
    }

    /// Attaches a node's inbox (at start and at restart); returns its receiver.
    pub fn attach_node(&self, node: NodeId) -> Result<Receiver<Envelope>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.shared
            .change_routes(|routes| match routes.nodes.get_mut(node.index()) {
                Some(Some(route)) => {
                    route.inbox = Some(tx);
                    route.connection += 1;
                    Ok(rx)
                }
                _ => Err(Error::UnknownNode(node)),
            })
            .inspect(|_| self.trace_node(node, true))
    }

    fn trace_node(&self, node: NodeId, up: bool) {
        if let Some(trace) = self.shared.trace.get() {
            trace.node(node, up, self.shared.clock.now_ns());
        }
    }

    /// Detaches a node's inbox (crash): messages to it are dropped until it
    /// is attached again.
    pub fn detach_node(&self, node: NodeId) -> Result<()> {
        self.shared
            .change_routes(|routes| match routes.nodes.get_mut(node.index()) {
                Some(Some(route)) => {
                    route.inbox = None;
                    Ok(())
                }
                _ => Err(Error::UnknownNode(node)),
            })
            .inspect(|()| self.trace_node(node, false))
    }

    /// Makes room for a new node id (detached until attached).
    pub(crate) fn add_node(&self, node: NodeId) {
        self.shared.change_routes(|routes| {
            if routes.nodes.len() <= node.index() {
                routes.nodes.resize(node.index() + 1, None);
            }
            routes.nodes[node.index()] = Some(NodeRoute::default());
        });
    }

    /// Forgets a node id entirely (the node left the cluster): messages to
    /// it are dropped and fault calls naming it are refused.
    pub(crate) fn remove_node(&self, node: NodeId) {
        self.shared.change_routes(|routes| {
            if let Some(slot) = routes.nodes.get_mut(node.index()) {
                *slot = None;
            }
        });
        self.trace_node(node, false);
        self.update(|f| f.cut.retain(|&(a, b)| a != node && b != node));
    }

    /// Attaches a client's inbox.
    pub fn attach_client(&self, client: ClientId) -> Result<Receiver<Envelope>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.shared.change_routes(|routes| {
            if routes.clients.contains_key(&client) {
                return Err(Error::DuplicateClient(client));
            }
            routes.clients.insert(client, tx);
            Ok(rx)
        })
    }

    /// Detaches a client's inbox.
    pub fn detach_client(&self, client: ClientId) {
        self.shared.change_routes(|routes| {
            routes.clients.remove(&client);
        });
    }

    /// True when `node` is a member id of this network.
    pub fn knows(&self, node: NodeId) -> bool {
        matches!(
            self.shared.routes.load().nodes.get(node.index()),
            Some(Some(_))
        )
    }

    fn check_node(&self, node: NodeId) -> Result<()> {
        if self.knows(node) {
            Ok(())
        } else {
            Err(Error::UnknownNode(node))
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> NetworkStats {
        let c = &self.shared.counters;
        let (sent, dropped, duplicated) = (
            c.sent.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
            c.duplicated.load(Ordering::Relaxed),
        );
        let waiting = self.transport.waiting() as u64;
        NetworkStats {
            sent,
            delivered: (sent + duplicated).saturating_sub(dropped + waiting),
            dropped,
            duplicated,
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// Messages waiting in the delay thread.
    pub fn delayed(&self) -> usize {
        self.transport.waiting()
    }

    /// Stops the delay thread (pending delayed messages are dropped) and
    /// waits for it. Idempotent.
    pub fn shutdown(&self) {
        if let Transport::Threads(line) = &*self.transport {
            line.shutdown();
        }
    }

    fn node_ids(&self) -> Vec<NodeId> {
        self.shared
            .routes
            .load()
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_some())
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }
}

impl Shared {
    fn new(nodes: usize, seed: u64, clock: Arc<Clock>) -> Arc<Self> {
        Arc::new(Shared {
            routes: ArcSwap::from_pointee(Routes {
                nodes: vec![Some(NodeRoute::default()); nodes],
                clients: HashMap::new(),
            }),
            route_changes: Mutex::new(()),
            faults: RwLock::new(Faults::default()),
            quiet: AtomicBool::new(true),
            survive_restart: AtomicBool::new(false),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            counters: Counters::default(),
            clock,
            trace: OnceLock::new(),
            adversary: RwLock::new(None),
            attacked: AtomicBool::new(false),
        })
    }

    /// The connection a message to `to` is sent on now (`None` for clients,
    /// whose connections never break).
    fn connection(&self, to: Endpoint) -> Option<u64> {
        match to {
            Endpoint::Node(n) => {
                let routes = self.routes.load();
                let route = routes.nodes.get(n.index())?.as_ref()?;
                Some(route.connection)
            }
            Endpoint::Client(_) => None,
        }
    }

    /// Puts an envelope into its receiver's inbox now, or counts it dropped.
    /// `sent_on` is the connection a delayed message was sent on: when the
    /// receiver has restarted since, the copy dies with the old connection.
    /// `trace` is the message's number in the trace, if one is recorded.
    /// True when the envelope reached the inbox.
    fn deliver(&self, envelope: Envelope, sent_on: Option<u64>, trace: Option<u64>) -> bool {
        self.deliver_via(&self.routes.load(), envelope, sent_on, trace)
    }

    /// [`Shared::deliver`] on routes the caller has already read.
    fn deliver_via(
        &self,
        routes: &Routes,
        envelope: Envelope,
        sent_on: Option<u64>,
        trace: Option<u64>,
    ) -> bool {
        let sent_on = sent_on.filter(|_| !self.survive_restart.load(Ordering::Relaxed));
        let sent = match envelope.to {
            Endpoint::Node(n) => match routes.nodes.get(n.index()) {
                Some(Some(NodeRoute {
                    inbox: Some(inbox),
                    connection,
                })) if sent_on.is_none_or(|sent_on| sent_on == *connection) => {
                    inbox.send(envelope).is_ok()
                }
                _ => false,
            },
            Endpoint::Client(c) => match routes.clients.get(&c) {
                Some(inbox) => inbox.send(envelope).is_ok(),
                None => false,
            },
        };
        // Deliveries are not counted one by one (that would be one more
        // shared atomic per message): `stats` derives them from the copies
        // sent, dropped and still waiting in the delay line.
        if !sent {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        if let (Some(recorder), Some(id)) = (self.trace.get(), trace) {
            let now = self.clock.now_ns();
            if sent {
                recorder.deliver(id, now);
            } else {
                recorder.drop(id, now, crate::trace::DropReason::ReceiverDown);
            }
        }
        sent
    }

    /// Applies `change` to a copy of the routes and installs the copy.
    fn change_routes<T>(&self, change: impl FnOnce(&mut Routes) -> T) -> T {
        let _one_at_a_time = self.route_changes.lock();
        let mut routes = Routes::clone(&self.routes.load());
        let result = change(&mut routes);
        self.routes.store(Arc::new(routes));
        result
    }

    /// Counts one envelope as dropped.
    fn count_dropped(&self, n: u64) {
        self.counters.dropped.fetch_add(n, Ordering::Relaxed);
    }
}
