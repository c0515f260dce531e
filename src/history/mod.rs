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
//! | `value` | the value a put wrote; `null` for gets and deletes |
//! | `output` | what a get returned; `null` when the key was missing, and for puts and deletes |
//! | `ok` | whether the operation completed successfully |
//! | `call_ns` | invocation instant, nanoseconds since the cluster started |
//! | `return_ns` | return instant, or `null` for an indeterminate (timed-out) operation |
//!
//! Every field is required, even when `null`, and no other field is accepted:
//! a misspelt `"retrun_ns"` would otherwise silently turn every operation
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
