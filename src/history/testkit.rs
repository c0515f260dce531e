//! Terse constructors for hand-written test histories (tests only).
//!
//! Times are in nanoseconds; every operation is on key `"x"` unless moved
//! with [`on`]. `get(2, Some("a"), 40, 50)` reads as "client 2 read `a`
//! between 40 and 50 ns".

use super::op::{OpKind, Operation};
use crate::ClientId;

fn op(client: u64, kind: OpKind, call: u64, ret: u64) -> Operation {
    Operation {
        client: ClientId(client),
        key: b"x".to_vec(),
        kind,
        value: None,
        output: None,
        expected: None,
        swapped: None,
        ok: true,
        call_ns: call,
        return_ns: Some(ret),
        cached: false,
    }
}

/// A successful put of `v`.
pub(crate) fn put(client: u64, v: &str, call: u64, ret: u64) -> Operation {
    Operation {
        value: Some(v.as_bytes().to_vec()),
        ..op(client, OpKind::Put, call, ret)
    }
}

/// A successful get that returned `v` (`None` = missing).
pub(crate) fn get(client: u64, v: Option<&str>, call: u64, ret: u64) -> Operation {
    Operation {
        output: v.map(|v| v.as_bytes().to_vec()),
        expected: None,
        swapped: None,
        ..op(client, OpKind::Get, call, ret)
    }
}

/// A successful delete.
pub(crate) fn del(client: u64, call: u64, ret: u64) -> Operation {
    op(client, OpKind::Delete, call, ret)
}

/// The same operation, timed out (no return, not ok).
pub(crate) fn timed_out(o: Operation) -> Operation {
    Operation {
        ok: false,
        return_ns: None,
        ..o
    }
}

/// The same operation, failed without effect.
pub(crate) fn failed(o: Operation) -> Operation {
    Operation { ok: false, ..o }
}

/// The same operation, answered by the client cache.
pub(crate) fn cached(o: Operation) -> Operation {
    Operation { cached: true, ..o }
}

/// The same operation on key `key`.
pub(crate) fn on(key: &str, o: Operation) -> Operation {
    Operation {
        key: key.as_bytes().to_vec(),
        ..o
    }
}
