//! The operation record and the history that holds them.

use crate::ids::ClientId;
use serde::{Deserialize, Serialize};

/// What a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Store a value.
    Put,
    /// Read a value.
    Get,
    /// Remove a key.
    Delete,
}

/// One client operation as the global observer saw it.
///
/// Three outcomes are possible:
/// - `ok == true`, `return_ns == Some(_)`: completed; for a get, `output` is
///   what it read (`None` = key missing).
/// - `ok == false`, `return_ns == Some(_)`: failed *without effect*
///   (for example `Unavailable`): the checker ignores it.
/// - `return_ns == None`: indeterminate (timed out); a write may have taken
///   effect at any point after `call_ns`, or never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Who issued it.
    pub client: ClientId,
    /// The key.
    pub key: Vec<u8>,
    /// What kind of operation.
    pub kind: OpKind,
    /// The value written (puts only).
    pub value: Option<Vec<u8>>,
    /// The value read (gets only; `None` for a missing key).
    pub output: Option<Vec<u8>>,
    /// Whether it completed successfully.
    pub ok: bool,
    /// Invocation instant, nanoseconds since the cluster started.
    pub call_ns: u64,
    /// Return instant, or `None` when indeterminate.
    pub return_ns: Option<u64>,
    /// True when a client-side cache answered (gets only).
    pub cached: bool,
}

impl Operation {
    /// True when the outcome is unknown.
    pub fn is_indeterminate(&self) -> bool {
        self.return_ns.is_none()
    }

    /// True for puts and deletes.
    pub fn is_write(&self) -> bool {
        matches!(self.kind, OpKind::Put | OpKind::Delete)
    }
}

/// A history: every operation, in invocation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The operations.
    pub ops: Vec<Operation>,
}

impl History {
    /// A history of `ops`.
    pub fn new(ops: Vec<Operation>) -> Self {
        History { ops }
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
