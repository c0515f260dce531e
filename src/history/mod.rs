//! Recorded operations: what every client did, when, and what it saw.
//!
//! The cluster runs in one process, so unlike any real system it has a
//! *global observer*: one clock that every client reads when it invokes an
//! operation and when the answer comes back. The history is that observer's
//! notebook. The linearizability checker and the staleness oracle read it.

mod op;

pub use op::{History, OpKind, Operation};
