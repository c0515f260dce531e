//! Consensus mode: log compaction by snapshot (Raft §7). The persisted log
//! stays bounded, a follower that was down for long catches up by
//! InstallSnapshot, and histories stay linearizable under faults with
//! compaction on.
//!
//! `COMPACTION_SCHEDULES` sets how many simulated schedules the sweep runs
//! (default 40).

mod consensus_support;

use replikv::history::{CheckResult, Checker};
use replikv::lab::{Experiment, NemesisKind, Workload};
use replikv::protocol::ConsensusConfig;
use replikv::{Cluster, CoordinatorPolicy, NodeId};
use std::time::Duration;

fn cluster(seed: u64, snapshot_threshold: u64) -> Cluster {
    consensus_support::cluster(
        seed,
        ConsensusConfig {
            snapshot_threshold,
            ..ConsensusConfig::default()
        },
    )
}

/// Log entries persisted on `node`.
fn persisted_log(cluster: &Cluster, node: NodeId) -> usize {
    cluster
        .store(node)
        .unwrap()
        .scan_meta(b"raft/log/")
        .unwrap()
        .len()
}

/// Every (key, value) a node's state machine holds.
fn values(cluster: &Cluster, node: NodeId) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let records = cluster.store(node).unwrap().records().unwrap();
    records.into_iter().map(|(k, r)| (k, r.value)).collect()
}

#[test]
fn the_persisted_log_stays_bounded_over_a_long_run() {
    let threshold = 20;
    let ops = 300;
    let run = |threshold| {
        let cluster = cluster(1, threshold);
        let mut client = cluster.client().unwrap();
        for i in 0..ops {
            client.put(format!("k{}", i % 7), format!("v{i}")).unwrap();
        }
        cluster.run_for(Duration::from_millis(500));
        let logs: Vec<usize> = cluster
            .nodes()
            .into_iter()
            .map(|n| persisted_log(&cluster, n))
            .collect();
        (cluster, logs)
    };
    let (compacting, logs) = run(threshold);
    for (node, &len) in logs.iter().enumerate() {
        assert!(
            len < threshold as usize,
            "node {node} keeps {len} entries: {logs:?}"
        );
    }
    // The state machine kept everything the log stood for.
    let mut client = compacting.client().unwrap();
    assert_eq!(client.get("k6").unwrap(), Some(b"v293".to_vec()));
    // Without compaction, the log holds every entry.
    let (_, unbounded) = run(0);
    assert!(
        unbounded.iter().all(|&len| len > ops),
        "without compaction: {unbounded:?}"
    );
}

#[test]
fn a_follower_down_for_long_catches_up_by_snapshot() {
    for seed in 0..3 {
        let cluster = cluster(seed, 10);
        let mut client = cluster.client().unwrap();
        client.put("before", "1").unwrap();
        // Node 2 goes down (if it led, the other two elect a new leader)
        // and misses 100 writes, which the others compact away.
        let lagging = NodeId(2);
        cluster.crash(lagging).unwrap();
        cluster.run_for(Duration::from_secs(1));
        client.set_policy(CoordinatorPolicy::Fixed(NodeId(0)));
        for i in 0..100 {
            client.put(format!("k{}", i % 5), format!("v{i}")).unwrap();
        }
        assert!(client.compare_and_set("k0", Some(b"v95"), None).unwrap());
        let leader_log: Vec<usize> = [NodeId(0), NodeId(1)]
            .map(|n| persisted_log(&cluster, n))
            .to_vec();
        assert!(
            leader_log.iter().all(|&len| len < 100),
            "seed {seed}: the entries the follower missed are compacted away: {leader_log:?}"
        );
        cluster.restart(lagging).unwrap();
        cluster.run_for(Duration::from_secs(1));
        let expected = values(&cluster, NodeId(0));
        assert_eq!(values(&cluster, lagging), expected, "seed {seed}");
        assert!(
            cluster
                .store(lagging)
                .unwrap()
                .get_meta(b"raft/snapshot")
                .unwrap()
                .is_some(),
            "seed {seed}: installed a snapshot"
        );
        // It serves as part of a majority: with another node down, the
        // group still commits, and reads what was written while it was out.
        cluster.crash(NodeId(1)).unwrap();
        cluster.run_for(Duration::from_secs(1));
        client.set_policy(CoordinatorPolicy::Fixed(lagging));
        assert_eq!(client.get("k4").unwrap(), Some(b"v99".to_vec()));
        assert_eq!(client.get("k0").unwrap(), None);
        client.put("after", "2").unwrap();
        assert!(
            Checker::new().check(&cluster.history()).is_linearizable(),
            "seed {seed}"
        );
    }
}

/// A simulated experiment with compaction every 8 entries.
fn faulty(seed: u64, nemesis: NemesisKind) -> Experiment {
    let base = consensus_support::faulty(seed, nemesis);
    Experiment {
        consensus: ConsensusConfig {
            snapshot_threshold: 8,
            ..ConsensusConfig::default()
        },
        workload: Workload {
            ops_per_client: 40,
            ..base.workload.clone()
        },
        ..base
    }
}

#[test]
fn linearizable_with_compaction_under_simulated_faults() {
    let n: u64 = std::env::var("COMPACTION_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let kinds = [
        NemesisKind::Crash,
        NemesisKind::Partition,
        NemesisKind::Pause,
        NemesisKind::All,
    ];
    for seed in 0..n {
        let kind = kinds[(seed % 4) as usize];
        let (report, history) = faulty(seed, kind).run_with_history(&mut |_| {}).unwrap();
        match Checker::new().check(&history) {
            CheckResult::Linearizable => {}
            other => panic!("seed {seed} ({kind}): {other:?}\n{}", history.to_json()),
        }
        assert!(report.ops > 0, "seed {seed}");
    }
}
