//! What the queue keeps in the store: one record per message, in numbered
//! slots, and two counters that are only hints.
//!
//! Keys of queue `NAME`:
//!
//! - `q/NAME/m/SEQ` (SEQ zero-padded to 20 digits): the message in slot SEQ,
//!   a [`Slot`] encoded with [`crate::codec`]. A slot is filled once, by a
//!   compare-and-set from absent, and never emptied: the filled slots are a
//!   prefix `0..end` with no hole.
//! - `q/NAME/tail`: a slot number at or below `end`, where senders start
//!   looking for the first empty slot.
//! - `q/NAME/head`: a slot number at or below the first message not yet
//!   acknowledged nor dead, where receivers start scanning.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A message's identity, chosen by its producer and kept through
/// redeliveries and dead-lettering: what a consumer deduplicates by.
///
/// ```
/// use replikv::queue::MessageId;
/// let id = MessageId { producer: 3, number: 17 };
/// assert_eq!(id.to_string(), "3-17");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId {
    /// Who sent it (by default the sending client's id, unique in its cluster).
    pub producer: u64,
    /// The producer's own number for it.
    pub number: u64,
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.producer, self.number)
    }
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum State {
    /// Waiting to be delivered, or delivered and not yet acknowledged.
    Ready,
    /// Acknowledged: done (its body is dropped).
    Acked,
    /// Delivered too often without an acknowledgement: moved to the
    /// dead-letter queue (its body is dropped).
    Dead,
}

/// One message in its slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Slot {
    pub id: MessageId,
    pub body: Vec<u8>,
    /// When `send` wrote it, on the cluster clock (for end-to-end latency).
    pub sent_ns: u64,
    /// How many times it was handed to a consumer.
    pub deliveries: u32,
    /// Until when it is hidden from receivers (the visibility timeout of its
    /// last delivery), on the cluster clock.
    pub hidden_until_ns: u64,
    pub state: State,
}

pub(crate) fn slot_key(queue: &str, seq: u64) -> String {
    format!("q/{queue}/m/{seq:020}")
}

pub(crate) fn tail_key(queue: &str) -> String {
    format!("q/{queue}/tail")
}

pub(crate) fn head_key(queue: &str) -> String {
    format!("q/{queue}/head")
}

pub(crate) fn encode_counter(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub(crate) fn decode_counter(bytes: Option<&[u8]>) -> crate::Result<u64> {
    match bytes {
        None => Ok(0),
        Some(b) => <[u8; 8]>::try_from(b)
            .map(u64::from_be_bytes)
            .map_err(|_| crate::Error::Decode(format!("a queue counter of {} bytes", b.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_keys_sort_in_sequence_order() {
        assert!(slot_key("a", 9) < slot_key("a", 10));
        assert!(slot_key("a", 99) < slot_key("a", 100));
    }

    #[test]
    fn a_counter_round_trips_and_a_bad_one_is_an_error() {
        assert_eq!(decode_counter(Some(&encode_counter(42))).ok(), Some(42));
        assert_eq!(decode_counter(None).ok(), Some(0));
        assert!(decode_counter(Some(b"xyz")).is_err());
    }
}
