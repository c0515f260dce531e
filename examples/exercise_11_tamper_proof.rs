//! # Exercise 11 — Security: make a protocol's messages tamper-proof
//!
//! Every node trusts every message, so whoever can put bytes on the network
//! between two nodes can make a replica store anything. Your job is the
//! link layer that stops it: `seal` is what a sender does to each node
//! message under the cluster's secret 32-byte key, and `open` is what the
//! receiver does before the protocol sees it — return the message, or
//! `None` to refuse it.
//!
//! The grader puts your two functions on every link of a strong-mode
//! cluster, with an attacker in the middle who knows your algorithm (it
//! calls your `seal`) but not the key. It forges writes from the future,
//! alters values in flight, flips bits, and relabels a message as coming
//! from another node.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_11_tamper_proof
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the command
//! that replays it (`cargo run --release --example exercise_11_tamper_proof
//! -- --seed N`).
//!
//! **PASS** means: every forged, altered, flipped or relabelled message
//! refused, no honest message refused, every operation succeeded, and the
//! linearizability checker accepts the history. Use a well-kept crate
//! (`blake3` is already a dependency), never cryptography of your own. The
//! grader is `replikv::lab::exercises::grade_tamper_proof`.

use replikv::NodeId;
use replikv::lab::exercises::{grade_tamper_proof_with_seed, seed_from_args};
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// What goes on the wire for `message` from `from` to `to`.
pub fn seal(_key: &[u8; 32], _from: NodeId, _to: NodeId, message: &[u8]) -> Vec<u8> {
    // A first guess: append a checksum of the message, so that damage in
    // transit is noticed.
    let mut sealed = message.to_vec();
    sealed.extend_from_slice(blake3::hash(message).as_bytes());
    sealed
}

/// The message inside `sealed`, or `None` to refuse it.
pub fn open(_key: &[u8; 32], _from: NodeId, _to: NodeId, sealed: &[u8]) -> Option<Vec<u8>> {
    let split = sealed.len().checked_sub(32)?;
    let (message, checksum) = sealed.split_at(split);
    (blake3::hash(message).as_bytes() == checksum).then(|| message.to_vec())
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_tamper_proof_with_seed(seal, open, seed_from_args()).report()
}
