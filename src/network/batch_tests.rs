//! [`Network::send_batch`]: a node's batch leaves in one call, grouped by
//! receiver, and the faults still judge every message on its own.

use super::{Envelope, Network, Payload};
use crate::clock::Clock;
use crate::ids::{Endpoint, NodeId};
use std::sync::Arc;

fn peer(from: u32, to: u32, body: u8) -> Envelope {
    Envelope::new(
        Endpoint::Node(NodeId(from)),
        Endpoint::Node(NodeId(to)),
        Payload::Peer(vec![body]),
    )
}

fn bodies(inbox: &crossbeam_channel::Receiver<Envelope>) -> Vec<u8> {
    inbox
        .try_iter()
        .filter_map(|e| match e.payload {
            Payload::Peer(bytes) => bytes.first().copied(),
            _ => None,
        })
        .collect()
}

#[test]
fn a_batch_reaches_each_receiver_in_production_order_and_is_counted() {
    let net = Network::new(3, 1, Arc::new(Clock::new(3))).expect("network");
    let one = net.attach_node(NodeId(1)).expect("attach");
    let two = net.attach_node(NodeId(2)).expect("attach");
    let mut batch = vec![peer(0, 2, 1), peer(0, 1, 2), peer(0, 2, 3), peer(0, 1, 4)];
    net.send_batch(&mut batch);
    assert!(batch.is_empty());
    assert_eq!(bodies(&one), vec![2, 4]);
    assert_eq!(bodies(&two), vec![1, 3]);
    let stats = net.stats();
    assert_eq!((stats.sent, stats.delivered, stats.bytes), (4, 4, 4));
    net.shutdown();
}

#[test]
fn the_faults_judge_each_message_of_a_batch_on_its_own() {
    let net = Network::new(2, 7, Arc::new(Clock::new(2))).expect("network");
    let inbox = net.attach_node(NodeId(1)).expect("attach");
    net.set_drop_probability(0.5).expect("probability");
    let mut batch: Vec<_> = (0..1000).map(|i| peer(0, 1, (i % 250) as u8)).collect();
    net.send_batch(&mut batch);
    let arrived = bodies(&inbox).len();
    // Lost together, a batch would arrive whole or not at all.
    assert!(
        (400..=600).contains(&arrived),
        "{arrived} of 1000 arrived with half of all messages dropped"
    );
    assert_eq!(net.stats().dropped as usize, 1000 - arrived);
    net.shutdown();
}
