//! Terms, votes and leaders (§5.2, §5.4.1).

use super::storage::{self, HardState};
use super::{Consensus, ELECTION, HEARTBEAT, Progress, RaftMessage, Role};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::Context;
use rand::RngExt;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

impl Consensus {
    /// Persists the term and vote (the vote only in memory under the
    /// `forget_vote` mutation).
    fn save_hard(&mut self, ctx: &Context<RaftMessage>, hard: HardState) -> Result<()> {
        let persisted = if self.config.mutations.forget_vote {
            HardState { vote: None, ..hard }
        } else {
            hard
        };
        storage::save_hard(ctx.store(), &persisted)?;
        self.hard = hard;
        Ok(())
    }

    /// (Re)starts the election timeout with a fresh random duration.
    pub(super) fn reset_election_timer(&mut self, ctx: &mut Context<RaftMessage>) {
        if let Some(old) = self.election_timer.take() {
            ctx.cancel_timer(old);
        }
        let min = self.config.election_timeout_min.as_nanos() as u64;
        let max = (self.config.election_timeout_max.as_nanos() as u64).max(min + 1);
        let after = Duration::from_nanos(ctx.rng().random_range(min..max));
        self.election_timer = Some(ctx.set_timer(after, ELECTION));
    }

    /// A message carried `term`, higher than ours: adopt it and follow
    /// (Figure 2, "All servers").
    pub(super) fn observe_higher_term(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        term: u64,
    ) -> Result<()> {
        self.save_hard(ctx, HardState { term, vote: None })?;
        if self.is_leader() && self.config.mutations.leader_keeps_leading {
            return Ok(()); // the bug: a leader in a term it did not win
        }
        self.become_follower(ctx, None);
        Ok(())
    }

    /// Follows `leader` (if known) in the current term.
    pub(super) fn become_follower(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        leader: Option<NodeId>,
    ) {
        if let Some(timer) = self.heartbeat_timer.take() {
            ctx.cancel_timer(timer);
        }
        if self.is_leader() || !matches!(self.role, Role::Follower { .. }) {
            ctx.stepped_down(self.hard.term);
            self.reset_election_timer(ctx);
        }
        // Reads this node was confirming as leader go to the next one.
        for (reply_to, key) in self.reads.step_down() {
            self.hold(
                ctx,
                reply_to,
                super::ClientOp::Request(crate::protocol::Request::Get { key }),
            );
        }
        self.role = Role::Follower { leader };
    }

    /// No word from a leader for a whole timeout: stand for election.
    pub(super) fn on_election_timeout(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        self.election_timer = None;
        if self.is_leader() {
            return Ok(());
        }
        let me = ctx.node();
        let term = self.hard.term + 1;
        // Persist the new term and our own vote before asking for others.
        self.save_hard(
            ctx,
            HardState {
                term,
                vote: Some(me),
            },
        )?;
        self.role = Role::Candidate {
            votes: BTreeSet::from([me]),
        };
        ctx.stood_for_election(term);
        self.reset_election_timer(ctx);
        if Self::majority(ctx) <= 1 {
            return self.become_leader(ctx);
        }
        let (last_index, last_term) = (self.last_index(), self.last_term());
        for peer in Self::peers(ctx) {
            ctx.send(
                peer,
                RaftMessage::RequestVote {
                    term,
                    last_index,
                    last_term,
                },
            );
        }
        Ok(())
    }

    /// RequestVote: one vote per term, only for a log at least as up to
    /// date as ours (§5.4.1). (A higher term was adopted already.)
    pub(super) fn on_request_vote(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        candidate: NodeId,
        term: u64,
        last_index: u64,
        last_term: u64,
    ) -> Result<()> {
        let up_to_date = (last_term, last_index) >= (self.last_term(), self.last_index());
        let free = self.hard.vote.is_none() || self.hard.vote == Some(candidate);
        let granted = term == self.hard.term && free && up_to_date && !self.is_leader();
        if granted {
            // Persisted before the answer leaves: a vote forgotten in a
            // crash could be given again, to another candidate.
            self.save_hard(
                ctx,
                HardState {
                    term,
                    vote: Some(candidate),
                },
            )?;
            self.reset_election_timer(ctx);
        }
        ctx.send(
            candidate,
            RaftMessage::Vote {
                term: self.hard.term,
                granted,
            },
        );
        Ok(())
    }

    /// A vote came back.
    pub(super) fn on_vote(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        voter: NodeId,
        term: u64,
        granted: bool,
    ) -> Result<()> {
        if term != self.hard.term || !granted {
            return Ok(());
        }
        let majority = Self::majority(ctx);
        let Role::Candidate { votes } = &mut self.role else {
            return Ok(());
        };
        votes.insert(voter);
        if votes.len() >= majority {
            self.become_leader(ctx)?;
        }
        Ok(())
    }

    /// Won the term: take the lead, append an entry of the term, and tell
    /// everyone.
    fn become_leader(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let next = self.last_index() + 1;
        let progress: BTreeMap<NodeId, Progress> = Self::peers(ctx)
            .into_iter()
            .map(|peer| (peer, Progress { next, matched: 0 }))
            .collect();
        self.role = Role::Leader { progress };
        ctx.became_leader(self.hard.term);
        self.reads.become_leader();
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.append_noop(ctx)?;
        self.release_held(ctx)?;
        self.on_heartbeat(ctx)
    }

    /// A leader's heartbeat: AppendEntries to every follower, and again
    /// after [`ConsensusConfig::heartbeat`](super::ConsensusConfig::heartbeat).
    pub(super) fn on_heartbeat(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        self.heartbeat_timer = None;
        if !self.is_leader() {
            return Ok(());
        }
        self.broadcast_append(ctx)?;
        if self.config.read_mode == super::ReadMode::Lease {
            // Renew the lease.
            self.start_probe_round(ctx)?;
        }
        self.heartbeat_timer = Some(ctx.set_timer(self.config.heartbeat, HEARTBEAT));
        Ok(())
    }
}
