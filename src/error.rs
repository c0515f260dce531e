//! The one error type of the crate.
//!
//! Variants are chosen by what the *caller* can do about them, following the
//! advice of toydb and raft-rs: a [`Error::Timeout`] means "the outcome is
//! unknown, the write may or may not have happened" (see
//! [`Error::is_indeterminate`]), while [`Error::Unavailable`] means "the
//! operation certainly did not take effect, not enough replicas answered".
//! Expected outcomes (a missing key) are values, not errors.

use crate::ids::{ClientId, NodeId};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in replikv.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No reply arrived before the client's deadline. The operation may still
    /// take effect later: its outcome is *indeterminate*.
    #[error("timed out after {0:?}: the operation may or may not have taken effect")]
    Timeout(std::time::Duration),

    /// The coordinator could not reach enough replicas; the operation did not
    /// take effect (for example the minority side of a partition in strong mode).
    #[error("unavailable: {0}")]
    Unavailable(String),

    /// A key was empty.
    #[error("invalid key: keys must not be empty")]
    EmptyKey,

    /// A key was longer than [`crate::MAX_KEY_LEN`].
    #[error("invalid key: {len} bytes is over the limit of {max} bytes")]
    KeyTooLong {
        /// Length of the rejected key.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A value was longer than [`crate::MAX_VALUE_LEN`].
    #[error("invalid value: {len} bytes is over the limit of {max} bytes")]
    ValueTooLong {
        /// Length of the rejected value.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The mode cannot do this at all: a compare-and-set in a mode without
    /// one (only [`crate::Consistency::Consensus`] offers it). Nothing
    /// changed; the message names the mode.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A cluster setting is out of range; the message says which and why.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A fault or membership call named a node that is not in the cluster.
    #[error("unknown node {0}")]
    UnknownNode(NodeId),

    /// The node is already crashed (crash called twice, or pause on a crashed node).
    #[error("node {0} is already crashed")]
    NodeAlreadyCrashed(NodeId),

    /// The node is running (restart called on a live node).
    #[error("node {0} is running, not crashed")]
    NodeNotCrashed(NodeId),

    /// The storage directory could not be created or opened.
    #[error("storage directory {path}: {reason}")]
    StorageDirectory {
        /// The directory in question.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),

    /// A stored record on `node` for `key` does not decode: the data is corrupt.
    #[error("corrupt record on node {node} for key {key:?}: {reason}")]
    Corrupt {
        /// The node whose storage holds the record.
        node: NodeId,
        /// The key (lossy UTF-8).
        key: String,
        /// The decoder's complaint.
        reason: String,
    },

    /// A value does not decode as the type asked for by a typed helper.
    #[error("value does not decode as the requested type: {0}")]
    Decode(String),

    /// A value could not be encoded.
    #[error("value could not be encoded: {0}")]
    Encode(String),

    /// The protocol answered with a failure of its own.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// The cluster has been shut down or the client's endpoint is gone.
    #[error("the cluster is shut down")]
    Shutdown,

    /// A client id is already registered.
    #[error("client {0} is already registered")]
    DuplicateClient(ClientId),

    /// A history JSON document does not parse.
    #[error("invalid history: {0}")]
    InvalidHistory(String),

    /// A message trace JSON document does not parse, is of another format
    /// version, or a diagram of it was asked for an empty window.
    #[error("invalid trace: {0}")]
    InvalidTrace(String),

    /// The client presented no credential, or a wrong one (see
    /// [`crate::security::AccessPolicy`]). Certain: nothing happened.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),

    /// The client is known, but its grants do not cover this operation on
    /// this key. Certain: nothing happened.
    #[error("permission denied: {0}")]
    PermissionDenied(String),

    /// An I/O error (writing reports, histories).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// True when the operation may or may not have taken effect.
    ///
    /// ```
    /// use replikv::Error;
    /// assert!(Error::Timeout(std::time::Duration::from_millis(5)).is_indeterminate());
    /// assert!(!Error::Unavailable("1 of 2 acks".into()).is_indeterminate());
    /// ```
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }
}
