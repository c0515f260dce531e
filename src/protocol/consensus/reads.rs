//! Reads without the log: ReadIndex and leader leases (Ongaro's thesis,
//! "Consensus: bridging theory and practice", 2014, §6.4).
//!
//! A leader may answer a get from its own records only if no other leader
//! can have committed a write it has not applied. Two ways to know that:
//!
//! - **ReadIndex** (§6.4). The leader notes its commit index, sends a
//!   round of [`RaftMessage::ReadProbe`]s and waits for a majority of the
//!   group (itself included) to answer in its term: at the moment they
//!   answered, no other leader had been elected (a majority would have had
//!   to vote for it, and one of them would now know a higher term). Then
//!   it waits until the noted index is applied and reads. Step 0 of the
//!   thesis — the leader must have committed an entry of its own term, so
//!   that its commit index is at least every earlier leader's — falls back
//!   to the log until the leader's first entry commits.
//! - **Lease** (§6.4.1). When a majority answers a probe sent at time `t`
//!   (leader's clock), none of them will vote for anyone else until
//!   `election_timeout_min` after they heard it (they ignore
//!   RequestVote until then, §4.2.3, and a restarted node waits that long
//!   too), so no other leader exists before `t + lease`. Until then the
//!   leader reads without a round trip. Leases are renewed by a probe
//!   round on every heartbeat. This depends on the leader's clock: one
//!   that runs behind, jumps back, or stops while the process is paused
//!   keeps the lease after the followers' clocks have let them elect a new
//!   leader, and the old leader serves stale reads (the test
//!   `tests/consensus_reads.rs` and `examples/lease_reads.rs` show it).
//!
//! Followers forward gets to the leader like any request; a leader that
//! steps down hands the reads it was confirming on to the next.

use super::apply::current;
use super::{ClientOp, Consensus, ConsensusConfig, RaftMessage, ReadMode, Role};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::{Context, ReplyTo, Request, Response};
use std::collections::BTreeMap;

/// A get waiting for leadership to be confirmed and its index applied.
#[derive(Debug)]
struct PendingRead {
    reply_to: ReplyTo,
    key: Vec<u8>,
    /// The commit index when it arrived: the read must see that much.
    index: u64,
    /// The probe round that must be answered by a majority.
    round: u64,
}

/// A leader's probe rounds and waiting reads; a follower's last word from
/// a leader.
#[derive(Debug, Default)]
pub(super) struct Reads {
    round: u64,
    /// Round → when it was sent (leader's clock).
    sent: BTreeMap<u64, u64>,
    /// Per follower, the highest round it answered.
    acked: BTreeMap<NodeId, u64>,
    /// The highest round a majority answered.
    confirmed: u64,
    /// The lease lasts while the leader's clock reads below this.
    lease_until: u64,
    pending: Vec<PendingRead>,
    /// When this node last heard from a leader of its term (its clock).
    heard_ns: Option<u64>,
}

impl Reads {
    /// A (re)started node under leases promises no vote for a minimum
    /// election timeout: it may have answered a probe before the crash.
    pub(super) fn on_start(&mut self, ctx: &Context<RaftMessage>, config: &ConsensusConfig) {
        if config.read_mode == ReadMode::Lease {
            self.heard_ns = Some(ctx.now_ns());
        }
    }

    pub(super) fn heard_from_leader(&mut self, ctx: &Context<RaftMessage>) {
        self.heard_ns = Some(ctx.now_ns());
    }

    /// A new term's leader starts with no lease and nothing confirmed.
    pub(super) fn become_leader(&mut self) {
        *self = Reads {
            round: self.round,
            heard_ns: self.heard_ns,
            ..Reads::default()
        };
    }

    /// Stepping down: the reads to hand on.
    pub(super) fn step_down(&mut self) -> Vec<(ReplyTo, Vec<u8>)> {
        self.sent.clear();
        self.acked.clear();
        self.lease_until = 0;
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|r| (r.reply_to, r.key))
            .collect()
    }
}

impl Consensus {
    /// Under leases, a RequestVote that arrives within a minimum election
    /// timeout of hearing from a leader is ignored altogether, its term
    /// included (thesis §4.2.3): the promise a lease rests on.
    pub(super) fn ignores(&self, ctx: &Context<RaftMessage>, message: &RaftMessage) -> bool {
        if self.config.read_mode != ReadMode::Lease || self.is_leader() {
            return false;
        }
        let RaftMessage::RequestVote { .. } = message else {
            return false;
        };
        let quiet = self.config.election_timeout_min.as_nanos() as u64;
        self.reads
            .heard_ns
            .is_some_and(|heard| ctx.now_ns().saturating_sub(heard) < quiet)
    }

    /// A get at the leader, when reads do not go through the log.
    pub(super) fn read(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        key: Vec<u8>,
    ) -> Result<()> {
        if self.term_at(self.commit) != self.hard.term {
            // Nothing of this term committed yet: the commit index may lag
            // an earlier leader's, so go through the log (thesis §6.4 step 1).
            return self.propose(ctx, reply_to, ClientOp::Request(Request::Get { key }));
        }
        if self.config.read_mode == ReadMode::Lease && ctx.now_ns() < self.reads.lease_until {
            let value = current(ctx.store(), &key)?;
            ctx.reply(reply_to, Response::Value(value));
            return Ok(());
        }
        let round = self.reads.round + 1;
        self.reads.pending.push(PendingRead {
            reply_to,
            key,
            index: self.commit,
            round,
        });
        self.start_probe_round(ctx)
    }

    /// Asks every follower to confirm this node still leads.
    pub(super) fn start_probe_round(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        self.reads.round += 1;
        let round = self.reads.round;
        self.reads.sent.insert(round, ctx.now_ns());
        let term = self.hard.term;
        for peer in Self::peers(ctx) {
            ctx.send(peer, RaftMessage::ReadProbe { term, round });
        }
        self.confirm(ctx)
    }

    /// A probe at a follower (a higher term was adopted already).
    pub(super) fn on_probe(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        leader: NodeId,
        term: u64,
        round: u64,
    ) -> Result<()> {
        if term == self.hard.term && !self.is_leader() {
            self.become_follower(ctx, Some(leader));
            self.reset_election_timer(ctx);
            self.reads.heard_from_leader(ctx);
            self.release_held(ctx)?;
        }
        // An older term's leader learns ours from the answer, and steps down.
        ctx.send(
            leader,
            RaftMessage::ReadProbeAck {
                term: self.hard.term,
                round,
            },
        );
        Ok(())
    }

    /// A follower answered a probe.
    pub(super) fn on_probe_ack(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        follower: NodeId,
        term: u64,
        round: u64,
    ) -> Result<()> {
        if term != self.hard.term || !self.is_leader() {
            return Ok(());
        }
        let acked = self.reads.acked.entry(follower).or_default();
        *acked = (*acked).max(round);
        self.confirm(ctx)
    }

    /// Works out the highest round a majority answered, extends the lease
    /// from when it was sent, and serves what can be served.
    fn confirm(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let Role::Leader { progress } = &self.role else {
            return Ok(());
        };
        let mut acks: Vec<u64> = progress
            .keys()
            .map(|p| self.reads.acked.get(p).copied().unwrap_or(0))
            .collect();
        acks.push(self.reads.round); // the leader agrees with itself
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let majority = Self::majority(ctx);
        let confirmed = acks.get(majority - 1).copied().unwrap_or(0);
        if confirmed > self.reads.confirmed {
            self.reads.confirmed = confirmed;
            if let Some(&sent) = self.reads.sent.get(&confirmed) {
                let lease = self.config.lease.as_nanos() as u64;
                self.reads.lease_until = self.reads.lease_until.max(sent + lease);
            }
            self.reads.sent = self.reads.sent.split_off(&(confirmed + 1));
        }
        self.serve_reads(ctx)
    }

    /// Answers the confirmed reads whose index is applied.
    pub(super) fn serve_reads(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        if self.reads.pending.is_empty() || !self.is_leader() {
            return Ok(());
        }
        let (confirmed, applied) = (self.reads.confirmed, self.applied);
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads.pending)
            .into_iter()
            .partition(|r| r.round <= confirmed && r.index <= applied);
        self.reads.pending = waiting;
        for read in ready {
            let value = current(ctx.store(), &read.key)?;
            ctx.reply(read.reply_to, Response::Value(value));
        }
        Ok(())
    }
}
