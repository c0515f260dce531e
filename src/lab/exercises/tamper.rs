//! Exercise 11: make a protocol's messages tamper-proof.
//!
//! The learner writes the two halves of an authenticated link — `seal`,
//! which a sender applies to every node message under the cluster's 32-byte
//! key, and `open`, which the receiver applies before the protocol sees
//! anything (returning the message, or `None` to refuse it). The grader puts
//! them on every node-to-node link of a strong-mode cluster on the
//! simulator, with an attacker in between who knows the algorithm (it calls
//! the learner's own `seal`) but not the key. The attacker
//!
//! - **forges** `Store` messages of values no client wrote, with a version
//!   from the future, sealed under its own key;
//! - **alters** values inside `Store` messages in flight, and re-seals them
//!   under its own key;
//! - **flips** one bit of an honestly sealed message;
//! - **relabels** an honestly sealed message as coming from another node.
//!
//! PASS: every one of those refused, no honest message refused, every
//! operation succeeded, the checker accepts the history and no read returned
//! a value no client wrote. A checksum (a hash without the key) catches the
//! flipped bits and nothing else: integrity is not authenticity.

use super::{Grade, replay_command};
use crate::Consistency;
use crate::cluster::{Cluster, StorageKind};
use crate::history::Checker;
use crate::ids::{Endpoint, NodeId};
use crate::network::{Adversary, Envelope, Latency, Payload};
use crate::security::{AttackKind, Attacker};
use crate::sim::Runtime;
use parking_lot::Mutex;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const EXERCISE: &str = "exercise 11: tamper-proof messages";
const SEED: u64 = 11;
const NODES: u32 = 3;
const OPS: usize = 120;

/// A sender's half of an authenticated link: what goes on the wire for
/// `message` from `from` to `to` under the cluster `key`.
pub type SealFn = fn(key: &[u8; 32], from: NodeId, to: NodeId, message: &[u8]) -> Vec<u8>;
/// A receiver's half: the message inside `sealed`, or `None` to refuse it.
pub type OpenFn = fn(key: &[u8; 32], from: NodeId, to: NodeId, sealed: &[u8]) -> Option<Vec<u8>>;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    injected: u64,
    accepted: u64,
    honest_refused: u64,
}

/// The learner's link layer with the attacker in the middle: every node
/// message is sealed by its sender, attacked, and opened by its receiver,
/// all within one pass through the network.
struct SealedLinks {
    seal: SealFn,
    open: OpenFn,
    key: [u8; 32],
    attacker_key: [u8; 32],
    forge: Attacker,
    tamper: Attacker,
    rng: Mutex<ChaCha8Rng>,
    counts: Mutex<Counts>,
}

impl SealedLinks {
    /// The receiver opens `sealed` as if `from` sent it.
    fn deliver(
        &self,
        template: &Envelope,
        from: NodeId,
        sealed: &[u8],
        honest: bool,
        out: &mut Vec<Envelope>,
    ) {
        let Endpoint::Node(to) = template.to else {
            return;
        };
        let opened = (self.open)(&self.key, from, to, sealed);
        let mut counts = self.counts.lock();
        counts.injected += u64::from(!honest);
        match opened {
            Some(message) => {
                counts.accepted += u64::from(!honest);
                out.push(Envelope {
                    from: Endpoint::Node(from),
                    to: template.to,
                    payload: Payload::Peer(message),
                    kind: template.kind,
                });
            }
            None => counts.honest_refused += u64::from(honest),
        }
    }
}

impl Adversary for SealedLinks {
    fn intercept(&self, envelope: Envelope, at_ns: u64, out: &mut Vec<Envelope>) {
        let (Endpoint::Node(from), Endpoint::Node(to), Payload::Peer(original)) =
            (envelope.from, envelope.to, &envelope.payload)
        else {
            out.push(envelope);
            return;
        };
        let original = original.clone();
        // The attacks on the plaintext (what a forger or a tamperer would
        // like the receiver to get).
        let mut forged = Vec::new();
        self.forge.intercept(envelope.clone(), at_ns, &mut forged);
        let mut plain = Vec::new();
        for e in forged {
            self.tamper.intercept(e, at_ns, &mut plain);
        }
        for e in plain {
            let Payload::Peer(bytes) = &e.payload else {
                continue;
            };
            let honest = *bytes == original;
            // The attacker knows the algorithm, not the key.
            let key = if honest {
                &self.key
            } else {
                &self.attacker_key
            };
            let sealed = (self.seal)(key, from, to, bytes);
            self.deliver(&e, from, &sealed, honest, out);
            if !honest {
                continue;
            }
            let (flip, relabel) = {
                let mut rng = self.rng.lock();
                let flip = rng
                    .random_bool(0.1)
                    .then(|| rng.random_range(0..sealed.len().max(1) * 8));
                let relabel = rng
                    .random_bool(0.1)
                    .then(|| NodeId((from.0 + rng.random_range(1..NODES)) % NODES));
                (flip, relabel)
            };
            if let Some(bit) = flip.filter(|_| !sealed.is_empty()) {
                let mut flipped = sealed.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                self.deliver(&e, from, &flipped, false, out);
            }
            if let Some(other) = relabel.filter(|&n| n != to) {
                self.deliver(&e, other, &sealed, false, out);
            }
        }
    }
}

/// Grades `seal` and `open` (see the module docs); the exercise's seed.
///
/// ```
/// use replikv::lab::exercises::grade_tamper_proof;
/// use replikv::NodeId;
/// // No seal at all: every forgery goes through.
/// fn seal(_: &[u8; 32], _: NodeId, _: NodeId, m: &[u8]) -> Vec<u8> { m.to_vec() }
/// fn open(_: &[u8; 32], _: NodeId, _: NodeId, s: &[u8]) -> Option<Vec<u8>> { Some(s.to_vec()) }
/// assert!(!grade_tamper_proof(seal, open).passed);
/// ```
pub fn grade_tamper_proof(seal: SealFn, open: OpenFn) -> Grade {
    grade_tamper_proof_with_seed(seal, open, None)
}

/// [`grade_tamper_proof`] with another seed (`None`: the exercise's own,
/// 11) — what `cargo run --release --example exercise_11_tamper_proof --
/// --seed N` runs.
pub fn grade_tamper_proof_with_seed(seal: SealFn, open: OpenFn, seed: Option<u64>) -> Grade {
    let seed = seed.unwrap_or(SEED);
    match run(seal, open, seed) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "the cluster failed to start"),
    }
}

fn run(seal: SealFn, open: OpenFn, seed: u64) -> crate::Result<Grade> {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(NODES as usize)
        .replication(NODES as usize)
        .storage(StorageKind::Memory)
        .consistency(Consistency::Strong)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .client_timeout(Duration::from_millis(200))
        .seed(seed)
        .build()?;
    let key = blake3::derive_key("replikv exercise 11 cluster key", &seed.to_le_bytes());
    let attacker_key = blake3::derive_key("replikv exercise 11 attacker key", &seed.to_le_bytes());
    let links = Arc::new(SealedLinks {
        seal,
        open,
        key,
        attacker_key,
        forge: Attacker::new(AttackKind::Forge, Consistency::Strong, 0.15, seed ^ 1)?,
        tamper: Attacker::new(AttackKind::Tamper, Consistency::Strong, 0.15, seed ^ 2)?,
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        counts: Mutex::new(Counts::default()),
    });
    cluster.network().set_adversary(links.clone());
    let mut client = cluster.client()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC11E);
    let mut written = HashSet::new();
    let (mut ok, mut foreign) = (0, 0);
    for i in 0..OPS {
        let key = format!("k{}", rng.random_range(0..3));
        let result = if rng.random_bool(0.5) {
            let value = format!("v{i}").into_bytes();
            written.insert(value.clone());
            client.put(&key, &value).map(|()| None)
        } else {
            client.get(&key)
        };
        if let Ok(read) = result {
            ok += 1;
            foreign += usize::from(read.is_some_and(|v| !written.contains(&v)));
        }
    }
    cluster.network().clear_adversary();
    let linearizable = Checker::new().check(&cluster.history()).is_linearizable();
    let panics = cluster.metrics().node_panics();
    let c = *links.counts.lock();
    let passed = c.injected > 0
        && c.accepted == 0
        && c.honest_refused == 0
        && ok == OPS
        && foreign == 0
        && linearizable;
    let measured = format!(
        "{ok} of {OPS} operations succeeded; the attacker injected {} forged, altered or \
         relabelled messages, {} accepted; {} honest messages refused; {foreign} reads of a \
         value no client wrote; linearizable: {} [simulated, seed {seed}]",
        c.injected,
        c.accepted,
        c.honest_refused,
        if linearizable { "yes" } else { "NO" },
    );
    let (explanation, hint) = if passed {
        (
            "only a holder of the key can make a seal that opens, and the seal covers the \
             message and its link: forged, altered and relabelled messages are refused before \
             the protocol sees them",
            "",
        )
    } else if c.honest_refused > 0 || ok < OPS {
        (
            "a seal that refuses honest messages is a network that loses them: the cluster \
             stops answering",
            "open must accept exactly what seal produced with the same key, sender and receiver",
        )
    } else {
        (
            "the attacker calls your seal with its own key: a check anyone can recompute (a \
             checksum, a hash without the key) proves nothing about who sent the message",
            "tag the message with a keyed MAC — blake3::keyed_hash, over the sender, the \
             receiver and the message — and compare tags in constant time (blake3::Hash's ==)",
        )
    };
    Ok(Grade {
        exercise: EXERCISE,
        passed,
        measured,
        explanation: explanation.into(),
        hint: hint.into(),
        replay: Some(replay_command("exercise_11_tamper_proof", seed)),
        history: None,
    }
    .unless_panicked(&panics))
}
