//! The world's event trace: what the determinism check compares when two
//! runs of one seed must be the same run.
//!
//! A history shows only what clients saw; two runs can differ long before
//! they return a different answer (a message delivered in another order, a
//! timer that fired a tick later). The trace names every event the world
//! processed — its virtual time, its kind, its endpoints and a digest of
//! the message — so a difference is reported where it *started*. It costs a
//! few dozen bytes per event, so it is only kept when asked for
//! (`World::record_trace`).

use crate::ids::{Endpoint, NodeId};
use crate::network::{Envelope, Payload};
use std::fmt;

/// One event the world processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TraceEvent {
    /// Virtual time, ns.
    pub at_ns: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// What a traced event was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TraceKind {
    /// A message reached (or was dropped at) its receiver; `digest` hashes
    /// its contents.
    Deliver {
        from: Endpoint,
        to: Endpoint,
        what: &'static str,
        digest: u64,
    },
    /// A node's timer event.
    Timer { node: NodeId },
    /// A paused node's wake-up.
    Resume { node: NodeId },
}

impl TraceKind {
    /// The trace entry of a message about to be delivered.
    pub(crate) fn deliver(envelope: &Envelope) -> Self {
        let (what, digest) = match &envelope.payload {
            Payload::Peer(bytes) => ("peer", xxhash_rust::xxh3::xxh3_64(bytes)),
            Payload::Request { .. } => ("request", debug_digest(&envelope.payload)),
            Payload::Cas { .. } => ("cas", debug_digest(&envelope.payload)),
            Payload::Authenticated { .. } => ("authenticated", debug_digest(&envelope.payload)),
            Payload::Response { .. } => ("response", debug_digest(&envelope.payload)),
        };
        TraceKind::Deliver {
            from: envelope.from,
            to: envelope.to,
            what,
            digest,
        }
    }
}

fn debug_digest(payload: &Payload) -> u64 {
    xxhash_rust::xxh3::xxh3_64(format!("{payload:?}").as_bytes())
}

impl fmt::Display for TraceEvent {
    /// E.g. `at 12.345678 ms: deliver peer n0 → n2 (digest 0x…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {:.6} ms: ", self.at_ns as f64 / 1e6)?;
        match &self.kind {
            TraceKind::Deliver {
                from,
                to,
                what,
                digest,
            } => write!(f, "deliver {what} {from} → {to} (digest {digest:#018x})"),
            TraceKind::Timer { node } => write!(f, "timer of {node}"),
            TraceKind::Resume { node } => write!(f, "{node} resumes"),
        }
    }
}
