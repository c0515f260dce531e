//! Property tests: the checker against histories whose verdict is known by
//! construction.
//!
//! - [`simulate`] plays random plans against an atomic register, so every
//!   history it makes is linearizable, with overlapping intervals, ties,
//!   failures and timeouts in the mix.
//! - Changing one completed read's output to a value nobody wrote makes any
//!   history non-linearizable, and shrinking must then single out that read.
//! - On arbitrary (mostly non-linearizable) histories, every counterexample
//!   must itself be non-linearizable: shrinking only makes sound removals.
//! - On tiny arbitrary histories, the verdict must agree with brute force:
//!   trying every order of every admissible subset of operations.

use super::*;
use crate::ClientId;
use crate::history::op::{OpKind, Operation};
use crate::history::simulate::{Fate, PlannedOp, simulate};
use proptest::prelude::*;
use proptest::sample::Index;

fn planned_op() -> impl Strategy<Value = PlannedOp> {
    (
        0u64..4,
        0u8..3,
        0u8..10,
        0u64..50,
        0u64..100,
        0u64..100,
        0u8..20,
    )
        .prop_map(
            |(client, key, kind, think_ns, effect_ns, reply_ns, fate)| PlannedOp {
                client,
                key: vec![b'a' + key],
                kind: match kind {
                    0..5 => OpKind::Get,
                    5..9 => OpKind::Put,
                    _ => OpKind::Delete,
                },
                think_ns,
                effect_ns,
                reply_ns,
                fate: match fate {
                    0..14 => Fate::Ok,
                    14..17 => Fate::Failed,
                    17..19 => Fate::TimedOut { applied: true },
                    _ => Fate::TimedOut { applied: false },
                },
            },
        )
}

/// An arbitrary operation on one key with values from a tiny alphabet, so
/// that some histories are linearizable and most are not.
fn arbitrary_op() -> impl Strategy<Value = Operation> {
    (0u64..3, 0u8..3, 0u8..3, 0u64..60, 0u64..30, 0u8..6).prop_map(
        |(client, kind, v, call_ns, len, outcome)| {
            // 0: timed out, 1: failed, otherwise completed.
            let timed_out = outcome == 0;
            let kind = [OpKind::Get, OpKind::Put, OpKind::Delete][usize::from(kind)];
            let value = (v > 0).then(|| vec![b'0' + v]);
            Operation {
                client: ClientId(client),
                key: b"x".to_vec(),
                kind,
                value: if kind == OpKind::Put {
                    Some(vec![b'0' + v])
                } else {
                    None
                },
                output: if kind == OpKind::Get { value } else { None },
                expected: None,
                swapped: None,
                ok: outcome > 1,
                call_ns,
                return_ns: (!timed_out).then_some(call_ns + len),
                cached: false,
            }
        },
    )
}

/// Linearizability by exhaustion, straight from the definition: some order
/// of all completed operations plus any subset of timed-out writes respects
/// real time and the register. Failed operations and timed-out gets are
/// left out, as the checker documents.
fn brute_force(ops: &[Operation]) -> bool {
    let ops: Vec<&Operation> = (ops.iter())
        .filter(|o| {
            if o.return_ns.is_some() {
                o.ok
            } else {
                o.is_write()
            }
        })
        .collect();
    let optional: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].return_ns.is_none())
        .collect();
    (0..1u32 << optional.len()).any(|mask| {
        let chosen: Vec<&Operation> = (0..ops.len())
            .filter(|i| match optional.iter().position(|o| o == i) {
                Some(bit) => mask & (1 << bit) != 0,
                None => true,
            })
            .map(|i| ops[i])
            .collect();
        permutations(chosen.len())
            .iter()
            .any(|order| legal(&chosen, order))
    })
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}

fn legal(ops: &[&Operation], order: &[usize]) -> bool {
    let before = |a: &Operation, b: &Operation| a.return_ns.is_some_and(|r| r < b.call_ns);
    let real_time = order
        .iter()
        .enumerate()
        .all(|(pos, &a)| order[pos + 1..].iter().all(|&b| !before(ops[b], ops[a])));
    let mut state: Option<&Vec<u8>> = None;
    real_time
        && order.iter().all(|&i| match ops[i].kind {
            OpKind::Put => {
                state = ops[i].value.as_ref();
                true
            }
            OpKind::Delete => {
                state = None;
                true
            }
            OpKind::Get => ops[i].output.as_ref() == state,
            OpKind::Cas => match ops[i].swapped {
                Some(false) => ops[i].expected.as_ref() != state,
                _ if ops[i].expected.as_ref() == state => {
                    state = ops[i].value.as_ref();
                    true
                }
                _ => false,
            },
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn atomic_register_histories_are_linearizable(
        plan in prop::collection::vec(planned_op(), 0..60)
    ) {
        let history = simulate(&plan);
        let verdict = Checker::new().check(&history);
        prop_assert!(verdict.is_linearizable(), "{}\n{}", verdict, history.to_json());
    }

    #[test]
    fn a_read_of_a_value_never_written_is_caught(
        plan in prop::collection::vec(planned_op(), 1..60),
        pick in any::<Index>(),
    ) {
        let mut history = simulate(&plan);
        let reads: Vec<usize> = (0..history.len())
            .filter(|&i| {
                let op = &history.ops[i];
                op.kind == OpKind::Get && op.ok && op.return_ns.is_some()
            })
            .collect();
        prop_assume!(!reads.is_empty());
        let i = reads[pick.index(reads.len())];
        history.ops[i].output = Some(b"never written".to_vec());
        let verdict = Checker::new().check(&history);
        let Some(cx) = verdict.counterexample() else {
            return Err(TestCaseError::fail(format!("{verdict}\n{}", history.to_json())));
        };
        prop_assert_eq!(&cx.ops, &vec![(i, history.ops[i].clone())]);
    }

    #[test]
    fn the_checker_agrees_with_brute_force(
        mut ops in prop::collection::vec(arbitrary_op(), 0..7)
    ) {
        ops.sort_by_key(|o| o.call_ns);
        let history = History::new(ops);
        let verdict = Checker::new().check(&history);
        prop_assert_eq!(verdict.is_linearizable(), brute_force(&history.ops), "{}", verdict);
    }

    #[test]
    fn counterexamples_are_not_linearizable_on_their_own(
        mut ops in prop::collection::vec(arbitrary_op(), 0..14)
    ) {
        ops.sort_by_key(|o| o.call_ns);
        let history = History::new(ops);
        let verdict = Checker::new().check(&history);
        if let Some(cx) = verdict.counterexample() {
            let alone = History::new(cx.ops.iter().map(|(_, op)| op.clone()).collect());
            let again = Checker::new().check(&alone);
            prop_assert!(again.counterexample().is_some(), "{}\nshrank to\n{}", verdict, again);
            // Shrinking must not turn a stale read into a read of a value
            // "never written": if the history wrote it, so does the
            // counterexample.
            let ghosts = |ops: &[Operation]| -> Vec<Vec<u8>> {
                let written = |v: &Vec<u8>| ops.iter().any(|o| {
                    o.kind == OpKind::Put && o.value.as_ref() == Some(v)
                        && (o.ok || o.return_ns.is_none())
                });
                (ops.iter())
                    .filter(|o| o.kind == OpKind::Get && o.ok && o.return_ns.is_some())
                    .filter_map(|o| o.output.clone())
                    .filter(|v| !written(v))
                    .collect()
            };
            let before = ghosts(&history.ops);
            for ghost in ghosts(&alone.ops) {
                prop_assert!(before.contains(&ghost), "{}", verdict);
            }
        }
    }
}
