//! Reference solution to exercise 10: Raft's leader election (§5.2), and
//! no more — terms, one persisted vote per term, randomized timeouts,
//! heartbeats.
//!
//! The same file keeps a WRONG variant one mistake away from it
//! ([`no_votes`]): a node whose timeout fires leads at once, without
//! asking anyone. It elects leaders after a crash as fast as the reference,
//! and it is caught when a node cut off from the rest crowns itself.

use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response, TimerId};
use replikv::rand::RngExt;
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// Messages between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Leader → everyone: I lead `term`.
    Heartbeat { term: u64 },
    /// Candidate → everyone: vote for me in `term`.
    RequestVote { term: u64 },
    /// Answer to a `RequestVote`.
    Vote { term: u64, granted: bool },
}

const HEARTBEAT: Duration = Duration::from_millis(50);
const HEARTBEAT_TOKEN: u64 = 1;
const ELECTION_TOKEN: u64 = 2;
/// Where term and vote are kept, so a restart cannot vote twice.
const HARD_STATE: &[u8] = b"election-hard-state";

#[derive(Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Candidate(BTreeSet<NodeId>),
    Leader,
}

/// One node's election state.
#[derive(Debug)]
pub struct Election {
    term: u64,
    voted_for: Option<NodeId>,
    role: Role,
    election_timer: Option<TimerId>,
    /// The mistake: lead as soon as the timeout fires.
    lead_without_votes: bool,
}

/// The reference.
pub fn answer(_setup: &NodeSetup) -> Election {
    Election::new(false)
}

/// WRONG: leads without votes.
pub fn no_votes(_setup: &NodeSetup) -> Election {
    Election::new(true)
}

impl Election {
    fn new(lead_without_votes: bool) -> Self {
        Election {
            term: 0,
            voted_for: None,
            role: Role::Follower,
            election_timer: None,
            lead_without_votes,
        }
    }

    fn save(&self, ctx: &Context<Message>) -> Result<()> {
        let vote = self.voted_for.map_or(u32::MAX, |n| n.0);
        ctx.store()
            .put_meta(HARD_STATE, format!("{},{vote}", self.term).as_bytes())
    }

    fn reset_election_timer(&mut self, ctx: &mut Context<Message>) {
        if let Some(old) = self.election_timer.take() {
            ctx.cancel_timer(old);
        }
        let after = Duration::from_millis(ctx.rng().random_range(150..300));
        self.election_timer = Some(ctx.set_timer(after, ELECTION_TOKEN));
    }

    fn adopt(&mut self, ctx: &mut Context<Message>, term: u64) -> Result<()> {
        if term > self.term {
            if self.role != Role::Follower {
                ctx.stepped_down(term);
            }
            self.term = term;
            self.voted_for = None;
            self.role = Role::Follower;
            self.save(ctx)?;
        }
        Ok(())
    }

    fn lead(&mut self, ctx: &mut Context<Message>) {
        self.role = Role::Leader;
        ctx.became_leader(self.term);
        self.heartbeat(ctx);
    }

    fn heartbeat(&mut self, ctx: &mut Context<Message>) {
        for node in ctx.members() {
            if node != ctx.node() {
                ctx.send(node, Message::Heartbeat { term: self.term });
            }
        }
        ctx.set_timer(HEARTBEAT, HEARTBEAT_TOKEN);
    }
}

impl Protocol for Election {
    type Message = Message;

    fn on_start(&mut self, ctx: &mut Context<Message>) -> Result<()> {
        if let Some(saved) = ctx.store().get_meta(HARD_STATE)? {
            let text = String::from_utf8_lossy(&saved);
            let mut parts = text.split(',').map(|p| p.parse::<u64>().unwrap_or(0));
            self.term = parts.next().unwrap_or(0);
            self.voted_for = parts
                .next()
                .filter(|&v| v != u64::from(u32::MAX))
                .map(|v| NodeId(v as u32));
        }
        self.reset_election_timer(ctx);
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        _request: Request,
    ) -> Result<()> {
        ctx.reply(reply_to, Response::Unsupported("elections only".into()));
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Message>,
        from: NodeId,
        message: Message,
    ) -> Result<()> {
        match message {
            Message::Heartbeat { term } => {
                self.adopt(ctx, term)?;
                if term == self.term {
                    if self.role != Role::Follower {
                        ctx.stepped_down(term);
                    }
                    self.role = Role::Follower;
                    self.reset_election_timer(ctx);
                }
            }
            Message::RequestVote { term } => {
                self.adopt(ctx, term)?;
                let granted = term == self.term
                    && self.role == Role::Follower
                    && self.voted_for.is_none_or(|v| v == from);
                if granted {
                    self.voted_for = Some(from);
                    self.save(ctx)?; // before the answer leaves
                    self.reset_election_timer(ctx);
                }
                ctx.send(
                    from,
                    Message::Vote {
                        term: self.term,
                        granted,
                    },
                );
            }
            Message::Vote { term, granted } => {
                self.adopt(ctx, term)?;
                let majority = ctx.members().len() / 2 + 1;
                if let Role::Candidate(votes) = &mut self.role
                    && granted
                    && term == self.term
                {
                    votes.insert(from);
                    if votes.len() >= majority {
                        self.lead(ctx);
                    }
                }
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<Message>, timer: TimerId, token: u64) -> Result<()> {
        match token {
            HEARTBEAT_TOKEN if self.role == Role::Leader => self.heartbeat(ctx),
            ELECTION_TOKEN if self.election_timer == Some(timer) && self.role != Role::Leader => {
                self.term += 1;
                self.voted_for = Some(ctx.node());
                self.save(ctx)?;
                self.role = Role::Candidate(BTreeSet::from([ctx.node()]));
                ctx.stood_for_election(self.term);
                self.reset_election_timer(ctx);
                if self.lead_without_votes {
                    self.lead(ctx);
                    return Ok(());
                }
                for node in ctx.members() {
                    if node != ctx.node() {
                        ctx.send(node, Message::RequestVote { term: self.term });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
