//! The replicated queue (`replikv::queue`) on the simulator: order,
//! redelivery, dead letters, durability across crashes, and no acknowledged
//! message lost under loss, duplication, partitions and node crashes —
//! with exactly-once effects only when the consumer deduplicates.

use replikv::queue::run::QueueRun;
use replikv::queue::{Queue, QueueConfig};
use replikv::{Cluster, Consistency, Error, Runtime};
use std::time::Duration;

fn raft(seed: u64) -> Cluster {
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .seed(seed)
        .build()
        .expect("a simulated Raft cluster")
}

fn config(visibility_secs: u64, max_deliveries: u32) -> QueueConfig {
    QueueConfig {
        visibility_timeout: Duration::from_secs(visibility_secs),
        max_deliveries,
    }
}

#[test]
fn one_consumer_that_acks_each_message_sees_send_order() {
    let cluster = raft(1);
    let mut producer = Queue::open(&cluster, "fifo", config(5, 3)).unwrap();
    let mut consumer = Queue::open(&cluster, "fifo", config(5, 3)).unwrap();
    let sent: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    for body in &sent {
        producer.send(body).unwrap();
    }
    let mut seen = Vec::new();
    while let Some(d) = consumer.receive().unwrap() {
        assert_eq!(d.delivery, 1, "no redelivery without a timeout");
        assert!(consumer.ack(&d).unwrap());
        seen.push(String::from_utf8(d.body).unwrap());
    }
    assert_eq!(seen, sent);
}

#[test]
fn a_redelivered_message_comes_after_later_ones_already_delivered() {
    let cluster = raft(2);
    let mut queue = Queue::open(&cluster, "reorder", config(2, 5)).unwrap();
    for body in ["a", "b", "c"] {
        queue.send(body).unwrap();
    }
    let a = queue.receive().unwrap().unwrap();
    assert_eq!(a.body, b"a");
    // "a" is never acknowledged; "b" is handled meanwhile.
    let b = queue.receive().unwrap().unwrap();
    assert_eq!(b.body, b"b");
    assert!(queue.ack(&b).unwrap());
    cluster.run_for(Duration::from_secs(3));
    let again = queue.receive().unwrap().unwrap();
    assert_eq!((again.body.as_slice(), again.delivery), (&b"a"[..], 2));
    // The stale delivery's ack is refused: its work may be redone.
    assert!(!queue.ack(&a).unwrap());
    assert!(queue.ack(&again).unwrap());
    let c = queue.receive().unwrap().unwrap();
    assert_eq!(c.body, b"c");
    let counts = queue.metrics().counts();
    assert_eq!(
        (counts.deliveries, counts.redeliveries, counts.stale_acks),
        (4, 1, 1)
    );
}

#[test]
fn a_message_never_acked_goes_to_the_dead_letter_queue_after_max_deliveries() {
    let cluster = raft(3);
    let mut queue = Queue::open(&cluster, "poison", config(1, 3)).unwrap();
    let id = queue.send("poison").unwrap();
    for n in 1..=3 {
        let d = queue.receive().unwrap().expect("delivered again");
        assert_eq!((d.id, d.delivery), (id, n));
        cluster.run_for(Duration::from_millis(1500));
    }
    assert_eq!(
        queue.receive().unwrap(),
        None,
        "dead, not delivered a 4th time"
    );
    assert_eq!(queue.metrics().counts().dead_lettered, 1);
    let mut dead = Queue::open(&cluster, queue.dead_letter_queue(), config(1, 3)).unwrap();
    let d = dead.receive().unwrap().expect("in the dead-letter queue");
    assert_eq!((d.id, d.body.as_slice()), (id, &b"poison"[..]));
}

#[test]
fn acknowledged_messages_survive_the_crash_and_restart_of_every_node() {
    let cluster = raft(4);
    let mut producer = Queue::open(&cluster, "durable", config(5, 3)).unwrap();
    let ids: Vec<_> = (0..5)
        .map(|i| producer.send(format!("m{i}")).unwrap())
        .collect();
    for node in cluster.nodes() {
        cluster.crash(node).unwrap();
    }
    for node in cluster.nodes() {
        cluster.restart(node).unwrap();
    }
    cluster.run_for(Duration::from_secs(2));
    let mut consumer = Queue::open(&cluster, "durable", config(5, 3)).unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        match consumer.receive() {
            Ok(Some(d)) => {
                got.push(d.id);
                consumer.ack(&d).unwrap();
            }
            Ok(None) if got.len() == ids.len() => break,
            _ => cluster.run_for(Duration::from_millis(200)),
        }
    }
    assert_eq!(got, ids);
}

#[test]
fn a_queue_needs_consensus_and_refuses_bad_settings() {
    let strong = Cluster::builder()
        .runtime(Runtime::Simulated)
        .consistency(Consistency::Strong)
        .build()
        .unwrap();
    assert!(matches!(
        Queue::open(&strong, "q", QueueConfig::default()),
        Err(Error::Unsupported(_))
    ));
    let cluster = raft(5);
    for (name, cfg) in [
        ("", QueueConfig::default()),
        ("a/b", QueueConfig::default()),
        ("q", config(0, 3)),
        ("q", config(1, 0)),
    ] {
        assert!(
            matches!(
                Queue::open(&cluster, name, cfg),
                Err(Error::InvalidConfig(_))
            ),
            "{name:?} {cfg:?}"
        );
    }
    let mut a = Queue::open(&cluster, "a", QueueConfig::default()).unwrap();
    let mut b = Queue::open(&cluster, "b", QueueConfig::default()).unwrap();
    a.send("x").unwrap();
    let d = a.receive().unwrap().unwrap();
    assert!(matches!(b.ack(&d), Err(Error::InvalidConfig(_))));
    let too_big = vec![0u8; replikv::MAX_VALUE_LEN];
    assert!(matches!(a.send(too_big), Err(Error::ValueTooLong { .. })));
}

#[test]
fn a_crashing_consumer_causes_redeliveries_never_a_loss() {
    for seed in 1..=3 {
        let report = QueueRun {
            seed,
            consumer_crash: 0.3,
            ..QueueRun::default()
        }
        .run()
        .unwrap();
        assert!(report.drained, "seed {seed}: {report:?}");
        assert!(
            report.lost.is_empty(),
            "seed {seed}: lost {:?}",
            report.lost
        );
        assert_eq!(report.acknowledged_sends, 40, "seed {seed}");
        assert!(
            report.counts.redeliveries > 0,
            "seed {seed}: crashes must cause redeliveries"
        );
        assert_eq!(report.duplicated_effects, 0, "seed {seed}: dedup is on");
        // Latency is measured send to ack on the cluster clock: a message
        // redelivered after a crash waited at least its visibility timeout.
        assert_eq!(report.latency.count, report.counts.acked, "seed {seed}");
        assert!(
            report.latency.p50_ns > 0,
            "seed {seed}: {:?}",
            report.latency
        );
        assert!(
            report.latency.max_ns >= 2_000_000_000,
            "seed {seed}: {:?}",
            report.latency
        );
        assert!(
            report.depth.iter().any(|d| d.in_flight > 0),
            "seed {seed}: depth sampled"
        );
    }
}

#[test]
fn without_dedup_effects_are_duplicated_and_with_it_they_are_not() {
    let faulty = QueueRun {
        seed: 7,
        consumer_crash: 0.3,
        ..QueueRun::default()
    };
    let naive = QueueRun {
        dedup: false,
        ..faulty.clone()
    }
    .run()
    .unwrap();
    let deduped = faulty.run().unwrap();
    assert!(naive.lost.is_empty() && deduped.lost.is_empty());
    assert!(naive.duplicated_effects > 0, "{naive:?}");
    assert_eq!(deduped.duplicated_effects, 0, "{deduped:?}");
    assert_eq!(
        deduped.effects, deduped.acknowledged_sends,
        "each applied once"
    );
}

#[test]
fn no_acknowledged_message_is_lost_under_loss_duplication_partitions_and_crashes() {
    for seed in 11..=12 {
        let report = QueueRun {
            seed,
            messages: 30,
            drop: 0.05,
            duplicate: 0.05,
            node_crashes: true,
            partitions: true,
            ..QueueRun::default()
        }
        .run()
        .unwrap();
        assert!(report.drained, "seed {seed}: {report:?}");
        assert!(
            report.lost.is_empty(),
            "seed {seed}: lost {:?}",
            report.lost
        );
        assert_eq!(report.duplicated_effects, 0, "seed {seed}");
    }
}
