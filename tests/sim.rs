//! The deterministic simulator: same seed, same run, byte for byte.

use replikv::history::History;
use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Consistency, CoordinatorPolicy, Runtime};
use std::time::Duration;

fn experiment(consistency: Consistency, seed: u64) -> Experiment {
    Experiment {
        nodes: 5,
        replicas: 3,
        consistency,
        runtime: Runtime::Simulated,
        workload: Workload {
            clients: 4,
            ops_per_client: 100,
            keys: 3,
            seed,
            ..Workload::default()
        },
        latency: Latency::Exponential {
            mean: Duration::from_millis(1),
        },
        drop: 0.05,
        duplicate: 0.05,
        nemesis: Nemesis {
            kind: NemesisKind::All,
            interval: Duration::from_millis(20),
            seed,
        },
        client_timeout: Duration::from_millis(200),
        coordinator: CoordinatorPolicy::Random,
        seed,
        ..Experiment::default()
    }
}

fn run(e: &Experiment) -> (String, String) {
    let (report, history): (_, History) = e.run_with_history(&mut |_| {}).expect("runs");
    (report.to_json(), history.to_json())
}

#[test]
fn the_same_seed_gives_the_same_history_and_report_byte_for_byte() {
    for consistency in [
        Consistency::Strong,
        Consistency::Eventual { r: 1, w: 1 },
        Consistency::SingleCopy,
    ] {
        let e = experiment(consistency, 11);
        let (report_a, history_a) = run(&e);
        let (report_b, history_b) = run(&e);
        assert_eq!(history_a, history_b, "{consistency:?}: histories differ");
        assert_eq!(report_a, report_b, "{consistency:?}: reports differ");
    }
}

/// Everything a run can involve, at once, driven by hand on one thread:
/// a tiny read cache (so it evicts and expires), loss, duplication and
/// random latency, hints and anti-entropy (eventual), clock skew, a crash
/// and a restart, a pause, a partition, and a node added and another
/// removed mid-run. Returns what a run leaves behind, as text.
fn everything_at_once(consistency: Consistency, seed: u64) -> replikv::Result<Vec<String>> {
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use replikv::cache::CacheConfig;
    use replikv::{Cluster, NodeId};

    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(5)
        .replication(3)
        .consistency(consistency)
        .hybrid_clock(seed % 2 == 1 && consistency != Consistency::Strong)
        .coordinator(CoordinatorPolicy::Random)
        .read_cache(CacheConfig::new(3, Duration::from_millis(40)))
        .latency(Latency::Exponential {
            mean: Duration::from_millis(1),
        })
        .client_timeout(Duration::from_millis(700))
        .seed(seed)
        .build()?;
    cluster.network().set_drop_probability(0.05)?;
    cluster.network().set_duplicate_probability(0.05)?;
    let mut clients = [cluster.client()?, cluster.client()?, cluster.client()?];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut events = Vec::new();
    for step in 0..160u32 {
        match step {
            20 => cluster.set_clock_skew(NodeId(3), -2_000_000_000)?,
            30 => events.push(format!("{:?}", cluster.add_node()?)),
            45 => cluster.crash(NodeId(1))?,
            60 => cluster.restart(NodeId(1))?,
            70 => cluster.pause(NodeId(2), Duration::from_millis(50))?,
            80 => cluster.network().isolate(NodeId(4))?,
            100 => cluster.network().heal(),
            120 => events.push(format!("{:?}", cluster.remove_node(NodeId(0))?)),
            _ => {}
        }
        let client = &mut clients[rng.random_range(0..3)];
        let key = format!("k{}", rng.random_range(0..8));
        let result = if rng.random_bool(0.5) {
            client.get(&key).map(|v| format!("{v:?}"))
        } else {
            client.put(&key, format!("v{step}")).map(|()| "ok".into())
        };
        events.push(format!("{step}: {result:?}"));
        if step % 25 == 0 {
            cluster.run_for(Duration::from_millis(30));
        }
    }
    cluster.network().clear_faults();
    let converged = cluster.wait_for_convergence(Duration::from_secs(30))?;
    let caches: Vec<String> = clients
        .iter()
        .map(|c| format!("{:?}", c.cache().map(|c| c.stats())))
        .collect();
    Ok(vec![
        cluster.history().to_json(),
        format!("{:?}", cluster.metrics()),
        format!("{converged} {:?}", cluster.final_values()?),
        format!("{} ns {caches:?}", cluster.clock().now_ns()),
        events.join("\n"),
    ])
}

#[test]
fn every_feature_at_once_replays_byte_for_byte() -> replikv::Result<()> {
    for consistency in [Consistency::Strong, Consistency::Eventual { r: 1, w: 1 }] {
        for seed in [3, 4] {
            let a = everything_at_once(consistency, seed)?;
            let b = everything_at_once(consistency, seed)?;
            for (what, (a, b)) in [
                "history",
                "metrics",
                "final values",
                "clock and caches",
                "events",
            ]
            .iter()
            .zip(a.iter().zip(&b))
            {
                assert_eq!(a, b, "{consistency:?}, seed {seed}: {what} differ");
            }
            // The run exercised what it claims to.
            assert!(
                a[3].contains("evictions: ") && !a[3].contains("evictions: 0,"),
                "{}",
                a[3]
            );
            assert!(
                a[4].contains("Timeout"),
                "{consistency:?}, seed {seed}: no timeout"
            );
        }
    }
    Ok(())
}

#[test]
fn check_determinism_finds_every_mode_the_same_twice_under_every_fault() {
    for consistency in [
        Consistency::Strong,
        Consistency::Eventual { r: 1, w: 1 },
        Consistency::Eventual { r: 2, w: 2 },
        Consistency::SingleCopy,
    ] {
        let e = experiment(consistency, 12);
        let check = e.check_determinism(&mut |_| {}).expect("runs");
        assert_eq!(check.divergence, None, "{consistency:?}");
        // The trace was kept: at least a request or an answer per operation.
        assert!(
            check.events >= 400,
            "{consistency:?}: only {} events",
            check.events
        );
        assert_eq!(check.report.ops, 400);
    }
}

#[test]
fn the_determinism_check_names_the_first_operation_that_differs() {
    use replikv::history::{OpKind, Operation};
    use replikv::lab::first_history_difference;
    let op = |client: u64, value: &str, return_ns: u64| Operation {
        client: replikv::ClientId(client),
        key: b"k".to_vec(),
        kind: OpKind::Put,
        value: Some(value.as_bytes().to_vec()),
        output: None,
        expected: None,
        swapped: None,
        ok: true,
        call_ns: 100,
        return_ns: Some(return_ns),
        cached: false,
    };
    let a = History::new(vec![op(1, "a", 200), op(2, "b", 300), op(1, "c", 400)]);
    let b = History::new(vec![op(1, "a", 200), op(2, "b", 350), op(1, "c", 400)]);
    let d = first_history_difference(&a, &b).expect("they differ");
    let message = d.to_string();
    assert!(message.contains("history operation 1"), "{message}");
    assert!(message.contains(r#""return_ns":300"#), "{message}");
    assert!(message.contains(r#""return_ns":350"#), "{message}");
    // A shorter history differs where it ends.
    let short = History::new(a.ops[..2].to_vec());
    let d = first_history_difference(&a, &short).expect("one is shorter");
    assert_eq!(d.at, "history operation 2");
}

#[test]
fn the_determinism_check_refuses_threads() {
    let e = Experiment {
        runtime: Runtime::Threads,
        ..experiment(Consistency::Strong, 1)
    };
    assert!(matches!(
        e.check_determinism(&mut |_| {}),
        Err(replikv::Error::InvalidConfig(_))
    ));
}

#[test]
fn a_finished_client_that_receives_a_late_duplicate_does_not_stall_the_run() {
    // Seed 3 of this configuration once spun for ever: a client that had
    // finished got a late duplicate of its last answer, which woke the
    // loop again and again without moving virtual time.
    let e = Experiment {
        workload: Workload {
            clients: 4,
            ops_per_client: 50,
            keys: 2,
            seed: 3,
            ..Workload::default()
        },
        duplicate: 0.2,
        nemesis: Nemesis {
            kind: NemesisKind::All,
            interval: Duration::from_millis(20),
            seed: 3,
        },
        check_linearizability: false,
        seed: 3,
        ..experiment(Consistency::Strong, 3)
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(e.run(&mut |_| {}).map(|r| r.ops));
    });
    let ops = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the simulated run did not finish within 120 s (seed 3)");
    assert_eq!(ops.expect("runs"), 200);
}

#[test]
fn staleness_on_the_simulator_meets_the_pure_model_and_repeats() {
    use replikv::lab::pbs::StalenessExperiment;
    let experiment = StalenessExperiment {
        runtime: Runtime::Simulated,
        trials_per_t: 2000,
        model_trials: 100_000,
        seed: 5,
        ..StalenessExperiment::default()
    };
    let curve = experiment.run().expect("runs");
    // No calibration on the simulator: the model is the pure one.
    assert_eq!(curve.overheads, replikv::lab::pbs::Overheads::NONE);
    for p in &curve.points {
        assert_eq!(p.trials, 2000, "t = {:?}: every trial completes", p.t);
        assert_eq!(
            p.lag,
            Duration::ZERO,
            "t = {:?}: reads start exactly on time",
            p.t
        );
        // The binomial 95% interval at 2000 trials is at most ±2.2 pp.
        let gap = (p.measured - p.predicted).abs() * 100.0;
        assert!(
            gap < 3.0,
            "t = {:?}: measured {:.3}, predicted {:.3}",
            p.t,
            p.measured,
            p.predicted
        );
    }
    let again = experiment.run().expect("runs");
    assert_eq!(
        curve.points, again.points,
        "the same seed gave another curve"
    );
}

#[test]
fn a_run_that_is_not_repeated_is_caught_at_the_first_event_that_differs() {
    use replikv::storage::{Durability, MemoryStorage, NodeStore, Record, StorageFactory, Version};
    use replikv::{NodeId, StorageKind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Nondeterminism smuggled in from outside the seed: the engines of the
    // second run (made after the first run's five) already hold a value.
    let made = Arc::new(AtomicUsize::new(0));
    let factory = StorageFactory::new(move |node: NodeId| {
        let engine = Arc::new(MemoryStorage::new());
        if made.fetch_add(1, Ordering::Relaxed) >= 5 {
            let store = NodeStore::new(node, engine.clone(), Durability::Periodic);
            let ghost = Record::value(Version::new(1_000, node), b"ghost".to_vec());
            store.put_record(b"key-0", &ghost)?;
        }
        Ok(engine)
    });
    let e = Experiment {
        storage: StorageKind::Custom(factory),
        ..experiment(Consistency::Strong, 4)
    };
    let check = e.check_determinism(&mut |_| {}).expect("runs");
    let d = check.divergence.expect("the second run differs");
    assert!(
        d.at.starts_with("event ") && d.at.ends_with(" of the simulated world"),
        "{d}"
    );
    assert!(
        d.first.contains("deliver") && d.second.contains("deliver"),
        "{d}"
    );
    assert_ne!(d.first, d.second);
    eprintln!("{d}");
}

/// A client that has finished its share can still receive mail — the late
/// answer to a request that timed out, or a duplicate. Nobody reads its
/// inbox any more, so the world must not stop for it: with seed 30 this
/// schedule (the one `benches/simulator.rs` sweeps) once spun forever
/// because the workload's wait ended on any client's mail.
#[test]
fn a_finished_clients_late_mail_does_not_stall_the_simulation() {
    let seed = 30;
    let experiment = Experiment {
        nodes: 3,
        replicas: 3,
        consistency: Consistency::Strong,
        runtime: Runtime::Simulated,
        workload: Workload {
            clients: 3,
            ops_per_client: 30,
            keys: 3,
            seed,
            ..Workload::default()
        },
        latency: Latency::Exponential {
            mean: Duration::from_millis(1),
        },
        drop: 0.02,
        duplicate: 0.02,
        nemesis: Nemesis {
            kind: NemesisKind::All,
            interval: Duration::from_millis(20),
            seed,
        },
        client_timeout: Duration::from_millis(200),
        seed,
        ..Experiment::default()
    };
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(experiment.run(&mut |_| {}).map(|r| r.ops));
    });
    // The run takes milliseconds; a minute means it is spinning.
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(ops) => assert_eq!(ops.expect("runs"), 90, "seed {seed}"),
        Err(_) => panic!("seed {seed}: the simulated run did not finish within a minute"),
    }
}
