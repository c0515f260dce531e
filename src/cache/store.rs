//! The cache itself: entries, expiry, invalidation epochs and counters.

use crate::clock::Clock;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use quick_cache::Lifecycle;
use quick_cache::unsync::Cache;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::Duration;

/// Capacity and time-to-live of a read cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// How many keys it holds at most (at least 1).
    pub capacity: usize,
    /// How long an entry may answer reads. Zero disables the cache.
    pub ttl: Duration,
}

impl CacheConfig {
    /// A configuration; checked when a cache is made from it.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        CacheConfig { capacity, ttl }
    }
}

/// Counters of one cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that had to go to the cluster.
    pub misses: u64,
    /// Entries pushed out to make room.
    pub evictions: u64,
    /// Entries found older than the TTL (each also counts as a miss).
    pub expirations: u64,
    /// Entries dropped because a client of this cache wrote the key.
    pub invalidations: u64,
}

#[derive(Clone)]
struct Entry {
    value: Option<Vec<u8>>,
    stored_ns: u64,
}

/// Counts evictions during one insert.
#[derive(Clone, Copy, Default)]
struct CountEvictions;

impl Lifecycle<Vec<u8>, Entry> for CountEvictions {
    type RequestState = u64;

    fn begin_request(&self) -> u64 {
        0
    }

    fn on_evict(&self, evicted: &mut u64, _key: Vec<u8>, _val: Entry) {
        *evicted += 1;
    }
}

type Entries = Cache<
    Vec<u8>,
    Entry,
    quick_cache::UnitWeighter,
    BuildHasherDefault<DefaultHasher>,
    CountEvictions,
>;

struct Inner {
    entries: Entries,
    /// Bumped by every invalidation; a fill started before a bump is refused.
    epoch: u64,
    stats: CacheStats,
}

/// A read cache. Cloning gives another handle on the *same* cache, so a
/// group of clients can share one (see [`crate::Client::set_cache`]).
///
/// ```
/// use replikv::cache::CacheConfig;
/// use replikv::{Cluster, StorageKind};
/// use std::time::Duration;
///
/// let cluster = Cluster::builder()
///     .nodes(3)
///     .storage(StorageKind::Memory)
///     .read_cache(CacheConfig::new(1000, Duration::from_secs(60)))
///     .build()?;
/// let mut writer = cluster.client()?;
/// writer.set_cache(None);
/// writer.put("k", "v")?;
/// let mut client = cluster.client()?;
/// client.get("k")?; // miss: goes to the cluster, fills the cache
/// client.get("k")?; // hit
/// let stats = client.cache().expect("configured").stats();
/// assert_eq!((stats.hits, stats.misses), (1, 1));
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone)]
pub struct ReadCache {
    inner: Arc<Mutex<Inner>>,
    ttl_ns: u64,
    clock: Arc<Clock>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("ttl_ns", &self.ttl_ns)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A fresh entry: the value (or `None`, a cached "missing"), and the
    /// instant of the lookup (the read's invocation in the history).
    Hit { value: Option<Vec<u8>>, at_ns: u64 },
    /// Nothing usable; fill with [`ReadCache::fill`] passing these.
    Miss { epoch: u64, at_ns: u64 },
}

impl ReadCache {
    /// A cache reading time from `clock`.
    pub fn new(config: CacheConfig, clock: Arc<Clock>) -> Result<Self> {
        if config.capacity == 0 {
            return Err(Error::InvalidConfig(
                "cache capacity must be at least 1 entry".into(),
            ));
        }
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(config.capacity)
            .weight_capacity(config.capacity as u64)
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cache options: {e:?}")))?;
        let entries = Cache::with_options(
            options,
            quick_cache::UnitWeighter,
            BuildHasherDefault::<DefaultHasher>::default(),
            CountEvictions,
        );
        Ok(ReadCache {
            inner: Arc::new(Mutex::new(Inner {
                entries,
                epoch: 0,
                stats: CacheStats::default(),
            })),
            ttl_ns: u64::try_from(config.ttl.as_nanos()).unwrap_or(u64::MAX),
            clock,
        })
    }

    /// Looks `key` up, counting a hit or a miss.
    pub(crate) fn lookup(&self, key: &[u8]) -> Lookup {
        // Also the instant a miss's read starts: see `fill`.
        let now = self.clock.now_ns();
        let mut inner = self.inner.lock();
        let fresh = match inner.entries.get(key) {
            Some(entry) if now.saturating_sub(entry.stored_ns) < self.ttl_ns => {
                Some(entry.value.clone())
            }
            Some(_) => {
                inner.entries.remove(key);
                inner.stats.expirations += 1;
                None
            }
            None => None,
        };
        match fresh {
            Some(value) => {
                inner.stats.hits += 1;
                Lookup::Hit { value, at_ns: now }
            }
            None => {
                inner.stats.misses += 1;
                Lookup::Miss {
                    epoch: inner.epoch,
                    at_ns: now,
                }
            }
        }
    }

    /// Stores what a read returned, unless a write was invalidated since the
    /// read began (then the value may predate that write). The entry's age
    /// counts from `read_started_ns`, before the read was sent, so the TTL
    /// bounds how long after its read was invoked a value can be served.
    /// Returns the number of entries evicted.
    pub(crate) fn fill(
        &self,
        key: &[u8],
        value: Option<Vec<u8>>,
        epoch: u64,
        read_started_ns: u64,
    ) -> u64 {
        if self.ttl_ns == 0 {
            return 0;
        }
        let stored_ns = read_started_ns;
        let mut inner = self.inner.lock();
        if inner.epoch != epoch {
            return 0;
        }
        let evicted = inner
            .entries
            .insert_with_lifecycle(key.to_vec(), Entry { value, stored_ns });
        inner.stats.evictions += evicted;
        evicted
    }

    /// Records a write that a client of this cache just completed: reads in
    /// flight may predate it, so their fills are refused (epoch), and the
    /// entry now holds the written value (`None` for a delete), aged from
    /// `written_at_ns`, the instant the write was invoked. Returns the
    /// number of entries evicted.
    pub(crate) fn write_through(
        &self,
        key: &[u8],
        value: Option<Vec<u8>>,
        written_at_ns: u64,
    ) -> u64 {
        let mut inner = self.inner.lock();
        inner.epoch += 1;
        if self.ttl_ns == 0 {
            return 0;
        }
        let evicted = inner.entries.insert_with_lifecycle(
            key.to_vec(),
            Entry {
                value,
                stored_ns: written_at_ns,
            },
        );
        inner.stats.evictions += evicted;
        evicted
    }

    /// Drops the entry for `key` (a client of this cache is writing it).
    pub fn invalidate(&self, key: &[u8]) {
        let mut inner = self.inner.lock();
        inner.epoch += 1;
        if inner.entries.remove(key).is_some() {
            inner.stats.invalidations += 1;
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.epoch += 1;
        inner.entries.clear();
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        self.inner.lock().stats
    }
}
