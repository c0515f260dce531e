//! The node thread's loop (the thread driver of [`super::core`]), and the
//! type-erased spawner the cluster keeps.

use super::core::{Core, CoreEnv, NodeCore};
use crate::clock::Clock;
use crate::hand_off;
use crate::ids::NodeId;
use crate::network::{Envelope, Network};
use crate::placement::Placement;
use crate::protocol::rebalance::{Hooks, HooksOf};
use crate::protocol::{NodeSetup, Protocol};
use crate::security::LinkKey;
use crate::security::link::Links;
use crate::storage::NodeStore;
use crossbeam_channel::{Receiver, RecvTimeoutError, select};
use parking_lot::Mutex;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the loop sleeps when no timer is pending (it wakes on any message).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// The most envelopes one batch handles, so that a node whose inbox never
/// empties still fires its timers and obeys the cluster between batches,
/// and a batch's first reply never waits behind thousands of others.
pub(crate) const MAX_BATCH: usize = 256;

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
    /// Peer messages refused by the link check: forged or altered.
    pub unauthentic_messages: AtomicU64,
    /// Authentic peer messages refused as replays.
    pub replayed_messages: AtomicU64,
    /// Client requests refused by access control.
    pub refused_requests: AtomicU64,
    /// Client requests dropped because their session tag did not verify.
    pub forged_requests: AtomicU64,
    /// Batches that handled at least one envelope, and those envelopes.
    pub batches: AtomicU64,
    pub batched_envelopes: AtomicU64,
    /// Incarnations that ended in a panic.
    pub panics: AtomicU64,
    /// The message of the latest panic. Written before `panics` is counted
    /// and before the thread ends, so whoever sees either sees the message.
    pub last_panic: Mutex<Option<String>>,
    /// The roles the node announced, stamped (see [`crate::leadership`]),
    /// and the `Down` the cluster adds when it crashes the node.
    pub roles: Mutex<Vec<crate::leadership::RoleChange>>,
}

impl NodeCounters {
    /// Records that the node's thread is ending in a panic.
    pub(crate) fn record_panic(&self, payload: &(dyn Any + Send)) {
        *self.last_panic.lock() = Some(panic_message(payload));
        self.panics.fetch_add(1, Ordering::Release);
    }
}

/// The text a panic carried.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic whose payload is not a string".to_string()
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
    /// The cluster's link key, when links are authenticated.
    pub link_key: Option<LinkKey>,
    /// The cluster's link epoch (see [`crate::security::Header::epoch`]).
    pub link_epoch: u64,
    /// The clients' sessions and grants, when access control is on.
    pub access: Option<Arc<crate::security::AccessControl>>,
    /// The cluster clock when this incarnation's inbox was attached: a
    /// sealed message stamped earlier was sent to an earlier incarnation.
    pub started_at_ns: u64,
    /// Whether the node handles its inbox in batches with group commit
    /// ([`crate::ClusterBuilder::batching`]).
    pub batching: bool,
}

impl NodeEnv {
    /// The store this incarnation's protocol and core use: one whose
    /// writes wait for the core's group commit when the node batches.
    fn incarnation_store(&self) -> NodeStore {
        if self.batching {
            self.store.batched()
        } else {
            self.store.clone()
        }
    }

    fn core_env(&self, store: NodeStore) -> CoreEnv {
        CoreEnv {
            node: self.node,
            incarnation: self.incarnation,
            seed: self.seed,
            store,
            placement: self.placement.clone(),
            clock: self.clock.clone(),
            counters: self.counters.clone(),
            links: self.link_key.clone().map(|key| {
                Links::new(
                    key,
                    self.link_epoch,
                    self.node,
                    self.incarnation,
                    self.started_at_ns,
                )
            }),
            access: self.access.clone(),
        }
    }
}

/// Starts node threads for one protocol type; the cluster keeps it boxed so
/// that `Cluster` itself is not generic.
pub(crate) trait Spawner: Send + Sync {
    fn spawn(&self, env: NodeEnv) -> std::io::Result<JoinHandle<()>>;
    /// A node core for `env`, for a driver of its own (the simulator).
    fn core(&self, env: &NodeEnv) -> Box<dyn Core>;
    /// The protocol's rebalancing and convergence hooks.
    fn hooks(&self) -> &dyn Hooks;
}

struct ProtocolSpawner<P, F> {
    factory: Arc<F>,
    hooks: HooksOf<P>,
}

/// Wraps a protocol factory.
pub(crate) fn spawner<P, F>(factory: F) -> Box<dyn Spawner>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    Box::new(ProtocolSpawner {
        factory: Arc::new(factory),
        hooks: HooksOf::new(),
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

    fn core(&self, env: &NodeEnv) -> Box<dyn Core> {
        make_core(self.factory.as_ref(), env)
    }

    fn hooks(&self) -> &dyn Hooks {
        &self.hooks
    }
}

/// Builds a node incarnation's core: its protocol from the factory, and the
/// context it runs in.
fn make_core<P, F>(factory: &F, env: &NodeEnv) -> Box<dyn Core>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P,
{
    let store = env.incarnation_store();
    let protocol = factory(&NodeSetup {
        node: env.node,
        incarnation: env.incarnation,
        placement: env.placement.clone(),
        store: store.clone(),
    });
    Box::new(NodeCore::new(protocol, env.core_env(store)))
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
        let core = make_core(factory, &env);
        NodeLoop::new(core, env).run();
    }));
    if let Err(payload) = life {
        counters.record_panic(payload.as_ref());
    }
}

/// The thread driver of one node incarnation: waits on the node's channels
/// and the monotonic clock, feeds the core, sends what it produced.
struct NodeLoop {
    core: Box<dyn Core>,
    /// Envelopes the core produced, reused between steps.
    outbox: Vec<Envelope>,
    env: NodeEnv,
}

impl NodeLoop {
    fn new(core: Box<dyn Core>, env: NodeEnv) -> Self {
        NodeLoop {
            core,
            outbox: Vec::new(),
            env,
        }
    }

    fn now_ns(&self) -> u64 {
        self.env.clock.now_ns()
    }

    /// Time until the core's next timer, if any.
    fn until_next_timer(&mut self) -> Option<Duration> {
        let due = self.core.next_timer_ns()?;
        Some(Duration::from_nanos(due.saturating_sub(self.now_ns())))
    }

    fn run(mut self) {
        let now = self.now_ns();
        self.core.start(now);
        self.flush();
        // An envelope a batch took from the inbox after an order arrived:
        // the order is obeyed first.
        let mut carried = None;
        loop {
            // Due timers first: a node whose inbox never empties must still
            // retransmit and give up on time.
            let now = self.now_ns();
            self.core.fire_due_timers(now);
            self.flush();
            let envelope = match carried.take().or_else(|| self.poll_inbox_briefly()) {
                Some(envelope) => envelope,
                None => {
                    let wait = self.until_next_timer().unwrap_or(IDLE_WAIT);
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
            if self.env.batching {
                carried = self.handle_batch(envelope);
            } else {
                let now = self.now_ns();
                self.core.handle(envelope, now);
            }
            self.flush();
        }
    }

    /// Handles `first` and whatever else is already waiting in the inbox
    /// (up to [`MAX_BATCH`]) as one batch: one group commit, then every
    /// reply and message at once. Stops early when a timer falls due, and
    /// when an order from the cluster has arrived: an envelope taken after
    /// the order is handed back, to be handled once the order is obeyed
    /// (as the loop does for the first envelope of a batch).
    fn handle_batch(&mut self, first: Envelope) -> Option<Envelope> {
        self.core.begin_batch();
        let mut now = self.now_ns();
        self.core.handle(first, now);
        let mut carried = None;
        for _ in 1..MAX_BATCH {
            if self.core.next_timer_ns().is_some_and(|due| now >= due) {
                break;
            }
            let Ok(envelope) = self.env.inbox.try_recv() else {
                break;
            };
            if !self.env.control.is_empty() {
                carried = Some(envelope);
                break;
            }
            now = self.now_ns();
            self.core.handle(envelope, now);
        }
        self.core.end_batch();
        carried
    }

    /// Sends what the core released: one call through the network per
    /// batch, messages to the same peer together (see
    /// [`Network::send_batch`]).
    fn flush(&mut self) {
        self.core.take_outbox(&mut self.outbox);
        if !self.outbox.is_empty() {
            self.env.network.send_batch(&mut self.outbox);
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
        if !self.env.control.is_empty() {
            return None;
        }
        let due = self
            .until_next_timer()
            .map(|wait| crate::clock::deadline_after(Instant::now(), wait));
        let control = &self.env.control;
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
}
