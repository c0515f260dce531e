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
    /// Compare-and-set: replace `expected` (in [`Operation::expected`]) by
    /// `value`, atomically; [`Operation::swapped`] says whether it did.
    Cas,
}

/// One client operation as the global observer saw it.
///
/// Three outcomes are possible:
/// - `ok == true`, `return_ns == Some(_)`: completed; for a get, `output` is
///   what it read (`None` = key missing).
/// - `ok == false`, `return_ns == Some(_)`: failed *without effect*
///   (for example `Unavailable`, or refused by access control:
///   `Unauthenticated`, `PermissionDenied`): the checker ignores it.
/// - `return_ns == None`: indeterminate (timed out); a write may have taken
///   effect at any point after `call_ns`, or never.
///
/// A compare-and-set ([`OpKind::Cas`]) writes `value` (`None`: delete) if
/// the key held `expected` (`None`: absent); `swapped` is `Some(true)` when
/// it did, `Some(false)` when the current value differed (both completed,
/// `ok`), and `None` when its outcome is unknown or it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Who issued it.
    pub client: ClientId,
    /// The key.
    pub key: Vec<u8>,
    /// What kind of operation.
    pub kind: OpKind,
    /// The value written (puts, and the new value of a compare-and-set;
    /// `None` for a compare-and-set that deletes).
    pub value: Option<Vec<u8>>,
    /// The value a compare-and-set expected (`None`: absent; `None` for
    /// every other kind).
    pub expected: Option<Vec<u8>>,
    /// Whether a compare-and-set swapped: `None` when unknown (timed out),
    /// when it failed, and for every other kind.
    pub swapped: Option<bool>,
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

    /// True for puts, deletes, and compare-and-sets that swapped or may
    /// have (not those that completed without swapping).
    pub fn is_write(&self) -> bool {
        match self.kind {
            OpKind::Put | OpKind::Delete => true,
            OpKind::Cas => self.swapped != Some(false),
            OpKind::Get => false,
        }
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
