//! # Exercise 4 — Eventual consistency: converge although messages are lost
//!
//! Eventual consistency promises little, but it promises this: once writes
//! stop and the network heals, every replica holds the same value. The
//! protocol below is the primary's side of asynchronous replication — the
//! message-queue pattern: the key's primary stores a write, acknowledges it
//! at once, and sends a copy to each other replica in the background. But
//! it sends each copy exactly once, and the network loses 20 % of the
//! messages between nodes.
//!
//! **Your task:** change `MyProtocol` so that every copy eventually arrives
//! — keep acknowledging writes without waiting for the other replicas. The
//! protocol API: `ctx.send(node, message)`, `ctx.set_timer(after, token)`
//! (then `on_timer` is called with `token`), `ctx.store()`,
//! `ctx.replicas(key)` (primary first). Clients always send requests to the
//! key's primary here; the grader writes 10 keys 3 times each, one write
//! right after the other, so a lost copy sent again may arrive after a
//! newer one.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_04_convergence
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_04_convergence -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS** means: 2 s after the network heals, all three replicas of every
//! key hold the same version (`Cluster::is_converged`), and it is the last
//! acknowledged write. The grader is
//! `replikv::lab::exercises::grade_converges`.

use replikv::lab::exercises::{grade_converges_with_seed, seed_from_args};
use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response};
use replikv::storage::{Record, Version};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// Messages between replicas.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Primary → replica: store this record (if newer than yours).
    Replicate {
        /// The key.
        key: Vec<u8>,
        /// The record.
        record: Record,
    },
}

/// One node's protocol state.
#[derive(Debug, Default)]
pub struct MyProtocol;

/// Builds the protocol for one node (at start and after every restart).
pub fn answer(_setup: &NodeSetup) -> MyProtocol {
    MyProtocol
}

impl Protocol for MyProtocol {
    type Message = Message;

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        let (key, value) = match request {
            Request::Get { key } => {
                let value = ctx.store().get_record(&key)?.and_then(|r| r.value);
                ctx.reply(reply_to, Response::Value(value));
                return Ok(());
            }
            Request::Put { key, value } => (key, Some(value)),
            Request::Delete { key } => (key, None),
        };
        let counter = ctx
            .store()
            .get_record(&key)?
            .map_or(0, |r| r.version.counter);
        let record = Record {
            version: Version::new(counter + 1, ctx.node()),
            value,
        };
        ctx.store().put_record(&key, &record)?;
        ctx.reply(reply_to, Response::Done);
        // Fire and forget: one copy to each other replica.
        for replica in ctx.replicas(&key) {
            if replica != ctx.node() {
                let (key, record) = (key.clone(), record.clone());
                ctx.send(replica, Message::Replicate { key, record });
            }
        }
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Message>,
        _from: NodeId,
        message: Message,
    ) -> Result<()> {
        let Message::Replicate { key, record } = message;
        ctx.store().put_if_newer(&key, &record)?;
        Ok(())
    }
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_converges_with_seed(answer, seed_from_args()).report()
}
