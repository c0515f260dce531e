//! The sequential specification, and the history cut into per-key inputs.
//!
//! The model of one key is a register holding `Option<Vec<u8>>`, initially
//! `None`: a put of `v` makes it `Some(v)`, a delete makes it `None`, a get
//! must return exactly what it holds (`None` = missing), and a
//! compare-and-set of `e` to `n` that swapped must find `e` and leaves `n`,
//! while one that did not swap must find anything but `e` and changes
//! nothing. The search
//! copies and compares states millions of times, so values are *interned*:
//! each distinct value on a key becomes a small integer, with `0` standing
//! for "missing". Comparing two `u32`s is all the model then ever does.
//!
//! Which operations take part (see [`Operation`]):
//!
//! | recorded as | treated as |
//! |---|---|
//! | `ok`, returned | a normal operation |
//! | not `ok`, returned | failed without effect: left out |
//! | no return (timed out), get | its answer was never seen: left out |
//! | no return (timed out), put or delete | took effect at some instant after its call, or never |
//! | no return (timed out), compare-and-set | swapped at some instant after its call when it found `expected`, or never |
//! | `ok`, returned, compare-and-set | swapped: needs `expected`; not swapped: needs anything else |

use crate::history::op::{History, OpKind, Operation};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The interned register state: [`ABSENT`] or a value id.
pub(super) type State = u32;

/// The initial state, and the state after a delete.
pub(super) const ABSENT: State = 0;

/// What an operation does to the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Action {
    /// A put (of a value id) or, with [`ABSENT`], a delete.
    Write(State),
    /// A get that returned this state.
    Read(State),
    /// A compare-and-set that swapped (or, timed out, may have): it found
    /// `expected` and left `new`.
    Cas {
        /// The state it needs.
        expected: State,
        /// The state it leaves.
        new: State,
    },
    /// A compare-and-set that completed without swapping: it found
    /// anything but this state, and changed nothing.
    CasFailed(State),
}

impl Action {
    /// The model's transition: the next state, or `None` when the operation
    /// cannot happen in `state` (a get that returned something else).
    pub(super) fn step(self, state: State) -> Option<State> {
        match self {
            Action::Write(v) => Some(v),
            Action::Read(v) => (v == state).then_some(state),
            Action::Cas { expected, new } => (expected == state).then_some(new),
            Action::CasFailed(v) => (v != state).then_some(state),
        }
    }

    /// The state it leaves, for operations that change the state.
    pub(super) fn writes(self) -> Option<State> {
        match self {
            Action::Write(v) | Action::Cas { new: v, .. } => Some(v),
            Action::Read(_) | Action::CasFailed(_) => None,
        }
    }

    /// The one state it needs, for operations that need exactly one.
    pub(super) fn reads(self) -> Option<State> {
        match self {
            Action::Read(v) | Action::Cas { expected: v, .. } => Some(v),
            Action::Write(_) | Action::CasFailed(_) => None,
        }
    }

    /// Every state it names (for sizing tables).
    pub(super) fn max_state(self) -> State {
        match self {
            Action::Write(v) | Action::Read(v) | Action::CasFailed(v) => v,
            Action::Cas { expected, new } => expected.max(new),
        }
    }

    /// True for the compare-and-set actions.
    pub(super) fn is_cas(self) -> bool {
        matches!(self, Action::Cas { .. } | Action::CasFailed(_))
    }
}

/// One operation on one key, ready for the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KeyOp {
    /// Position in the [`History`].
    pub(super) index: usize,
    /// Invocation instant.
    pub(super) call: u64,
    /// Return instant; `None` for a timed-out write, which may take effect
    /// at any instant after `call`, or never.
    pub(super) ret: Option<u64>,
    /// Its effect.
    pub(super) action: Action,
}

/// Turns a key's operations into [`KeyOp`]s, dropping those that cannot
/// matter, in invocation order.
pub(super) fn key_ops<'h>(history: &'h History, indices: &[usize]) -> Vec<KeyOp> {
    let mut ids: HashMap<&'h [u8], State> = HashMap::new();
    let mut intern = |v: Option<&'h [u8]>| match v {
        None => ABSENT,
        Some(v) => {
            let next = State::try_from(ids.len() + 1).unwrap_or(State::MAX);
            *ids.entry(v).or_insert(next)
        }
    };
    let mut ops = Vec::with_capacity(indices.len());
    for &index in indices {
        let Some(op) = history.ops.get(index) else {
            continue;
        };
        if !op.ok && op.return_ns.is_some() {
            continue; // failed without effect
        }
        let action = match op.kind {
            OpKind::Get if op.return_ns.is_none() => continue, // answer never seen
            OpKind::Get => Action::Read(intern(op.output.as_deref())),
            // A put without a value is invalid (History::validate); treat it as
            // writing the empty value rather than panicking.
            OpKind::Put => Action::Write(intern(Some(op.value.as_deref().unwrap_or_default()))),
            OpKind::Delete => Action::Write(ABSENT),
            OpKind::Cas => {
                let expected = intern(op.expected.as_deref());
                match op.swapped {
                    Some(false) => Action::CasFailed(expected),
                    // Swapped, or unknown (timed out; `ok` without
                    // `swapped` is invalid and read as unknown too).
                    _ => Action::Cas {
                        expected,
                        new: intern(op.value.as_deref()),
                    },
                }
            }
        };
        // A compare-and-set whose outcome is unknown may have swapped at
        // any instant after its call, like a timed-out write.
        let unknown = op.kind == OpKind::Cas && op.swapped.is_none();
        ops.push(KeyOp {
            index,
            call: op.call_ns,
            // An invalid return before the call is read as "at the call".
            ret: op.return_ns.filter(|_| !unknown).map(|r| r.max(op.call_ns)),
            action,
        });
    }
    ops.sort_by_key(|o| (o.call, o.index));
    ops
}

/// The first get that returned a value no write in `ops` writes, if any.
///
/// Such a get is not linearizable even on its own, and finding it takes one
/// pass, whereas the search would first have to exhaust every order of the
/// operations before it.
pub(super) fn unwritten_read(ops: &[KeyOp]) -> Option<&KeyOp> {
    let written: HashSet<State> = ops.iter().filter_map(|o| o.action.writes()).collect();
    // A returned read, or a returned compare-and-set that swapped: both saw
    // their value. (A timed-out compare-and-set may simply never have run.)
    ops.iter().find(|o| {
        o.ret.is_some()
            && o.action
                .reads()
                .is_some_and(|v| v != ABSENT && !written.contains(&v))
    })
}

/// The positions of each key's operations, keys in byte order.
pub(super) fn by_key(history: &History) -> BTreeMap<&[u8], Vec<usize>> {
    let mut keys: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        keys.entry(op.key.as_slice()).or_default().push(i);
    }
    keys
}

/// The positions of the operations on `key`.
pub(super) fn on_key(history: &History, key: &[u8]) -> Vec<usize> {
    (history.ops.iter().enumerate())
        .filter(|(_, op): &(usize, &Operation)| op.key == key)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientId;

    fn op(kind: OpKind, value: Option<&str>, ok: bool, ret: Option<u64>) -> Operation {
        Operation {
            client: ClientId(1),
            key: b"k".to_vec(),
            kind,
            value: value
                .filter(|_| kind == OpKind::Put)
                .map(|v| v.as_bytes().to_vec()),
            output: value
                .filter(|_| kind == OpKind::Get)
                .map(|v| v.as_bytes().to_vec()),
            expected: None,
            swapped: None,
            ok,
            call_ns: 1,
            return_ns: ret,
            cached: false,
        }
    }

    #[test]
    fn filtering_and_interning() {
        let history = History::new(vec![
            op(OpKind::Put, Some("a"), true, Some(2)),  // kept, a = 1
            op(OpKind::Put, Some("b"), false, Some(2)), // failed: dropped
            op(OpKind::Get, Some("a"), false, None),    // timed-out get: dropped
            op(OpKind::Delete, None, false, None),      // timed-out delete: optional
            op(OpKind::Get, Some("a"), true, Some(3)),  // reads a = 1
            op(OpKind::Get, None, true, Some(3)),       // reads missing
        ]);
        let ops = key_ops(&history, &on_key(&history, b"k"));
        let actions: Vec<_> = ops.iter().map(|o| (o.index, o.action, o.ret)).collect();
        assert_eq!(
            actions,
            vec![
                (0, Action::Write(1), Some(2)),
                (3, Action::Write(ABSENT), None),
                (4, Action::Read(1), Some(3)),
                (5, Action::Read(ABSENT), Some(3)),
            ]
        );
    }

    #[test]
    fn reads_of_unwritten_values_are_found_in_one_pass() {
        let history = History::new(vec![
            op(OpKind::Put, Some("a"), true, Some(2)),
            op(OpKind::Get, Some("a"), true, Some(3)),
            op(OpKind::Get, None, true, Some(3)),
            op(OpKind::Get, Some("b"), true, Some(3)),
        ]);
        let ops = key_ops(&history, &on_key(&history, b"k"));
        assert_eq!(unwritten_read(&ops).map(|o| o.index), Some(3));
        assert_eq!(unwritten_read(&ops[..3]), None);
    }

    #[test]
    fn the_model_only_lets_reads_see_the_state() {
        assert_eq!(Action::Write(3).step(1), Some(3));
        assert_eq!(Action::Read(1).step(1), Some(1));
        assert_eq!(Action::Read(2).step(1), None);
    }
}
