//! What Raft nodes say to each other, and what the log holds.

use crate::protocol::{Cas, ReplyTo, Request};
use crate::storage::Record;
use serde::{Deserialize, Serialize};

/// A client operation, as it travels to the leader and sits in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientOp {
    /// A get, put or delete.
    Request(Request),
    /// A compare-and-set.
    Cas(Cas),
}

/// What a log entry asks the state machine to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Nothing: the entry a new leader appends at the start of its term, so
    /// that something of its own term can commit, and with it everything
    /// before (Raft §5.4.2, §8).
    Noop,
    /// A client's operation, and who to answer once it is applied.
    Op {
        /// The client and its request number.
        reply_to: ReplyTo,
        /// The operation.
        op: ClientOp,
    },
}

/// One log entry: a command and the term of the leader that appended it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The leader's term when it appended this entry.
    pub term: u64,
    /// What to apply.
    pub command: Command,
}

/// Raft's peer messages (the paper's RPCs, as one-way messages: a reply
/// is a message of its own, and the sender is the envelope's `from`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMessage {
    /// RequestVote (§5.2): a candidate asks for a vote.
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Index of the candidate's last log entry.
        last_index: u64,
        /// Term of the candidate's last log entry.
        last_term: u64,
    },
    /// The answer to [`RaftMessage::RequestVote`].
    Vote {
        /// The voter's term.
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// AppendEntries (§5.3): entries to append after `prev_index`, or none
    /// (a heartbeat).
    Append {
        /// The leader's term.
        term: u64,
        /// Index of the entry just before `entries`.
        prev_index: u64,
        /// Its term.
        prev_term: u64,
        /// The entries, in order.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
    },
    /// The answer to [`RaftMessage::Append`].
    AppendReply {
        /// The follower's term.
        term: u64,
        /// `Ok(index)` when the follower's log now matches the leader's up
        /// to `index` (= `prev_index` + the entries sent); `Err(prev_index)`
        /// when it holds no entry `prev_index` of `prev_term`.
        matched: Result<u64, u64>,
        /// The follower's last log index, so the leader can skip back to it
        /// in one step instead of one entry per round trip.
        last_index: u64,
    },
    /// InstallSnapshot (§7): the leader's whole state machine as of
    /// `last_index`, for a follower that needs entries the leader has
    /// compacted away. Sent in one message, not in chunks.
    InstallSnapshot {
        /// The leader's term.
        term: u64,
        /// The last entry the snapshot includes.
        last_index: u64,
        /// Its term.
        last_term: u64,
        /// Every record of the state machine (tombstones included).
        records: Vec<(Vec<u8>, Record)>,
    },
    /// ReadIndex and leases (thesis §6.4): "am I still your leader?" A
    /// follower of `term` answers [`RaftMessage::ReadProbeAck`].
    ReadProbe {
        /// The leader's term.
        term: u64,
        /// Which round of probes this is (increasing within a term).
        round: u64,
    },
    /// The answer to [`RaftMessage::ReadProbe`].
    ReadProbeAck {
        /// The follower's term.
        term: u64,
        /// The round answered.
        round: u64,
    },
    /// A client operation handed on to the node believed to lead.
    Forward {
        /// Who to answer.
        reply_to: ReplyTo,
        /// The operation.
        op: ClientOp,
        /// How many times it was handed on already (bounded, so that stale
        /// leader hints cannot pass a request around for ever).
        hops: u8,
    },
}

impl RaftMessage {
    /// The sender's term, for the messages that carry one.
    pub fn term(&self) -> Option<u64> {
        match self {
            RaftMessage::RequestVote { term, .. }
            | RaftMessage::Vote { term, .. }
            | RaftMessage::Append { term, .. }
            | RaftMessage::AppendReply { term, .. }
            | RaftMessage::InstallSnapshot { term, .. }
            | RaftMessage::ReadProbe { term, .. }
            | RaftMessage::ReadProbeAck { term, .. } => Some(*term),
            RaftMessage::Forward { .. } => None,
        }
    }
}
