//! Latency by message kind and on client links: which setting a message
//! gets (its link's, else the client latency or its kind's, else the
//! global one), the kinds the client and the node core write on their
//! envelopes, and mixtures drawn through the network.

use replikv::network::{
    Envelope, EnvelopeInfo, FaultScope, Latency, MessageKind, Network, Payload, Verdict,
};
use replikv::protocol::{Eventual, EventualConfig, Request, Response};
use replikv::{ClientId, Clock, Cluster, Consistency, Endpoint, NodeId, Runtime};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

fn node(n: u32) -> Endpoint {
    Endpoint::Node(NodeId(n))
}

fn peer(kind: MessageKind) -> Envelope {
    Envelope {
        kind,
        ..Envelope::new(node(0), node(1), Payload::Peer(vec![1, 2, 3]))
    }
}

/// Sends `envelope` and returns how long it took to arrive at `inbox`
/// (real time on a threaded network; `None` after 2 s).
fn travel(
    net: &Network,
    inbox: &replikv::crossbeam_channel::Receiver<Envelope>,
    envelope: Envelope,
) -> Option<Duration> {
    let sent = Instant::now();
    net.send(envelope);
    inbox.recv_timeout(Duration::from_secs(2)).ok()?;
    Some(sent.elapsed())
}

#[test]
fn each_message_gets_the_latency_of_its_link_else_its_kind_else_every_link() {
    let net = Network::new(2, 1, Arc::new(Clock::new(2))).unwrap();
    let inbox = net.attach_node(NodeId(1)).unwrap();
    net.set_latency(Latency::Fixed(ms(40))).unwrap();
    net.set_kind_latency(MessageKind::WriteAck, Some(Latency::Zero))
        .unwrap();
    // Thread scheduling adds to a delay, never takes away: an ack is
    // instant, anything else waits its 40 ms.
    let ack = travel(&net, &inbox, peer(MessageKind::WriteAck)).unwrap();
    let write = travel(&net, &inbox, peer(MessageKind::WriteRequest)).unwrap();
    assert!(
        ack < ms(30) && write >= ms(40),
        "ack {ack:?}, write {write:?}"
    );
    // A link's own latency wins over the kind's.
    net.set_link_latency(node(0), node(1), Latency::Fixed(ms(40)))
        .unwrap();
    let ack = travel(&net, &inbox, peer(MessageKind::WriteAck)).unwrap();
    assert!(ack >= ms(40), "link latency ignored: {ack:?}");
    // Back to every link's latency.
    net.clear_link_latencies();
    net.set_kind_latency(MessageKind::WriteAck, None).unwrap();
    let ack = travel(&net, &inbox, peer(MessageKind::WriteAck)).unwrap();
    assert!(ack >= ms(40), "kind latency not cleared: {ack:?}");
    net.shutdown();
}

#[test]
fn client_links_have_their_own_latency_and_kinds_act_on_node_links_only() {
    let net = Network::new(1, 1, Arc::new(Clock::new(1))).unwrap();
    let client = ClientId(7);
    let from_client = net.attach_client(client).unwrap();
    let to_node = net.attach_node(NodeId(0)).unwrap();
    net.set_latency(Latency::Fixed(ms(40))).unwrap();
    // A read-request latency does not touch a client's get…
    net.set_kind_latency(MessageKind::ReadRequest, Some(Latency::Zero))
        .unwrap();
    let get = Envelope::new(
        Endpoint::Client(client),
        node(0),
        Payload::Request {
            id: 1,
            request: Request::Get { key: b"k".to_vec() },
        },
    );
    assert_eq!(get.kind, MessageKind::ReadRequest);
    let took = travel(&net, &to_node, get.clone()).unwrap();
    assert!(
        took >= ms(40),
        "a kind latency reached a client link: {took:?}"
    );
    // …the client latency does, both ways, even when the random knobs
    // spare client links.
    net.set_client_latency(Some(Latency::Zero)).unwrap();
    net.set_fault_scope(FaultScope::NodeLinks);
    net.set_client_latency(Some(Latency::Fixed(ms(40))))
        .unwrap();
    let reply = Envelope::new(
        node(0),
        Endpoint::Client(client),
        Payload::Response {
            id: 1,
            response: Response::Done,
        },
    );
    assert_eq!(reply.kind, MessageKind::WriteAck);
    let took = travel(&net, &from_client, reply).unwrap();
    assert!(
        took >= ms(40),
        "client latency ignored under NodeLinks: {took:?}"
    );
    net.set_client_latency(Some(Latency::Zero)).unwrap();
    let took = travel(&net, &to_node, get).unwrap();
    assert!(took < ms(30), "client latency not applied: {took:?}");
    net.shutdown();
}

#[test]
fn a_cluster_labels_every_message_with_its_kind() {
    // A hook records the kinds that pass during one put and one get of an
    // eventual cluster (R = W = 3, so every replica takes part).
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .consistency(Consistency::Eventual { r: 3, w: 3 })
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    cluster.network().set_fault_hook(move |e: &EnvelopeInfo| {
        log.lock().unwrap().push((e.from, e.to, e.kind));
        None::<Verdict>
    });
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    client.get("k").unwrap();
    cluster.run_until_quiet(ms(100));
    let seen = seen.lock().unwrap();
    let count = |kind: MessageKind, client_link: bool| {
        seen.iter()
            .filter(|(from, to, k)| {
                *k == kind
                    && client_link
                        == (matches!(from, Endpoint::Client(_))
                            || matches!(to, Endpoint::Client(_)))
            })
            .count()
    };
    // The coordinator (the key's primary) stores and reads its own copy;
    // the two other replicas get a store and a read each, and answer.
    assert_eq!(count(MessageKind::WriteRequest, false), 2, "{seen:?}");
    assert_eq!(count(MessageKind::WriteAck, false), 2, "{seen:?}");
    assert_eq!(count(MessageKind::ReadRequest, false), 2, "{seen:?}");
    assert_eq!(count(MessageKind::ReadResponse, false), 2, "{seen:?}");
    // The client's put and get, and their answers.
    assert_eq!(count(MessageKind::WriteRequest, true), 1, "{seen:?}");
    assert_eq!(count(MessageKind::ReadRequest, true), 1, "{seen:?}");
    assert_eq!(count(MessageKind::WriteAck, true), 1, "{seen:?}");
    assert_eq!(count(MessageKind::ReadResponse, true), 1, "{seen:?}");
}

#[test]
fn a_mixture_on_a_simulated_link_draws_each_part_by_its_weight() {
    // 30 % of writes take 1 ms, 70 % take 5 ms: a W = 2 put of a primary
    // coordinator waits for the faster of two remote stores and acks (acks
    // are instant), so P(1 ms) = 1 − 0.7² = 0.51.
    let mix =
        Latency::mixture(&[(0.3, Latency::Fixed(ms(1))), (0.7, Latency::Fixed(ms(5)))]).unwrap();
    // A tick far beyond a put: no retransmission draws a second delay.
    let quiet = EventualConfig {
        tick: Duration::from_secs(10),
        ..EventualConfig::new(1, 2)
    };
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .protocol(move |_| Eventual::with_config(quiet.clone()))
        .kind_latency(MessageKind::WriteRequest, mix)
        .seed(3)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    let n = 2000;
    let mut fast = 0;
    for i in 0..n {
        let before = cluster.clock().now_ns();
        client.put(format!("k{i}"), "v").unwrap();
        // Plus at most the nanosecond the simulator puts between one
        // operation's return and the next one's invocation (program order).
        match cluster.clock().now_ns() - before {
            1_000_000..=1_000_001 => fast += 1,
            5_000_000..=5_000_001 => {}
            other => panic!("a put took {other} ns"),
        }
    }
    let share = fast as f64 / n as f64;
    let bound = 4.0 * (0.51f64 * 0.49 / n as f64).sqrt();
    assert!((share - 0.51).abs() < bound, "{share}");
}
