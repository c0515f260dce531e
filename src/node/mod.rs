//! One OS thread per replica: the only place a protocol meets channels.
//!
//! Like toydb's server loop, each node runs a single `crossbeam_channel::
//! select!` over its control channel (crash, pause, shutdown), its inbox
//! (client requests and peer messages) and its next timer. Everything it
//! does in between is a synchronous call into the protocol, followed by
//! carrying out the effects the protocol wrote into its context. Before it
//! goes to sleep in `select!`, it polls its inbox for up to 50 µs
//! (see `crate::hand_off`), because waking a sleeping thread costs far more
//! than handling a message; an order from the cluster waiting on the control
//! channel is always obeyed before the next message.
//!
//! # Batches
//!
//! When a node wakes it handles everything already waiting in its inbox
//! (up to 256 envelopes) as one batch, without waiting for more to arrive:
//! the batch's storage writes are committed together — one flush under
//! [`crate::storage::Durability::FlushBeforeAck`] — and only then do its
//! replies and messages leave, in one call through the network (see
//! `core.rs`, "Batches and group commit"). A batch stops early for an
//! order from the cluster or a timer falling due.
//! [`crate::ClusterBuilder::batching`] turns batching off.
//!
//! # Client requests run at most once
//!
//! The network may duplicate a client's request, or deliver a copy long
//! after the client gave up on it. The loop runs a client request only when
//! [`crate::protocol::RequestFilter`] admits it (never seen before, and not
//! from far below that client's latest); anything else is dropped and
//! counted. The memory
//! is volatile, which is enough because the network delivers a message only
//! to the incarnation it was sent to: no copy sent before a crash reaches the
//! restarted node. Peer messages are not deduplicated by the runtime
//! unless links are authenticated ([`crate::security`], whose replay check
//! also refuses the network's duplicates): protocols must tolerate
//! duplicates of their own messages, forwarded client requests included
//! (the [`crate::protocol`] docs list who removes which duplicates).
//!
//! # Crash and restart
//!
//! A crash ends the thread: the protocol value, its timers and every message
//! queued in its inbox are dropped, exactly the volatile state a real process
//! loses. The node's storage engine is owned by the cluster and outlives the
//! thread, so a restart builds a fresh protocol (incarnation + 1) whose
//! [`crate::protocol::Protocol::on_start`] rebuilds what it needs from disk.
//!
//! # A panic is a crash
//!
//! The thread runs the protocol's factory and every handler inside
//! `catch_unwind`. A panic (a learner's `unwrap`, an index out of bounds)
//! ends the incarnation exactly like a crash — protocol, timers and queued
//! messages dropped, messages to the node dropped from then on — and leaves
//! its message in the node's counters. The cluster notices the ended thread
//! the next time it looks at the node: `Cluster::is_up` turns false, the
//! metrics, lab reports and exercise grades name the node and the message,
//! and `Cluster::restart` works as after any crash. Left silent, a panic
//! would pass for a slow node: every request to it would time out, and a
//! timeout is indeterminate, so the checker would accept the history. The
//! default panic hook still prints the message and its location to stderr,
//! which is where a learner looks first.

#[cfg(test)]
mod batch_tests;
mod core;
mod runtime;
mod timers;

pub(crate) use core::{Core, CoreEnv, NodeCore};
pub(crate) use runtime::{Control, NodeCounters, NodeEnv, Spawner, panic_message, spawner};
