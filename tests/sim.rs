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
