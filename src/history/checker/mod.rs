//! The linearizability checker.
//!
//! A history is *linearizable* (Herlihy & Wing, "Linearizability: a
//! correctness condition for concurrent objects", 1990) when every operation
//! can be given one instant inside its `[call, return]` interval such that,
//! executed one at a time in the order of those instants, the operations
//! obey the sequential specification: here, a key-value map where a get
//! returns the last value put, or missing at the start and after a delete.
//! It is what replikv's strong mode promises, and what the eventual mode
//! visibly does not.
//!
//! # How it checks
//!
//! 1. **Key by key.** Linearizability is *compositional* (Herlihy & Wing,
//!    §3.3): a history is linearizable iff its restriction to each object
//!    is. Each key is an independent register, which turns one huge search
//!    into many small ones.
//! 2. **Search with memoisation.** For each key, the Wing & Gong search
//!    ("Testing and verifying concurrent objects", 1993) tries orders
//!    depth-first, and Lowe's memoisation ("Testing for linearizability",
//!    2017) skips any `(set of operations placed, register state)` already
//!    explored. Porcupine (Go) and Knossos (Clojure) use the same approach.
//!    Details in `search.rs`; the register model in `model.rs`.
//! 3. **Shrinking.** A violation is cut down to a few operations that are
//!    not linearizable on their own: see `shrink.rs` and [`Counterexample`].
//!
//! # Failed and timed-out operations
//!
//! A failed operation (`ok == false` with a return time) had no effect and
//! is ignored. A timed-out get is ignored (nobody saw its answer). A
//! timed-out put or delete may have taken effect at any instant after its
//! call, or never: the search may place it anywhere after its call, or leave
//! it out.
//!
//! # Simplifications
//!
//! - Checking is NP-complete in general (Gibbons & Korach, 1997); the search
//!   is exponential in the number of *concurrent* operations on one key, and
//!   fast when, as in replikv's workloads, a handful of clients share a key.
//!   For scale, on one core of a small machine: 10,000 operations from 8
//!   clients on 10 keys take about 4 ms; the same on a single key, tens of
//!   milliseconds. *Proving* a violation costs more than finding an order,
//!   because every order before it must be ruled out: up to a second for a
//!   violation late in a 10,000-operation single-key history, and beyond the
//!   default budget when such a history also holds ~100 timed-out deletes.
//!   Budgets ([`Checker::max_steps`], [`Checker::time_budget`]) turn a
//!   pathological history into [`CheckResult::Unknown`] instead of a hang.
//! - Values are compared as bytes; two puts of the same value are
//!   indistinguishable to a get, which is correct but weakens the check, so
//!   workloads should write unique values.
//! - Only single-key operations exist, so there are no multi-key
//!   (transactional) anomalies to find.

#[cfg(test)]
mod cas_tests;
mod counterexample;
mod memo;
mod model;
#[cfg(test)]
mod proptests;
mod prune;
mod search;
mod shrink;
#[cfg(test)]
mod tests;

pub use counterexample::Counterexample;

use super::op::History;
use model::KeyOp;
use search::{Budget, Outcome};
use std::fmt;
use std::time::{Duration, Instant};

/// Where the checker placed one operation of a linearizable history (see
/// [`Checker::check_with_points`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearizationPoint {
    /// The operation's position in the history.
    pub index: usize,
    /// The instant, ns, inside the operation's interval.
    pub at_ns: u64,
}

/// The verdict of a [`Checker`].
///
/// ```
/// use replikv::history::{CheckResult, Checker, random_plan, simulate};
/// let history = simulate(&random_plan(9, 200, 4, 2));
/// match Checker::new().check(&history) {
///     CheckResult::Linearizable => {}
///     CheckResult::NotLinearizable(cx) => panic!("{cx}"),
///     CheckResult::Unknown { reason } => panic!("{reason}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Some order of the operations explains every result.
    Linearizable,
    /// No order does; the counterexample shows a small set of operations
    /// that cannot be ordered.
    NotLinearizable(Counterexample),
    /// A budget ran out before the question was settled. Raise
    /// [`Checker::max_steps`] or [`Checker::time_budget`], or check a
    /// shorter history: the cost grows with the number of operations
    /// concurrent on one key and with timed-out writes, which may take
    /// effect anywhere after their call.
    Unknown {
        /// Which budget, on which key.
        reason: String,
    },
}

impl CheckResult {
    /// True for [`CheckResult::Linearizable`].
    ///
    /// ```
    /// use replikv::history::{CheckResult, Checker, History};
    /// assert!(Checker::new().check(&History::default()).is_linearizable());
    /// ```
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckResult::Linearizable)
    }

    /// The counterexample, for [`CheckResult::NotLinearizable`].
    ///
    /// ```
    /// use replikv::history::{CheckResult, Checker, History};
    /// assert!(Checker::new().check(&History::default()).counterexample().is_none());
    /// ```
    pub fn counterexample(&self) -> Option<&Counterexample> {
        match self {
            CheckResult::NotLinearizable(cx) => Some(cx),
            _ => None,
        }
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Linearizable => write!(f, "linearizable"),
            CheckResult::NotLinearizable(cx) => cx.fmt(f),
            CheckResult::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// Checks histories for linearizability against the key-value model.
///
/// ```
/// // The history of a simulated atomic register is always linearizable.
/// use replikv::history::{Checker, random_plan, simulate};
/// use std::time::Duration;
///
/// let history = simulate(&random_plan(42, 2_000, 8, 10));
/// let checker = Checker::new().time_budget(Duration::from_secs(10));
/// assert!(checker.check(&history).is_linearizable());
/// ```
#[derive(Clone, Debug)]
pub struct Checker {
    /// Search steps allowed per [`Checker::check`] call. A step is one
    /// attempt to place an operation that the model accepts, or one
    /// backtrack; each costs well under a microsecond and may remember one
    /// configuration (tens of bytes), so this also bounds memory.
    max_steps: u64,
    /// Wall-clock time allowed per call, if any.
    time_budget: Option<Duration>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// Steps allowed by default: ample for the histories of replikv's
    /// examples (which need a few per operation) while bounding memory for
    /// a pathological one to roughly a gigabyte.
    pub const DEFAULT_MAX_STEPS: u64 = 10_000_000;

    /// A checker with [`Checker::DEFAULT_MAX_STEPS`] and no time budget.
    ///
    /// ```
    /// let checker = replikv::history::Checker::new();
    /// # let _ = checker;
    /// ```
    pub fn new() -> Self {
        Checker {
            max_steps: Self::DEFAULT_MAX_STEPS,
            time_budget: None,
        }
    }

    /// Gives up with [`CheckResult::Unknown`] after `steps` search steps.
    /// Once a violation is found, shrinking it gets the same allowance
    /// again; if that runs out, a larger (still valid) counterexample is
    /// returned.
    ///
    /// ```
    /// use replikv::history::{CheckResult, Checker, random_plan, simulate};
    /// let history = simulate(&random_plan(1, 100, 4, 1));
    /// let verdict = Checker::new().max_steps(1).check(&history);
    /// assert!(matches!(verdict, CheckResult::Unknown { .. }));
    /// ```
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = steps;
        self
    }

    /// Gives up with [`CheckResult::Unknown`] once `budget` of wall-clock
    /// time has passed (checked every 1024 steps). Shrinking a violation
    /// stops at the same deadline.
    ///
    /// ```
    /// use replikv::history::{Checker, History};
    /// use std::time::Duration;
    /// let checker = Checker::new().time_budget(Duration::from_secs(5));
    /// assert!(checker.check(&History::default()).is_linearizable());
    /// ```
    pub fn time_budget(mut self, budget: Duration) -> Self {
        self.time_budget = Some(budget);
        self
    }

    /// Checks every key of `history`, in byte order of keys, and reports
    /// the first violation found.
    ///
    /// ```
    /// use replikv::ClientId;
    /// use replikv::history::{Checker, History, OpKind, Operation};
    ///
    /// let op = |client, kind, v: &str, call_ns, return_ns| Operation {
    ///     client: ClientId(client),
    ///     key: b"x".to_vec(),
    ///     kind,
    ///     value: (kind == OpKind::Put).then(|| v.as_bytes().to_vec()),
    ///     output: (kind == OpKind::Get).then(|| v.as_bytes().to_vec()),
    ///     expected: None,
    ///     swapped: None,
    ///     ok: true,
    ///     call_ns,
    ///     return_ns: Some(return_ns),
    ///     cached: false,
    /// };
    /// // c1 writes "a" then "b"; later c2 still reads "a": a stale read.
    /// let history = History::new(vec![
    ///     op(1, OpKind::Put, "a", 0, 10),
    ///     op(1, OpKind::Put, "b", 20, 30),
    ///     op(2, OpKind::Get, "a", 40, 50),
    /// ]);
    /// let verdict = Checker::new().check(&history);
    /// let cx = verdict.counterexample().expect("a violation");
    /// assert_eq!(cx.ops.len(), 3);
    /// println!("{verdict}");
    /// ```
    pub fn check(&self, history: &History) -> CheckResult {
        self.check_into(history, &mut Vec::new())
    }

    /// Like [`Checker::check`], and when the history is linearizable, also
    /// *where*: one [`LinearizationPoint`] per operation that took effect,
    /// an instant inside its `[call, return]` interval at which it can be
    /// taken to have happened (the earliest such instant consistent with
    /// the order the search found). Failed operations, timed-out gets and
    /// timed-out writes that need not have taken effect have none. The
    /// points are empty unless the verdict is
    /// [`CheckResult::Linearizable`].
    ///
    /// ```
    /// use replikv::history::{Checker, random_plan, simulate};
    /// let history = simulate(&random_plan(5, 300, 4, 3));
    /// let (verdict, points) = Checker::new().check_with_points(&history);
    /// assert!(verdict.is_linearizable());
    /// for p in &points {
    ///     let op = &history.ops[p.index];
    ///     assert!(op.call_ns <= p.at_ns && op.return_ns.is_none_or(|r| p.at_ns <= r));
    /// }
    /// ```
    pub fn check_with_points(&self, history: &History) -> (CheckResult, Vec<LinearizationPoint>) {
        let mut order = Vec::new();
        let verdict = self.check_into(history, &mut order);
        if !verdict.is_linearizable() {
            return (verdict, Vec::new());
        }
        // `order` holds each key's order in turn; keys are independent, so
        // the earliest instants are assigned key by key.
        let mut points = Vec::with_capacity(order.len());
        let mut previous: Option<(&[u8], u64)> = None;
        for index in order {
            let Some(op) = history.ops.get(index) else {
                continue;
            };
            let floor = match previous {
                Some((key, at)) if key == op.key.as_slice() => at,
                _ => 0,
            };
            let at_ns = op.call_ns.max(floor);
            points.push(LinearizationPoint { index, at_ns });
            previous = Some((op.key.as_slice(), at_ns));
        }
        (verdict, points)
    }

    fn check_into(&self, history: &History, order: &mut Vec<usize>) -> CheckResult {
        let mut budget = self.budget();
        let keys = model::by_key(history);
        let total = keys.len();
        for (done, (key, indices)) in keys.into_iter().enumerate() {
            let ops = model::key_ops(history, &indices);
            match self.check_ops(history, key, &ops, &mut budget, order) {
                CheckResult::Linearizable => {}
                CheckResult::Unknown { reason } => {
                    return CheckResult::Unknown {
                        reason: format!("{reason} ({done} of {total} keys fully checked)"),
                    };
                }
                violation => return violation,
            }
        }
        CheckResult::Linearizable
    }

    /// Checks only the operations on `key`.
    ///
    /// ```
    /// use replikv::history::{Checker, random_plan, simulate};
    /// let history = simulate(&random_plan(3, 500, 4, 5));
    /// assert!(Checker::new().check_key(&history, b"k2").is_linearizable());
    /// ```
    pub fn check_key(&self, history: &History, key: &[u8]) -> CheckResult {
        let ops = model::key_ops(history, &model::on_key(history, key));
        self.check_ops(history, key, &ops, &mut self.budget(), &mut Vec::new())
    }

    fn budget(&self) -> Budget {
        Budget {
            steps_left: self.max_steps,
            deadline: self.time_budget.and_then(|b| Instant::now().checked_add(b)),
            timed_out: false,
        }
    }

    fn check_ops(
        &self,
        history: &History,
        key: &[u8],
        ops: &[KeyOp],
        budget: &mut Budget,
        order: &mut Vec<usize>,
    ) -> CheckResult {
        if let Some(read) = model::unwritten_read(ops) {
            return self.violation(history, key, vec![read.index]);
        }
        match search::search_order(ops, budget, order) {
            Outcome::Linearizable => CheckResult::Linearizable,
            Outcome::OutOfBudget => CheckResult::Unknown {
                reason: if budget.timed_out {
                    format!(
                        "the time budget of {:?} ran out on key {}",
                        self.time_budget.unwrap_or_default(),
                        super::show::bytes(key)
                    )
                } else {
                    format!(
                        "the budget of {} search steps ran out on key {}",
                        self.max_steps,
                        super::show::bytes(key)
                    )
                },
            },
            Outcome::Violation => {
                let mut shrink_budget = Budget {
                    steps_left: self.max_steps,
                    ..*budget
                };
                self.violation(history, key, shrink::shrink(ops, &mut shrink_budget))
            }
        }
    }

    fn violation(&self, history: &History, key: &[u8], positions: Vec<usize>) -> CheckResult {
        let ops = (positions.into_iter())
            .filter_map(|i| history.ops.get(i).map(|op| (i, op.clone())))
            .collect();
        CheckResult::NotLinearizable(Counterexample {
            key: key.to_vec(),
            ops,
        })
    }
}
