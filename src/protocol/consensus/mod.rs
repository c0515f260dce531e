//! Consensus: Raft, with a linearizable compare-and-set.
//!
//! # The algorithm
//!
//! Raft (Ongaro & Ousterhout, "In search of an understandable consensus
//! algorithm", USENIX ATC 2014) keeps a *replicated log*: every node holds
//! a sequence of commands, the nodes agree on it entry by entry, and each
//! applies the committed prefix, in order, to its own copy of the state
//! machine — here, the key-value map. Since every node applies the same
//! commands in the same order, every node computes the same answers, and a
//! read-modify-write such as compare-and-set is as easy as a put.
//!
//! - **Terms and leaders** (`election.rs`). Time is cut into numbered
//!   *terms*, each with at most one leader. A follower that hears nothing
//!   from a leader for a randomized *election timeout* becomes a candidate:
//!   it moves to the next term, votes for itself and asks the others
//!   (RequestVote). A node grants one vote per term, first come first
//!   served, and only to a candidate whose log is at least as up to date as
//!   its own (§5.4.1). A candidate with a majority of votes leads the term.
//!   Any message carrying a higher term makes its receiver adopt that term
//!   and step down to follower: this is how a deposed leader learns it was
//!   deposed, and why split brain cannot commit anything.
//! - **Log replication** (`replication.rs`). Only the leader appends, and
//!   it sends the entries to the followers (AppendEntries), each with the
//!   index and term of the entry before them; a follower accepts only if it
//!   holds that entry (the *log matching* property), removes any
//!   conflicting suffix, and appends. The leader retries with earlier
//!   entries until the follower's log matches.
//! - **Commit** (`replication.rs`). An entry is committed once it is stored
//!   on a majority *and* it belongs to the leader's current term; earlier
//!   entries are then committed with it. The term condition is the paper's
//!   Figure 8: an entry from an earlier term can be on a majority and still
//!   be overwritten by a later leader, so counting replicas alone is not
//!   enough. A new leader appends an empty entry to get one of its own term
//!   committed promptly.
//! - **Persistence** (`storage.rs`). The term, the vote and the log are
//!   written to the node's store before the node answers anything that
//!   depends on them; on restart they are read back and the node rejoins as
//!   a follower. Forgetting a vote across a crash would let a node vote
//!   twice in one term, and elect two leaders.
//! - **Applying** (`apply.rs`). Committed entries are applied in order to
//!   the node's records; the node that appended a client's entry answers the
//!   client once it has applied it, with what the state machine computed.
//!
//! - **Snapshots** (`snapshot.rs`, §7). Once the log holds
//!   [`ConsensusConfig::snapshot_threshold`] applied entries they are
//!   compacted away: the records stand for them. A follower that needs an
//!   entry the leader no longer has gets the leader's records instead
//!   (InstallSnapshot); a restarted node recovers from its snapshot and the
//!   log after it.
//! - **Reads** (`reads.rs`, thesis §6.4): through the log by default, or
//!   by ReadIndex, or under a leader lease ([`ReadMode`]).
//!
//! # Deviations from the paper, and what is left out
//!
//! - **One group over all the nodes, not multi-Raft.** The whole key space
//!   is one Raft group whose members are the cluster's nodes; the
//!   replication factor and the partitioner do not apply (every node holds
//!   every key). One group per shard, placed by the partitioner (as
//!   TiKV's or CockroachDB's multi-Raft), would scale writes with the
//!   number of groups, but every group would need its own log, elections
//!   and membership, and a key's shard moves on every membership change —
//!   far more machinery than the lesson needs to show what consensus buys
//!   (a total order, hence compare-and-set) and what it costs (a leader,
//!   a majority of *all* nodes). So: one group, the scope toydb chose too.
//! - **Membership changes stop the world** (`membership.rs`). The group is
//!   the cluster's member list at each decision, not a configuration in
//!   the log, so Raft's single-server changes (thesis ch. 4) do not apply
//!   as written. [`crate::Cluster::add_node`] and
//!   [`crate::Cluster::remove_node`] stop every node, make every member of
//!   the new group a copy of the most up-to-date one ([`reconfigure`]) and
//!   restart them: safe for changes of any size, at the price of a pause.
//! - **Snapshots are the records, sent whole.** The state machine already
//!   lives on disk, so a snapshot is a note of the index it stands for;
//!   InstallSnapshot carries every record in one message (no chunks, so a
//!   state machine beyond the decode limit of
//!   [`crate::codec::DECODE_LIMIT`] cannot be sent), and is re-sent on
//!   every heartbeat while a follower lags behind the compacted point.
//! - **Reads.** [`ReadMode::Log`] (the default) appends a get like a put.
//!   [`ReadMode::ReadIndex`] confirms leadership with a separate round of
//!   probes rather than piggybacking on AppendEntries, one round per read
//!   (no batching). [`ReadMode::Lease`] renews its lease with such a round
//!   on every heartbeat, and makes followers ignore RequestVote for a
//!   minimum election timeout after hearing from a leader (thesis §4.2.3),
//!   also after a restart; it trusts the leader's clock, which the tests
//!   show going wrong.
//! - **Followers forward; clients are never left hanging on them.** A
//!   client may send to any node: a follower hands the request on to the
//!   leader it knows ([`RaftMessage::Forward`]), which answers the client
//!   directly, so the client library has no redirect to follow. A node
//!   that knows no leader holds the request until it learns of one, for at
//!   most [`ConsensusConfig::hold_timeout`]; then, and after too many hops
//!   between stale leader hints, it answers `Unavailable` — nothing was
//!   appended anywhere, so the client knows the request had no effect.
//!   Nothing is retried: a request lost with a deposed leader times out at
//!   its client, which records it as indeterminate — and it may indeed
//!   still be committed by the next leader.
//! - **No check-quorum.** A leader cut off from the majority keeps leading
//!   its (dead) term until it hears of a newer one; requests it appends
//!   meanwhile time out at their clients (they are not refused: they might
//!   still commit if the partition heals first).
//! - **Messages instead of RPCs.** Replies are messages of their own; an
//!   AppendEntries reply carries the index it matched (so reordered and
//!   duplicated replies are harmless) and the follower's last index (so a
//!   leader backs up in one step instead of one entry per round trip).
//! - **Pipelining.** A leader sends new entries as soon as they are
//!   appended and assumes they will arrive; a rejection or a heartbeat
//!   repairs a follower that missed some.
//! - **Client sessions are per connection.** Duplicate requests are
//!   dropped by [`RequestFilter`](crate::protocol::RequestFilter)s, whose
//!   memory is volatile (see [`crate::protocol`]); Raft's thesis (§6.3)
//!   keeps sessions in the replicated state instead.
//!
//! # Layout
//!
//! - `config.rs`: [`ConsensusConfig`], [`ReadMode`].
//! - `messages.rs`: [`RaftMessage`], [`Entry`], [`Command`], [`ClientOp`].
//! - `routing.rs`: a client request run, forwarded or held.
//! - `storage.rs`: term, vote, log, snapshot and applied index in the store.
//! - `election.rs`: timeouts, votes, stepping down, becoming leader.
//! - `replication.rs`: proposing, AppendEntries, commit.
//! - `apply.rs`: the state machine and the answers to clients.
//! - `snapshot.rs`: compaction and InstallSnapshot.
//! - `reads.rs`: ReadIndex and leases.
//! - `membership.rs`: [`reconfigure`], the stop-the-world membership change.
//! - `tests/`: scenario tests that drive nodes by hand, the paper's
//!   Figure 8 among them, and the mutations they catch.
//!
//! ```
//! use replikv::{Cluster, Consistency, CoordinatorPolicy, NodeId, Runtime};
//! use std::time::Duration;
//!
//! let cluster = Cluster::builder()
//!     .runtime(Runtime::Simulated)
//!     .nodes(3)
//!     .consistency(Consistency::Consensus)
//!     .build()?;
//! let mut client = cluster.client()?;
//! client.put("x", "1")?;
//! assert!(client.compare_and_set("x", Some(b"1"), Some(b"2"))?);
//! // Any one node may crash; a new leader is elected (within an election
//! // timeout or two) and nothing is lost.
//! cluster.crash(NodeId(0))?;
//! cluster.run_for(Duration::from_secs(1));
//! client.set_policy(CoordinatorPolicy::Fixed(NodeId(1)));
//! assert_eq!(client.get("x")?, Some(b"2".to_vec()));
//! # Ok::<(), replikv::Error>(())
//! ```

mod apply;
mod config;
mod election;
pub mod membership;
mod messages;
mod reads;
mod replication;
mod routing;
mod snapshot;
mod storage;
#[cfg(test)]
mod tests;

pub use config::{ConsensusConfig, Mutations, ReadMode};
pub use membership::reconfigure;
pub use messages::{ClientOp, Command, Entry, RaftMessage};
pub use storage::HardState;

use super::{Cas, Context, Protocol, ReplyTo, Request, RequestFilter};
use crate::error::Result;
use crate::ids::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// Timer tokens.
const ELECTION: u64 = 1;
const HEARTBEAT: u64 = 2;
const HOLD: u64 = 3;

/// How many client requests a node holds while it knows no leader; beyond
/// that it answers `Unavailable` (nothing was appended anywhere).
const MAX_HELD: usize = 10_000;

/// A node's role in its current term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Follows `leader`, if it knows one.
    Follower { leader: Option<NodeId> },
    /// Collects votes.
    Candidate { votes: BTreeSet<NodeId> },
    /// Leads: per follower, the next entry to send and the highest known
    /// to match.
    Leader {
        progress: BTreeMap<NodeId, Progress>,
    },
}

/// A leader's view of one follower (§5.3: `nextIndex`, `matchIndex`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) next: u64,
    pub(crate) matched: u64,
}

/// The Raft protocol, run by one node. Built in as
/// [`Consistency::Consensus`](crate::Consistency::Consensus); see the
/// [module docs](self).
#[derive(Debug)]
pub struct Consensus {
    config: ConsensusConfig,
    /// Term and vote, as persisted (except under a mutation).
    hard: HardState,
    /// The log after the snapshot: entry `i` at position
    /// `i - snap_index - 1` (persisted too).
    log: Vec<Entry>,
    /// The last index and term the snapshot (the records) stands for;
    /// everything up to it is compacted away.
    snap_index: u64,
    snap_term: u64,
    /// Highest index known committed (volatile; recovers as `applied`).
    commit: u64,
    /// Highest index applied to the records (persisted with them).
    applied: u64,
    role: Role,
    election_timer: Option<super::TimerId>,
    heartbeat_timer: Option<super::TimerId>,
    /// Clients to answer when their entry is applied here.
    waiting: BTreeSet<ReplyTo>,
    /// Requests held while no leader is known, with when they arrived
    /// (this node's clock).
    held: Vec<(ReplyTo, ClientOp, u64)>,
    hold_timer: Option<super::TimerId>,
    /// ReadIndex and lease state.
    reads: reads::Reads,
    /// Which client requests this node has proposed or forwarded, direct
    /// or forwarded (forwards are peer messages: the runtime does not
    /// filter them).
    admitted: RequestFilter,
}

impl Default for Consensus {
    fn default() -> Self {
        Consensus::with_config(ConsensusConfig::default())
    }
}

impl Consensus {
    /// A node with the default settings.
    pub fn new() -> Self {
        Consensus::default()
    }

    /// A node with `config`.
    pub fn with_config(config: ConsensusConfig) -> Self {
        Consensus {
            config,
            hard: HardState::default(),
            log: Vec::new(),
            snap_index: 0,
            snap_term: 0,
            commit: 0,
            applied: 0,
            role: Role::Follower { leader: None },
            election_timer: None,
            heartbeat_timer: None,
            waiting: BTreeSet::new(),
            held: Vec::new(),
            hold_timer: None,
            reads: reads::Reads::default(),
            admitted: RequestFilter::new(),
        }
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.hard.term
    }

    /// True while this node leads its term.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// The highest committed index this node knows of.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// The log after the snapshot: entries `snapshot_index() + 1` on.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// The last index the snapshot stands for (0: nothing compacted).
    pub fn snapshot_index(&self) -> u64 {
        self.snap_index
    }

    fn last_index(&self) -> u64 {
        self.snap_index + self.log.len() as u64
    }

    /// Entry `index`, unless compacted or beyond the log.
    fn entry(&self, index: u64) -> Option<&Entry> {
        let position = index.checked_sub(self.snap_index + 1)?;
        self.log.get(usize::try_from(position).ok()?)
    }

    /// Entries `from..=to` (both within the log after the snapshot).
    fn entries(&self, from: u64, to: u64) -> Vec<Entry> {
        let start = from.saturating_sub(self.snap_index + 1) as usize;
        let end = (to.saturating_sub(self.snap_index) as usize).min(self.log.len());
        self.log
            .get(start..end)
            .map(<[Entry]>::to_vec)
            .unwrap_or_default()
    }

    /// The term of entry `index`: the snapshot's term at its index, 0 for
    /// index 0, for none, and for compacted entries (which are committed,
    /// and never compared: see `on_append`).
    fn term_at(&self, index: u64) -> u64 {
        if index == self.snap_index {
            return self.snap_term;
        }
        self.entry(index).map_or(0, |e| e.term)
    }

    fn last_term(&self) -> u64 {
        self.term_at(self.last_index())
    }

    /// Votes or matches needed: a majority of the members.
    fn majority(ctx: &Context<RaftMessage>) -> usize {
        ctx.members().len() / 2 + 1
    }

    /// The other members.
    fn peers(ctx: &Context<RaftMessage>) -> Vec<NodeId> {
        let me = ctx.node();
        ctx.members().into_iter().filter(|&n| n != me).collect()
    }
}

impl Protocol for Consensus {
    type Message = RaftMessage;

    fn mode_name(&self) -> String {
        "consensus (Raft)".into()
    }

    fn on_start(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let recovered = storage::recover(ctx.store())?;
        self.hard = recovered.hard;
        self.snap_index = recovered.snapshot.index;
        self.snap_term = recovered.snapshot.term;
        self.log = recovered.log;
        self.applied = recovered.applied.min(self.last_index());
        // Everything applied was committed; the rest is learned again.
        self.commit = self.applied;
        self.reads.on_start(ctx, &self.config);
        self.reset_election_timer(ctx);
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        self.client_op(ctx, reply_to, ClientOp::Request(request), 0)
    }

    fn on_cas(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        cas: Cas,
    ) -> Result<()> {
        self.client_op(ctx, reply_to, ClientOp::Cas(cas), 0)
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        from: NodeId,
        message: RaftMessage,
    ) -> Result<()> {
        if self.ignores(ctx, &message) {
            return Ok(());
        }
        if let Some(term) = message.term()
            && term > self.hard.term
            && !(self.is_leader() && self.config.mutations.leader_ignores_higher_term)
        {
            self.observe_higher_term(ctx, term)?;
        }
        match message {
            RaftMessage::RequestVote {
                term,
                last_index,
                last_term,
            } => self.on_request_vote(ctx, from, term, last_index, last_term),
            RaftMessage::Vote { term, granted } => self.on_vote(ctx, from, term, granted),
            RaftMessage::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append(ctx, from, term, prev_index, prev_term, entries, commit),
            RaftMessage::AppendReply {
                term,
                matched,
                last_index,
            } => self.on_append_reply(ctx, from, term, matched, last_index),
            RaftMessage::InstallSnapshot {
                term,
                last_index,
                last_term,
                records,
            } => self.on_install_snapshot(ctx, from, term, last_index, last_term, records),
            RaftMessage::ReadProbe { term, round } => self.on_probe(ctx, from, term, round),
            RaftMessage::ReadProbeAck { term, round } => self.on_probe_ack(ctx, from, term, round),
            RaftMessage::Forward { reply_to, op, hops } => self.client_op(ctx, reply_to, op, hops),
        }
    }

    fn on_timer(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        timer: super::TimerId,
        token: u64,
    ) -> Result<()> {
        match token {
            ELECTION if self.election_timer == Some(timer) => self.on_election_timeout(ctx),
            HEARTBEAT if self.heartbeat_timer == Some(timer) => self.on_heartbeat(ctx),
            HOLD if self.hold_timer == Some(timer) => {
                self.on_hold_timeout(ctx);
                Ok(())
            }
            _ => Ok(()), // a timer replaced since
        }
    }
}
