//! The client-side read cache: bounded, expiring, invalidated by the
//! client's own writes — and, by design, able to return a value another
//! client has already overwritten.

use replikv::cache::CacheConfig;
use replikv::{Cluster, Error, StorageKind};
use std::time::{Duration, Instant};

fn cluster(cache: Option<CacheConfig>) -> Cluster {
    let mut builder = Cluster::builder()
        .nodes(3)
        .storage(StorageKind::Memory)
        .seed(5);
    if let Some(config) = cache {
        builder = builder.read_cache(config);
    }
    builder.build().unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_zero_capacity_cache_is_rejected() {
    assert!(matches!(
        Cluster::builder()
            .read_cache(CacheConfig::new(0, HOUR))
            .build(),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn the_cache_holds_at_most_its_capacity_and_counts_evictions() {
    let cluster = cluster(Some(CacheConfig::new(50, HOUR)));
    let mut client = cluster.client().unwrap();
    for i in 0..200 {
        client.get(format!("k{i}")).unwrap();
    }
    let cache = client.cache().unwrap();
    assert!(cache.len() <= 50, "{} entries", cache.len());
    let stats = cache.stats();
    assert_eq!(stats.misses, 200);
    assert!(stats.evictions >= 150, "{stats:?}");
    assert_eq!(cluster.metrics().cache_evictions, stats.evictions);
}

#[test]
fn a_repeated_read_is_a_hit_and_is_recorded_as_cached() {
    let cluster = cluster(Some(CacheConfig::new(10, HOUR)));
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
    let sent = cluster.network().stats().sent;
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(cluster.network().stats().sent, sent, "a hit sends nothing");
    let ops = cluster.history().ops;
    assert_eq!(
        ops.iter().map(|op| op.cached).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    let report = cluster.metrics();
    assert_eq!((report.cache_hits, report.cache_misses), (1, 1));
}

#[test]
fn entries_expire_after_the_ttl() {
    let ttl = Duration::from_millis(20);
    let cluster = cluster(Some(CacheConfig::new(10, ttl)));
    let mut client = cluster.client().unwrap();
    client.get("k").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.cache().unwrap().stats().expirations == 0 {
        assert!(
            Instant::now() < deadline,
            "no expiry within 10 s of a {ttl:?} TTL"
        );
        client.get("k").unwrap();
    }
    let hit_times: Vec<_> = cluster
        .history()
        .ops
        .iter()
        .filter(|op| op.cached)
        .map(|op| op.call_ns)
        .collect();
    let first_call = cluster.history().ops[0].call_ns;
    assert!(
        hit_times
            .iter()
            .all(|&t| t - first_call < ttl.as_nanos() as u64),
        "a hit was served after the TTL"
    );
}

#[test]
fn a_zero_ttl_never_answers_from_the_cache() {
    let cluster = cluster(Some(CacheConfig::new(10, Duration::ZERO)));
    let mut client = cluster.client().unwrap();
    for _ in 0..5 {
        client.get("k").unwrap();
    }
    assert_eq!(client.cache().unwrap().stats().hits, 0);
}

#[test]
fn a_client_reads_its_own_writes_through_its_cache() {
    let cluster = cluster(Some(CacheConfig::new(10, HOUR)));
    let mut client = cluster.client().unwrap();
    for i in 0..20 {
        client.put("k", format!("v{i}")).unwrap();
        assert_eq!(client.get("k").unwrap(), Some(format!("v{i}").into_bytes()));
        assert_eq!(client.get("k").unwrap(), Some(format!("v{i}").into_bytes()));
    }
    client.delete("k").unwrap();
    assert_eq!(client.get("k").unwrap(), None);
}

#[test]
fn clients_sharing_a_cache_read_each_others_writes() {
    let cluster = cluster(None);
    let shared = cluster.shared_cache(CacheConfig::new(10, HOUR)).unwrap();
    let (mut a, mut b) = (cluster.client().unwrap(), cluster.client().unwrap());
    a.set_cache(Some(shared.clone()));
    b.set_cache(Some(shared.clone()));
    b.put("k", "old").unwrap();
    assert_eq!(a.get("k").unwrap(), Some(b"old".to_vec()));
    b.put("k", "new").unwrap();
    assert_eq!(a.get("k").unwrap(), Some(b"new".to_vec()));
    assert_eq!(shared.stats().invalidations, 1);
}

#[test]
fn a_cache_returns_an_overwritten_value_within_its_ttl() {
    let cluster = cluster(None);
    let mut reader = cluster.client().unwrap();
    reader.set_cache(Some(
        cluster.shared_cache(CacheConfig::new(10, HOUR)).unwrap(),
    ));
    let mut writer = cluster.client().unwrap();
    writer.put("k", "old").unwrap();
    assert_eq!(reader.get("k").unwrap(), Some(b"old".to_vec()));
    writer.put("k", "new").unwrap();
    // The write completed before this read began, yet the cache answers "old".
    assert_eq!(reader.get("k").unwrap(), Some(b"old".to_vec()));
    reader.cache().unwrap().invalidate(b"k");
    assert_eq!(reader.get("k").unwrap(), Some(b"new".to_vec()));
    reader.cache().unwrap().clear();
    assert!(reader.cache().unwrap().is_empty());
}
