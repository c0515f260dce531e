//! Authenticated node links: the seal a sender puts on every peer message,
//! and the checks a receiver makes before the protocol sees it.
//!
//! A sealed message is the protocol's bincode bytes between a fixed header
//! and a tag:
//!
//! ```text
//! cluster epoch (u64 LE) | sender incarnation (u64 LE) | sequence (u64 LE) | sent at, cluster ns (u64 LE) | message | tag (32 bytes)
//! ```
//!
//! The tag is keyed BLAKE3 under the cluster's [`LinkKey`] over a domain
//! label, the sender and receiver node ids, the header and the message. The
//! receiver recomputes it and compares in constant time (`blake3::Hash`'s
//! equality), then applies the replay rules of [`Replay`] — in that order, so
//! that nobody without the key can move a receiver's replay state.

use crate::error::{Error, Result};
use crate::ids::NodeId;
use std::collections::HashMap;
use std::fmt;

/// Bytes of the tag at the end of a sealed message.
pub const TAG_LEN: usize = 32;
/// Bytes of the header at the start of a sealed message.
pub const HEADER_LEN: usize = 32;
/// Where the sequence number sits in the header (bytes).
pub(crate) const SEQUENCE_AT: usize = 16;
/// Sequence numbers a receiver remembers per sender, below the highest it
/// accepted: an older message is refused even if it was never seen (a loss,
/// which every protocol here tolerates; see [`Replay`]).
pub const REPLAY_WINDOW: u64 = 1024;

const DOMAIN: &[u8] = b"replikv node link v1";

/// The cluster's link key: 32 secret bytes every node holds.
///
/// Its `Debug` output never shows the bytes.
///
/// ```
/// use replikv::security::LinkKey;
/// let key = LinkKey::from_hex(&"2a".repeat(32))?;
/// assert_eq!(format!("{key:?}"), "LinkKey(..)");
/// assert!(LinkKey::from_hex("2a2a").is_err()); // too short
/// assert!(LinkKey::from_slice(&[0; 32]).is_err()); // all zero: an unset key
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey([u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// A key from 32 bytes. An all-zero key is refused: it is what a key
    /// nobody set looks like.
    pub fn new(bytes: [u8; 32]) -> Result<Self> {
        if bytes == [0; 32] {
            return Err(Error::InvalidConfig(
                "the link key is all zero: that is an unset key, not a secret".into(),
            ));
        }
        Ok(LinkKey(bytes))
    }

    /// A key from a byte slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::new(key_bytes("link key", bytes)?)
    }

    /// A key from 64 hexadecimal digits (how a key travels in a file or on
    /// a command line).
    pub fn from_hex(hex: &str) -> Result<Self> {
        Self::new(key_hex("link key", hex)?)
    }

    /// A key derived from a seed, for experiments and tests only: anyone who
    /// knows the seed knows the key.
    ///
    /// ```
    /// use replikv::security::LinkKey;
    /// assert_eq!(LinkKey::for_experiment(7), LinkKey::for_experiment(7));
    /// assert_ne!(LinkKey::for_experiment(7), LinkKey::for_experiment(8));
    /// ```
    pub fn for_experiment(seed: u64) -> Self {
        let derived = blake3::derive_key("replikv experiment link key v1", &seed.to_le_bytes());
        // A derived key is all zero with probability 2^-256.
        LinkKey(derived)
    }

    fn tag(&self, from: NodeId, to: NodeId, header: &[u8], message: &[u8]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(DOMAIN);
        hasher.update(&from.0.to_le_bytes());
        hasher.update(&to.0.to_le_bytes());
        hasher.update(header);
        hasher.update(message);
        hasher.finalize()
    }
}

/// 32 key bytes from a slice; the error names the key (`what`).
pub(crate) fn key_bytes(what: &str, bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        Error::InvalidConfig(format!("a {what} is 32 bytes; {} bytes given", bytes.len()))
    })
}

/// 32 key bytes from 64 hexadecimal digits; the error names the key.
pub(crate) fn key_hex(what: &str, hex: &str) -> Result<[u8; 32]> {
    let hex = hex.trim();
    if hex.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "the {what} is missing: give 64 hexadecimal digits"
        )));
    }
    if hex.len() != 64 {
        return Err(Error::InvalidConfig(format!(
            "a {what} is 64 hexadecimal digits (32 bytes); {} characters given",
            hex.len()
        )));
    }
    // Strict: `u8::from_str_radix` would take a leading '+'.
    if let Some(at) = hex.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(Error::InvalidConfig(format!(
            "the {what} is not hexadecimal at character {at}"
        )));
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    };
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(bytes)
}

/// Why a sealed message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too short to hold a header and a tag, or the tag does not match: forged
    /// or altered in flight.
    Unauthentic,
    /// Authentic, but from another cluster epoch, seen before, older than
    /// the window, from an earlier
    /// incarnation of its sender than one already heard from, or sent before
    /// the receiver's incarnation started.
    Replayed,
}

/// The header fields of a sealed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The cluster's epoch: drawn when the cluster is built (at random on
    /// threads, from the seed on the simulator), so messages captured from
    /// another cluster, or from an earlier run of this process, that used
    /// the same link key are refused (see [`Replay`]).
    pub epoch: u64,
    /// The sender's incarnation (how many times it had restarted).
    pub incarnation: u64,
    /// The message's number on its link, from 1, per sender incarnation.
    pub sequence: u64,
    /// When it was sealed, in cluster-clock nanoseconds.
    pub sent_at_ns: u64,
}

impl Header {
    fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&self.epoch.to_le_bytes());
        out[8..16].copy_from_slice(&self.incarnation.to_le_bytes());
        out[SEQUENCE_AT..SEQUENCE_AT + 8].copy_from_slice(&self.sequence.to_le_bytes());
        out[24..].copy_from_slice(&self.sent_at_ns.to_le_bytes());
        out
    }

    fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Self {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(w)
        };
        Header {
            epoch: word(0),
            incarnation: word(8),
            sequence: word(SEQUENCE_AT),
            sent_at_ns: word(24),
        }
    }
}

/// Seals `message` from `from` to `to` under `key`.
///
/// ```
/// use replikv::security::{Header, LinkKey, open, seal};
/// use replikv::NodeId;
/// let key = LinkKey::for_experiment(1);
/// let header = Header { epoch: 9, incarnation: 0, sequence: 1, sent_at_ns: 5 };
/// let sealed = seal(&key, NodeId(0), NodeId(1), header, b"hello");
/// assert_eq!(open(&key, NodeId(0), NodeId(1), &sealed), Ok((header, &b"hello"[..])));
/// // The tag covers the link: the same bytes claimed by another sender fail.
/// assert!(open(&key, NodeId(2), NodeId(1), &sealed).is_err());
/// ```
pub fn seal(key: &LinkKey, from: NodeId, to: NodeId, header: Header, message: &[u8]) -> Vec<u8> {
    let header = header.to_bytes();
    let tag = key.tag(from, to, &header, message);
    let mut out = Vec::with_capacity(HEADER_LEN + message.len() + TAG_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(message);
    out.extend_from_slice(tag.as_bytes());
    out
}

/// Checks the tag of a sealed message; returns its header and the message.
/// Replay rules are not applied here (see [`Replay`]).
pub fn open<'a>(
    key: &LinkKey,
    from: NodeId,
    to: NodeId,
    sealed: &'a [u8],
) -> std::result::Result<(Header, &'a [u8]), Refusal> {
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(Refusal::Unauthentic);
    }
    let (header, rest) = sealed.split_at(HEADER_LEN);
    let (message, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut claimed = [0u8; TAG_LEN];
    claimed.copy_from_slice(tag);
    // `blake3::Hash` compares in constant time.
    if key.tag(from, to, header, message) != blake3::Hash::from_bytes(claimed) {
        return Err(Refusal::Unauthentic);
    }
    let mut fixed = [0u8; HEADER_LEN];
    fixed.copy_from_slice(header);
    Ok((Header::from_bytes(&fixed), message))
}

/// What one receiver incarnation remembers of one sender.
#[derive(Clone, Debug)]
struct Window {
    incarnation: u64,
    highest: u64,
    /// Bit `s % REPLAY_WINDOW` is set when sequence `s` (within the window
    /// below `highest`) was accepted.
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
}

impl Window {
    fn new(incarnation: u64) -> Self {
        Window {
            incarnation,
            highest: 0,
            seen: [0; (REPLAY_WINDOW / 64) as usize],
        }
    }

    fn bit(seq: u64) -> (usize, u64) {
        let i = seq % REPLAY_WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    /// Accepts `seq` once; false for a repeat or anything below the window.
    fn accept(&mut self, seq: u64) -> bool {
        if seq == 0 {
            return false;
        }
        if seq > self.highest {
            let advance = seq - self.highest;
            if advance >= REPLAY_WINDOW {
                self.seen = [0; (REPLAY_WINDOW / 64) as usize];
            } else {
                for s in self.highest + 1..=seq {
                    let (word, mask) = Self::bit(s);
                    self.seen[word] &= !mask;
                }
            }
            self.highest = seq;
        } else if self.highest - seq >= REPLAY_WINDOW {
            return false;
        }
        let (word, mask) = Self::bit(seq);
        if self.seen[word] & mask != 0 {
            return false;
        }
        self.seen[word] |= mask;
        true
    }
}

/// The replay rules of one receiver incarnation. A message that passed
/// [`open`] is accepted only when
///
/// 0. it carries the receiver's cluster epoch (sequence numbers and
///    incarnations start again at 0 in every cluster and every process, so
///    without the epoch a capture from another cluster, or from before the
///    process restarted, that used the same key would look fresh);
/// 1. it was sealed no earlier than this receiver incarnation started (a
///    message sent before then was addressed to an earlier incarnation, whose
///    connection died with it; this is what keeps a restarted receiver, which
///    has forgotten every window, from accepting old captures);
/// 2. its sender incarnation is not older than the newest one heard from that
///    sender (a restarted sender numbers from 1 again, so the incarnation,
///    covered by the tag, tells its new messages from replays of its old
///    ones; a newer incarnation starts a fresh window);
/// 3. its sequence number is new within the [`REPLAY_WINDOW`] below the
///    highest accepted from that sender incarnation.
///
/// ```
/// use replikv::security::{Header, Replay};
/// use replikv::NodeId;
/// let mut replay = Replay::new(7, 100);
/// let h = |incarnation, sequence| Header { epoch: 7, incarnation, sequence, sent_at_ns: 100 };
/// assert!(replay.accept(NodeId(1), h(0, 1)));
/// assert!(!replay.accept(NodeId(1), h(0, 1)), "a replay");
/// assert!(replay.accept(NodeId(1), h(1, 1)), "the sender restarted");
/// assert!(!replay.accept(NodeId(1), h(0, 2)), "its old incarnation is over");
/// let before_start = Header { epoch: 7, incarnation: 0, sequence: 1, sent_at_ns: 99 };
/// assert!(!replay.accept(NodeId(2), before_start), "sent to an earlier incarnation");
/// let other_cluster = Header { epoch: 8, incarnation: 0, sequence: 1, sent_at_ns: 100 };
/// assert!(!replay.accept(NodeId(2), other_cluster), "another cluster or run");
/// ```
#[derive(Clone, Debug)]
pub struct Replay {
    epoch: u64,
    started_at_ns: u64,
    windows: HashMap<NodeId, Window>,
}

impl Replay {
    /// The rules of a receiver incarnation of the cluster of `epoch` that
    /// started at `started_at_ns` on the cluster clock.
    pub fn new(epoch: u64, started_at_ns: u64) -> Self {
        Replay {
            epoch,
            started_at_ns,
            windows: HashMap::new(),
        }
    }

    /// True (and remembered) when `header` from `from` is fresh.
    pub fn accept(&mut self, from: NodeId, header: Header) -> bool {
        if header.epoch != self.epoch || header.sent_at_ns < self.started_at_ns {
            return false;
        }
        let window = self
            .windows
            .entry(from)
            .or_insert_with(|| Window::new(header.incarnation));
        if header.incarnation < window.incarnation {
            return false;
        }
        if header.incarnation > window.incarnation {
            *window = Window::new(header.incarnation);
        }
        window.accept(header.sequence)
    }
}

/// One node incarnation's end of its authenticated links: the key, its own
/// sequence counters, and the replay rules for what it receives.
#[derive(Debug)]
pub(crate) struct Links {
    key: LinkKey,
    epoch: u64,
    node: NodeId,
    incarnation: u64,
    next: HashMap<NodeId, u64>,
    replay: Replay,
}

impl Links {
    pub(crate) fn new(
        key: LinkKey,
        epoch: u64,
        node: NodeId,
        incarnation: u64,
        started_at_ns: u64,
    ) -> Self {
        Links {
            key,
            epoch,
            node,
            incarnation,
            next: HashMap::new(),
            replay: Replay::new(epoch, started_at_ns),
        }
    }

    /// Seals a message to `to`, numbering it on that link.
    pub(crate) fn seal(&mut self, to: NodeId, message: &[u8], now_ns: u64) -> Vec<u8> {
        let next = self.next.entry(to).or_insert(0);
        *next += 1;
        let header = Header {
            epoch: self.epoch,
            incarnation: self.incarnation,
            sequence: *next,
            sent_at_ns: now_ns,
        };
        seal(&self.key, self.node, to, header, message)
    }

    /// The message inside `sealed` from `from`, when authentic and fresh.
    pub(crate) fn open<'a>(
        &mut self,
        from: NodeId,
        sealed: &'a [u8],
    ) -> std::result::Result<&'a [u8], Refusal> {
        let (header, message) = open(&self.key, from, self.node, sealed)?;
        if self.replay.accept(from, header) {
            Ok(message)
        } else {
            Err(Refusal::Replayed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkKey {
        LinkKey::for_experiment(3)
    }

    fn header(sequence: u64) -> Header {
        Header {
            epoch: 0,
            incarnation: 0,
            sequence,
            sent_at_ns: 0,
        }
    }

    #[test]
    fn every_flipped_bit_of_a_sealed_message_is_refused() {
        let sealed = seal(&key(), NodeId(0), NodeId(1), header(1), b"store k=v");
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                open(&key(), NodeId(0), NodeId(1), &bad),
                Err(Refusal::Unauthentic),
                "bit {i}"
            );
        }
    }

    #[test]
    fn a_truncated_or_empty_message_is_refused_without_panic() {
        let sealed = seal(&key(), NodeId(0), NodeId(1), header(1), b"x");
        for len in 0..sealed.len() {
            assert_eq!(
                open(&key(), NodeId(0), NodeId(1), &sealed[..len]),
                Err(Refusal::Unauthentic),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn another_key_or_another_receiver_does_not_verify() {
        let sealed = seal(&key(), NodeId(0), NodeId(1), header(1), b"x");
        let other = LinkKey::for_experiment(4);
        assert!(open(&other, NodeId(0), NodeId(1), &sealed).is_err());
        assert!(open(&key(), NodeId(0), NodeId(2), &sealed).is_err());
    }

    #[test]
    fn the_window_accepts_reordering_and_refuses_repeats_and_the_too_old() {
        let mut replay = Replay::new(0, 0);
        let from = NodeId(1);
        assert!(replay.accept(from, header(5)));
        assert!(replay.accept(from, header(3)), "overtaken, still fresh");
        assert!(!replay.accept(from, header(3)));
        assert!(!replay.accept(from, header(5)));
        assert!(replay.accept(from, header(5 + REPLAY_WINDOW)));
        assert!(!replay.accept(from, header(5)), "below the window");
        assert!(
            replay.accept(from, header(6)),
            "the oldest still in the window"
        );
        assert!(!replay.accept(from, header(6)));
        assert!(!replay.accept(from, header(0)), "sequences start at 1");
    }

    #[test]
    fn key_errors_say_what_is_wrong() {
        let short = LinkKey::from_slice(&[1; 16]).map(|_| ()).unwrap_err();
        assert!(short.to_string().contains("16 bytes"), "{short}");
        let missing = LinkKey::from_hex("  ").map(|_| ()).unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
        let not_hex = LinkKey::from_hex(&"zz".repeat(32)).map(|_| ()).unwrap_err();
        assert!(not_hex.to_string().contains("hexadecimal"), "{not_hex}");
        assert!(LinkKey::from_hex(&"ab".repeat(32)).is_ok());
        assert_eq!(
            LinkKey::from_hex(&"aB".repeat(32)).unwrap(),
            LinkKey::new([0xab; 32]).unwrap()
        );
        // `u8::from_str_radix` accepts "+a"; a key does not.
        let plus = format!("+a{}", "ab".repeat(31));
        let err = LinkKey::from_hex(&plus).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("character 0"), "{err}");
    }

    #[test]
    fn another_epoch_is_refused_as_a_replay() {
        let mut links = Links::new(key(), 5, NodeId(1), 0, 0);
        let mine = Header {
            epoch: 5,
            ..header(1)
        };
        let theirs = Header {
            epoch: 6,
            ..header(2)
        };
        let sealed = |h| seal(&key(), NodeId(0), NodeId(1), h, b"x");
        assert_eq!(
            links.open(NodeId(0), &sealed(theirs)),
            Err(Refusal::Replayed)
        );
        assert_eq!(links.open(NodeId(0), &sealed(mine)), Ok(&b"x"[..]));
    }
}
