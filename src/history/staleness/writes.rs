//! The writes of each key, indexed for the oracle's two questions: "which
//! write produced this value?" and "which acknowledged writes came after
//! it?".

use crate::history::op::{History, OpKind, Operation};
use std::collections::HashMap;

/// Where a value that a read returned came from: which write of the
/// history produced it (not to be confused with
/// [`storage::Version`](crate::storage::Version), the stamp a replica keeps
/// on a stored record).
///
/// ```
/// use replikv::history::{History, StalenessReport, ValueOrigin};
/// // With no writes at all, a read of a missing key read the initial state.
/// # use replikv::{ClientId, history::{OpKind, Operation}};
/// # let get = Operation { client: ClientId(1), key: b"x".to_vec(), kind: OpKind::Get,
/// #     value: None, output: None, expected: None, swapped: None, ok: true, call_ns: 0, return_ns: Some(1), cached: false };
/// let report = StalenessReport::from_history(&History::new(vec![get]));
/// assert_eq!(report.entries[0].read_from, ValueOrigin::Initial);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueOrigin {
    /// The initial state: the key was never written (it is missing).
    Initial,
    /// The value written by the put or delete at this history position.
    Write(usize),
    /// No write in the history produced this value (a bug, or a history
    /// that starts after the key was written).
    Unknown,
}

/// When a version finished being written, as the global observer saw it.
/// Variants are in time order, so `Ord` compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Finish {
    /// Before everything: the initial state (and, charitably, an unknown version).
    Start,
    /// At this instant.
    At(u64),
    /// Never: a timed-out write, whose effect may land arbitrarily late.
    Never,
}

/// An acknowledged write: `ok` and returned.
#[derive(Clone, Copy, Debug)]
pub(super) struct Acked {
    pub(super) call: u64,
    pub(super) ret: u64,
}

/// One key's writes.
#[derive(Debug, Default)]
pub(super) struct KeyWrites {
    /// Positions of the writes that may have taken effect (acknowledged or
    /// timed out), in history order. Failed writes had no effect.
    effective: Vec<usize>,
    /// The acknowledged writes, sorted by return instant.
    acked: Vec<Acked>,
}

/// Indexes every key's writes.
pub(super) fn index(history: &History) -> HashMap<&[u8], KeyWrites> {
    let mut keys: HashMap<&[u8], KeyWrites> = HashMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        if !op.is_write() || (!op.ok && op.return_ns.is_some()) {
            continue;
        }
        let writes = keys.entry(op.key.as_slice()).or_default();
        writes.effective.push(i);
        if let (true, Some(ret)) = (op.ok, op.return_ns) {
            writes.acked.push(Acked {
                call: op.call_ns,
                ret,
            });
        }
    }
    for writes in keys.values_mut() {
        writes.acked.sort_by_key(|w| w.ret);
    }
    keys
}

/// The value an operation leaves behind: a put's value, `None` for a
/// delete, a compare-and-set's new value (`None` when it deletes).
fn written(op: &Operation) -> Option<&[u8]> {
    match op.kind {
        OpKind::Put => Some(op.value.as_deref().unwrap_or_default()),
        OpKind::Cas => op.value.as_deref(),
        _ => None,
    }
}

/// When `version` finished.
pub(super) fn finish(history: &History, version: ValueOrigin) -> Finish {
    match version {
        ValueOrigin::Initial | ValueOrigin::Unknown => Finish::Start,
        ValueOrigin::Write(i) => match history.ops.get(i).and_then(|op| op.return_ns) {
            Some(ret) => Finish::At(ret),
            None => Finish::Never,
        },
    }
}

impl KeyWrites {
    /// Versions whose value is `value` (`None` = missing), among writes
    /// invoked no later than `not_after`: a value cannot be read before
    /// someone started writing it.
    pub(super) fn versions<'a>(
        &'a self,
        history: &'a History,
        value: Option<&'a [u8]>,
        not_after: u64,
    ) -> impl Iterator<Item = ValueOrigin> + 'a {
        let initial = value.is_none().then_some(ValueOrigin::Initial);
        let writes = self.effective.iter().filter_map(move |&i| {
            let op = history.ops.get(i)?;
            (op.call_ns <= not_after && written(op) == value).then_some(ValueOrigin::Write(i))
        });
        initial.into_iter().chain(writes)
    }

    /// Acknowledged writes invoked after `after` finished (a write that
    /// finished at `Start` is followed by all, one that finished `Never` by
    /// none), among those acknowledged before instant `before` if given.
    pub(super) fn acked_after(
        &self,
        after: Finish,
        before: Option<u64>,
    ) -> impl Iterator<Item = &Acked> + '_ {
        let end = match before {
            Some(t) => self.acked.partition_point(|w| w.ret < t),
            None => self.acked.len(),
        };
        self.acked[..end]
            .iter()
            .filter(move |w| Finish::At(w.call) > after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::testkit::{del, failed, get, put, timed_out};

    #[test]
    fn versions_match_by_value_and_skip_failed_and_future_writes() {
        let history = History::new(vec![
            put(1, "a", 0, 10),
            failed(put(1, "a", 20, 30)),
            del(1, 40, 50),
            timed_out(put(1, "a", 60, 0)),
            get(2, Some("a"), 70, 80),
            put(1, "a", 90, 100),
        ]);
        let keys = index(&history);
        let x = &keys[&b"x"[..]];
        let found: Vec<_> = x.versions(&history, Some(b"a"), 80).collect();
        assert_eq!(found, vec![ValueOrigin::Write(0), ValueOrigin::Write(3)]);
        let missing: Vec<_> = x.versions(&history, None, 80).collect();
        assert_eq!(missing, vec![ValueOrigin::Initial, ValueOrigin::Write(2)]);
        assert_eq!(finish(&history, ValueOrigin::Write(3)), Finish::Never);
        assert_eq!(finish(&history, ValueOrigin::Write(2)), Finish::At(50));
    }
}
