//! # Exercise 8 — CAP: a bank balance during a network partition
//!
//! A bank keeps an account balance on 3 replicas. The network partitions:
//! the balance's primary replica is cut off from the other two. Two tellers
//! keep making deposits and checking the balance, through random replicas;
//! one of them is in the majority's data centre and cannot reach the
//! cut-off node either.
//!
//! **Your task:** change `answer()` to a consistency mode under which no
//! balance check ever misses a confirmed deposit, while the majority side
//! keeps serving. (CAP: during a partition, each side must choose between
//! answering and being sure.)
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_08_cap
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_08_cap -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS** means: the linearizability checker accepts the history of the
//! partition, and the majority-side teller completed at least 3 operations,
//! deposits and balance checks both. The grader is
//! `replikv::lab::exercises::grade_bank_balance`.

use replikv::Consistency;
use replikv::lab::exercises::{grade_bank_balance_with_seed, seed_from_args};
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// The consistency mode for the balance.
pub fn answer() -> Consistency {
    // Always available: any one replica answers reads and accepts writes.
    Consistency::Eventual { r: 1, w: 1 }
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_bank_balance_with_seed(answer(), seed_from_args()).report()
}
