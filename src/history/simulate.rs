//! Histories of a perfect register, for testing checkers and benchmarks.
//!
//! [`simulate`] plays a list of planned operations against one ideal,
//! *atomic* key-value store: each operation takes effect at a single instant
//! (its *linearization point*) strictly inside its `[call, return]`
//! interval, which is the definition of linearizability (Herlihy & Wing,
//! 1990). Every history it produces is therefore linearizable, whatever the
//! plan: that makes it the oracle for property tests of the checker, and a
//! realistic workload for its benchmark.
//!
//! Clients run concurrently but each one is sequential: a client's next
//! operation is invoked only after its previous one returned (or timed out),
//! as with replikv's blocking client.

use super::op::{History, OpKind, Operation};
use crate::ids::ClientId;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// How a planned operation ends.
///
/// ```
/// use replikv::history::{Fate, OpKind, PlannedOp, simulate};
///
/// // A put that timed out but took effect anyway: recorded without a return.
/// let put = PlannedOp { client: 1, key: b"x".to_vec(), kind: OpKind::Put,
///                       think_ns: 0, effect_ns: 5, reply_ns: 5,
///                       fate: Fate::TimedOut { applied: true } };
/// let history = simulate(&[put]);
/// assert!(history.ops[0].is_indeterminate());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Completes successfully.
    Ok,
    /// Fails without effect (`ok == false`, as `Unavailable` does).
    Failed,
    /// Times out (indeterminate). `applied` says whether it nevertheless took
    /// effect at its linearization point; a timed-out get is recorded without
    /// an output.
    TimedOut {
        /// Whether the operation took effect.
        applied: bool,
    },
}

/// One operation of a plan for [`simulate`].
///
/// ```
/// use replikv::history::{Fate, OpKind, PlannedOp, simulate};
///
/// // Invoked at 10 ns, takes effect at 15 ns, returns at 25 ns.
/// let get = PlannedOp { client: 3, key: b"x".to_vec(), kind: OpKind::Get,
///                       think_ns: 10, effect_ns: 5, reply_ns: 10, fate: Fate::Ok };
/// let op = &simulate(&[get]).ops[0];
/// assert_eq!((op.call_ns, op.return_ns, op.output.clone()), (10, Some(25), None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedOp {
    /// The client that issues it.
    pub client: u64,
    /// The key it touches.
    pub key: Vec<u8>,
    /// What it does. Puts write a fresh, unique value.
    pub kind: OpKind,
    /// Time the client waits after its previous operation before invoking this one.
    pub think_ns: u64,
    /// Time from invocation to the linearization point.
    pub effect_ns: u64,
    /// Time from the linearization point to the return.
    pub reply_ns: u64,
    /// How it ends.
    pub fate: Fate,
}

/// Plays `plan` against an atomic register and records the history.
///
/// Operations of one client run in plan order; put number `i` of the plan
/// writes the value `v{i}`. The result is in invocation order.
///
/// ```
/// use replikv::history::{Fate, OpKind, PlannedOp, simulate};
///
/// // c1 writes while c2 reads; the read's linearization point comes after
/// // the write's, so it sees the value although the two overlap.
/// let plan = vec![
///     PlannedOp { client: 1, key: b"x".to_vec(), kind: OpKind::Put,
///                 think_ns: 0, effect_ns: 10, reply_ns: 50, fate: Fate::Ok },
///     PlannedOp { client: 2, key: b"x".to_vec(), kind: OpKind::Get,
///                 think_ns: 5, effect_ns: 20, reply_ns: 5, fate: Fate::Ok },
/// ];
/// let history = simulate(&plan);
/// assert_eq!(history.ops[1].output, Some(b"v0".to_vec()));
/// assert_eq!((history.ops[1].call_ns, history.ops[1].return_ns), (5, Some(30)));
/// ```
pub fn simulate(plan: &[PlannedOp]) -> History {
    let mut clock: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    // (linearization point, plan index, operation)
    let mut timed: Vec<(u64, usize, Operation)> = Vec::with_capacity(plan.len());
    for (i, p) in plan.iter().enumerate() {
        let now = clock.entry(p.client).or_insert(0);
        let call = now.saturating_add(p.think_ns);
        let point = call.saturating_add(p.effect_ns);
        let ret = point.saturating_add(p.reply_ns);
        *now = ret;
        let op = Operation {
            client: ClientId(p.client),
            key: p.key.clone(),
            kind: p.kind,
            value: matches!(p.kind, OpKind::Put | OpKind::Cas)
                .then(|| format!("v{i}").into_bytes()),
            output: None,
            expected: None,
            swapped: None,
            ok: p.fate == Fate::Ok,
            call_ns: call,
            return_ns: matches!(p.fate, Fate::Ok | Fate::Failed).then_some(ret),
            cached: false,
        };
        timed.push((point, i, op));
    }
    // Apply effects in linearization order; ties keep plan order, which is a
    // valid order because both points lie inside both intervals.
    timed.sort_by_key(|(point, i, _)| (*point, *i));
    let mut store: std::collections::HashMap<Vec<u8>, Vec<u8>> = std::collections::HashMap::new();
    for (_, i, op) in &mut timed {
        let applied = match plan[*i].fate {
            Fate::Ok => true,
            Fate::Failed => false,
            Fate::TimedOut { applied } => applied && op.kind != OpKind::Get,
        };
        if !applied {
            continue;
        }
        match op.kind {
            OpKind::Put => {
                let v = op.value.clone().unwrap_or_default();
                store.insert(op.key.clone(), v);
            }
            OpKind::Delete => {
                store.remove(&op.key);
            }
            OpKind::Get => op.output = store.get(&op.key).cloned(),
            // Two in three expect what the key holds (and swap); the rest
            // expect a value never written (and do not).
            OpKind::Cas => {
                op.expected = match i.is_multiple_of(3) {
                    false => store.get(&op.key).cloned(),
                    true => Some(b"never written".to_vec()),
                };
                let swapped = op.expected.as_ref() == store.get(&op.key);
                if swapped {
                    match op.value.clone() {
                        Some(v) => store.insert(op.key.clone(), v),
                        None => store.remove(&op.key),
                    };
                }
                if op.ok {
                    op.swapped = Some(swapped);
                }
            }
        }
    }
    timed.sort_by_key(|(_, i, op)| (op.call_ns, *i));
    History::new(timed.into_iter().map(|(_, _, op)| op).collect())
}

/// A random plan: `ops` operations from `clients` clients on `keys` keys
/// (`k0`, `k1`, …), half gets, 40 % puts, 10 % deletes, with latencies of up
/// to 10 µs so that operations overlap. The same seed gives the same plan on
/// every platform (the generator is rand's portable Xoshiro256++).
///
/// ```
/// use replikv::history::{random_plan, simulate};
///
/// let history = simulate(&random_plan(7, 1_000, 8, 10));
/// assert_eq!(history.len(), 1_000);
/// ```
pub fn random_plan(seed: u64, ops: usize, clients: u64, keys: usize) -> Vec<PlannedOp> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let clients = clients.max(1);
    let keys = keys.max(1);
    (0..ops)
        .map(|_| {
            let roll: u32 = rng.random_range(0..10);
            PlannedOp {
                client: rng.random_range(0..clients),
                key: format!("k{}", rng.random_range(0..keys)).into_bytes(),
                kind: match roll {
                    0..5 => OpKind::Get,
                    5..9 => OpKind::Put,
                    _ => OpKind::Delete,
                },
                think_ns: rng.random_range(0..2_000),
                effect_ns: rng.random_range(0..5_000),
                reply_ns: rng.random_range(0..5_000),
                fate: Fate::Ok,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_is_sequential() {
        let history = simulate(&random_plan(1, 500, 4, 3));
        let mut last_return = std::collections::HashMap::new();
        for op in &history.ops {
            let prev = last_return.insert(op.client, op.return_ns.unwrap());
            assert!(prev.is_none_or(|r| r <= op.call_ns));
        }
    }

    #[test]
    fn timed_out_writes_may_or_may_not_apply() {
        let put = |applied| PlannedOp {
            client: 1,
            key: b"x".to_vec(),
            kind: OpKind::Put,
            think_ns: 0,
            effect_ns: 1,
            reply_ns: 1,
            fate: Fate::TimedOut { applied },
        };
        let get = PlannedOp {
            client: 2,
            kind: OpKind::Get,
            think_ns: 10,
            fate: Fate::Ok,
            ..put(true)
        };
        let seen = simulate(&[put(true), get.clone()]);
        assert_eq!(seen.ops[0].return_ns, None);
        assert_eq!(seen.ops[1].output, Some(b"v0".to_vec()));
        let unseen = simulate(&[put(false), get]);
        assert_eq!(unseen.ops[1].output, None);
    }
}
