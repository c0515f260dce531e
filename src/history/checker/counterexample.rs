//! A proof of non-linearizability that a person can check by hand.

use crate::history::op::Operation;
use crate::history::show;
use std::fmt;

/// A small set of operations on one key that no sequential order explains.
///
/// Every operation is a verbatim copy from the history; together they are
/// not linearizable *on their own*, which proves the whole history is not
/// (see the checker's module docs on shrinking). Timed-out operations
/// among them may or may not have taken effect, as always.
///
/// It displays one operation per line: position in the history, client,
/// action, and `[call, return]` interval in µs.
///
/// ```
/// use replikv::ClientId;
/// use replikv::history::{Counterexample, OpKind, Operation};
///
/// let get = Operation {
///     client: ClientId(2),
///     key: b"x".to_vec(),
///     kind: OpKind::Get,
///     value: None,
///     output: Some(b"ghost".to_vec()),
///     expected: None,
///     swapped: None,
///     ok: true,
///     call_ns: 1_000,
///     return_ns: Some(2_500),
///     cached: false,
/// };
/// let cx = Counterexample { key: b"x".to_vec(), ops: vec![(4, get)] };
/// let text = cx.to_string();
/// assert!(text.contains("#4  c2  get -> \"ghost\"  [1.000, 2.500] µs"), "{text}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The key they operate on.
    pub key: Vec<u8>,
    /// `(position in the history, operation)`, in invocation order.
    pub ops: Vec<(usize, Operation)>,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {} is not linearizable: no single order of these {} operation{} \
             explains what every get returned",
            show::bytes(&self.key),
            self.ops.len(),
            if self.ops.len() == 1 { "" } else { "s" },
        )?;
        let rows: Vec<(String, String, String, String)> = (self.ops.iter())
            .map(|(i, op)| {
                (
                    format!("#{i}"),
                    op.client.to_string(),
                    show::action(op),
                    show::interval(op),
                )
            })
            .collect();
        let width = |col: fn(&(String, String, String, String)) -> usize| {
            rows.iter().map(col).max().unwrap_or(0)
        };
        let (w0, w1, w2) = (
            width(|r| r.0.chars().count()),
            width(|r| r.1.chars().count()),
            width(|r| r.2.chars().count()),
        );
        for (pos, client, action, interval) in &rows {
            writeln!(f, "  {pos:<w0$}  {client:<w1$}  {action:<w2$}  {interval}")?;
        }
        write!(
            f,
            "(an operation that returned before another was invoked must come first; \
             a get returns the last value put, or missing at the start or after a delete)"
        )
    }
}
