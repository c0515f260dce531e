//! # Exercise 12 — Message queues: exactly-once effects
//!
//! A queue delivers each message *at least once*: a consumer that crashed
//! after acting on a message and before acknowledging it looks, to the
//! queue, exactly like one that crashed before acting, so the message is
//! delivered again once its visibility timeout expires. Each message here
//! is a deposit: an account (`account/N`) and an entry to add to the
//! account's statement.
//!
//! **Your task:** write the consumer. `consumer()` starts one consumer
//! process and returns its handler, which the grader calls with each
//! message the process receives and a `Ledger` — the store as the process
//! sees it: `account` reads an account record, `swap_account` replaces it
//! by compare-and-set, `get` and `put` reach any other key. Return `Ok(())`
//! and the grader acknowledges the message; return an error and it is
//! delivered again later. Make every deposit show up in its account
//! **exactly once**, however often its message is delivered.
//!
//! The grader runs two consumer processes on a 3-node Raft cluster. A
//! process may crash while handling a message — right after any of its
//! writes, or after the handler returned and before the acknowledgement —
//! and is replaced by a fresh one (a fresh call to `consumer()`: whatever
//! the old one kept in memory is gone). The network meanwhile loses and
//! duplicates messages, and nodes crash and restart.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_12_exactly_once
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_12_exactly_once -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS means:** once the queue has drained, every deposit sent is in its
//! account exactly once — 0 duplicated, 0 lost. The grader is
//! `replikv::lab::exercises::grade_exactly_once`; `replikv::queue::exactly_once`
//! shows one way to do it (no peeking: write your own).

use replikv::lab::exercises::{Deposit, Ledger, grade_exactly_once_with_seed, seed_from_args};
use replikv::queue::Delivery;
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// Starts one consumer process: returns its handler for one message.
pub fn consumer() -> impl FnMut(&Delivery, &mut Ledger<'_>) -> replikv::Result<()> {
    // A first guess: add the deposit's entry to its account, every time the
    // message comes (compare-and-set, so that two consumers do not
    // overwrite each other's entries).
    |message: &Delivery, ledger: &mut Ledger<'_>| {
        let deposit = Deposit::of(message)?;
        loop {
            let old = ledger.account(&deposit.account)?;
            let mut new = old.clone().unwrap_or_default();
            new.entries.push(deposit.entry.clone());
            if ledger.swap_account(&deposit.account, old.as_ref(), &new)? {
                return Ok(());
            }
        }
    }
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_exactly_once_with_seed(consumer, seed_from_args()).report()
}
