//! The peer messages of the strong protocol: two request/reply pairs, one per
//! ABD phase.

use crate::storage::Record;
use serde::{Deserialize, Serialize};

/// Names one client operation at one coordinator *incarnation*.
///
/// The incarnation matters: a coordinator that crashes and restarts numbers
/// its operations from zero again, and a late reply to the old incarnation's
/// operation 5 must not be counted towards the new incarnation's operation 5.
/// Replies whose `incarnation` is not the coordinator's own are ignored.
///
/// ```
/// use replikv::protocol::strong::OpId;
/// let a = OpId { incarnation: 0, seq: 5 };
/// let b = OpId { incarnation: 1, seq: 5 };
/// assert_ne!(a, b);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpId {
    /// The coordinator's incarnation (how many times it had restarted).
    pub incarnation: u64,
    /// The operation's number within that incarnation.
    pub seq: u64,
}

/// A message between a coordinator and a key's replicas.
///
/// Every request carries the operation's [`OpId`] and every reply echoes it,
/// so the coordinator can tell a reply to the current phase from a duplicate
/// or from a reply to an operation it has already finished. Replicas keep no
/// state about operations: answering the same request twice is harmless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StrongMessage {
    /// Phase 1 (both reads and writes): "what is your record for `key`?"
    Query {
        /// The operation asking.
        op: OpId,
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// A replica's answer to [`StrongMessage::Query`]: its record, if any.
    QueryReply {
        /// The operation answered.
        op: OpId,
        /// The replica's record (`None`: it has never stored the key).
        record: Option<Record>,
    },
    /// Phase 2 (writes, and the write-back of reads): "store `record` if it
    /// is newer than yours".
    Store {
        /// The operation asking.
        op: OpId,
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The record to store.
        record: Record,
    },
    /// Replica → coordinator: the replica's record for the queried key does
    /// not decode, so it cannot take part in this operation.
    Corrupt {
        /// The operation.
        op: OpId,
        /// The decoder's complaint.
        reason: String,
    },
    /// A replica's acknowledgement of [`StrongMessage::Store`], sent only
    /// once its storage holds `record` or something newer.
    StoreAck {
        /// The operation answered.
        op: OpId,
    },
}
