//! Consensus mode (Raft) end to end: compare-and-set, leader crash and
//! re-election, and linearizability with compare-and-set over many
//! simulated fault schedules and on threads.
//!
//! 300 schedules run by default (`CONSENSUS_QUICK_SCHEDULES` to change);
//! `CONSENSUS_SCHEDULES=1000 cargo test --test consensus -- --ignored`
//! runs the long sweep (default 1,000 schedules).

mod consensus_support;

use replikv::history::{CheckResult, Checker, OpKind};
use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Cluster, Consistency, CoordinatorPolicy, Error, NodeId, Runtime};
use std::time::Duration;

fn simulated(nodes: usize, seed: u64) -> Cluster {
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(nodes)
        .consistency(Consistency::Consensus)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .seed(seed)
        .build()
        .unwrap()
}

#[test]
fn compare_and_set_swaps_only_on_the_expected_value() {
    let cluster = simulated(3, 1);
    let mut client = cluster.client().unwrap();
    assert!(
        client.compare_and_set("k", None, Some(b"a")).unwrap(),
        "absent → a"
    );
    assert!(
        !client.compare_and_set("k", None, Some(b"b")).unwrap(),
        "not absent any more"
    );
    assert_eq!(client.get("k").unwrap(), Some(b"a".to_vec()));
    assert!(!client.compare_and_set("k", Some(b"x"), Some(b"b")).unwrap());
    assert!(client.compare_and_set("k", Some(b"a"), Some(b"b")).unwrap());
    assert!(
        client.compare_and_set("k", Some(b"b"), None).unwrap(),
        "CAS to absent deletes"
    );
    assert_eq!(client.get("k").unwrap(), None);
    client.put("k", "c").unwrap();
    client.delete("k").unwrap();
    assert!(
        client.compare_and_set("k", None, Some(b"d")).unwrap(),
        "a tombstone is absent"
    );

    let history = cluster.history();
    let cas: Vec<_> = history
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Cas)
        .collect();
    assert_eq!(cas.len(), 6);
    assert_eq!(
        cas.iter().map(|o| o.swapped).collect::<Vec<_>>(),
        [true, false, false, true, true, true].map(Some)
    );
    assert_eq!(cas[2].expected.as_deref(), Some(&b"x"[..]));
    assert_eq!(cas[4].value, None);
    assert!(Checker::new().check(&history).is_linearizable());
}

#[test]
fn every_other_mode_refuses_compare_and_set_naming_itself() {
    for (mode, name) in [
        (Consistency::Strong, "strong"),
        (Consistency::Eventual { r: 1, w: 1 }, "eventual"),
        (Consistency::SingleCopy, "single-copy"),
    ] {
        let cluster = Cluster::builder()
            .runtime(Runtime::Simulated)
            .consistency(mode)
            .build()
            .unwrap();
        let mut client = cluster.client().unwrap();
        match client.compare_and_set("k", None, Some(b"v")) {
            Err(Error::Unsupported(why)) => assert!(why.contains(name), "{mode}: {why}"),
            other => panic!("{mode}: {other:?}"),
        }
        assert_eq!(
            client.get("k").unwrap(),
            None,
            "{mode}: nothing was written"
        );
        // Recorded as failed without effect.
        let op = &cluster.history().ops[0];
        assert_eq!((op.kind, op.ok, op.swapped), (OpKind::Cas, false, None));
        assert!(op.return_ns.is_some());
    }
}

#[test]
fn bad_compare_and_set_input_gets_clear_errors() {
    let cluster = simulated(3, 2);
    let mut client = cluster.client().unwrap();
    let long_key = vec![b'k'; replikv::MAX_KEY_LEN + 1];
    assert!(matches!(
        client.compare_and_set(&long_key, None, Some(b"v")),
        Err(Error::KeyTooLong { .. })
    ));
    assert!(matches!(
        client.compare_and_set("", None, None),
        Err(Error::EmptyKey)
    ));
    let long_value = vec![0u8; replikv::MAX_VALUE_LEN + 1];
    assert!(matches!(
        client.compare_and_set("k", Some(&long_value), None),
        Err(Error::ValueTooLong { .. })
    ));
    assert!(matches!(
        client.compare_and_set("k", None, Some(&long_value)),
        Err(Error::ValueTooLong { .. })
    ));
    assert!(
        cluster.history().is_empty(),
        "refused before anything was sent"
    );
}

#[test]
fn a_crashed_leader_is_replaced_and_nothing_acknowledged_is_lost() {
    for seed in 0..5 {
        let cluster = simulated(3, seed);
        let mut client = cluster.client().unwrap();
        client.put("x", "1").unwrap();
        // Crash each node in turn (one of them leads): the other two
        // elect a leader and keep every acknowledged write.
        for (round, victim) in cluster.nodes().into_iter().enumerate() {
            cluster.crash(victim).unwrap();
            // Give the others time to notice and elect (a request
            // forwarded to a dead leader is lost, and times out).
            cluster.run_for(Duration::from_secs(1));
            let other = NodeId((victim.0 + 1) % 3);
            client.set_policy(CoordinatorPolicy::Fixed(other));
            let value = format!("v{round}");
            let previous = client.get("x").unwrap();
            assert!(
                client
                    .compare_and_set("x", previous.as_deref(), Some(value.as_bytes()))
                    .unwrap(),
                "seed {seed} round {round}"
            );
            assert_eq!(client.get("x").unwrap(), Some(value.into_bytes()));
            cluster.restart(victim).unwrap();
        }
        assert!(Checker::new().check(&cluster.history()).is_linearizable());
    }
}

#[test]
fn a_minority_cannot_commit_and_the_majority_can() {
    let cluster = simulated(5, 3);
    let mut client = cluster.client().unwrap();
    client.put("x", "before").unwrap();
    let minority = [NodeId(0), NodeId(1)];
    let majority = [NodeId(2), NodeId(3), NodeId(4)];
    cluster
        .network()
        .partition(&[&minority, &majority])
        .unwrap();
    client.set_timeout(Duration::from_secs(2));
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(0)));
    assert!(matches!(
        client.put("x", "minority"),
        Err(Error::Timeout(_))
    ));
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(3)));
    client.put("x", "majority").unwrap();
    cluster.network().heal();
    assert_eq!(client.get("x").unwrap(), Some(b"majority".to_vec()));
    // The minority's put was never committed: the majority's leader
    // overwrote it when the partition healed.
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(0)));
    assert_eq!(client.get("x").unwrap(), Some(b"majority".to_vec()));
    assert!(Checker::new().check(&cluster.history()).is_linearizable());
}

/// One simulated experiment with compare-and-sets under `nemesis`.
fn faulty(seed: u64, nemesis: NemesisKind) -> Experiment {
    consensus_support::faulty(seed, nemesis)
}

fn sweep(seeds: std::ops::Range<u64>) {
    // `All` is partition, crash and skew in turn; pause is its own kind
    // (see `NemesisKind::All`), so it is listed here to cover every fault.
    let kinds = [
        NemesisKind::Partition,
        NemesisKind::Crash,
        NemesisKind::All,
        NemesisKind::Pause,
    ];
    let mut swapped = 0;
    let mut per_kind = [0usize; 4];
    for seed in seeds {
        let index = (seed % kinds.len() as u64) as usize;
        let kind = kinds[index];
        per_kind[index] += 1;
        if std::env::var_os("CONSENSUS_TRACE").is_some() {
            eprintln!("seed {seed} ({kind})");
        }
        let (report, history) = faulty(seed, kind).run_with_history(&mut |_| {}).unwrap();
        match Checker::new().check(&history) {
            CheckResult::Linearizable => {}
            other => panic!("seed {seed} ({kind}): {other:?}\n{}", history.to_json()),
        }
        assert!(report.ops > 0);
        swapped += history
            .ops
            .iter()
            .filter(|o| o.swapped == Some(true))
            .count();
    }
    assert!(swapped > 0, "some compare-and-sets swapped");
    assert!(
        per_kind.iter().all(|&n| n > 0),
        "every fault kind ran at least once: {per_kind:?}"
    );
}

#[test]
fn linearizable_with_compare_and_set_over_simulated_fault_schedules() {
    let n = std::env::var("CONSENSUS_QUICK_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    sweep(0..n);
}

#[test]
#[ignore = "long: 1,000 schedules (CONSENSUS_SCHEDULES to change)"]
fn linearizable_with_compare_and_set_over_a_thousand_schedules() {
    let n = std::env::var("CONSENSUS_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    sweep(1_000..1_000 + n);
}

#[test]
fn linearizable_with_compare_and_set_on_threads() {
    let experiment = Experiment {
        runtime: Runtime::Threads,
        latency: Latency::Zero,
        nemesis: Nemesis {
            kind: NemesisKind::Crash,
            interval: Duration::from_millis(300),
            seed: 5,
        },
        workload: Workload {
            clients: 4,
            ops_per_client: 100,
            keys: 3,
            read_ratio: 0.4,
            cas_ratio: 0.3,
            seed: 5,
            ..Workload::default()
        },
        client_timeout: Duration::from_millis(500),
        ..faulty(5, NemesisKind::Crash)
    };
    let (report, history) = experiment.run_with_history(&mut |_| {}).unwrap();
    eprintln!(
        "threads: {} ops, errors {:?}, in {:.1} s",
        report.ops, report.errors, report.duration_s
    );
    assert_eq!(report.ops, 400);
    assert!(
        Checker::new().check(&history).is_linearizable(),
        "{}",
        history.to_json()
    );
    assert!(history.ops.iter().any(|o| o.swapped == Some(true)));
}

#[test]
fn a_node_that_knows_no_leader_answers_unavailable_in_bounded_time() {
    for seed in 0..3 {
        let cluster = simulated(3, seed);
        let mut client = cluster.client().unwrap();
        client.put("x", "1").unwrap();
        cluster.run_for(Duration::from_millis(300));
        // A follower left alone: it stands for election again and again,
        // and knows no leader to forward to. (A leader left alone would
        // append the put, which might yet commit: its client times out.)
        let hard = |n: NodeId| -> replikv::protocol::consensus::HardState {
            let bytes = cluster.store(n).unwrap().get_meta(b"raft/hard").unwrap();
            replikv::codec::decode(&bytes.unwrap()).unwrap()
        };
        let alone = (cluster.nodes().into_iter())
            .find(|&n| hard(n).vote != Some(n))
            .unwrap();
        for other in cluster.nodes().into_iter().filter(|&n| n != alone) {
            cluster.crash(other).unwrap();
        }
        cluster.run_for(Duration::from_secs(1));
        client.set_policy(CoordinatorPolicy::Fixed(alone));
        client.set_timeout(Duration::from_secs(30));
        let started = cluster.clock().now_ns();
        let answer = client.put("x", "2");
        let waited = Duration::from_nanos(cluster.clock().now_ns() - started);
        assert!(
            matches!(&answer, Err(Error::Unavailable(why)) if why.contains("no leader")),
            "seed {seed}: {answer:?}"
        );
        // The hold timeout (600 ms by default), not the client's 30 s.
        assert!(waited < Duration::from_secs(1), "seed {seed}: {waited:?}");
        // Nothing was done: once a majority is back, x is still 1.
        let back = cluster.nodes().into_iter().find(|&n| n != alone).unwrap();
        cluster.restart(back).unwrap();
        cluster.run_for(Duration::from_secs(1));
        assert_eq!(client.get("x").unwrap(), Some(b"1".to_vec()), "seed {seed}");
        assert!(Checker::new().check(&cluster.history()).is_linearizable());
    }
}
