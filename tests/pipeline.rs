//! Pipelined clients: many operations in flight from one client, each
//! recorded in the history exactly as a blocking one.

use replikv::client::Op;
use replikv::history::{CheckResult, Checker, lost_writes};
use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Cluster, Consistency, CoordinatorPolicy, Error, Runtime, StorageKind};
use std::time::Duration;

fn linearizable(cluster: &Cluster) -> bool {
    matches!(
        Checker::new()
            .time_budget(Duration::from_secs(60))
            .check(&cluster.history()),
        CheckResult::Linearizable
    )
}

#[test]
fn a_pipelined_client_keeps_many_operations_in_flight_on_both_runtimes() -> replikv::Result<()> {
    for runtime in [Runtime::Threads, Runtime::Simulated] {
        let cluster = Cluster::builder()
            .runtime(runtime)
            .consistency(Consistency::Strong)
            .storage(StorageKind::Memory)
            .latency(Latency::Fixed(Duration::from_millis(2)))
            .build()?;
        let mut client = cluster.client()?;
        let tickets = (0..16)
            .map(|i| client.submit(Op::put(format!("k{}", i % 4), format!("v{i}"))))
            .collect::<replikv::Result<Vec<_>>>()?;
        assert_eq!(client.in_flight(), 16, "{runtime}");
        for ticket in tickets {
            client.wait(ticket)?;
        }
        assert_eq!(client.in_flight(), 0);
        let history = cluster.history();
        assert_eq!(history.ops.len(), 16, "{runtime}: every operation recorded");
        assert!(history.ops.iter().all(|op| op.ok), "{runtime}");
        // All 16 were invoked before the first returned: they overlapped.
        let first_return = history.ops.iter().filter_map(|op| op.return_ns).min();
        let last_call = history.ops.iter().map(|op| op.call_ns).max();
        assert!(
            last_call < first_return,
            "{runtime}: operations did not overlap"
        );
        assert!(linearizable(&cluster), "{runtime}");
    }
    Ok(())
}

#[test]
fn while_the_client_waits_an_answer_is_recorded_when_it_arrives() -> replikv::Result<()> {
    let hop = Duration::from_millis(5);
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .consistency(Consistency::SingleCopy)
        .latency(Latency::Fixed(hop))
        .build()?;
    let mut client = cluster.client()?;
    let tickets = ["a", "b", "c", "d"]
        .iter()
        .map(|k| client.submit(Op::put(k, "v")))
        .collect::<replikv::Result<Vec<_>>>()?;
    // Wait for the *last* ticket first: the others' answers arrive while
    // the client waits for it, and are stamped as they arrive.
    client.wait(tickets[3])?;
    for &ticket in &tickets[..3] {
        client.wait(ticket)?;
    }
    for op in cluster.history().ops {
        // Client → coordinator (→ owner) → client: two or three hops.
        let took = op.return_ns.map(|r| r - op.call_ns);
        assert!(
            took.is_some_and(|t| t >= 2 * hop.as_nanos() as u64 && t <= 3 * hop.as_nanos() as u64),
            "{op:?} took {took:?}"
        );
    }
    // An answer the client was not waiting for is stamped when it is seen:
    // later than it arrived, never earlier (the interval only widens).
    let ticket = client.submit(Op::put("e", "v"))?;
    cluster.run_for(Duration::from_secs(1));
    client.wait(ticket)?;
    let history = cluster.history();
    let last = history
        .ops
        .last()
        .and_then(|op| op.return_ns.map(|r| r - op.call_ns));
    assert_eq!(last, Some(1_000_000_000));
    Ok(())
}

#[test]
fn timeouts_of_pipelined_operations_are_indeterminate() -> replikv::Result<()> {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .client_timeout(Duration::from_millis(50))
        .build()?;
    cluster.network().set_drop_probability(1.0)?;
    let mut client = cluster.client()?;
    let tickets = (0..4)
        .map(|i| client.submit(Op::put(format!("k{i}"), "v")))
        .collect::<replikv::Result<Vec<_>>>()?;
    for ticket in tickets {
        assert!(matches!(client.wait(ticket), Err(Error::Timeout(_))));
    }
    let history = cluster.history();
    assert_eq!(history.ops.len(), 4);
    assert!(history.ops.iter().all(|op| op.is_indeterminate()));
    Ok(())
}

#[test]
fn a_client_refuses_more_than_the_window_and_unknown_tickets() -> replikv::Result<()> {
    let cluster = Cluster::builder().runtime(Runtime::Simulated).build()?;
    let mut client = cluster.client()?;
    let window = replikv::protocol::REQUEST_WINDOW as usize;
    let mut tickets = Vec::new();
    for i in 0..window {
        tickets.push(client.submit(Op::put(format!("k{i}"), "v"))?);
    }
    assert!(matches!(
        client.submit(Op::put("one-too-many", "v")),
        Err(Error::InvalidConfig(_))
    ));
    let first = tickets[0];
    client.wait(first)?;
    assert!(client.wait(first).is_err(), "a ticket is collected once");
    // Bad input is refused at submit time and reported when collected.
    let empty = client.submit(Op::put("", "v"))?;
    assert!(matches!(client.wait(empty), Err(Error::EmptyKey)));
    while client.wait_any().is_some() {}
    Ok(())
}

fn pipelined(consistency: Consistency, seed: u64) -> Experiment {
    Experiment {
        nodes: 5,
        replicas: 3,
        consistency,
        runtime: Runtime::Simulated,
        workload: Workload {
            clients: 3,
            ops_per_client: 120,
            keys: 3,
            in_flight: 8,
            seed,
            ..Workload::default()
        },
        latency: Latency::Pareto {
            scale: Duration::from_micros(500),
            shape: 1.3,
        },
        drop: 0.05,
        duplicate: 0.2,
        nemesis: Nemesis {
            kind: NemesisKind::Crash,
            interval: Duration::from_millis(10),
            seed,
        },
        client_timeout: Duration::from_millis(200),
        coordinator: CoordinatorPolicy::Random,
        seed,
        ..Experiment::default()
    }
}

#[test]
fn pipelined_strong_stays_linearizable_under_duplication_loss_and_crashes() -> replikv::Result<()> {
    for seed in 1..=10 {
        let report = pipelined(Consistency::Strong, seed).run(&mut |_| {})?;
        assert_eq!(report.ops, 360, "seed {seed}");
        assert_eq!(
            report.linearizable,
            Some(true),
            "seed {seed}: not linearizable with 8 operations in flight per client"
        );
    }
    Ok(())
}

#[test]
fn pipelined_eventual_converges_without_losing_acknowledged_writes() -> replikv::Result<()> {
    for seed in 1..=10 {
        let mut experiment = pipelined(Consistency::Eventual { r: 2, w: 2 }, seed);
        experiment.check_linearizability = false;
        let (report, history) = experiment.run_with_history(&mut |_| {})?;
        assert_eq!(report.converged, Some(true), "seed {seed}");
        assert_eq!(report.lost_writes, Some(0), "seed {seed}");
        assert!(!history.ops.is_empty());
        let _ = lost_writes; // judged by the report's own analysis
    }
    Ok(())
}

#[test]
fn requests_overtaking_one_another_all_run() -> replikv::Result<()> {
    // Heavy-tailed latency reorders a client's requests on the way to the
    // coordinator; with several in flight, a later-numbered one often
    // arrives first. Each must still run once: no loss, so no timeout.
    let mut experiment = pipelined(Consistency::Strong, 7);
    experiment.drop = 0.0;
    experiment.duplicate = 0.0;
    experiment.nemesis.kind = NemesisKind::None;
    experiment.coordinator = CoordinatorPolicy::First;
    experiment.client_timeout = Duration::from_secs(10);
    experiment.latency = Latency::Exponential {
        mean: Duration::from_millis(1),
    };
    let report = experiment.run(&mut |_| {})?;
    assert_eq!(
        report.errors.timeout, 0,
        "requests were dropped as duplicates"
    );
    assert_eq!(report.linearizable, Some(true));
    Ok(())
}

#[test]
fn a_duplicated_answer_does_not_lose_the_operation() -> replikv::Result<()> {
    for runtime in [Runtime::Simulated, Runtime::Threads] {
        let cluster = Cluster::builder()
            .runtime(runtime)
            .storage(StorageKind::Memory)
            .build()?;
        // Every message twice: each answer reaches the client twice.
        cluster.network().set_duplicate_probability(1.0)?;
        let mut client = cluster.client()?;
        for i in 0..20 {
            client.put(format!("k{i}"), "v")?;
            assert_eq!(
                client.get(format!("k{i}"))?,
                Some(b"v".to_vec()),
                "{runtime}"
            );
        }
    }
    Ok(())
}
