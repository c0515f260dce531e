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

fn strong_cluster(seed: u64) -> Cluster {
    Cluster::builder()
        .nodes(3)
        .consistency(replikv::Consistency::Strong)
        .storage(StorageKind::Memory)
        .seed(seed)
        .build()
        .unwrap()
}

#[test]
fn with_a_cache_strong_mode_is_no_longer_linearizable_when_others_write_within_the_ttl() {
    use replikv::history::{Checker, StalenessReport};
    let cluster = strong_cluster(31);
    let mut writer = cluster.client().unwrap();
    let mut reader = cluster.client().unwrap();
    reader.set_cache(Some(
        cluster.shared_cache(CacheConfig::new(100, HOUR)).unwrap(),
    ));
    writer.put("balance", "100").unwrap();
    assert_eq!(reader.get("balance").unwrap(), Some(b"100".to_vec()));
    writer.put("balance", "40").unwrap();
    assert_eq!(
        reader.get("balance").unwrap(),
        Some(b"100".to_vec()),
        "the cache answers"
    );
    let history = cluster.history();
    let verdict = Checker::new().check(&history);
    assert!(
        !verdict.is_linearizable(),
        "the checker missed a stale cached read: {verdict}"
    );
    let staleness = StalenessReport::from_history(&history);
    assert_eq!((staleness.stale_hits, staleness.cached_reads), (1, 1));
}

#[test]
fn with_ttl_zero_or_no_cache_strong_mode_stays_linearizable_under_concurrency() {
    use replikv::history::Checker;
    for (seed, cache) in [
        (32, Some(CacheConfig::new(100, Duration::ZERO))),
        (33, None),
    ] {
        let cluster = strong_cluster(seed);
        cluster
            .network()
            .set_latency(replikv::network::Latency::Uniform {
                min: Duration::ZERO,
                max: Duration::from_millis(1),
            })
            .unwrap();
        std::thread::scope(|s| {
            for c in 0..4 {
                let mut client = cluster.client().unwrap();
                client.set_cache(cache.map(|config| cluster.shared_cache(config).unwrap()));
                s.spawn(move || {
                    for i in 0..60 {
                        let key = format!("k{}", i % 3);
                        if (i + c) % 2 == 0 {
                            let _ = client.put(&key, format!("c{c}-{i}"));
                        } else {
                            let _ = client.get(&key);
                        }
                    }
                });
            }
        });
        let verdict = Checker::new().check(&cluster.history());
        assert!(
            verdict.is_linearizable(),
            "seed {seed}, cache {cache:?}: {verdict}"
        );
    }
}

#[test]
fn a_single_client_reads_its_own_writes_in_both_modes_with_and_without_a_cache() {
    let modes = [
        replikv::Consistency::Strong,
        replikv::Consistency::Eventual { r: 1, w: 1 },
    ];
    for (seed, mode) in modes.into_iter().enumerate() {
        for cache in [None, Some(CacheConfig::new(10, HOUR))] {
            let mut builder = Cluster::builder()
                .nodes(3)
                .consistency(mode)
                .storage(StorageKind::Memory)
                .seed(seed as u64);
            if let Some(config) = cache {
                builder = builder.read_cache(config);
            }
            let cluster = builder.build().unwrap();
            // Replication between nodes lags; the client's own link is fast.
            cluster
                .network()
                .set_fault_hook(|e: &replikv::network::EnvelopeInfo| {
                    matches!(
                        (e.from, e.to),
                        (replikv::Endpoint::Node(_), replikv::Endpoint::Node(_))
                    )
                    .then_some(replikv::network::Verdict::Deliver(Duration::from_millis(5)))
                });
            let mut client = cluster.client().unwrap();
            for i in 0..10 {
                let value = format!("v{i}");
                client.put("mine", &value).unwrap();
                assert_eq!(
                    client.get("mine").unwrap(),
                    Some(value.into_bytes()),
                    "{mode} with cache {cache:?}: own write not read back"
                );
            }
        }
    }
}
