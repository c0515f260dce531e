//! The client vocabulary shared by every protocol.
//!
//! Like stateright's `RegisterMsg`, one small set of requests and responses
//! serves every register protocol, so one client, one history and one checker
//! work with the built-in protocols and with any a learner writes.

use crate::ids::{ClientId, NodeId};
use serde::{Deserialize, Serialize};

/// What a client asks a coordinator to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Read the value of `key`.
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// Store `value` under `key`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
}

impl Request {
    /// The key the request is about.
    pub fn key(&self) -> &[u8] {
        match self {
            Request::Get { key } | Request::Put { key, .. } | Request::Delete { key } => key,
        }
    }

    /// Bytes of payload (key and value), for the network's byte counters.
    pub fn payload_len(&self) -> usize {
        match self {
            Request::Put { key, value } => key.len() + value.len(),
            other => other.key().len(),
        }
    }
}

/// A compare-and-set: replace the value of `key` with `new` if and only if
/// it is `expected` now, atomically. `None` means "absent" on either side:
/// `expected: None` swaps only when the key is missing, `new: None` deletes.
///
/// A separate type from [`Request`] (and [`Protocol::on_cas`](super::Protocol::on_cas)
/// a separate handler with a default answer) so that a protocol written
/// before compare-and-set existed still compiles and answers
/// [`Response::Unsupported`] instead of running a silently racy CAS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cas {
    /// The key.
    pub key: Vec<u8>,
    /// The value the key must hold for the swap (`None`: absent).
    pub expected: Option<Vec<u8>>,
    /// The value to store (`None`: delete).
    pub new: Option<Vec<u8>>,
}

impl Cas {
    /// Bytes of payload (key and both values), for the network's byte counters.
    pub fn payload_len(&self) -> usize {
        self.key.len()
            + self.expected.as_ref().map_or(0, Vec::len)
            + self.new.as_ref().map_or(0, Vec::len)
    }
}

/// A coordinator's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The value read (`None` when the key is missing or deleted).
    Value(Option<Vec<u8>>),
    /// The write or delete took effect.
    Done,
    /// The operation did **not** take effect: not enough replicas answered.
    /// Only answer this when no replica can have applied the operation;
    /// otherwise stay silent and let the client time out (indeterminate).
    Unavailable(String),
    /// A stored record on `node` for `key` does not decode. Nothing was
    /// changed by this request, and no wrong value is returned.
    Corrupt {
        /// The node whose storage is damaged.
        node: NodeId,
        /// The key (lossy UTF-8).
        key: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// Something else went wrong; the outcome is unknown.
    Failed(String),
    /// The answer to a [`Cas`]: `true` when the value was replaced, `false`
    /// when the current value differed (nothing changed).
    Swapped(bool),
    /// The mode cannot do this at all (a compare-and-set outside consensus
    /// mode); nothing changed. The text names the mode and why.
    Unsupported(String),
    /// The node refused a client with no session (see
    /// [`crate::security::AccessPolicy`]); nothing changed.
    Unauthenticated(String),
    /// The node refused an operation the client's grants do not cover;
    /// nothing changed.
    PermissionDenied(String),
}

impl Response {
    /// Bytes of payload, for the network's byte counters.
    pub fn payload_len(&self) -> usize {
        match self {
            Response::Value(Some(v)) => v.len(),
            Response::Unavailable(s)
            | Response::Failed(s)
            | Response::Unsupported(s)
            | Response::Unauthenticated(s)
            | Response::PermissionDenied(s) => s.len(),
            Response::Corrupt { key, reason, .. } => key.len() + reason.len(),
            _ => 0,
        }
    }
}

/// Where a reply goes: the client and its request number. Any node may
/// answer (a coordinator may hand a request on to another node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReplyTo {
    /// The client waiting for the answer.
    pub client: ClientId,
    /// The client's request number.
    pub request: u64,
}
