//! The simulated world: the node cores, the messages in flight and the
//! timers, on one virtual clock, moved one event at a time.

use super::trace::{TraceEvent, TraceKind};
use crate::clock::Clock;
use crate::ids::{Endpoint, NodeId};
use crate::network::{Envelope, InFlight, Network, SimOutbox};
use crate::node::{Core, NodeCounters};
use crossbeam_channel::Receiver;
use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What can happen at an instant of virtual time.
enum What {
    /// A message reaches its receiver's inbox (or is dropped there). Boxed:
    /// the queue moves events on every push and pop, and a pointer is much
    /// cheaper to move than an envelope.
    Deliver(Box<InFlight>),
    /// A node's earliest timer may be due.
    Timer { node: NodeId, incarnation: u64 },
    /// A paused node wakes up.
    Resume { node: NodeId, incarnation: u64 },
}

/// An event: ordered by time, then by the order it was scheduled in.
struct Event {
    at: u64,
    seq: u64,
    what: What,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// One running node incarnation in the simulation.
struct SimNode {
    core: Box<dyn Core>,
    inbox: Receiver<Envelope>,
    counters: Arc<NodeCounters>,
    incarnation: u64,
    /// Virtual time until which the node handles nothing (0: running).
    paused_until: u64,
    /// The time of the timer event scheduled for this node, if any.
    armed: Option<u64>,
    /// The trace numbers of the envelopes waiting in `inbox`, in the same
    /// order (`None` when no trace is recorded): the cause of whatever the
    /// core sends while it handles each.
    causes: VecDeque<Option<u64>>,
}

#[derive(Default)]
struct State {
    queue: BinaryHeap<Reverse<Event>>,
    seq: u64,
    nodes: BTreeMap<NodeId, SimNode>,
    /// Scratch space for what a core produced.
    produced: Vec<Envelope>,
    /// Every event processed, when a determinism check asked for it.
    trace: Option<Vec<TraceEvent>>,
    /// Scratch space for what the network let through since the last look.
    sent: Vec<InFlight>,
}

/// The simulated world. Everything in it happens on the calling thread, in
/// an order fixed by the events' times and the order they were scheduled in
/// — so one seed gives one run.
pub(crate) struct World {
    clock: Arc<Clock>,
    network: Network,
    outbox: Arc<SimOutbox>,
    state: Mutex<State>,
    /// One nanosecond past the latest instant a client operation returned
    /// at (0: none yet). See [`World::step_past_returns`].
    after_returns_ns: AtomicU64,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("now_ns", &self.clock.now_ns())
            .finish_non_exhaustive()
    }
}

fn ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl World {
    pub(crate) fn new(clock: Arc<Clock>, network: Network, outbox: Arc<SimOutbox>) -> Self {
        World {
            clock,
            network,
            outbox,
            state: Mutex::new(State::default()),
            after_returns_ns: AtomicU64::new(0),
        }
    }

    /// Notes that a client operation returned at `ns`.
    pub(crate) fn note_return(&self, ns: u64) {
        self.after_returns_ns
            .fetch_max(ns.saturating_add(1), Ordering::AcqRel);
    }

    /// Runs the world until virtual time is past every return noted so far
    /// (at most one nanosecond). A client calls it before it invokes an
    /// operation, because everything on the simulator's one thread happens
    /// in program order: code that starts an operation after another one
    /// returned started it *later*. Without the nanosecond, an instant
    /// network would give both the same timestamp, and the history — hence
    /// the linearizability checker and the lost-write oracle, which read
    /// equal times as concurrent — would lose the order the program
    /// imposed (a client's read after its own write could then be judged
    /// as if it might have come first).
    pub(crate) fn step_past_returns(&self) {
        let after = self.after_returns_ns.load(Ordering::Acquire);
        if self.now_ns() < after {
            self.run_until(after, &mut || false);
        }
    }

    /// Virtual nanoseconds since the start.
    pub(crate) fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Starts a node incarnation: runs its `on_start` now.
    pub(crate) fn start_node(
        &self,
        node: NodeId,
        incarnation: u64,
        core: Box<dyn Core>,
        inbox: Receiver<Envelope>,
        counters: Arc<NodeCounters>,
    ) {
        let mut state = self.state.lock();
        let now = self.now_ns();
        state.nodes.insert(
            node,
            SimNode {
                core,
                inbox,
                counters,
                incarnation,
                paused_until: 0,
                armed: None,
                causes: VecDeque::new(),
            },
        );
        self.run_core(&mut state, node, None, |core| core.start(now));
    }

    /// Stops a node incarnation (a crash): its core, timers and queued
    /// messages are gone. False when it was not running.
    pub(crate) fn stop_node(&self, node: NodeId) -> bool {
        self.state.lock().nodes.remove(&node).is_some()
    }

    /// True while `node` has a running incarnation.
    pub(crate) fn is_running(&self, node: NodeId) -> bool {
        self.state.lock().nodes.contains_key(&node)
    }

    /// Makes `node` handle nothing for `duration` of virtual time.
    pub(crate) fn pause(&self, node: NodeId, duration: Duration) -> bool {
        let mut state = self.state.lock();
        let until = self.now_ns().saturating_add(ns(duration));
        let Some(sim) = state.nodes.get_mut(&node) else {
            return false;
        };
        sim.paused_until = sim.paused_until.max(until);
        let (at, incarnation) = (sim.paused_until, sim.incarnation);
        Self::schedule(&mut state, at, What::Resume { node, incarnation });
        true
    }

    /// The time of the next event, if any (messages sent since the last
    /// step included).
    pub(crate) fn next_event_ns(&self) -> Option<u64> {
        let mut state = self.state.lock();
        self.take_sent(&mut state);
        state.queue.peek().map(|Reverse(e)| e.at)
    }

    /// Runs events in order until `done` says so (checked before each
    /// event) or the next event lies beyond `deadline_ns`; then moves the
    /// clock to the deadline (when it is not `u64::MAX`). Returns `done()`.
    ///
    /// `done` runs with no lock of the world held, so it may look at client
    /// inboxes, but it must not call back into the world.
    pub(crate) fn run_until(&self, deadline_ns: u64, done: &mut dyn FnMut() -> bool) -> bool {
        loop {
            if done() {
                return true;
            }
            let mut state = self.state.lock();
            self.take_sent(&mut state);
            let due = state
                .queue
                .peek()
                .is_some_and(|Reverse(e)| e.at <= deadline_ns);
            if !due {
                drop(state);
                if deadline_ns != u64::MAX {
                    self.clock.advance_to(deadline_ns);
                }
                return done();
            }
            if let Some(Reverse(event)) = state.queue.pop() {
                self.clock.advance_to(event.at);
                if let Some(trace) = &mut state.trace {
                    trace.push(TraceEvent {
                        at_ns: event.at,
                        kind: match &event.what {
                            What::Deliver(message) => TraceKind::deliver(&message.envelope),
                            What::Timer { node, .. } => TraceKind::Timer { node: *node },
                            What::Resume { node, .. } => TraceKind::Resume { node: *node },
                        },
                    });
                }
                self.process(&mut state, event.what);
            }
        }
    }

    /// Starts keeping every processed event (see [`super::trace`]), from now.
    pub(crate) fn record_trace(&self) {
        self.state.lock().trace.get_or_insert_with(Vec::new);
    }

    /// The events processed since [`World::record_trace`] (empty if it was
    /// never called); the trace keeps growing.
    pub(crate) fn trace(&self) -> Vec<TraceEvent> {
        self.state.lock().trace.clone().unwrap_or_default()
    }

    /// Moves what the network let through since the last look into the
    /// queue, each at its arrival time, in send order.
    fn take_sent(&self, state: &mut State) {
        let now = self.now_ns();
        let mut sent = std::mem::take(&mut state.sent);
        self.outbox.take_into(&mut sent);
        for message in sent.drain(..) {
            let at = now.saturating_add(ns(message.delay));
            Self::schedule(state, at, What::Deliver(Box::new(message)));
        }
        state.sent = sent;
    }

    fn schedule(state: &mut State, at: u64, what: What) {
        state.seq += 1;
        let seq = state.seq;
        state.queue.push(Reverse(Event { at, seq, what }));
    }

    fn process(&self, state: &mut State, what: What) {
        match what {
            What::Deliver(message) => {
                let to = message.envelope.to;
                let message = *message;
                let trace = message.trace;
                let delivered = self.network.deliver_simulated(message);
                if let Endpoint::Node(node) = to {
                    if delivered && let Some(sim) = state.nodes.get_mut(&node) {
                        sim.causes.push_back(trace);
                    }
                    self.drain_inbox(state, node);
                }
            }
            What::Timer { node, incarnation } => {
                let now = self.now_ns();
                let Some(sim) = state.nodes.get_mut(&node) else {
                    return;
                };
                if sim.incarnation != incarnation || sim.armed != Some(now) {
                    return; // a timer of an earlier incarnation, or re-armed since
                }
                sim.armed = None;
                if sim.paused_until > now {
                    return; // fired on resume
                }
                if let Some(recorder) = self.network.recorder()
                    && sim.core.next_timer_ns().is_some_and(|t| t <= now)
                {
                    recorder.timer(node, now);
                }
                self.run_core(state, node, None, |core| core.fire_due_timers(now));
            }
            What::Resume { node, incarnation } => {
                let now = self.now_ns();
                let Some(sim) = state.nodes.get_mut(&node) else {
                    return;
                };
                if sim.incarnation != incarnation || sim.paused_until > now {
                    return; // paused again for longer since
                }
                sim.paused_until = 0;
                sim.armed = None;
                self.run_core(state, node, None, |core| core.fire_due_timers(now));
                self.drain_inbox(state, node);
            }
        }
    }

    /// Hands every envelope waiting in `node`'s inbox to its core.
    fn drain_inbox(&self, state: &mut State, node: NodeId) {
        let now = self.now_ns();
        loop {
            let (envelope, cause) = match state.nodes.get_mut(&node) {
                Some(sim) if sim.paused_until <= now => match sim.inbox.try_recv() {
                    Ok(envelope) => (envelope, sim.causes.pop_front().flatten()),
                    Err(_) => return,
                },
                _ => return,
            };
            // Messages that timers due at this instant send are attributed
            // to this envelope too: a rare inexactness of the trace, kept so
            // that recording one does not change the order of events.
            self.run_core(state, node, cause, |core| {
                core.fire_due_timers(now);
                core.handle(envelope, now);
            });
        }
    }

    /// Calls into `node`'s core, sends what it produced (caused, for the
    /// trace, by message `cause`) and re-arms its timer. A panic stops the
    /// node like a crash, with its message kept in the node's counters.
    fn run_core(
        &self,
        state: &mut State,
        node: NodeId,
        cause: Option<u64>,
        call: impl FnOnce(&mut dyn Core),
    ) {
        let Some(sim) = state.nodes.get_mut(&node) else {
            return;
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| call(sim.core.as_mut())));
        if let Err(payload) = outcome {
            sim.counters.record_panic(payload.as_ref());
            state.nodes.remove(&node);
            let _ = self.network.detach_node(node);
            return;
        }
        let mut produced = std::mem::take(&mut state.produced);
        sim.core.take_outbox(&mut produced);
        let next = sim.core.next_timer_ns();
        let incarnation = sim.incarnation;
        let rearm = next.is_some() && next != sim.armed;
        if rearm {
            sim.armed = next;
        }
        for envelope in produced.drain(..) {
            self.network.send_caused(envelope, cause);
        }
        state.produced = produced;
        if let (true, Some(at)) = (rearm, next) {
            Self::schedule(state, at, What::Timer { node, incarnation });
        }
    }

    /// Drops every event still queued (the end of a run): messages in flight
    /// are counted as dropped by the network's stats.
    pub(crate) fn clear(&self) {
        let mut state = self.state.lock();
        self.take_sent(&mut state);
        let messages = state
            .queue
            .drain()
            .filter(|Reverse(e)| matches!(e.what, What::Deliver(_)))
            .count();
        self.outbox.abandoned(messages);
    }
}
