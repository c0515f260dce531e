//! One OS thread per replica: the only place a protocol meets channels.
//!
//! Like toydb's server loop, each node runs a single `crossbeam_channel::
//! select!` over its control channel (crash, pause, shutdown), its inbox
//! (client requests and peer messages) and its next timer. Everything it
//! does in between is a synchronous call into the protocol, followed by
//! carrying out the effects the protocol wrote into its context.
//!
//! # Crash and restart
//!
//! A crash ends the thread: the protocol value, its timers and every message
//! queued in its inbox are dropped, exactly the volatile state a real process
//! loses. The node's storage engine is owned by the cluster and outlives the
//! thread, so a restart builds a fresh protocol (incarnation + 1) whose
//! [`crate::protocol::Protocol::on_start`] rebuilds what it needs from disk.

mod runtime;
mod timers;

pub(crate) use runtime::{Control, NodeCounters, NodeEnv, Spawner, spawner};
