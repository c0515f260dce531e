//! Consensus mode's read modes (Raft thesis §6.4): ReadIndex and leader
//! leases beside reads through the log.
//!
//! The same schedule runs under each mode: the leader is cut off from the
//! others, and its clock is wrong — it jumps 5 s back, or it stops while
//! the node is paused (a suspended VM whose clock is not corrected). The
//! majority elects a new leader and a write completes there; then a client
//! reads from the old leader. Under leases the old leader still believes
//! its lease and answers the old value, which the linearizability checker
//! rejects; ReadIndex (and the log) cannot confirm leadership, so the read
//! never returns a stale value.
//!
//! `READ_SCHEDULES` sets how many random fault schedules each read mode
//! runs in the sweep (default 30).

mod consensus_support;

use replikv::codec;
use replikv::history::{CheckResult, Checker, History};
use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::protocol::ConsensusConfig;
use replikv::protocol::consensus::{HardState, ReadMode};
use replikv::{Cluster, CoordinatorPolicy, Error, NodeId, Runtime};
use std::time::Duration;

fn cluster(seed: u64, read_mode: ReadMode) -> Cluster {
    consensus_support::cluster(
        seed,
        ConsensusConfig {
            read_mode,
            ..ConsensusConfig::default()
        },
    )
}

/// The leader of a quiet group: the node that voted for itself in the
/// highest term (read from the persisted term and vote).
fn leader(cluster: &Cluster) -> NodeId {
    let hard = |n: NodeId| -> HardState {
        let bytes = cluster.store(n).unwrap().get_meta(b"raft/hard").unwrap();
        codec::decode(&bytes.unwrap()).unwrap()
    };
    let nodes = cluster.nodes();
    let term = nodes.iter().map(|&n| hard(n).term).max().unwrap();
    let leaders: Vec<NodeId> = nodes
        .into_iter()
        .filter(|&n| {
            hard(n)
                == HardState {
                    term,
                    vote: Some(n),
                }
        })
        .collect();
    assert_eq!(
        leaders.len(),
        1,
        "a quiet group has one leader: {leaders:?}"
    );
    leaders[0]
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The leader's clock jumps 5 s back.
    Skew,
    /// The leader is paused for 3 s and its clock does not count the pause
    /// (it reads 3 s behind when the node wakes).
    PauseClockStopped,
    /// The leader is paused for 3 s; its clock keeps counting.
    Pause,
}

/// The leader is cut off and suffers `fault`; the majority elects a new
/// leader and writes x = 2; then a client reads x from the old leader
/// (while it is still paused, if it is: the read waits in its inbox).
/// Returns what the read returned (None also for no answer) and the
/// history.
fn old_leader_read(seed: u64, mode: ReadMode, fault: Fault) -> (History, Option<Vec<u8>>) {
    let cluster = cluster(seed, mode);
    let mut writer = cluster.client().unwrap();
    writer.put("x", "1").unwrap();
    cluster.run_for(Duration::from_millis(300));
    let old = leader(&cluster);
    let others: Vec<NodeId> = cluster.nodes().into_iter().filter(|&n| n != old).collect();
    cluster.network().partition(&[&[old], &others]).unwrap();
    match fault {
        Fault::Skew => cluster.set_clock_skew(old, -5_000_000_000).unwrap(),
        Fault::PauseClockStopped => {
            cluster.pause(old, Duration::from_secs(3)).unwrap();
            cluster.set_clock_skew(old, -3_000_000_000).unwrap();
        }
        Fault::Pause => cluster.pause(old, Duration::from_secs(3)).unwrap(),
    }
    // The majority notices and elects a new leader, which takes the write.
    cluster.run_for(Duration::from_secs(1));
    writer.set_policy(CoordinatorPolicy::Fixed(others[0]));
    writer.put("x", "2").unwrap();
    let mut reader = cluster.client().unwrap();
    reader.set_timeout(Duration::from_secs(5));
    reader.set_policy(CoordinatorPolicy::Fixed(old));
    let read = match reader.get("x") {
        Ok(value) => value,
        Err(Error::Timeout(_) | Error::Unavailable(_)) => None,
        Err(e) => panic!("seed {seed} {mode} {fault:?}: {e}"),
    };
    (cluster.history(), read)
}

#[test]
fn a_lease_on_a_wrong_clock_serves_a_stale_read_that_the_checker_catches() {
    for fault in [Fault::Skew, Fault::PauseClockStopped] {
        for seed in 0..3 {
            let (history, read) = old_leader_read(seed, ReadMode::Lease, fault);
            assert_eq!(
                read.as_deref(),
                Some(&b"1"[..]),
                "seed {seed} {fault:?}: the old leader answers from its lease"
            );
            assert!(
                matches!(
                    Checker::new().check(&history),
                    CheckResult::NotLinearizable(_)
                ),
                "seed {seed} {fault:?}: the checker catches it\n{}",
                history.to_json()
            );
        }
    }
}

#[test]
fn read_index_in_the_same_schedule_never_reads_stale() {
    for mode in [ReadMode::ReadIndex, ReadMode::Log] {
        for fault in [Fault::Skew, Fault::PauseClockStopped, Fault::Pause] {
            for seed in 0..3 {
                let (history, read) = old_leader_read(seed, mode, fault);
                assert_ne!(
                    read.as_deref(),
                    Some(&b"1"[..]),
                    "seed {seed} {mode} {fault:?}"
                );
                assert!(
                    Checker::new().check(&history).is_linearizable(),
                    "seed {seed} {mode} {fault:?}\n{}",
                    history.to_json()
                );
            }
        }
    }
}

#[test]
fn a_paused_leader_whose_clock_counts_the_pause_keeps_leases_safe() {
    // The same cut-off, paused leader, but its clock counts the pause: on
    // waking its lease has run out, and it cannot renew it.
    for seed in 0..3 {
        let (history, read) = old_leader_read(seed, ReadMode::Lease, Fault::Pause);
        assert_eq!(read, None, "seed {seed}: no answer rather than a stale one");
        assert!(
            Checker::new().check(&history).is_linearizable(),
            "seed {seed}"
        );
    }
}

#[test]
fn read_modes_serve_reads_with_fewer_log_entries() {
    // Reads through the log append an entry each; ReadIndex and leases
    // append none (the log grows by the writes and leaders' no-ops only).
    let entries = |mode| {
        let cluster = cluster(7, mode);
        let mut client = cluster.client().unwrap();
        client.put("k", "v").unwrap();
        for _ in 0..50 {
            assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()), "{mode}");
        }
        assert!(Checker::new().check(&cluster.history()).is_linearizable());
        let store = cluster.store(leader(&cluster)).unwrap();
        store.scan_meta(b"raft/log/").unwrap().len()
    };
    let log = entries(ReadMode::Log);
    assert!(log >= 51, "log: {log}");
    for mode in [ReadMode::ReadIndex, ReadMode::Lease] {
        let n = entries(mode);
        assert!(n < 10, "{mode}: {n} entries");
    }
}

/// A random fault schedule with the given read mode.
fn faulty(seed: u64, read_mode: ReadMode, kind: NemesisKind) -> Experiment {
    let base = consensus_support::faulty(seed, kind);
    Experiment {
        consensus: ConsensusConfig {
            read_mode,
            snapshot_threshold: 16,
            ..ConsensusConfig::default()
        },
        workload: Workload {
            read_ratio: 0.6,
            cas_ratio: 0.2,
            ..base.workload.clone()
        },
        ..base
    }
}

fn sweep(mode: ReadMode, kinds: &[NemesisKind]) {
    let n: u64 = std::env::var("READ_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    for seed in 0..n {
        let kind = kinds[seed as usize % kinds.len()];
        let (report, history) = faulty(seed, mode, kind)
            .run_with_history(&mut |_| {})
            .unwrap();
        match Checker::new().check(&history) {
            CheckResult::Linearizable => {}
            other => panic!(
                "seed {seed} {mode} ({kind}): {other:?}\n{}",
                history.to_json()
            ),
        }
        assert!(report.ops > 0, "seed {seed}");
    }
}

#[test]
fn read_index_is_linearizable_under_simulated_faults() {
    // `All` includes clock skew: ReadIndex does not care.
    let kinds = [
        NemesisKind::Partition,
        NemesisKind::Crash,
        NemesisKind::Pause,
        NemesisKind::All,
    ];
    sweep(ReadMode::ReadIndex, &kinds);
}

#[test]
fn leases_are_linearizable_under_faults_while_clocks_are_right() {
    let kinds = [
        NemesisKind::Partition,
        NemesisKind::Crash,
        NemesisKind::Pause,
    ];
    sweep(ReadMode::Lease, &kinds);
}

#[test]
fn read_index_and_leases_are_linearizable_on_threads_under_crashes() {
    for mode in [ReadMode::ReadIndex, ReadMode::Lease] {
        let experiment = Experiment {
            runtime: Runtime::Threads,
            latency: Latency::Zero,
            drop: 0.0,
            duplicate: 0.0,
            nemesis: Nemesis {
                kind: NemesisKind::Crash,
                interval: Duration::from_millis(300),
                seed: 9,
            },
            workload: Workload {
                clients: 4,
                ops_per_client: 60,
                keys: 2,
                read_ratio: 0.6,
                cas_ratio: 0.2,
                seed: 9,
                ..Workload::default()
            },
            client_timeout: Duration::from_millis(500),
            ..faulty(9, mode, NemesisKind::Crash)
        };
        let (report, history) = experiment.run_with_history(&mut |_| {}).unwrap();
        assert_eq!(report.ops, 240, "{mode}");
        assert!(
            Checker::new().check(&history).is_linearizable(),
            "{mode}\n{}",
            history.to_json()
        );
    }
}
