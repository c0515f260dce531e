//! Eventual mode judged by the global observer: the staleness oracle, the
//! linearizability checker and the lost-writes oracle, each cross-checked
//! against the recorded history.

use replikv::history::{Checker, OpKind, StalenessReport, ValueOrigin, lost_writes};
use replikv::network::Latency;
use replikv::{Cluster, Consistency, CoordinatorPolicy, Endpoint, StorageKind};
use std::time::Duration;

fn eventual(r: usize, w: usize, seed: u64, lag: Latency) -> Cluster {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .consistency(Consistency::Eventual { r, w })
        .storage(StorageKind::Memory)
        .seed(seed)
        .build()
        .unwrap();
    // Replication lags; clients reach nodes at once.
    for a in cluster.nodes() {
        for b in cluster.nodes() {
            if a != b {
                cluster
                    .network()
                    .set_link_latency(Endpoint::Node(a), Endpoint::Node(b), lag)
                    .unwrap();
            }
        }
    }
    cluster
}

/// One writer through the key's primary, one reader rotating through the
/// replicas, alternating, on one key.
fn write_then_read_rounds(cluster: &Cluster, rounds: usize) {
    let mut writer = cluster.client().unwrap();
    let mut reader = cluster.client().unwrap();
    reader.set_policy(CoordinatorPolicy::RoundRobin);
    for round in 0..rounds {
        writer.put("x", format!("v{round}")).unwrap();
        reader.get("x").unwrap();
    }
}

#[test]
fn with_overlapping_quorums_the_oracle_measures_no_stale_read() {
    let seed = 51;
    let cluster = eventual(
        2,
        2,
        seed,
        Latency::Uniform {
            min: Duration::ZERO,
            max: Duration::from_millis(3),
        },
    );
    write_then_read_rounds(&cluster, 30);
    let report = StalenessReport::from_history(&cluster.history());
    assert_eq!(report.reads, 30, "seed {seed}");
    assert_eq!(report.stale_reads, 0, "seed {seed}: R + W > N yet {report}");
    assert!(report.unexplained.is_empty());
}

#[test]
fn with_weak_quorums_the_oracle_finds_stale_reads_and_each_is_real() {
    let seed = 52;
    let cluster = eventual(1, 1, seed, Latency::Fixed(Duration::from_millis(20)));
    write_then_read_rounds(&cluster, 20);
    let history = cluster.history();
    let report = StalenessReport::from_history(&history);
    assert!(
        report.stale_reads > 0,
        "seed {seed}: no stale read measured"
    );
    for entry in report.entries.iter().filter(|e| e.is_stale()) {
        // Recompute from the raw history: the read returned an older value
        // than the latest put acknowledged before it was invoked.
        let read = &history.ops[entry.index];
        assert_eq!(read.kind, OpKind::Get);
        let acked_before: Vec<_> = history
            .ops
            .iter()
            .filter(|w| {
                w.kind == OpKind::Put && w.ok && w.return_ns.is_some_and(|t| t < read.call_ns)
            })
            .collect();
        let latest = acked_before
            .last()
            .expect("a stale read follows an acknowledged write");
        assert_ne!(
            read.output, latest.value,
            "seed {seed}: the oracle called a fresh read stale"
        );
        let source = acked_before.iter().position(|w| w.value == read.output);
        let newer = match source {
            Some(i) => acked_before.len() - 1 - i,
            None => acked_before.len(),
        };
        assert_eq!(
            entry.k, newer as u64,
            "seed {seed}: k of read {}",
            entry.index
        );
        assert!(entry.t_ns.is_some_and(|t| t > 0));
    }
}

#[test]
fn the_checker_reports_weak_quorums_under_delay_as_not_linearizable() {
    let seed = 53;
    let cluster = eventual(1, 1, seed, Latency::Fixed(Duration::from_millis(20)));
    write_then_read_rounds(&cluster, 20);
    let verdict = Checker::new().check(&cluster.history());
    let counterexample = verdict
        .counterexample()
        .unwrap_or_else(|| panic!("seed {seed}: {verdict}"));
    assert_eq!(counterexample.key, b"x");
}

#[test]
fn a_clock_set_back_loses_a_later_write_and_the_oracle_names_it() {
    let seed = 54;
    let cluster = eventual(1, 1, seed, Latency::Zero);
    let replicas = cluster.placement().replicas(b"meeting");
    let (honest, skewed) = (replicas[0], replicas[1]);
    cluster.set_clock_skew(skewed, -10_000_000_000).unwrap();
    let mut first = cluster.client().unwrap();
    first.set_policy(CoordinatorPolicy::Fixed(honest));
    let mut second = cluster.client().unwrap();
    second.set_policy(CoordinatorPolicy::Fixed(skewed));
    first.put("meeting", "monday").unwrap();
    second.put("meeting", "tuesday").unwrap();
    assert!(
        cluster
            .wait_for_convergence(Duration::from_secs(10))
            .unwrap(),
        "seed {seed}"
    );
    let finals = cluster.final_values().unwrap();
    assert_eq!(
        finals.get(&b"meeting"[..]),
        Some(&Some(b"monday".to_vec())),
        "the earlier write won"
    );
    let history = cluster.history();
    let lost = lost_writes(&history, &finals);
    assert_eq!(lost.len(), 1, "seed {seed}: {lost:?}");
    assert_eq!(
        history.ops[lost[0].lost].value.as_deref(),
        Some(&b"tuesday"[..])
    );
    assert_eq!(lost[0].winner, ValueOrigin::Write(0));
}
