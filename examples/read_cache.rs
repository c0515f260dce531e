//! Read caching, and what it costs: stale answers.
//!
//! A client-side read cache answers repeated reads without crossing the
//! network — the lesson's "caching" pattern. But it answers from a *copy*,
//! and another client may have replaced the value since. This example runs a
//! 3-node cluster in eventual mode with R = W = 2 (R + W > N, so the cluster
//! itself answers every read with the latest acknowledged write: any stale
//! answer below is the cache's doing) and shows, step by step:
//!
//! 1. hits and misses: the first read goes to the cluster, the next ones
//!    are answered by the cache;
//! 2. a stale answer: a writer's write has completed, yet the reader's cache
//!    still answers with the old value, until the entry's time-to-live runs out;
//! 3. read-your-writes: a client's own write goes through its own cache
//!    (the old entry is dropped, the acknowledged value stored), so it
//!    always sees what it wrote (other clients' caches are not told);
//! 4. a short Zipf-skewed workload per TTL (0, 1 ms, 10 ms, 100 ms): the
//!    longer entries live, the more reads hit the cache — and the more of
//!    them are stale.
//!
//! What to look for: the `stale` rows in parts 1–3, and in the final table
//! the hit rate and the stale fraction growing together with the TTL.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example read_cache
//! ```

use comfy_table::{Table, presets::UTF8_FULL};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replikv::cache::{CacheConfig, CacheStats};
use replikv::history::StalenessReport;
use replikv::lab::KeyChooser;
use replikv::{Client, Cluster, Consistency, Error, StorageKind};
use std::time::{Duration, Instant};

/// Time-to-live of the caches in parts 1 to 3.
const TTL: Duration = Duration::from_millis(200);
/// The TTLs compared in part 4.
const TTLS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
];
/// Part 4's workload: operations, keys, Zipf exponent, share of writes.
const OPS: u64 = 2_000;
const KEYS: u64 = 50;
const ZIPF: f64 = 0.99;
const WRITE_SHARE: f64 = 0.1;
const SEED: u64 = 21;

fn main() -> Result<(), Error> {
    let cluster = cluster()?;
    let mut writer = cluster.client()?;
    let mut reader = cluster.client()?;
    reader.set_cache(Some(cluster.shared_cache(CacheConfig::new(100, TTL))?));

    println!("== 1. hits and misses (reader's cache: 100 entries, TTL {TTL:?})");
    writer.put("price", "10")?;
    println!("writer: put price = \"10\"  (acknowledged)");
    for _ in 0..3 {
        read(&cluster, &mut reader, "reader", "price")?;
    }

    println!("\n== 2. a stale answer");
    writer.put("price", "12")?;
    println!(
        "writer: put price = \"12\"  (acknowledged at t = {})",
        ms(cluster.clock().now_ns())
    );
    read(&cluster, &mut reader, "reader", "price")?;
    println!("… waiting out the TTL ({TTL:?}) …");
    std::thread::sleep(TTL);
    read(&cluster, &mut reader, "reader", "price")?;
    print_stats("reader's cache", stats(&reader));

    println!("\n== 3. read-your-writes: the writer gets a cache of its own");
    writer.set_cache(Some(cluster.shared_cache(CacheConfig::new(100, TTL))?));
    read(&cluster, &mut writer, "writer", "price")?;
    writer.put("price", "15")?;
    println!("writer: put price = \"15\"  (its own cache entry now holds \"15\")");
    read(&cluster, &mut writer, "writer", "price")?;
    read(&cluster, &mut reader, "reader", "price")?;
    print_stats("writer's cache", stats(&writer));
    println!(
        "The writer sees its own write: a write through a client replaces that\n\
         client's entry with the value written. The reader's cache is a different\n\
         cache, and nobody told it."
    );

    println!(
        "\n== 4. stale answers against TTL: {OPS} operations, {KEYS} keys, Zipf({ZIPF}), \
         {:.0} % writes",
        100.0 * WRITE_SHARE
    );
    println!(
        "One writer (no cache) and one reader (cache), taking turns in one thread, so\n\
         every read is invoked after every earlier write was acknowledged. The\n\
         history's staleness oracle (StalenessReport) calls a read stale when it\n\
         missed a write acknowledged before it was invoked; \"stale by\" is how long\n\
         before the read the first missed write was acknowledged."
    );
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "TTL",
        "reads",
        "cache hits",
        "hit rate",
        "stale answers",
        "stale fraction",
        "of them from cache",
        "stale by (median)",
        "ops/s",
    ]);
    for ttl in TTLS {
        eprintln!("  running the workload with TTL {ttl:?} ...");
        let run = workload(ttl)?;
        let r = &run.staleness;
        table.add_row(vec![
            if ttl.is_zero() {
                "0 (off)".to_string()
            } else {
                format!("{ttl:?}")
            },
            r.reads.to_string(),
            r.cached_reads.to_string(),
            percent(r.cached_reads, r.reads),
            r.stale_reads.to_string(),
            percent(r.stale_reads, r.reads),
            r.stale_hits.to_string(),
            r.t_p50_ns.map_or("—".into(), ms),
            format!("{:.0}", run.ops as f64 / run.elapsed.as_secs_f64()),
        ]);
    }
    println!("{table}");
    println!(
        "A TTL of zero turns the cache off: every read goes to the cluster, none is\n\
         stale. Each step up saves more round trips and serves more old values. How\n\
         many depends on how much happens within one TTL (see ops/s): a cache trades\n\
         consistency for latency, and the TTL is the exchange rate."
    );
    Ok(())
}

/// Three nodes, N = 3, eventual with R = W = 2: fresh reads without a cache.
fn cluster() -> Result<Cluster, Error> {
    Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(Consistency::Eventual { r: 2, w: 2 })
        .storage(StorageKind::Memory)
        .seed(SEED)
        .build()
}

/// Reads `key` through `client` and prints what answered and whether the
/// value is the latest acknowledged one (what the cluster holds).
fn read(cluster: &Cluster, client: &mut Client, who: &str, key: &str) -> Result<(), Error> {
    let hits = stats(client).hits;
    let value = client.get(key)?;
    let from_cache = stats(client).hits > hits;
    let latest = cluster.final_values()?.remove(key.as_bytes()).flatten();
    let verdict = if value == latest {
        "fresh".to_string()
    } else {
        format!("STALE: the latest acknowledged value is {}", show(&latest))
    };
    println!(
        "{who}: get {key} → {:<6} from the {:<7}  {verdict}",
        show(&value),
        if from_cache { "cache" } else { "cluster" },
    );
    Ok(())
}

fn stats(client: &Client) -> CacheStats {
    client.cache().map(|c| c.stats()).unwrap_or_default()
}

fn print_stats(name: &str, s: CacheStats) {
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![name, "hits", "misses", "expirations", "invalidations"]);
    table.add_row(vec![
        String::new(),
        s.hits.to_string(),
        s.misses.to_string(),
        s.expirations.to_string(),
        s.invalidations.to_string(),
    ]);
    println!("{table}");
}

/// What one workload run measured.
struct Run {
    ops: u64,
    staleness: StalenessReport,
    elapsed: Duration,
}

/// A writer and a caching reader taking turns on a fresh cluster; the
/// history's staleness oracle judges every read.
fn workload(ttl: Duration) -> Result<Run, Error> {
    let cluster = cluster()?;
    let mut writer = cluster.client()?;
    let mut reader = cluster.client()?;
    reader.set_cache(Some(cluster.shared_cache(CacheConfig::new(1_000, ttl))?));
    let keys = KeyChooser::new(KEYS, Some(ZIPF))?;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let started = Instant::now();
    for i in 0..OPS {
        let key = KeyChooser::key(keys.next_index(&mut rng));
        if rng.random_bool(WRITE_SHARE) {
            writer.put(&key, format!("v{i}"))?;
        } else {
            reader.get(&key)?;
        }
    }
    let elapsed = started.elapsed();
    Ok(Run {
        ops: OPS,
        staleness: StalenessReport::from_history(&cluster.history()),
        elapsed,
    })
}

fn show(value: &Option<Vec<u8>>) -> String {
    value.as_deref().map_or("(missing)".into(), |v| {
        format!("{:?}", String::from_utf8_lossy(v))
    })
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".into();
    }
    format!("{:.1} %", 100.0 * part as f64 / whole as f64)
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}
