//! The eventual protocol's peer messages.
//!
//! Three conversations share one enum: the coordinator's quorum round trips
//! (`Store`/`StoreAck`, `Read`/`ReadReply`, `Repair`), hinted handoff
//! (`Handoff`/`HandoffAck`) and anti-entropy (`SyncDigest`, `SyncKeys`,
//! `SyncPush`). Every message is idempotent: retransmitted or duplicated
//! copies change nothing, because replicas only ever keep the newest version.

use crate::ids::NodeId;
use crate::storage::{Record, Version};
use serde::{Deserialize, Serialize};

/// A message between two nodes running [`super::Eventual`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventualMessage {
    /// Coordinator → replica (or hint holder): store this record.
    Store {
        /// The coordinator's operation id, echoed in the ack.
        op: u64,
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The versioned value or tombstone.
        record: Record,
        /// `Some(replica)` when the receiver stands in for `replica` (sloppy
        /// quorum): it keeps a hint instead of a record.
        hint_for: Option<NodeId>,
    },
    /// Replica → coordinator: the record of `op` (or a newer one) is stored durably.
    StoreAck {
        /// The operation acknowledged.
        op: u64,
    },
    /// Coordinator → replica: what do you hold for `key`?
    Read {
        /// The coordinator's operation id, echoed in the reply.
        op: u64,
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Replica → coordinator: what it holds (`None`: nothing, not even a tombstone).
    ReadReply {
        /// The operation answered.
        op: u64,
        /// The replica's record.
        record: Option<Record>,
    },
    /// Coordinator → stale replica (read repair): store this newer record. Not acknowledged.
    Repair {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The newest record the read saw.
        record: Record,
    },
    /// Hint holder → intended replica: records written while you were unreachable.
    Handoff {
        /// Keys and records.
        records: Vec<(Vec<u8>, Record)>,
    },
    /// Intended replica → hint holder: these are stored; delete the hints.
    HandoffAck {
        /// Keys and the versions stored.
        delivered: Vec<(Vec<u8>, Version)>,
    },
    /// Anti-entropy, step 1: one hash per bucket of the keys both nodes replicate.
    SyncDigest {
        /// `BUCKETS` order-independent hashes of `(key, version)` pairs.
        buckets: Vec<u64>,
    },
    /// Anti-entropy, step 2: the `(key, version)` list of the buckets that differ.
    SyncKeys {
        /// Indices of the differing buckets.
        buckets: Vec<u16>,
        /// The sender's shared keys in those buckets, with versions.
        entries: Vec<(Vec<u8>, Version)>,
    },
    /// Anti-entropy, steps 3 and 4: newer records for the receiver, and the
    /// keys the sender wants in return (empty in the final step).
    SyncPush {
        /// Records the receiver is missing or holds older.
        records: Vec<(Vec<u8>, Record)>,
        /// Keys the sender wants the receiver's records for.
        want: Vec<Vec<u8>>,
    },
}
