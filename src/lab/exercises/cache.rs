//! Exercise 6, caching: cache reads without serving stale data.
//!
//! A cache answers reads from a copy, and a copy goes out of date the
//! moment someone else writes. A time-to-live bounds *how* out of date, but
//! within the TTL every read of an overwritten entry is stale. What keeps a
//! cache correct for its clients is that writes go *through* it: a write
//! through a client invalidates the entry in that client's cache and, once
//! acknowledged, stores the new value there — so the writer and the readers
//! must share one cache for a write to reach the readers' copies.
//!
//! The scenario: two application servers — one writes, one reads — in front
//! of a strongly consistent 3-node cluster, each with a 64-entry read cache
//! (or one shared cache). They take turns: the writer updates a key and
//! both then read it a few times. The grader counts stale cache hits with
//! the [`StalenessReport`](crate::history::StalenessReport) and the hit rate.
//! Passing: no stale hit at all, and at least half the reads answered from a
//! cache (a cache turned off is consistent and useless).
//!
//! The turns are sequential, 1 ms of virtual time apart on the simulator, so
//! the outcome does not depend on timing as long as the TTL is far longer
//! or far shorter than one turn (5 ms).

use super::{Grade, ratio};
use crate::cache::CacheConfig;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::Result;
use crate::history::StalenessReport;
use crate::sim::Runtime;
use std::time::Duration;

const EXERCISE: &str = "exercise 6: caching";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 6;
const MIN_HIT_RATE: f64 = 0.5;
/// The pause after each operation. The cluster runs on the simulator with
/// instant links, where an operation takes no virtual time: without a pause
/// a write and the reads after it would share an instant, and the staleness
/// oracle could not tell that the write came first.
const GAP: Duration = Duration::from_millis(1);

/// How the two application servers cache reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheChoice {
    /// How long a cached entry may answer reads (zero turns caching off).
    pub ttl: Duration,
    /// `true`: both servers use one cache; `false`: each has its own.
    pub shared: bool,
}

/// Grades a cache configuration by its stale hits and hit rate.
///
/// ```no_run
/// use replikv::lab::exercises::{CacheChoice, grade_cache};
/// use std::time::Duration;
/// let off = CacheChoice { ttl: Duration::ZERO, shared: false };
/// assert!(!grade_cache(off).passed); // consistent, but no hits
/// ```
pub fn grade_cache(choice: CacheChoice) -> Grade {
    grade_cache_with_seed(choice, None)
}

/// [`grade_cache`] with another seed (`None`: the exercise's own, 6) — what
/// `cargo run --release --example exercise_06_caching -- --seed N` runs.
pub fn grade_cache_with_seed(choice: CacheChoice, seed: Option<u64>) -> Grade {
    match run(choice, seed.unwrap_or(SEED)) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "a cache needs a valid configuration"),
    }
}

fn run(choice: CacheChoice, seed: u64) -> Result<Grade> {
    let cluster = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Memory)
        .consistency(Consistency::Strong)
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    let config = CacheConfig::new(64, choice.ttl);
    let mut writer = cluster.client()?;
    let mut reader = cluster.client()?;
    let cache = cluster.shared_cache(config)?;
    writer.set_cache(Some(cache.clone()));
    reader.set_cache(Some(if choice.shared {
        cache
    } else {
        cluster.shared_cache(config)?
    }));
    for round in 0..8 {
        for k in 0..5 {
            let key = format!("product-{k}");
            writer.put(&key, format!("price-{round}"))?;
            cluster.run_for(GAP);
            for _ in 0..3 {
                reader.get(&key)?;
                cluster.run_for(GAP);
            }
            writer.get(&key)?;
            cluster.run_for(GAP);
        }
    }
    let report = StalenessReport::from_history(&cluster.history());
    let hit_rate = ratio(report.cached_reads as f64, report.reads as f64);
    let passed = report.stale_hits == 0 && hit_rate >= MIN_HIT_RATE;
    let measured = format!(
        "TTL {:?}, {} cache: {} reads, {} answered from a cache ({:.0} %, floor {:.0} %), \
         {} of them stale",
        choice.ttl,
        if choice.shared {
            "one shared"
        } else {
            "a separate"
        },
        report.reads,
        report.cached_reads,
        100.0 * hit_rate,
        100.0 * MIN_HIT_RATE,
        report.stale_hits
    );
    let explanation = if passed {
        "every write went through the cache the readers use, so no cache hit was ever older \
         than the latest write, and most reads still never reached the cluster"
    } else if report.stale_hits > 0 {
        "the reader's cache kept answering with the old price after the writer had changed \
         it: within the TTL a copy is trusted whether or not it is still true"
    } else {
        "no stale hits, but the cache hardly ever answered: all the consistency, none of the \
         speed-up"
    };
    let grade = Grade {
        replay: Some(super::replay_command("exercise_06_caching", seed)),
        history: None,
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [simulated, seed {seed}]"),
        explanation: explanation.into(),
        hint: if report.stale_hits > 0 {
            "a short TTL only shortens staleness (and the hit rate with it); what removes it \
             is a write reaching the copy the readers use"
        } else {
            "no read was stale, so keep what makes that so, and let the cache answer: an entry \
             must live longer than the few microseconds between a write and the reads after it"
        }
        .into(),
    };
    Ok(grade
        .with_history(cluster.history())
        .unless_panicked(&cluster.metrics().node_panics()))
}
