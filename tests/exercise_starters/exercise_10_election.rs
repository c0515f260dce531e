//! # Exercise 10 — Coordination: elect a leader
//!
//! Many protocols let one node decide for all: a *leader*. Choosing it is
//! itself a coordination problem. The protocol below cheats: node `n0`
//! declares itself leader of term 1 when it starts and sends heartbeats
//! for ever; the others simply follow. That works — until `n0` crashes.
//!
//! **Your task:** change `MyProtocol` into a leader election in the manner
//! of Raft (Ongaro & Ousterhout 2014, §5.2):
//!
//! - A follower that hears no heartbeat for an *election timeout* — random,
//!   say 150–300 ms, drawn from `ctx.rng()` so candidates rarely collide —
//!   moves to the next term, votes for itself, and sends `RequestVote` to
//!   every other node (`ctx.members()`).
//! - A node grants at most one vote per term (remember whom you voted for)
//!   and adopts any higher term it hears of, stepping down if it led.
//! - A candidate whose granted votes, its own included, are more than half
//!   of `ctx.members()` leads: it calls `ctx.became_leader(term)` — that is
//!   how the grader sees leaders — and sends heartbeats well inside the
//!   shortest timeout.
//!
//! The API: `ctx.send(node, message)`, `ctx.set_timer(after, token)` (then
//! `on_timer` is called with the timer's id and `token`; keep the id to
//! ignore a timer you replaced), `ctx.cancel_timer(id)`, `ctx.rng()`,
//! `ctx.node()`, `ctx.members()`, and the announcements
//! `ctx.became_leader(term)`, `ctx.stood_for_election(term)`,
//! `ctx.stepped_down(term)` (only the first one is graded). No client
//! requests are sent in this exercise.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_10_election
//! ```
//!
//! The grader runs 5 nodes on the deterministic simulator, links of 5–15
//! ms: the same answer and seed give the same grade every time. A FAIL
//! prints the command that replays it (`cargo run --release --example
//! exercise_10_election -- --seed N`).
//!
//! **PASS** means: a leader within 1 s of the start; another within 1 s
//! after the leader crashes; a follower cut off from the others for 1 s
//! never leads meanwhile, and a leader exists again 1 s after the heal; and
//! never two leaders in one term. The grader is
//! `replikv::lab::exercises::grade_election`.

use replikv::lab::exercises::{grade_election_with_seed, seed_from_args};
use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response, TimerId};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::time::Duration;

// YOUR ANSWER ---------------------------------------------------------------
/// Messages between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Leader → everyone: I lead `term`.
    Heartbeat {
        /// The leader's term.
        term: u64,
    },
    /// Candidate → everyone: vote for me in `term`.
    RequestVote {
        /// The candidate's term.
        term: u64,
    },
    /// Answer to a `RequestVote`.
    Vote {
        /// The voter's term.
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
    },
}

/// How often a leader sends heartbeats.
const HEARTBEAT: Duration = Duration::from_millis(50);
/// Timer token of the heartbeat.
const HEARTBEAT_TOKEN: u64 = 1;

/// One node's protocol state.
#[derive(Debug, Default)]
pub struct MyProtocol {
    term: u64,
    leading: bool,
}

/// Builds the protocol for one node (at start and after every restart).
pub fn answer(_setup: &NodeSetup) -> MyProtocol {
    MyProtocol::default()
}

impl MyProtocol {
    fn heartbeat(&mut self, ctx: &mut Context<Message>) {
        for node in ctx.members() {
            if node != ctx.node() {
                ctx.send(node, Message::Heartbeat { term: self.term });
            }
        }
        ctx.set_timer(HEARTBEAT, HEARTBEAT_TOKEN);
    }
}

impl Protocol for MyProtocol {
    type Message = Message;

    fn on_start(&mut self, ctx: &mut Context<Message>) -> Result<()> {
        // The cheat: n0 always leads term 1, nobody else ever stands.
        if ctx.node() == NodeId(0) {
            self.term = 1;
            self.leading = true;
            ctx.became_leader(self.term);
            self.heartbeat(ctx);
        }
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        _request: Request,
    ) -> Result<()> {
        ctx.reply(
            reply_to,
            Response::Unsupported("this exercise only elects leaders".into()),
        );
        Ok(())
    }

    fn on_message(
        &mut self,
        _ctx: &mut Context<Message>,
        _from: NodeId,
        message: Message,
    ) -> Result<()> {
        if let Message::Heartbeat { term } = message {
            self.term = self.term.max(term);
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<Message>, _timer: TimerId, token: u64) -> Result<()> {
        if token == HEARTBEAT_TOKEN && self.leading {
            self.heartbeat(ctx);
        }
        Ok(())
    }
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_election_with_seed(answer, seed_from_args()).report()
}
