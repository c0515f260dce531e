//! The simulated network's knobs do what they say, measured over many
//! messages. Every test is seeded; the seed is in each assertion message.

use replikv::network::{Envelope, EnvelopeInfo, Latency, Network, Payload, Verdict};
use replikv::{Clock, Endpoint, NodeId};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGES: u64 = 20_000;

fn network(nodes: usize, seed: u64) -> Network {
    Network::new(nodes, seed, Arc::new(Clock::new(nodes))).expect("network starts")
}

fn envelope(from: u32, to: u32) -> Envelope {
    Envelope::new(
        Endpoint::Node(NodeId(from)),
        Endpoint::Node(NodeId(to)),
        Payload::Peer(vec![0; 8]),
    )
}

/// `observed` is within `z` standard deviations of a binomial(n, p) mean.
fn assert_binomial(observed: u64, n: u64, p: f64, what: &str, seed: u64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    let z = 5.0; // false-failure odds below 1 in 1.7 million
    assert!(
        (observed as f64 - mean).abs() <= z * sd,
        "{what}: observed {observed} of {n}, expected {mean:.0} ± {:.0} (seed {seed})",
        z * sd
    );
}

#[test]
fn drop_rate_matches_the_setting() {
    for (seed, p) in [(1, 0.1), (2, 0.5), (3, 0.9)] {
        let net = network(2, seed);
        let inbox = net.attach_node(NodeId(1)).expect("attach");
        net.set_drop_probability(p).expect("valid probability");
        for _ in 0..MESSAGES {
            net.send(envelope(0, 1));
        }
        let stats = net.stats();
        assert_eq!(stats.sent, MESSAGES);
        assert_eq!(stats.delivered + stats.dropped, MESSAGES, "seed {seed}");
        assert_eq!(inbox.len() as u64, stats.delivered, "seed {seed}");
        assert_binomial(stats.dropped, MESSAGES, p, "dropped", seed);
        net.shutdown();
    }
}

#[test]
fn duplicate_rate_matches_the_setting() {
    for (seed, p) in [(4, 0.05), (5, 0.3)] {
        let net = network(2, seed);
        let inbox = net.attach_node(NodeId(1)).expect("attach");
        net.set_duplicate_probability(p).expect("valid probability");
        for _ in 0..MESSAGES {
            net.send(envelope(0, 1));
        }
        let stats = net.stats();
        assert_binomial(stats.duplicated, MESSAGES, p, "duplicated", seed);
        assert_eq!(
            inbox.len() as u64,
            MESSAGES + stats.duplicated,
            "every copy is delivered (seed {seed})"
        );
        net.shutdown();
    }
}

#[test]
fn latency_samples_have_the_configured_mean() {
    use rand::SeedableRng;
    let seed = 6;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let ms = Duration::from_millis;
    let cases = [
        Latency::Fixed(ms(3)),
        Latency::Uniform {
            min: ms(1),
            max: ms(5),
        },
        Latency::Exponential { mean: ms(2) },
        Latency::Pareto {
            scale: ms(1),
            shape: 3.0,
        },
    ];
    for latency in cases {
        let n = 100_000;
        let total: f64 = (0..n).map(|_| latency.sample(&mut rng).as_secs_f64()).sum();
        let sample_mean = total / n as f64;
        let mean = latency.mean().expect("these have a mean").as_secs_f64();
        // Standard error is at most mean·√3/√n for these; allow 5 of them.
        let tolerance = 5.0 * mean * 3f64.sqrt() / (n as f64).sqrt();
        assert!(
            (sample_mean - mean).abs() <= tolerance.max(1e-9),
            "{latency:?}: sample mean {sample_mean} vs {mean} (seed {seed})"
        );
    }
}

#[test]
fn invalid_fault_settings_are_rejected() {
    let net = network(2, 7);
    assert!(net.set_drop_probability(1.5).is_err());
    assert!(net.set_drop_probability(-0.1).is_err());
    assert!(net.set_duplicate_probability(f64::NAN).is_err());
    let bad = Latency::Uniform {
        min: Duration::from_millis(2),
        max: Duration::from_millis(1),
    };
    assert!(net.set_latency(bad).is_err());
    assert!(
        net.set_latency(Latency::Pareto {
            scale: Duration::from_millis(1),
            shape: 0.0
        })
        .is_err()
    );
    assert!(matches!(
        net.cut(NodeId(0), NodeId(9)),
        Err(replikv::Error::UnknownNode(NodeId(9)))
    ));
    assert!(
        net.partition(&[&[NodeId(0)], &[NodeId(0), NodeId(1)]])
            .is_err()
    );
    net.shutdown();
}

#[test]
fn delayed_messages_arrive_no_sooner_than_their_delay() {
    let net = network(2, 8);
    let inbox = net.attach_node(NodeId(1)).expect("attach");
    let delay = Duration::from_millis(20);
    net.set_latency(Latency::Fixed(delay)).expect("valid");
    let sent = Instant::now();
    for _ in 0..10 {
        net.send(envelope(0, 1));
    }
    for _ in 0..10 {
        inbox
            .recv_timeout(Duration::from_secs(10))
            .expect("delivered within the deadline");
        assert!(sent.elapsed() >= delay, "a message overtook its delay");
    }
    net.shutdown();
}

#[test]
fn random_delays_reorder_messages() {
    let seed = 9;
    let net = network(2, seed);
    let inbox = net.attach_node(NodeId(1)).expect("attach");
    net.set_latency(Latency::Uniform {
        min: Duration::ZERO,
        max: Duration::from_millis(10),
    })
    .expect("valid");
    for i in 0..200u32 {
        net.send(Envelope::new(
            Endpoint::Node(NodeId(0)),
            Endpoint::Node(NodeId(1)),
            Payload::Peer(i.to_le_bytes().to_vec()),
        ));
    }
    let mut order = Vec::new();
    for _ in 0..200 {
        let e = inbox
            .recv_timeout(Duration::from_secs(10))
            .expect("delivered");
        if let Payload::Peer(b) = e.payload {
            order.push(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
    }
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "no message overtook another (seed {seed})"
    );
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..200).collect::<Vec<_>>(),
        "every message arrived exactly once"
    );
    net.shutdown();
}

#[test]
fn a_partition_blocks_exactly_the_cut_links_and_heal_restores_them() {
    let net = network(4, 10);
    let inboxes: Vec<_> = (0..4)
        .map(|i| net.attach_node(NodeId(i)).expect("attach"))
        .collect();
    let left = [NodeId(0), NodeId(1)];
    let right = [NodeId(2), NodeId(3)];
    net.partition(&[&left, &right]).expect("valid partition");
    for from in 0..4u32 {
        for to in 0..4u32 {
            if from == to {
                continue;
            }
            let before = net.stats().dropped;
            net.send(envelope(from, to));
            let same_side = (from < 2) == (to < 2);
            let dropped = net.stats().dropped - before;
            assert_eq!(dropped, u64::from(!same_side), "link n{from}→n{to}");
            assert_eq!(net.is_cut(NodeId(from), NodeId(to)), !same_side);
        }
    }
    for (i, inbox) in inboxes.iter().enumerate() {
        assert_eq!(inbox.len(), 1, "n{i} hears only from its own side");
    }
    net.heal();
    for from in 0..4u32 {
        for to in (0..4u32).filter(|&t| t != from) {
            net.send(envelope(from, to));
            assert!(!net.is_cut(NodeId(from), NodeId(to)));
        }
    }
    for inbox in &inboxes {
        assert_eq!(
            inbox.len(),
            1 + 3,
            "after heal every node hears from all three others"
        );
    }
    net.shutdown();
}

#[test]
fn a_one_way_cut_blocks_one_direction_only() {
    let net = network(2, 11);
    let in0 = net.attach_node(NodeId(0)).expect("attach");
    let in1 = net.attach_node(NodeId(1)).expect("attach");
    net.cut(NodeId(0), NodeId(1)).expect("known nodes");
    net.send(envelope(0, 1));
    net.send(envelope(1, 0));
    assert_eq!(in1.len(), 0);
    assert_eq!(in0.len(), 1);
    net.shutdown();
}

#[test]
fn a_fault_hook_decides_what_it_is_asked_about() {
    let net = network(3, 12);
    let inbox = net.attach_node(NodeId(2)).expect("attach");
    net.set_fault_hook(|e: &EnvelopeInfo| match e.from {
        Endpoint::Node(NodeId(0)) => Some(Verdict::Drop),
        Endpoint::Node(NodeId(1)) => Some(Verdict::Duplicate(Duration::ZERO, Duration::ZERO)),
        _ => None,
    });
    net.send(envelope(0, 2));
    net.send(envelope(1, 2));
    let stats = net.stats();
    assert_eq!((stats.dropped, stats.duplicated), (1, 1));
    assert_eq!(inbox.len(), 2);
    net.clear_fault_hook();
    net.send(envelope(0, 2));
    assert_eq!(inbox.len(), 3);
    net.shutdown();
}

#[test]
fn messages_to_a_detached_node_are_dropped_and_counted() {
    let net = network(2, 13);
    let _inbox = net.attach_node(NodeId(1)).expect("attach");
    net.detach_node(NodeId(1)).expect("known");
    net.send(envelope(0, 1));
    assert_eq!(net.stats().dropped, 1);
    net.shutdown();
}

#[test]
fn node_links_scope_spares_client_links_only() {
    let net = network(2, 14);
    let node_inbox = net.attach_node(NodeId(1)).expect("attach");
    let client_inbox = net.attach_client(replikv::ClientId(7)).expect("attach");
    net.set_fault_scope(replikv::network::FaultScope::NodeLinks);
    net.set_drop_probability(1.0).unwrap();
    for _ in 0..50 {
        net.send(envelope(0, 1));
        net.send(Envelope::new(
            Endpoint::Node(NodeId(0)),
            Endpoint::Client(replikv::ClientId(7)),
            Payload::Peer(vec![1]),
        ));
    }
    assert_eq!(node_inbox.len(), 0, "every node-to-node message is lost");
    assert_eq!(
        client_inbox.len(),
        50,
        "every message to the client arrives"
    );
    assert_eq!(net.stats().dropped, 50);
    net.shutdown();
}
