//! # Exercise 6 — Caching: fast reads that are still true
//!
//! Two application servers sit in front of a strongly consistent cluster:
//! one updates product prices, the other reads them for customers. Each
//! keeps a read cache so most reads never reach the cluster. A write through
//! a server updates the entry in *that server's* cache (write-through); an
//! entry otherwise answers reads until its time-to-live (TTL) runs out.
//!
//! **Your task:** change `answer()` so that customers never see an
//! outdated price from a cache, while at least half of all reads are still
//! answered from a cache. See `replikv::cache` for what a cache does to
//! consistency.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example exercise_06_caching
//! ```
//!
//! The grader runs the cluster on the deterministic simulator: the same
//! answer and seed give the same grade every time. A FAIL prints the
//! command that replays it (`cargo run --release --example exercise_06_caching -- --seed N`);
//! after a fix, replay that seed, then try others.
//!
//! **PASS** means: 0 stale cache hits (a hit is stale when a newer write had
//! been acknowledged before the read began) and a hit rate of at least 50 %.
//! The grader is `replikv::lab::exercises::grade_cache`.

use replikv::lab::exercises::{CacheChoice, grade_cache_with_seed, seed_from_args};
use std::process::ExitCode;
use std::time::Duration;

// YOUR ANSWER ---------------------------------------------------------------
/// The caches' TTL, and whether the two servers share one cache.
pub fn answer() -> CacheChoice {
    // Each server keeps its own cache; entries live for 10 seconds.
    CacheChoice {
        ttl: Duration::from_secs(10),
        shared: false,
    }
}
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    grade_cache_with_seed(answer(), seed_from_args()).report()
}
