//! Acknowledged writes that a converged store no longer shows.

use super::writes::{self, Finish, ValueOrigin};
use crate::history::op::History;
use std::collections::{BTreeMap, HashMap};

/// An acknowledged write that the converged store lost.
///
/// See [`lost_writes`] for how one is found.
///
/// ```
/// use replikv::history::{LostWrite, ValueOrigin};
/// let lost = LostWrite { key: b"x".to_vec(), lost: 7, winner: ValueOrigin::Write(3) };
/// assert_eq!(lost.winner, ValueOrigin::Write(3));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostWrite {
    /// The key.
    pub key: Vec<u8>,
    /// Position in the history of the acknowledged write that was lost.
    pub lost: usize,
    /// The version the key converged to instead. [`ValueOrigin::Unknown`] when
    /// no write produced the final value (then every acknowledged write is
    /// lost).
    pub winner: ValueOrigin,
}

/// Finds the acknowledged writes that should have survived but did not.
///
/// `final_values` maps each key to the value all replicas converged to
/// (`None` = missing), for example read back after healing and anti-entropy.
/// Keys absent from it are skipped.
///
/// The winner is identified by value (a missing key: a delete, or the
/// initial state). An acknowledged write to the key is **lost** iff it was
/// invoked after the winner returned: in real time it came later and should
/// have overwritten the winner. Writes concurrent with the winner may
/// legitimately lose to it. When several writes match the final value, the
/// latest to return is taken as the winner (the charitable choice: the
/// fewest lost writes); a timed-out winner never returned, so nothing is
/// lost to it.
///
/// The result is ordered by key, then by position in the history.
///
/// ```
/// use replikv::ClientId;
/// use replikv::history::{History, OpKind, Operation, ValueOrigin, lost_writes};
/// use std::collections::BTreeMap;
///
/// let put = |client, v: &str, call_ns, return_ns| Operation {
///     client: ClientId(client),
///     key: b"x".to_vec(),
///     kind: OpKind::Put,
///     value: Some(v.as_bytes().to_vec()),
///     output: None,
///     expected: None,
///     swapped: None,
///     ok: true,
///     call_ns,
///     return_ns: Some(return_ns),
///     cached: false,
/// };
/// // c2's put of "b" started after c1's put of "a" finished, yet "a" won:
/// // c1's node had a clock running ahead.
/// let history = History::new(vec![put(1, "a", 0, 10), put(2, "b", 20, 30)]);
/// let finals = BTreeMap::from([(b"x".to_vec(), Some(b"a".to_vec()))]);
/// let lost = lost_writes(&history, &finals);
/// assert_eq!(lost.len(), 1);
/// assert_eq!((lost[0].lost, lost[0].winner), (1, ValueOrigin::Write(0)));
/// ```
pub fn lost_writes(
    history: &History,
    final_values: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Vec<LostWrite> {
    // Acknowledged writes per key, in history order.
    let mut acked: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        if op.is_write() && op.ok && op.return_ns.is_some() {
            acked.entry(op.key.as_slice()).or_default().push(i);
        }
    }
    let keys = writes::index(history);
    let mut lost = Vec::new();
    for (key, value) in final_values {
        let Some(acked) = acked.get(key.as_slice()) else {
            continue;
        };
        let winner = keys
            .get(key.as_slice())
            .and_then(|w| {
                (w.versions(history, value.as_deref(), u64::MAX))
                    .max_by_key(|&v| (writes::finish(history, v), std::cmp::Reverse(v)))
            })
            .unwrap_or(ValueOrigin::Unknown);
        let finished = writes::finish(history, winner);
        for &i in acked {
            let Some(op) = history.ops.get(i) else {
                continue;
            };
            if Finish::At(op.call_ns) > finished {
                lost.push(LostWrite {
                    key: key.clone(),
                    lost: i,
                    winner,
                });
            }
        }
    }
    lost
}
