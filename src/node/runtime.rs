//! The node thread's loop, and the type-erased spawner the cluster keeps.

use super::timers::Timers;
use crate::clock::Clock;
use crate::codec;
use crate::hand_off;
use crate::ids::{ClientId, Endpoint, NodeId};
use crate::network::{Envelope, Network, Payload};
use crate::placement::Placement;
use crate::protocol::{Context, Effect, NodeSetup, Protocol, ReplyTo, Response};
use crate::storage::NodeStore;
use crossbeam_channel::{Receiver, RecvTimeoutError, select};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the loop sleeps when no timer is pending (it wakes on any message).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// Orders from the cluster to a node thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    /// Stop now, losing volatile state.
    Crash,
    /// Stop processing for a while (a slow node); messages queue up.
    Pause(Duration),
}

/// Per-node counters, kept across restarts.
#[derive(Debug, Default)]
pub(crate) struct NodeCounters {
    pub requests: AtomicU64,
    pub peer_messages: AtomicU64,
    pub handler_errors: AtomicU64,
    pub garbled_messages: AtomicU64,
    pub duplicate_requests: AtomicU64,
    /// Incarnations that ended in a panic.
    pub panics: AtomicU64,
    /// The message of the latest panic. Written before `panics` is counted
    /// and before the thread ends, so whoever sees either sees the message.
    pub last_panic: Mutex<Option<String>>,
}

impl NodeCounters {
    /// Records that the node's thread is ending in a panic.
    fn record_panic(&self, payload: &(dyn Any + Send)) {
        let message = if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_string()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "a panic whose payload is not a string".to_string()
        };
        *self.last_panic.lock() = Some(message);
        self.panics.fetch_add(1, Ordering::Release);
    }
}

/// Everything a node thread needs.
pub(crate) struct NodeEnv {
    pub node: NodeId,
    pub incarnation: u64,
    pub seed: u64,
    pub store: NodeStore,
    pub placement: Arc<Placement>,
    pub clock: Arc<Clock>,
    pub network: Network,
    pub inbox: Receiver<Envelope>,
    pub control: Receiver<Control>,
    pub counters: Arc<NodeCounters>,
}

/// Starts node threads for one protocol type; the cluster keeps it boxed so
/// that `Cluster` itself is not generic.
pub(crate) trait Spawner: Send + Sync {
    fn spawn(&self, env: NodeEnv) -> std::io::Result<JoinHandle<()>>;
}

struct ProtocolSpawner<P, F> {
    factory: Arc<F>,
    _protocol: PhantomData<fn() -> P>,
}

/// Wraps a protocol factory.
pub(crate) fn spawner<P, F>(factory: F) -> Box<dyn Spawner>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    Box::new(ProtocolSpawner {
        factory: Arc::new(factory),
        _protocol: PhantomData,
    })
}

impl<P, F> Spawner for ProtocolSpawner<P, F>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    fn spawn(&self, env: NodeEnv) -> std::io::Result<JoinHandle<()>> {
        let factory = self.factory.clone();
        std::thread::Builder::new()
            .name(format!("replikv-{}", env.node))
            .spawn(move || run_node(factory.as_ref(), env))
    }
}

/// A node thread's whole life: build the protocol, run the loop. A panic
/// anywhere in it (the factory, a handler, carrying out an effect) ends the
/// incarnation like a crash: unwinding drops the protocol, its timers and its
/// inbox (so messages to the node are dropped from then on), and the message
/// is kept in the node's counters for the cluster to report. The default
/// panic hook has already printed it, with its location, to stderr.
fn run_node<P, F>(factory: &F, env: NodeEnv)
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P,
{
    let counters = env.counters.clone();
    let life = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let protocol = factory(&NodeSetup {
            node: env.node,
            incarnation: env.incarnation,
            placement: env.placement.clone(),
            store: env.store.clone(),
        });
        NodeLoop::new(protocol, env).run();
    }));
    if let Err(payload) = life {
        counters.record_panic(payload.as_ref());
    }
}

struct NodeLoop<P: Protocol> {
    protocol: P,
    ctx: Context<P::Message>,
    effects: Vec<Effect<P::Message>>,
    timers: Timers,
    /// Highest request number seen from each client (volatile).
    last_request: HashMap<ClientId, u64>,
    env: NodeEnv,
}

impl<P: Protocol> NodeLoop<P> {
    fn new(protocol: P, env: NodeEnv) -> Self {
        // Each incarnation draws from its own stream, reproducibly.
        let seed = env.seed
            ^ (u64::from(env.node.0) << 32)
            ^ env.incarnation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let ctx = Context::new(
            env.node,
            env.store.clone(),
            env.placement.clone(),
            env.clock.clone(),
            seed,
        );
        NodeLoop {
            protocol,
            ctx,
            effects: Vec::new(),
            timers: Timers::default(),
            last_request: HashMap::new(),
            env,
        }
    }

    fn run(mut self) {
        let started = self.protocol.on_start(&mut self.ctx);
        self.after_handler(started, None);
        loop {
            // Due timers first: a node whose inbox never empties must still
            // retransmit and give up on time.
            self.fire_timers();
            let envelope = match self.poll_inbox_briefly() {
                Some(envelope) => envelope,
                None => {
                    let wait = self.timers.until_next().unwrap_or(IDLE_WAIT);
                    select! {
                        recv(self.env.control) -> order => {
                            if !order.is_ok_and(|order| self.obey(order)) {
                                return;
                            }
                            continue;
                        }
                        recv(self.env.inbox) -> envelope => match envelope {
                            Ok(envelope) => envelope,
                            Err(_) => return,
                        },
                        // Timers fire at the top of the loop.
                        default(wait) => continue,
                    }
                }
            };
            // An order given before this message was sent (a pause, then a
            // request) takes effect first, however the two were received.
            if let Ok(order) = self.env.control.try_recv()
                && !self.obey(order)
            {
                return;
            }
            self.handle(envelope);
        }
    }

    /// Carries out an order from the cluster; false when told to stop.
    fn obey(&self, order: Control) -> bool {
        match order {
            Control::Pause(pause) => self.pause(pause),
            Control::Crash => false,
        }
    }

    /// A message that arrives within [`hand_off::SPIN_WINDOW`], before the
    /// loop goes to sleep in `select!`. Gives up at once when an order is
    /// waiting on the control channel (so a crash is obeyed even while the
    /// inbox never empties) or a timer falls due.
    fn poll_inbox_briefly(&mut self) -> Option<Envelope> {
        let control = &self.env.control;
        if !control.is_empty() {
            return None;
        }
        let due = self
            .timers
            .until_next()
            .map(|wait| crate::clock::deadline_after(Instant::now(), wait));
        hand_off::poll_briefly(&self.env.inbox, |now| {
            due.is_some_and(|due| now >= due) || !control.is_empty()
        })
    }

    /// Sleeps for `pause`, still obeying a crash; false when told to stop.
    fn pause(&self, pause: Duration) -> bool {
        match self.env.control.recv_timeout(pause) {
            Ok(Control::Crash) | Err(RecvTimeoutError::Disconnected) => false,
            Ok(Control::Pause(more)) => self.pause(more),
            Err(RecvTimeoutError::Timeout) => true,
        }
    }

    fn handle(&mut self, envelope: Envelope) {
        match (envelope.from, envelope.payload) {
            (Endpoint::Client(client), Payload::Request { id, request }) => {
                // A client waits for each request before the next, so request
                // numbers only grow: anything not above the last one seen is a
                // network duplicate or a late copy of a request the client
                // gave up on. Running it again could undo a later write.
                let last = self.last_request.entry(client).or_insert(0);
                if id <= *last {
                    self.env
                        .counters
                        .duplicate_requests
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
                *last = id;
                self.env.counters.requests.fetch_add(1, Ordering::Relaxed);
                let reply_to = ReplyTo {
                    client,
                    request: id,
                };
                let result = self.protocol.on_request(&mut self.ctx, reply_to, request);
                self.after_handler(result, Some(reply_to));
            }
            (Endpoint::Node(from), Payload::Peer(bytes)) => {
                self.env
                    .counters
                    .peer_messages
                    .fetch_add(1, Ordering::Relaxed);
                match codec::decode::<P::Message>(&bytes) {
                    Ok(message) => {
                        let result = self.protocol.on_message(&mut self.ctx, from, message);
                        self.after_handler(result, None);
                    }
                    Err(_) => {
                        self.env
                            .counters
                            .garbled_messages
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            // Anything else (a response addressed to a node, a peer message
            // claiming to come from a client) is garbage: drop it.
            _ => {
                self.env
                    .counters
                    .garbled_messages
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Fires the timers that were due when the round began. One a handler
    /// sets during the round waits for the next, after the loop has looked
    /// at its inbox and control channel: a protocol whose timer period is
    /// shorter than its handler's run time would otherwise keep the loop
    /// here for ever, deaf to messages and to a crash.
    fn fire_timers(&mut self) {
        let round = Instant::now();
        while let Some((id, token)) = self.timers.pop_due(round) {
            let result = self.protocol.on_timer(&mut self.ctx, id, token);
            self.after_handler(result, None);
        }
    }

    /// Carries out the handler's effects; answers a failed request.
    fn after_handler(&mut self, result: crate::Result<()>, request: Option<ReplyTo>) {
        if let Err(error) = result {
            self.env
                .counters
                .handler_errors
                .fetch_add(1, Ordering::Relaxed);
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
        let me = Endpoint::Node(self.env.node);
        for effect in self.effects.drain(..) {
            match effect {
                Effect::Send { to, message } => match codec::encode(&message) {
                    Ok(bytes) => self.env.network.send(Envelope {
                        from: me,
                        to: Endpoint::Node(to),
                        payload: Payload::Peer(bytes),
                    }),
                    Err(_) => {
                        self.env
                            .counters
                            .handler_errors
                            .fetch_add(1, Ordering::Relaxed);
                    }
                },
                Effect::Reply { to, response } => self.env.network.send(Envelope {
                    from: me,
                    to: Endpoint::Client(to.client),
                    payload: Payload::Response {
                        id: to.request,
                        response,
                    },
                }),
                Effect::SetTimer { id, after, token } => self.timers.set(id, after, token),
                Effect::CancelTimer(id) => self.timers.cancel(id),
            }
        }
    }
}
