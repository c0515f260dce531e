//! The leadership hook and what reports make of it, on the simulator:
//! Raft announces its roles, a crash ends a leadership, the summary counts
//! elections, leader changes and the time without a leader; modes without
//! leaders announce nothing.

use replikv::leadership::{LeadershipSummary, Role};
use replikv::{Cluster, Consistency, CoordinatorPolicy, NodeId, Runtime, StorageKind};
use std::time::Duration;

fn cluster(consistency: Consistency, seed: u64) -> Cluster {
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(consistency)
        .storage(StorageKind::Memory)
        .seed(seed)
        .build()
        .unwrap()
}

fn current_leader(cluster: &Cluster) -> NodeId {
    let mut last = std::collections::BTreeMap::new();
    for c in cluster.leadership() {
        last.insert(c.node, c);
    }
    last.into_values()
        .filter(|c| c.role == Role::Leader)
        .max_by_key(|c| c.term)
        .map(|c| c.node)
        .expect("a leader")
}

#[test]
fn a_leader_crash_is_a_down_an_election_and_a_leader_change_with_a_gap_of_about_a_timeout() {
    for seed in [1, 2, 3] {
        let cluster = cluster(Consistency::Consensus, seed);
        cluster.run_for(Duration::from_secs(1));
        let first = current_leader(&cluster);
        let crashed_at = cluster.clock().now_ns();
        cluster.crash(first).unwrap();
        cluster.run_for(Duration::from_secs(1));
        let changes = cluster.leadership();
        let down = changes
            .iter()
            .find(|c| c.node == first && c.role == Role::Down)
            .unwrap_or_else(|| panic!("seed {seed}: no Down for {first}: {changes:?}"));
        assert_eq!(down.at_ns, crashed_at, "seed {seed}");
        let second = current_leader(&cluster);
        assert_ne!(second, first, "seed {seed}");
        let report = cluster.metrics();
        let s = report.leadership.expect("consensus announces roles");
        assert_eq!(
            s,
            LeadershipSummary::of(&changes, cluster.clock().now_ns()).unwrap()
        );
        assert_eq!(s.max_leaders_in_a_term, 1, "seed {seed}: {changes:?}");
        assert!(
            s.leaders_elected >= 2 && s.leader_changes >= 1,
            "seed {seed}: {s:?}"
        );
        assert!(s.elections >= s.leaders_elected, "seed {seed}: {s:?}");
        // The gap after the crash: at least the shortest election timeout
        // (150 ms) less a heartbeat interval (50 ms: the followers' timers
        // started at the last heartbeat before the crash), well under a second.
        let elected = changes
            .iter()
            .find(|c| c.role == Role::Leader && c.at_ns > crashed_at)
            .unwrap();
        let gap = elected.at_ns - crashed_at;
        assert!(
            (100_000_000..1_000_000_000).contains(&gap),
            "seed {seed}: {gap} ns"
        );
        assert!(s.longest_without_leader_ns >= gap, "seed {seed}: {s:?}");
    }
}

#[test]
fn modes_without_leaders_announce_nothing_and_every_mode_counts_messages_per_operation() {
    for consistency in [
        Consistency::Strong,
        Consistency::Eventual { r: 1, w: 1 },
        Consistency::Consensus,
    ] {
        let cluster = cluster(consistency, 4);
        let mut client = cluster.client().unwrap();
        client.set_policy(CoordinatorPolicy::RoundRobin);
        for i in 0..20 {
            client.put(format!("k{i}"), "v").unwrap();
        }
        let report = cluster.metrics();
        assert_eq!(report.operations(), 20);
        assert_eq!(
            report.messages_per_operation(),
            report.network.sent as f64 / 20.0,
            "{consistency}"
        );
        assert!(report.messages_per_operation() > 1.0, "{consistency}");
        let leaders = consistency == Consistency::Consensus;
        assert_eq!(report.leadership.is_some(), leaders, "{consistency}");
        assert_eq!(!cluster.leadership().is_empty(), leaders, "{consistency}");
    }
}
