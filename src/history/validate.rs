//! Well-formedness rules for a history.
//!
//! The checker and the staleness oracle read a history as a record of what
//! really happened. A few shapes cannot have happened (an operation returning
//! before it was invoked, a put without a value) and would make their
//! conclusions meaningless, so [`History::validate`] rejects them with a
//! message naming the operation. [`History::from_json`] always validates; a
//! history recorded by replikv's own client is valid by construction. The
//! checker and the oracle never panic on an invalid history, but what they
//! conclude about one is unspecified.

use super::op::{History, OpKind, Operation};
use crate::{Error, Result};

fn check(op: &Operation) -> std::result::Result<(), &'static str> {
    if let Some(r) = op.return_ns
        && r < op.call_ns
    {
        return Err("`return_ns` is before `call_ns`");
    }
    match op.kind {
        OpKind::Put if op.value.is_none() => Err("a put must carry a `value`"),
        OpKind::Get | OpKind::Delete if op.value.is_some() => {
            Err("only a put carries a `value`; gets and deletes have `value: null`")
        }
        OpKind::Put | OpKind::Delete | OpKind::Cas if op.output.is_some() => {
            Err("only a get has an `output`; puts and deletes have `output: null`")
        }
        OpKind::Get | OpKind::Put | OpKind::Delete if op.expected.is_some() => {
            Err("only a compare-and-set has an `expected` value")
        }
        OpKind::Get | OpKind::Put | OpKind::Delete if op.swapped.is_some() => {
            Err("only a compare-and-set has a `swapped` outcome")
        }
        OpKind::Cas if op.ok && op.return_ns.is_some() && op.swapped.is_none() => {
            Err("a completed compare-and-set (`ok`, returned) says whether it `swapped`")
        }
        OpKind::Cas if op.swapped.is_some() && !(op.ok && op.return_ns.is_some()) => {
            Err("`swapped` is null unless the compare-and-set completed (`ok`, returned)")
        }
        _ => Ok(()),
    }
}

impl History {
    /// Checks that every operation is well formed:
    ///
    /// - it does not return before it was invoked;
    /// - a put carries a `value`, gets and deletes do not;
    /// - only a get has an `output`;
    /// - only a compare-and-set has `expected` and `swapped`, and `swapped`
    ///   is set exactly when it completed (`ok`, with a return).
    ///
    /// The first offence is reported as [`Error::InvalidHistory`].
    ///
    /// ```
    /// use replikv::ClientId;
    /// use replikv::history::{History, OpKind, Operation};
    ///
    /// let mut put = Operation {
    ///     client: ClientId(1),
    ///     key: b"x".to_vec(),
    ///     kind: OpKind::Put,
    ///     value: Some(b"a".to_vec()),
    ///     output: None,
    ///     expected: None,
    ///     swapped: None,
    ///     ok: true,
    ///     call_ns: 10,
    ///     return_ns: Some(20),
    ///     cached: false,
    /// };
    /// assert!(History::new(vec![put.clone()]).validate().is_ok());
    ///
    /// put.return_ns = Some(5); // returned before it was called
    /// assert!(History::new(vec![put]).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        for (i, op) in self.ops.iter().enumerate() {
            check(op).map_err(|why| {
                Error::InvalidHistory(format!(
                    "operation {i} ({} {:?}): {why}",
                    op.client, op.kind
                ))
            })?;
        }
        Ok(())
    }
}
