//! Every built-in protocol, and the primary-backup example learners copy,
//! under duplication on node↔node links.
//!
//! The runtime removes duplicate *client* requests; a request a coordinator
//! hands on to another node travels as a peer message, and the network may
//! deliver that twice or late. A protocol that runs every forward it
//! receives lets a late copy of an old put overwrite a newer value (once
//! 5 seeds of 5 for single-copy). Here half of all node↔node messages are
//! duplicated, with latency on those links so the second copy comes late,
//! clients pick a random coordinator so most requests are forwarded, and a
//! few keys make operations collide. Strong, single-copy and primary-backup
//! are judged by the linearizability checker; eventual by convergence and
//! no lost acknowledged write.

#[path = "../examples/primary_backup/protocol.rs"]
#[allow(dead_code)]
mod primary_backup;

use replikv::history::{CheckResult, Checker, lost_writes};
use replikv::lab::{Workload, run_workload};
use replikv::network::{FaultScope, Latency};
use replikv::{Cluster, ClusterBuilder, Consistency, CoordinatorPolicy, StorageKind};
use std::time::Duration;

const SEEDS: std::ops::Range<u64> = 1..11;

fn builder(seed: u64) -> ClusterBuilder {
    Cluster::builder()
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .coordinator(CoordinatorPolicy::Random)
        .client_timeout(Duration::from_millis(300))
        .seed(seed)
}

/// Runs a colliding workload with node links duplicating half their
/// messages, late; returns the cluster for judging.
fn run_with_duplicated_forwards(builder: ClusterBuilder, seed: u64) -> replikv::Result<Cluster> {
    let cluster = builder.build()?;
    let net = cluster.network();
    net.set_fault_scope(FaultScope::NodeLinks);
    net.set_duplicate_probability(0.5)?;
    net.set_latency(Latency::Uniform {
        min: Duration::ZERO,
        max: Duration::from_millis(10),
    })?;
    let workload = Workload {
        clients: 3,
        ops_per_client: 100,
        keys: 2,
        read_ratio: 0.4,
        seed,
        ..Workload::default()
    };
    run_workload(&cluster, &workload, &mut |_| {})?;
    assert!(
        net.stats().duplicated > 0,
        "seed {seed}: nothing was duplicated"
    );
    net.clear_faults();
    Ok(cluster)
}

fn assert_linearizable(cluster: &Cluster, what: &str, seed: u64) {
    match Checker::new()
        .time_budget(Duration::from_secs(60))
        .check(&cluster.history())
    {
        CheckResult::Linearizable => {}
        CheckResult::NotLinearizable(why) => {
            panic!("{what}, seed {seed}: not linearizable under duplicated forwards:\n{why}")
        }
        CheckResult::Unknown { .. } => panic!("{what}, seed {seed}: checker ran out of budget"),
    }
}

#[test]
fn single_copy_runs_each_forwarded_request_once() -> replikv::Result<()> {
    for seed in SEEDS {
        let cluster =
            run_with_duplicated_forwards(builder(seed).consistency(Consistency::SingleCopy), seed)?;
        assert_linearizable(&cluster, "single-copy", seed);
    }
    Ok(())
}

#[test]
fn primary_backup_example_runs_each_forwarded_request_once() -> replikv::Result<()> {
    for seed in SEEDS {
        let cluster = run_with_duplicated_forwards(
            builder(seed).protocol(|_| primary_backup::PrimaryBackup::default()),
            seed,
        )?;
        assert_linearizable(&cluster, "primary-backup", seed);
    }
    Ok(())
}

#[test]
fn strong_is_linearizable_with_duplicated_node_messages() -> replikv::Result<()> {
    for seed in SEEDS {
        let cluster =
            run_with_duplicated_forwards(builder(seed).consistency(Consistency::Strong), seed)?;
        assert_linearizable(&cluster, "strong", seed);
    }
    Ok(())
}

#[test]
fn eventual_converges_and_keeps_acknowledged_writes_with_duplicated_node_messages()
-> replikv::Result<()> {
    for seed in SEEDS {
        let cluster = run_with_duplicated_forwards(
            builder(seed).consistency(Consistency::Eventual { r: 1, w: 1 }),
            seed,
        )?;
        assert!(
            cluster.wait_for_convergence(Duration::from_secs(20))?,
            "eventual, seed {seed}: replicas did not converge after healing"
        );
        let lost = lost_writes(&cluster.history(), &cluster.final_values()?);
        assert!(
            lost.is_empty(),
            "eventual, seed {seed}: acknowledged writes lost: {lost:?}"
        );
    }
    Ok(())
}
