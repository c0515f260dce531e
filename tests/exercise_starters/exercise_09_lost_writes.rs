//! # Exercise 9 — No global clock: writes that vanish
//!
//! Eventual mode settles conflicting writes by *last writer wins*, comparing
//! timestamps from each coordinator's own clock. One node's clock runs 2 s
//! behind. A write it coordinates is stamped in the past, so it loses to
//! writes made *before* it: the client was told "done", and the write is
//! gone once the replicas converge.
//!
//! **Your task:** implement `find_lost_writes`. Given the recorded history
//! (every operation with its call and return instants on the global
//! observer's clock) and the value each key converged to (`None`: missing),
//! return the positions in `history.ops` of the acknowledged writes that
//! were lost. The *winner* of a key is the write that produced its final
//! value (if several did, the one that returned last; a missing key that no
//! delete explains was won by the initial state). An acknowledged write
//! (`ok` and `return_ns` is `Some`) is **lost** iff it was *invoked after
//! the winner returned*. Writes that overlapped the winner may lose to it
//! legitimately.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_09_lost_writes
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_09_lost_writes -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS** means: on a real skewed run and on a hand-made history with
//! overlapping writes, your answer is exactly the set that
//! `replikv::history::lost_writes` finds (no peeking: call it and you learn
//! nothing). The grader is `replikv::lab::exercises::grade_lost_writes`.

use replikv::history::History;
use replikv::lab::exercises::{grade_lost_writes_with_seed, seed_from_args};
use std::collections::BTreeMap;
use std::process::ExitCode;

// YOUR ANSWER ---------------------------------------------------------------
/// The positions in `history.ops` of the acknowledged writes that were lost.
pub fn find_lost_writes(
    history: &History,
    final_values: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Vec<usize> {
    // A first guess: every acknowledged write whose value is not the value
    // its key ended up with.
    history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.is_write() && op.ok && op.return_ns.is_some())
        .filter(|(_, op)| {
            final_values
                .get(&op.key)
                .is_some_and(|last| *last != op.value)
        })
        .map(|(i, _)| i)
        .collect()
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_lost_writes_with_seed(find_lost_writes, seed_from_args()).report()
}
