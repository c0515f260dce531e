//! Bad input against authenticated links: truncated tags, messages sealed
//! under the wrong key, and garbage shorter than a header. Each is refused
//! and counted, nothing panics, and nothing acknowledged is lost. On the
//! simulator: exact and replayable.

use parking_lot::Mutex;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replikv::history::{Checker, lost_writes};
use replikv::network::{Adversary, Envelope, Latency, Payload};
use replikv::security::{Header, LinkKey, seal};
use replikv::{Cluster, Consistency, Endpoint, Runtime, StorageKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Garble {
    /// Cut 1 to 32 bytes off the end: a truncated tag.
    TruncateTag,
    /// A copy re-sealed under another key (what a node with the wrong key,
    /// or a forger guessing one, sends).
    WrongKey,
    /// A copy shorter than a header and a tag.
    Short,
}

struct Garbler {
    garble: Garble,
    rng: Mutex<ChaCha8Rng>,
    injected: AtomicU64,
}

impl Adversary for Garbler {
    fn intercept(&self, envelope: Envelope, _at_ns: u64, out: &mut Vec<Envelope>) {
        let (Payload::Peer(bytes), Endpoint::Node(from), Endpoint::Node(to)) =
            (&envelope.payload, envelope.from, envelope.to)
        else {
            out.push(envelope);
            return;
        };
        let mut rng = self.rng.lock();
        if !rng.random_bool(0.3) {
            out.push(envelope);
            return;
        }
        let bad = match self.garble {
            Garble::TruncateTag => {
                let cut = rng.random_range(1..=32).min(bytes.len());
                bytes[..bytes.len() - cut].to_vec()
            }
            Garble::WrongKey => {
                let header = Header {
                    epoch: 0,
                    incarnation: 0,
                    sequence: rng.random_range(1..1000),
                    sent_at_ns: 0,
                };
                seal(
                    &LinkKey::for_experiment(999),
                    from,
                    to,
                    header,
                    &bytes[24..bytes.len() - 32],
                )
            }
            Garble::Short => bytes[..rng.random_range(0..56).min(bytes.len())].to_vec(),
        };
        self.injected.fetch_add(1, Ordering::Relaxed);
        let copy = Envelope {
            payload: Payload::Peer(bad),
            ..envelope.clone()
        };
        out.push(envelope);
        out.push(copy);
    }
}

fn run(consistency: Consistency, garble: Garble, seed: u64) {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .storage(StorageKind::Memory)
        .consistency(consistency)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .client_timeout(Duration::from_millis(200))
        .authenticate_links(LinkKey::for_experiment(seed))
        .seed(seed)
        .build()
        .unwrap();
    let garbler = Arc::new(Garbler {
        garble,
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        injected: AtomicU64::new(0),
    });
    cluster.network().set_adversary(garbler.clone());
    let mut client = cluster.client().unwrap();
    for i in 0..60 {
        let key = format!("k{}", i % 3);
        client.put(&key, format!("v{i}")).unwrap();
        assert_eq!(
            client.get(&key).unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    cluster.network().clear_adversary();
    cluster.run_until_quiet(Duration::from_secs(10));
    let history = cluster.history();
    let finals: BTreeMap<_, _> = ["k0", "k1", "k2"]
        .into_iter()
        .map(|k| (k.as_bytes().to_vec(), client.get(k).unwrap()))
        .collect();
    let refused: u64 = cluster
        .metrics()
        .nodes
        .iter()
        .map(|n| n.unauthentic_messages)
        .sum();
    let injected = garbler.injected.load(Ordering::Relaxed);
    println!("{consistency} {garble:?} seed {seed}: injected {injected}, refused {refused}");
    assert!(injected > 0);
    assert_eq!(
        refused, injected,
        "{garble:?} seed {seed}: every bad message refused"
    );
    assert!(
        Checker::new().check(&history).is_linearizable(),
        "seed {seed}"
    );
    assert!(lost_writes(&history, &finals).is_empty(), "seed {seed}");
}

#[test]
fn truncated_tags_are_refused_and_nothing_is_lost() {
    run(Consistency::Strong, Garble::TruncateTag, 1);
    run(Consistency::Eventual { r: 2, w: 2 }, Garble::TruncateTag, 1);
}

#[test]
fn messages_sealed_under_the_wrong_key_are_refused_and_nothing_is_lost() {
    run(Consistency::Strong, Garble::WrongKey, 2);
    run(Consistency::Eventual { r: 2, w: 2 }, Garble::WrongKey, 2);
}

#[test]
fn messages_shorter_than_a_seal_are_refused_without_panic() {
    run(Consistency::Strong, Garble::Short, 3);
    run(Consistency::Eventual { r: 2, w: 2 }, Garble::Short, 3);
}

#[test]
fn wrong_missing_and_short_link_keys_are_clear_errors() {
    for (hex, says) in [
        ("", "link key is missing"),
        ("  ", "link key is missing"),
        ("abcd", "64 hexadecimal digits (32 bytes); 4 characters"),
        (&"g0".repeat(32)[..], "not hexadecimal"),
        (&"00".repeat(32)[..], "all zero"),
    ] {
        let why = LinkKey::from_hex(hex).map(|_| ()).unwrap_err().to_string();
        assert!(why.contains(says), "{hex:?}: {why}");
    }
    let why = LinkKey::from_slice(&[1; 31])
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(why.contains("31 bytes given"), "{why}");
}
