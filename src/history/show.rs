//! Small formatting helpers shared by the human-readable reports of this
//! module (counterexamples, staleness entries).
//!
//! Keys and values are arbitrary bytes. A learner mostly writes text, so text
//! is shown quoted as text; anything else is shown as hex, which cannot be
//! mistaken for text because it is not quoted.

use super::op::{OpKind, Operation};
use std::fmt::Write as _;

/// `"text"` for UTF-8 bytes, `0x00ff…` otherwise.
pub(crate) fn bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => format!("{s:?}"),
        Err(_) => {
            let mut out = String::with_capacity(2 + 2 * b.len());
            out.push_str("0x");
            for byte in b {
                // Writing into a String cannot fail.
                let _ = write!(out, "{byte:02x}");
            }
            out
        }
    }
}

/// Nanoseconds as microseconds with three decimals: `12.345`.
pub(crate) fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// What an operation did, in one short phrase: `put "a"`, `get -> missing`,
/// `delete`. A get that timed out or failed returned nothing to show: it says
/// so (`get -> ? (timed out)`, `get -> failed`) rather than `missing`.
pub(crate) fn action(op: &Operation) -> String {
    match op.kind {
        OpKind::Put => match &op.value {
            Some(v) => format!("put {}", bytes(v)),
            None => "put (no value)".to_string(),
        },
        OpKind::Delete => "delete".to_string(),
        OpKind::Get if op.return_ns.is_none() => "get -> ? (timed out)".to_string(),
        OpKind::Get if !op.ok => "get -> failed".to_string(),
        OpKind::Get => match &op.output {
            Some(v) => format!("get -> {}", bytes(v)),
            None => "get -> missing".to_string(),
        },
        OpKind::Cas => {
            let show = |v: &Option<Vec<u8>>| v.as_deref().map_or("missing".to_string(), bytes);
            let outcome = match op.swapped {
                Some(true) => " -> swapped",
                Some(false) => " -> not swapped",
                None => "",
            };
            format!("cas {} => {}{outcome}", show(&op.expected), show(&op.value))
        }
    }
}

/// The real-time interval `[call, return]` in µs; an indeterminate operation
/// shows `?` as its end.
pub(crate) fn interval(op: &Operation) -> String {
    match op.return_ns {
        Some(r) => format!("[{}, {}] µs", micros(op.call_ns), micros(r)),
        None => format!("[{}, ?] µs (timed out)", micros(op.call_ns)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_text_or_hex() {
        assert_eq!(bytes(b"abc"), "\"abc\"");
        assert_eq!(bytes(&[0xff, 0x00]), "0xff00");
    }

    #[test]
    fn micros_keep_three_decimals() {
        assert_eq!(micros(12_345), "12.345");
        assert_eq!(micros(7), "0.007");
    }
}
