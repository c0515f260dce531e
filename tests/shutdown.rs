//! Dropping a cluster joins every thread it started — also mid-workload and
//! with crashed and paused nodes — within a bounded time. This file holds a
//! single test so that no other test's threads muddle the count.

use replikv::{Cluster, Error, NodeId, StorageKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Threads of this process, from the kernel's own list — except sled's
/// process-wide I/O pool (`sled-io-*`), which sled shares among every database
/// in the process and keeps warm on purpose; the cluster does not start it
/// and cannot join it. Each database's own flusher thread *is* counted.
fn thread_count() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| task.ok())
        .filter(|task| {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            !name.starts_with("sled-io")
        })
        .count()
}

/// Polls `done` until it holds or `limit` passes.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::yield_now();
    }
    done()
}

#[test]
#[cfg(target_os = "linux")]
fn dropping_a_cluster_mid_workload_joins_every_thread_it_started() {
    let before = thread_count();
    for storage in [StorageKind::Memory, StorageKind::Temporary] {
        let cluster = Cluster::builder()
            .nodes(5)
            .storage(storage.clone())
            .client_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        assert!(
            thread_count() >= before + 6,
            "5 node threads and the delay thread are running"
        );
        cluster
            .network()
            .set_latency(replikv::network::Latency::Fixed(Duration::from_millis(1)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let completed = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let mut client = cluster.client().unwrap();
                let (stop, completed) = (stop.clone(), completed.clone());
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        match client.put(format!("k{}", i % 10), format!("{t}-{i}")) {
                            Ok(()) => {
                                completed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(Error::Timeout(_) | Error::Shutdown) => {}
                            Err(e) => panic!("unexpected error {e}"),
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        assert!(eventually(Duration::from_secs(30), || completed
            .load(Ordering::Relaxed)
            >= 50));
        cluster.crash(NodeId(1)).unwrap();
        cluster.pause(NodeId(2), Duration::from_secs(3600)).unwrap();
        let dropped_at = Instant::now();
        drop(cluster);
        assert!(
            dropped_at.elapsed() < Duration::from_secs(5),
            "drop took {:?} with a node paused for an hour",
            dropped_at.elapsed()
        );
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        assert!(
            eventually(Duration::from_secs(10), || thread_count() == before),
            "{storage:?}: {} threads before, {} after drop",
            before,
            thread_count()
        );
    }
}
