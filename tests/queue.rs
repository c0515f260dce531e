//! The replicated queue (`replikv::queue`) on the simulator: order,
//! redelivery, dead letters, durability across crashes, and no acknowledged
//! message lost under loss, duplication, partitions and node crashes —
//! with exactly-once effects only when the consumer deduplicates.

use replikv::queue::run::{QueueRun, QueueRunReport};
use replikv::queue::{Queue, QueueConfig};
use replikv::storage::Durability;
use replikv::{Cluster, ClusterBuilder, Consistency, Error, Runtime};
use std::time::Duration;

fn raft_builder(seed: u64) -> ClusterBuilder {
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .durability(Durability::FlushBeforeAck)
        .seed(seed)
}

fn raft(seed: u64) -> Cluster {
    raft_builder(seed)
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
    let mut dead = Queue::open(&cluster, queue.dead_letter_queue().unwrap(), config(1, 3)).unwrap();
    let d = dead.receive().unwrap().expect("in the dead-letter queue");
    assert_eq!((d.id, d.body.as_slice()), (id, &b"poison"[..]));
}

#[test]
fn acknowledged_messages_survive_the_crash_and_restart_of_every_node() {
    // A crash costs what a power cut costs: unflushed writes are gone.
    let cluster = raft_builder(4)
        .lose_unflushed_on_crash(true)
        .build()
        .unwrap();
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
        assert_drained_losing_nothing(seed, &report);
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
        assert_drained_losing_nothing(seed, &report);
        assert_eq!(report.duplicated_effects, 0, "seed {seed}");
    }
}

/// The run drained its queue and every acknowledged send reached a consumer.
fn assert_drained_losing_nothing(seed: u64, report: &QueueRunReport) {
    assert!(report.drained, "seed {seed}: {report:?}");
    assert!(
        report.lost.is_empty(),
        "seed {seed}: lost {:?}",
        report.lost
    );
}

/// Receives and acknowledges until `want` messages came, within a bounded
/// number of tries (the cluster may be electing a leader).
fn drain(cluster: &Cluster, queue: &mut Queue, want: usize) -> Vec<replikv::queue::MessageId> {
    let mut got = Vec::new();
    for _ in 0..100 {
        match queue.receive() {
            Ok(Some(d)) => {
                got.push(d.id);
                while queue.ack(&d).is_err() {
                    cluster.run_for(Duration::from_millis(200));
                }
            }
            Ok(None) if got.len() >= want => break,
            _ => cluster.run_for(Duration::from_millis(200)),
        }
    }
    got
}

#[test]
fn acknowledged_sends_survive_rolling_crashes_that_lose_unflushed_writes() {
    // The crate's power-cut model: each node in turn crashes (never more
    // than one down) and forgets what it had not flushed. Under
    // FlushBeforeAck nothing acknowledged is lost.
    for seed in 1..=2 {
        let cluster = raft_builder(seed)
            .lose_unflushed_on_crash(true)
            .build()
            .unwrap();
        let mut producer = Queue::open(&cluster, "rolling", config(5, 3)).unwrap();
        let ids: Vec<_> = (0..5)
            .map(|i| producer.send(format!("m{i}")).unwrap())
            .collect();
        for node in cluster.nodes() {
            cluster.crash(node).unwrap();
            cluster.run_for(Duration::from_secs(2));
            cluster.restart(node).unwrap();
            cluster.run_for(Duration::from_secs(2));
        }
        let mut consumer = Queue::open(&cluster, "rolling", config(5, 3)).unwrap();
        let got = drain(&cluster, &mut consumer, ids.len());
        assert_eq!(got, ids, "seed {seed}: every acknowledged send, in order");
    }
}

#[test]
fn a_queue_refuses_a_cluster_that_does_not_flush_before_acknowledging() {
    // Periodic durability (the default) loses acknowledged writes on a
    // power cut, which would break the queue's promise.
    let periodic = Cluster::builder()
        .runtime(Runtime::Simulated)
        .consistency(Consistency::Consensus)
        .build()
        .unwrap();
    let refused = Queue::open(&periodic, "q", QueueConfig::default());
    assert!(
        matches!(&refused, Err(Error::InvalidConfig(why)) if why.contains("FlushBeforeAck")),
        "{refused:?}"
    );
}

#[test]
fn a_body_at_the_limit_is_delivered_and_one_byte_more_is_refused() {
    let cluster = raft(21);
    let mut queue = Queue::open(&cluster, "big", config(1, 5)).unwrap();
    let Err(Error::ValueTooLong { max, .. }) = queue.send(vec![1u8; replikv::MAX_VALUE_LEN]) else {
        panic!("a body of MAX_VALUE_LEN bytes leaves no room for the record");
    };
    assert!(max < replikv::MAX_VALUE_LEN);
    assert!(matches!(
        queue.send(vec![1u8; max + 1]),
        Err(Error::ValueTooLong { len, max: m }) if len == max + 1 && m == max
    ));
    let big = queue.send(vec![1u8; max]).unwrap();
    let next = queue.send("behind it").unwrap();
    // Delivered, and delivered again (a larger count) after its timeout.
    for n in 1..=3 {
        let d = queue.receive().unwrap().expect("the big message");
        assert_eq!((d.id, d.delivery, d.body.len()), (big, n, max));
        cluster.run_for(Duration::from_millis(1500));
    }
    let d = queue.receive().unwrap().unwrap();
    assert_eq!(d.id, big);
    assert!(queue.ack(&d).unwrap());
    let d = queue.receive().unwrap().expect("the message behind it");
    assert_eq!(d.id, next);
}

#[test]
fn a_message_in_flight_at_the_front_does_not_hide_thousands_behind_it() {
    // Slot 0 stays in flight (never acknowledged, long timeout) while
    // 4,100 messages behind it are sent and acknowledged: more than any
    // fixed scan window. The next message must still be delivered.
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(1)
        .consistency(Consistency::Consensus)
        .durability(Durability::FlushBeforeAck)
        .record_history(false)
        .seed(22)
        .build()
        .unwrap();
    let mut queue = Queue::open(&cluster, "front", config(3600, 5)).unwrap();
    queue.send("stuck").unwrap();
    let stuck = queue.receive().unwrap().unwrap();
    for i in 0..4100 {
        queue.send(format!("m{i}")).unwrap();
        let d = queue.receive().unwrap().expect("delivered");
        assert!(queue.ack(&d).unwrap());
    }
    let last = queue.send("last").unwrap();
    // A fresh handle (nothing remembered) and the old one both see it.
    let mut fresh = Queue::open(&cluster, "front", config(3600, 5)).unwrap();
    let depth = fresh.depth().unwrap();
    assert_eq!((depth.visible, depth.in_flight), (1, 1));
    let d = fresh
        .receive()
        .unwrap()
        .expect("not hidden by the stuck message");
    assert_eq!(d.id, last);
    assert!(fresh.ack(&d).unwrap());
    assert!(queue.ack(&stuck).unwrap());
    assert_eq!(queue.receive().unwrap(), None);
}

#[test]
fn a_queue_name_of_the_longest_length_has_a_dead_letter_queue() {
    let cluster = raft(23);
    let name = "n".repeat(replikv::queue::MAX_QUEUE_NAME_LEN);
    let mut queue = Queue::open(&cluster, &name, config(1, 1)).unwrap();
    let id = queue.send("poison").unwrap();
    queue.receive().unwrap().unwrap();
    cluster.run_for(Duration::from_millis(1500));
    assert_eq!(queue.receive().unwrap(), None, "dead-lettered");
    assert_eq!(queue.metrics().counts().dead_lettered, 1);
    let dead_name = queue.dead_letter_queue().unwrap().to_string();
    let mut dead = Queue::open(&cluster, &dead_name, config(1, 1)).unwrap();
    assert_eq!(dead.receive().unwrap().map(|d| d.id), Some(id));
    let too_long = "n".repeat(replikv::queue::MAX_QUEUE_NAME_LEN + 1);
    assert!(matches!(
        Queue::open(&cluster, &too_long, config(1, 1)),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn queue_names_are_restricted_and_dot_dead_names_the_dead_letter_queue() {
    let cluster = raft(24);
    for bad in ["a b", "a\nb", "a\0b", "é", ".dead", "x.dead.dead", "a/b"] {
        let refused = Queue::open(&cluster, bad, QueueConfig::default());
        assert!(
            matches!(&refused, Err(Error::InvalidConfig(why)) if why.contains("A-Z a-z 0-9")),
            "{bad:?}: {refused:?}"
        );
    }
    for good in ["orders.placed", "a-b_c.9", "x.dead"] {
        Queue::open(&cluster, good, QueueConfig::default()).unwrap();
    }
    // "x.dead" is x's dead-letter queue, which has none of its own, and
    // whose poison messages are redelivered rather than moved further.
    let mut dead = Queue::open(&cluster, "x.dead", config(1, 1)).unwrap();
    assert_eq!(dead.dead_letter_queue(), None);
    dead.send("again and again").unwrap();
    for n in 1..=3 {
        let d = dead.receive().unwrap().expect("redelivered");
        assert_eq!(d.delivery, n);
        cluster.run_for(Duration::from_millis(1500));
    }
    assert_eq!(dead.metrics().counts().dead_lettered, 0);
}
