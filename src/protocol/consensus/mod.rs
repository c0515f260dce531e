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
//! # Deviations from the paper, and what is left out
//!
//! - **One group over all the nodes.** The whole key space is one Raft
//!   group whose members are the cluster's nodes; the replication factor
//!   and the partitioner do not apply (every node holds every key).
//!   Multi-Raft — one group per shard, placed by the partitioner — is left
//!   out, and so are **membership changes**: the group is the member list
//!   at the time of each decision, so adding or removing a node while the
//!   cluster runs is *not* safe in this mode (majorities of the old and the
//!   new set need not intersect).
//! - **No log compaction.** The log grows without bound (snapshots and
//!   InstallSnapshot, §7, are left out); a restarted node replays nothing
//!   it has applied, because the applied index is persisted with the
//!   records.
//! - **Reads go through the log.** A get is an entry like a put, so it is
//!   linearizable at the price of a replication round. ReadIndex and
//!   leader leases (§6.4) are left out.
//! - **Followers forward.** A client may send to any node: a follower
//!   hands the request on to the leader it knows ([`RaftMessage::Forward`]),
//!   or holds it until it learns of one; the leader answers the client
//!   directly. Nothing is retried: a request lost with a deposed leader
//!   times out at its client, which records it as indeterminate — and it
//!   may indeed still be committed by the next leader.
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
//! - `messages.rs`: [`RaftMessage`], [`Entry`], [`Command`], [`ClientOp`].
//! - `storage.rs`: term, vote, log and applied index in the store.
//! - `election.rs`: timeouts, votes, stepping down, becoming leader.
//! - `replication.rs`: proposing, AppendEntries, commit.
//! - `apply.rs`: the state machine and the answers to clients.
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
mod election;
mod messages;
mod replication;
mod storage;
#[cfg(test)]
mod tests;

pub use messages::{ClientOp, Command, Entry, RaftMessage};
pub use storage::HardState;

use super::{Cas, Context, Protocol, ReplyTo, Request, RequestFilter};
use crate::error::Result;
use crate::ids::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Timer tokens.
const ELECTION: u64 = 1;
const HEARTBEAT: u64 = 2;

/// How many client requests a node holds while it knows no leader; beyond
/// that it answers `Unavailable` (nothing was appended anywhere).
const MAX_HELD: usize = 10_000;

/// Settings of the consensus protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusConfig {
    /// The shortest election timeout; each is drawn uniformly from
    /// `election_timeout_min..election_timeout_max` with the node's seeded
    /// RNG, so that candidates rarely collide (§5.2).
    pub election_timeout_min: Duration,
    /// The longest election timeout (exclusive).
    pub election_timeout_max: Duration,
    /// How often a leader sends AppendEntries when it has nothing new,
    /// well under the election timeout.
    pub heartbeat: Duration,
    /// The most entries in one AppendEntries message.
    pub max_batch: usize,
    /// Deliberate bugs, for tests that show the checks catch them. All off
    /// by default; never turn them on outside a test.
    #[doc(hidden)]
    pub mutations: Mutations,
}

/// Deliberate bugs (see [`ConsensusConfig::mutations`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutations {
    /// Keep the vote in memory only: a restarted node forgets it.
    pub forget_vote: bool,
    /// A leader that hears of a higher term adopts it but keeps leading.
    pub leader_keeps_leading: bool,
    /// Commit any entry stored on a majority, whatever its term (Figure 8).
    pub commit_old_terms: bool,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat: Duration::from_millis(50),
            max_batch: 64,
            mutations: Mutations::default(),
        }
    }
}

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
    /// The log, entry `i` at position `i - 1` (persisted too).
    log: Vec<Entry>,
    /// Highest index known committed (volatile; recovers as `applied`).
    commit: u64,
    /// Highest index applied to the records (persisted with them).
    applied: u64,
    role: Role,
    election_timer: Option<super::TimerId>,
    heartbeat_timer: Option<super::TimerId>,
    /// Clients to answer when their entry is applied here.
    waiting: BTreeSet<ReplyTo>,
    /// Requests held while no leader is known.
    held: Vec<(ReplyTo, ClientOp)>,
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
            commit: 0,
            applied: 0,
            role: Role::Follower { leader: None },
            election_timer: None,
            heartbeat_timer: None,
            waiting: BTreeSet::new(),
            held: Vec::new(),
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

    /// The log (entry `i` at position `i - 1`).
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    /// The term of entry `index` (0 for index 0, and for none).
    fn term_at(&self, index: u64) -> u64 {
        index
            .checked_sub(1)
            .and_then(|i| self.log.get(usize::try_from(i).ok()?))
            .map_or(0, |e| e.term)
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

    /// A client operation arrived, directly or forwarded.
    fn client_op(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        op: ClientOp,
        hops: u8,
    ) -> Result<()> {
        if !self.admitted.admit(reply_to) {
            return Ok(()); // a duplicate, or overtaken by a later request
        }
        self.route(ctx, reply_to, op, hops)
    }

    /// Proposes (leader), forwards (follower with a leader) or holds.
    fn route(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        op: ClientOp,
        hops: u8,
    ) -> Result<()> {
        match self.role {
            Role::Leader { .. } => self.propose(ctx, reply_to, op),
            Role::Follower {
                leader: Some(leader),
            } if hops < 3 => {
                ctx.send(
                    leader,
                    RaftMessage::Forward {
                        reply_to,
                        op,
                        hops: hops + 1,
                    },
                );
                Ok(())
            }
            // Handed on too often: drop it, its client times out.
            Role::Follower { leader: Some(_) } => Ok(()),
            _ if self.held.len() >= MAX_HELD => {
                ctx.reply(
                    reply_to,
                    super::Response::Unavailable(format!(
                        "no leader known, and {MAX_HELD} requests already wait for one"
                    )),
                );
                Ok(())
            }
            _ => {
                self.held.push((reply_to, op));
                Ok(())
            }
        }
    }

    /// Routes the requests held while no leader was known.
    fn release_held(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        for (reply_to, op) in std::mem::take(&mut self.held) {
            self.route(ctx, reply_to, op, 0)?;
        }
        Ok(())
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
        self.log = recovered.log;
        self.applied = recovered.applied.min(self.last_index());
        // Everything applied was committed; the rest is learned again.
        self.commit = self.applied;
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
        if let Some(term) = message.term()
            && term > self.hard.term
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
            _ => Ok(()), // a timer replaced since
        }
    }
}
