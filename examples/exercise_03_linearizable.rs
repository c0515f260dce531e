//! # Exercise 3 — Strong consistency: write a linearizable protocol
//!
//! A replication protocol is a state machine run by every node: it is fed
//! client requests (`on_request`), messages from other nodes (`on_message`)
//! and timers (`on_timer`), and answers by writing effects into its
//! `Context` — messages to send, replies to clients, timers to set. It keeps
//! data in `ctx.store()` (versioned records) and finds a key's N replicas,
//! primary first, with `ctx.replicas(key)`.
//!
//! The protocol below answers every read from the local copy at once, and
//! acknowledges every write at once, copying it to the other replicas in
//! the background. It is fast — and clients can see a value, then an older
//! one; or miss a write that was already confirmed.
//!
//! **Your task:** change `MyProtocol` so that the whole cluster behaves like
//! a single copy of each key: *linearizable* — and one that no single crash
//! can destroy. The grader sends each client request to a random replica,
//! over a network that delays every message (0–2 ms between clients and
//! nodes, 10–30 ms between nodes), so messages overtake each other. Mid-run
//! it crashes the node whose loss hurts most (the one holding the newest
//! version of the most keys alone) and keeps it down for the rest of the
//! run: every write acknowledged until then must still be on the other
//! nodes. `examples/primary_backup` is worth reading first; so is
//! `replikv::protocol::strong`.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_03_linearizable
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_03_linearizable -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS** means: the linearizability checker accepts the history of 3
//! clients on 2 keys, crash and restart included; no acknowledged write was
//! lost with the crashed node; and at least 80 % of the operations made
//! while every node was up succeeded. The grader is
//! `replikv::lab::exercises::grade_linearizable`.

use replikv::lab::exercises::{grade_linearizable_with_seed, seed_from_args};
use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response};
use replikv::storage::{Record, Version};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// Messages between replicas.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Store this record (if it is newer than yours).
    Replicate {
        /// The key.
        key: Vec<u8>,
        /// The new record.
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

impl MyProtocol {
    /// Stores a write locally with the next version and copies it to the
    /// other replicas, without waiting for them.
    fn write(ctx: &mut Context<Message>, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        let counter = ctx
            .store()
            .get_record(&key)?
            .map_or(0, |r| r.version.counter);
        let record = Record {
            version: Version::new(counter + 1, ctx.node()),
            value,
        };
        ctx.store().put_record(&key, &record)?;
        for replica in ctx.replicas(&key) {
            if replica != ctx.node() {
                let (key, record) = (key.clone(), record.clone());
                ctx.send(replica, Message::Replicate { key, record });
            }
        }
        Ok(())
    }
}

impl Protocol for MyProtocol {
    type Message = Message;

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        match request {
            Request::Get { key } => {
                let value = ctx.store().get_record(&key)?.and_then(|r| r.value);
                ctx.reply(reply_to, Response::Value(value));
            }
            Request::Put { key, value } => {
                Self::write(ctx, key, Some(value))?;
                ctx.reply(reply_to, Response::Done);
            }
            Request::Delete { key } => {
                Self::write(ctx, key, None)?;
                ctx.reply(reply_to, Response::Done);
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
    grade_linearizable_with_seed(answer, seed_from_args()).report()
}
