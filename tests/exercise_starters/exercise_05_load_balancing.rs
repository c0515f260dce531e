//! # Exercise 5 — Load balancing: hot keys, busy nodes
//!
//! Five nodes, each key on N = 3 of them. The workload is skewed, as real
//! ones are: a few keys get most of the requests (a Zipf distribution). A
//! client sends each request to one *coordinator* among the key's replicas,
//! chosen by a `CoordinatorPolicy`.
//!
//! **Your task:** change `answer()` to a policy under which no node has to
//! coordinate far more requests than the others.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_05_load_balancing
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_05_load_balancing -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS** means: the busiest node coordinated at most
//! `LOAD_IMBALANCE_LIMIT` (1.35) times the mean number of requests per node.
//! The grader is `replikv::lab::exercises::grade_load_balance`.

use replikv::CoordinatorPolicy;
use replikv::lab::exercises::{grade_load_balance_with_seed, seed_from_args};
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// How clients choose the coordinator of each request.
pub fn answer() -> CoordinatorPolicy {
    // Always the key's primary: simple, and every node knows where to go.
    CoordinatorPolicy::First
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_load_balance_with_seed(answer(), seed_from_args()).report()
}
