//! The built-in network attacker: forge, tamper, replay.
//!
//! It knows the wire format, as a real attacker would (Kerckhoffs): the
//! built-in protocols' message types and the sealed framing of
//! [`super::link`]. What it lacks is the link key, so with links
//! authenticated the best it can do is keep a captured tag on bytes it
//! changed — which the receiver refuses.

use super::link::{HEADER_LEN, SEQUENCE_AT, TAG_LEN};
use crate::cluster::Consistency;
use crate::codec;
use crate::error::{Error, Result};
use crate::network::{Adversary, Envelope, Payload};
use crate::protocol::Request;
use crate::protocol::consensus::{ClientOp, Command, RaftMessage};
use crate::protocol::eventual::EventualMessage;
use crate::protocol::strong::StrongMessage;
use crate::storage::{Record, Version};
use parking_lot::Mutex;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Peer messages the replay attacker keeps to send again later.
const CAPTURED: usize = 256;

/// How far ahead of the `Store` it copies a forged write's version counter
/// is: 2^40 (about 18 minutes of a hybrid clock's nanoseconds, or 2^40 ABD
/// sequence numbers), so the forgery wins every comparison with the writes
/// of its time. A fixed counter would win only once per key: the next
/// honest write (ABD takes the highest version seen, plus one) would pass
/// it for ever.
pub const FORGED_LEAP: u64 = 1 << 40;

/// What the attacker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackKind {
    /// On seeing a `Store` go by, injects another one from the same sender
    /// to the same replica, for the same key, holding a value no client
    /// wrote, with a version counter [`FORGED_LEAP`] ahead of the original's.
    /// Against Raft: on seeing an `Append` that carries puts, injects a copy
    /// whose puts hold values no client wrote, under a term [`FORGED_LEAP`]
    /// ahead (a "leader from the future" the follower obeys).
    Forge,
    /// Rewrites the value inside `Store` messages (Raft: the puts inside
    /// `Append` messages) in flight, version and term kept.
    Tamper,
    /// Captures peer messages and sends captured ones again, on their
    /// original link, at random later times.
    Replay,
}

impl fmt::Display for AttackKind {
    /// `forge`, `tamper` or `replay`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttackKind::Forge => "forge",
            AttackKind::Tamper => "tamper",
            AttackKind::Replay => "replay",
        })
    }
}

impl FromStr for AttackKind {
    type Err = Error;

    /// ```
    /// use replikv::security::AttackKind;
    /// assert_eq!("replay".parse::<AttackKind>()?, AttackKind::Replay);
    /// assert!("sniff".parse::<AttackKind>().is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "forge" => Ok(AttackKind::Forge),
            "tamper" => Ok(AttackKind::Tamper),
            "replay" => Ok(AttackKind::Replay),
            other => Err(Error::InvalidConfig(format!(
                "unknown attack {other:?}: choose forge, tamper or replay"
            ))),
        }
    }
}

/// Which message type the attacker parses.
#[derive(Clone, Copy, Debug)]
enum Dialect {
    Strong,
    Eventual,
    /// Raft: the puts inside `Append` (AppendEntries) messages.
    Consensus,
}

/// A seeded network attacker; install with
/// [`Network::set_adversary`](crate::network::Network::set_adversary).
///
/// ```
/// use replikv::security::{AttackKind, Attacker};
/// use replikv::{Cluster, Consistency, Runtime};
/// use std::sync::Arc;
///
/// let cluster = Cluster::builder()
///     .runtime(Runtime::Simulated)
///     .consistency(Consistency::Strong)
///     .build()?;
/// let attacker = Arc::new(Attacker::new(AttackKind::Forge, Consistency::Strong, 1.0, 7)?);
/// cluster.network().set_adversary(attacker.clone());
/// let mut client = cluster.client()?;
/// client.put("k", "mine")?;
/// // No defence: the forged write from the future is what every read sees.
/// assert_eq!(client.get("k")?, Some(b"forged-1".to_vec()));
/// assert!(attacker.injected() > 0);
/// # Ok::<(), replikv::Error>(())
/// ```
pub struct Attacker {
    kind: AttackKind,
    dialect: Dialect,
    probability: f64,
    rng: Mutex<ChaCha8Rng>,
    captured: Mutex<VecDeque<Envelope>>,
    injected: AtomicU64,
}

impl fmt::Debug for Attacker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attacker")
            .field("kind", &self.kind)
            .field("dialect", &self.dialect)
            .field("probability", &self.probability)
            .field("injected", &self.injected())
            .finish()
    }
}

/// Where the protocol message sits inside a peer payload: the whole of it,
/// or between a link header and tag.
struct Framed<M> {
    message: M,
    sealed: bool,
}

impl Attacker {
    /// An attacker of `kind` against a cluster of `consistency`, acting on
    /// each peer message it sees with `probability`, drawing from `seed`.
    /// Single-copy mode is refused ([`Error::InvalidConfig`]): its nodes
    /// send each other nothing to attack.
    ///
    /// ```
    /// use replikv::security::{AttackKind, Attacker};
    /// use replikv::Consistency;
    /// assert!(Attacker::new(AttackKind::Forge, Consistency::SingleCopy, 0.5, 1).is_err());
    /// assert!(Attacker::new(AttackKind::Forge, Consistency::Consensus, 0.5, 1).is_ok());
    /// ```
    pub fn new(
        kind: AttackKind,
        consistency: Consistency,
        probability: f64,
        seed: u64,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(Error::InvalidConfig(format!(
                "attack probability must be between 0 and 1, got {probability}"
            )));
        }
        let dialect = match consistency {
            Consistency::Strong => Dialect::Strong,
            Consistency::Eventual { .. } => Dialect::Eventual,
            Consistency::Consensus => Dialect::Consensus,
            Consistency::SingleCopy => {
                return Err(Error::InvalidConfig(
                    "single-copy nodes send each other no messages: there is nothing on the \
                     network to forge, tamper with or replay (attack strong, eventual or \
                     consensus mode)"
                        .into(),
                ));
            }
        };
        Ok(Attacker {
            kind,
            dialect,
            probability,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            captured: Mutex::new(VecDeque::new()),
            injected: AtomicU64::new(0),
        })
    }

    /// Messages forged, altered or replayed so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn strikes(&self) -> bool {
        self.probability > 0.0 && self.rng.lock().random_bool(self.probability)
    }

    /// Parses a payload as the protocol's message, plain or inside a seal.
    fn parse<M: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<Framed<M>> {
        if let Ok(message) = codec::decode(bytes) {
            return Some(Framed {
                message,
                sealed: false,
            });
        }
        let body = bytes.get(HEADER_LEN..bytes.len().checked_sub(TAG_LEN)?)?;
        codec::decode(body).ok().map(|message| Framed {
            message,
            sealed: true,
        })
    }

    /// Re-encodes `message` in the framing of `original`. A sealed original
    /// keeps its header (with the sequence moved on, so it is not a mere
    /// replay) and its tag: the attacker cannot compute a new one.
    fn reframe<M: serde::Serialize>(original: &[u8], message: &M, sealed: bool) -> Option<Vec<u8>> {
        let body = codec::encode(message).ok()?;
        if !sealed {
            return Some(body);
        }
        let mut header = original.get(..HEADER_LEN)?.to_vec();
        let sequence = header.get_mut(SEQUENCE_AT..SEQUENCE_AT + 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(sequence);
        let moved = u64::from_le_bytes(word).wrapping_add(super::REPLAY_WINDOW / 2);
        sequence.copy_from_slice(&moved.to_le_bytes());
        let tag = original.get(original.len().checked_sub(TAG_LEN)?..)?;
        let mut out = header;
        out.extend_from_slice(&body);
        out.extend_from_slice(tag);
        Some(out)
    }

    /// The payload with the value of every write it carries replaced by
    /// `value` — the record of a `Store` (strong, eventual), the puts in a
    /// Raft `Append` — and, when `leap`, moved [`FORGED_LEAP`] ahead: the
    /// record's version counter, or the Raft term (of the message and of
    /// its entries, so a follower takes it for a leader of a later term).
    /// `None` when the message carries no write.
    fn rewrite(&self, bytes: &[u8], value: &[u8], leap: bool) -> Option<Vec<u8>> {
        let store = |record: &mut Record| {
            // A forgery writes even over a deletion; tampering alters values.
            if !leap {
                record.value.as_ref()?;
            }
            record.value = Some(value.to_vec());
            if leap {
                record.version = Version::new(
                    record.version.counter.saturating_add(FORGED_LEAP),
                    record.version.node,
                );
            }
            Some(())
        };
        match self.dialect {
            Dialect::Strong => {
                let mut framed = Self::parse::<StrongMessage>(bytes)?;
                let StrongMessage::Store { record, .. } = &mut framed.message else {
                    return None;
                };
                store(record)?;
                Self::reframe(bytes, &framed.message, framed.sealed)
            }
            Dialect::Eventual => {
                let mut framed = Self::parse::<EventualMessage>(bytes)?;
                let EventualMessage::Store { record, .. } = &mut framed.message else {
                    return None;
                };
                store(record)?;
                Self::reframe(bytes, &framed.message, framed.sealed)
            }
            Dialect::Consensus => {
                let mut framed = Self::parse::<RaftMessage>(bytes)?;
                let RaftMessage::Append { term, entries, .. } = &mut framed.message else {
                    return None;
                };
                let mut puts = 0;
                for entry in entries.iter_mut() {
                    if let Command::Op {
                        op: ClientOp::Request(Request::Put { value: put, .. }),
                        ..
                    } = &mut entry.command
                    {
                        *put = value.to_vec();
                        puts += 1;
                    }
                }
                if puts == 0 {
                    return None;
                }
                if leap {
                    *term = term.saturating_add(FORGED_LEAP);
                    for entry in entries.iter_mut() {
                        entry.term = *term;
                    }
                }
                Self::reframe(bytes, &framed.message, framed.sealed)
            }
        }
    }

    /// The value the next injection writes: `{what}-N`.
    fn next_value(&self, what: &str) -> Vec<u8> {
        let n = self.injected.load(Ordering::Relaxed) + 1;
        format!("{what}-{n}").into_bytes()
    }
}

/// True for values the built-in attacker writes (`forged-N`, `tampered-N`):
/// what a test counts as "a value no client wrote".
///
/// ```
/// assert!(replikv::security::is_attacker_value(b"forged-3"));
/// assert!(!replikv::security::is_attacker_value(b"v-3"));
/// ```
pub fn is_attacker_value(value: &[u8]) -> bool {
    value.starts_with(b"forged-") || value.starts_with(b"tampered-")
}

impl Adversary for Attacker {
    fn intercept(&self, envelope: Envelope, _at_ns: u64, out: &mut Vec<Envelope>) {
        let Payload::Peer(bytes) = &envelope.payload else {
            out.push(envelope);
            return;
        };
        match self.kind {
            AttackKind::Forge => {
                let forged = if self.strikes() {
                    self.rewrite(bytes, &self.next_value("forged"), true)
                } else {
                    None
                };
                let (from, to, kind) = (envelope.from, envelope.to, envelope.kind);
                out.push(envelope);
                if let Some(bytes) = forged {
                    self.injected.fetch_add(1, Ordering::Relaxed);
                    out.push(Envelope {
                        from,
                        to,
                        payload: Payload::Peer(bytes),
                        kind,
                    });
                }
            }
            AttackKind::Tamper => {
                let altered = if self.strikes() {
                    self.rewrite(bytes, &self.next_value("tampered"), false)
                } else {
                    None
                };
                match altered {
                    Some(bytes) => {
                        self.injected.fetch_add(1, Ordering::Relaxed);
                        out.push(Envelope {
                            payload: Payload::Peer(bytes),
                            ..envelope
                        })
                    }
                    None => out.push(envelope),
                }
            }
            AttackKind::Replay => {
                let replay = if self.strikes() {
                    let captured = self.captured.lock();
                    if captured.is_empty() {
                        None
                    } else {
                        let i = self.rng.lock().random_range(0..captured.len());
                        captured.get(i).cloned()
                    }
                } else {
                    None
                };
                {
                    let mut captured = self.captured.lock();
                    if captured.len() == CAPTURED {
                        captured.pop_front();
                    }
                    captured.push_back(envelope.clone());
                }
                out.push(envelope);
                if let Some(old) = replay {
                    self.injected.fetch_add(1, Ordering::Relaxed);
                    out.push(old);
                }
            }
        }
    }
}
