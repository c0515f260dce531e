//! Recorded operations: what every client did, when, and what it saw.
//!
//! The cluster runs in one process, so unlike any real system it has a
//! *global observer*: one clock that every client reads when it invokes an
//! operation and when the answer comes back. The history is that observer's
//! notebook, and this module holds what reads it:
//!
//! | file | job |
//! |---|---|
//! | `op.rs` | [`Operation`] and [`History`], the records themselves |
//! | `validate.rs` | [`History::validate`]: shapes that cannot have happened |
//! | `json.rs` | [`History::to_json`] / [`History::from_json`], the exchange format |
//! | [`checker`] | [`Checker`]: is the history linearizable? If not, a small [`Counterexample`] |
//! | [`staleness`] | [`StalenessReport`]: how far behind were the reads? [`lost_writes`]: which acknowledged writes vanished? |
//! | [`html`] | [`html::timeline`]: the history as an interactive HTML timeline, the counterexample marked |
//! | `simulate.rs` | [`simulate`]: histories of a perfect register, for tests and benchmarks |
//!
//! The two questions are complementary. The checker gives a yes/no verdict
//! on the strongest guarantee (strong mode must pass it); the staleness
//! oracle measures *how much* weaker an eventually consistent run was.
//!
//! ```
//! // A history of a simulated perfect register, checked both ways.
//! use replikv::history::{Checker, History, StalenessReport, random_plan, simulate};
//!
//! let history = simulate(&random_plan(1, 1_000, 4, 3));
//! assert!(Checker::new().check(&history).is_linearizable());
//! assert_eq!(StalenessReport::from_history(&history).stale_reads, 0);
//! let again = History::from_json(&history.to_json())?;
//! assert_eq!(again, history);
//! # Ok::<(), replikv::Error>(())
//! ```
//!
//! # History JSON
//!
//! The exchange format between replikv and other tools
//! ([`History::to_json`], [`History::write_json`], [`History::from_json`]).
//! A history is one JSON array with one object per operation, in invocation
//! order:
//!
//! ```json
//! [
//!   {"client":1,"key":"x","op":"put","value":"a","output":null,"ok":true,"call_ns":0,"return_ns":1500},
//!   {"client":2,"key":"x","op":"get","value":null,"output":"a","ok":true,"call_ns":900,"return_ns":2000},
//!   {"client":3,"key":"x","op":"delete","value":null,"output":null,"ok":false,"call_ns":2100,"return_ns":null}
//! ]
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `client` | the client id (`u64`) |
//! | `key` | the key (see *bytes* below) |
//! | `op` | `"put"`, `"get"`, `"delete"` or `"cas"` |
//! | `value` | the value a put wrote, or the new value of a compare-and-set (`null`: delete the key); `null` for gets and deletes |
//! | `output` | not for a compare-and-set: what a get returned; `null` when the key was missing, and for puts and deletes |
//! | `expected` | compare-and-set only: the value it expected, `null` meaning absent |
//! | `swapped` | compare-and-set only: `true` when the value was replaced, `false` when the current value differed (a completed operation, `ok` true), `null` when the outcome is unknown (`return_ns` null) |
//! | `ok` | whether the operation completed successfully |
//! | `call_ns` | invocation instant, nanoseconds since the cluster started |
//! | `return_ns` | return instant, or `null` for an indeterminate (timed-out) operation |
//!
//! A compare-and-set is one object of exactly this form (no `output`):
//!
//! ```json
//! {"client":u64,"key":string,"op":"cas","expected":string|null,"value":string|null,"swapped":bool|null,"ok":bool,"call_ns":u64,"return_ns":u64|null}
//! ```
//!
//! Put, get and delete have no `expected` or `swapped`. This is the form of
//! single-key compare-and-set register histories from other systems' tests;
//! for example, a put, a compare-and-set that swapped, one that found
//! another value, and one whose outcome is unknown:
//!
//! ```
//! use replikv::history::{Checker, History, OpKind};
//! let json = r#"[
//!   {"client":1,"key":"r","op":"put","value":"1","output":null,"ok":true,"call_ns":0,"return_ns":10},
//!   {"client":1,"key":"r","op":"cas","expected":"1","value":"2","swapped":true,"ok":true,"call_ns":20,"return_ns":30},
//!   {"client":2,"key":"r","op":"cas","expected":"1","value":"3","swapped":false,"ok":true,"call_ns":40,"return_ns":50},
//!   {"client":3,"key":"r","op":"cas","expected":null,"value":"4","swapped":null,"ok":false,"call_ns":60,"return_ns":null},
//!   {"client":2,"key":"r","op":"get","value":null,"output":"2","ok":true,"call_ns":70,"return_ns":80}
//! ]"#;
//! let history = History::from_json(json)?;
//! assert_eq!(history.ops[1].kind, OpKind::Cas);
//! assert_eq!(history.ops[1].expected.as_deref(), Some(&b"1"[..]));
//! assert_eq!(history.ops[2].swapped, Some(false));
//! assert_eq!(history.ops[3].expected, None);
//! assert_eq!(history.ops[3].return_ns, None);
//! assert!(Checker::new().check(&history).is_linearizable());
//! // Had the last get seen "3", no order would explain it.
//! let bad = History::from_json(&json.replace(r#""output":"2""#, r#""output":"3""#))?;
//! assert!(!Checker::new().check(&bad).is_linearizable());
//! # Ok::<(), replikv::Error>(())
//! ```
//!
//! Every field of an operation's kind is required, even when `null`, and no
//! other field is accepted: a misspelt `"retrun_ns"` would otherwise silently turn every operation
//! into an indeterminate one, which changes what the checker concludes.
//!
//! ## Bytes
//!
//! Keys and values are bytes, JSON strings are Unicode. A key or value that is
//! valid UTF-8 is written as itself, so histories stay readable and easy to
//! produce from other languages. Anything else is written as the prefix
//! `base64:` followed by its standard-alphabet, padded base64 encoding. To
//! keep the import unambiguous, a UTF-8 string that itself starts with
//! `base64:` is also written in the encoded form; on import every string
//! starting with `base64:` is decoded, every other string is taken as UTF-8.
//!
//! ## What is not exported
//!
//! [`Operation::cached`] (whether a client-side cache answered a get) is
//! replikv's own bookkeeping for the staleness report and is not part of the
//! exchange format. [`History::from_json`] sets it to `false`.

pub mod checker;
pub mod html;
mod json;
mod op;
mod show;
mod simulate;
pub mod staleness;
#[cfg(test)]
mod testkit;
mod validate;

pub use checker::{CheckResult, Checker, Counterexample, LinearizationPoint};
pub(crate) use json::op_json;
pub use op::{History, OpKind, Operation};
pub use simulate::{Fate, PlannedOp, random_plan, simulate};
pub use staleness::{LostWrite, ReadStaleness, StalenessReport, ValueOrigin, lost_writes};
