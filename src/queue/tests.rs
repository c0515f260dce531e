//! A record stored without `send`'s size check (by an older version, or
//! by hand) must not stop the queue.

use super::slot::{self, MessageId, Slot, State};
use super::{Queue, QueueConfig};
use crate::codec;
use crate::storage::Durability;
use crate::{Cluster, Consistency, Runtime};
use std::time::Duration;

/// A record that fits [`crate::MAX_VALUE_LEN`] as stored, but not once
/// `receive` adds its delivery count and visibility deadline.
fn oversized_slot() -> Vec<u8> {
    let mut slot = Slot {
        id: MessageId {
            producer: 999,
            number: 1,
        },
        body: Vec::new(),
        sent_ns: 0,
        deliveries: 0,
        hidden_until_ns: 0,
        state: State::Ready,
    };
    let empty = codec::encode(&slot).map(|b| b.len()).unwrap_or(0);
    slot.body = vec![7; crate::MAX_VALUE_LEN - empty - 16];
    // Grow the body while the stored record still fits.
    loop {
        slot.body.push(7);
        if codec::encode(&slot).map(|b| b.len()).unwrap_or(usize::MAX) > crate::MAX_VALUE_LEN {
            slot.body.pop();
            break;
        }
    }
    let bytes = codec::encode(&slot).unwrap_or_default();
    // A visibility deadline in place of 0 takes 8 more bytes.
    assert!(
        bytes.len() <= crate::MAX_VALUE_LEN && bytes.len() + 8 > crate::MAX_VALUE_LEN,
        "the record is at the limit: {}",
        bytes.len()
    );
    bytes
}

#[test]
fn a_record_that_cannot_be_delivered_is_dead_lettered_and_the_queue_goes_on() {
    for dead_letter_queue in [false, true] {
        let cluster = Cluster::builder()
            .runtime(Runtime::Simulated)
            .nodes(3)
            .consistency(Consistency::Consensus)
            .durability(Durability::FlushBeforeAck)
            .seed(5)
            .build()
            .unwrap_or_else(|e| panic!("cluster: {e}"));
        let name = if dead_letter_queue {
            "jobs.dead"
        } else {
            "jobs"
        };
        let config = QueueConfig {
            visibility_timeout: Duration::from_secs(5),
            max_deliveries: 3,
        };
        let mut queue = Queue::open(&cluster, name, config).unwrap_or_else(|e| panic!("{e}"));
        let stored = queue
            .client_mut()
            .compare_and_set(slot::slot_key(name, 0), None, Some(&oversized_slot()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(stored);
        let behind = queue.send("behind it").unwrap_or_else(|e| panic!("{e}"));
        let delivered = queue.receive().unwrap_or_else(|e| panic!("receive: {e}"));
        assert_eq!(delivered.map(|d| d.id), Some(behind), "{name}");
        let counts = queue.metrics().counts();
        assert_eq!(counts.undeliverable, 1, "{name}");
        assert_eq!(
            counts.dead_lettered,
            u64::from(!dead_letter_queue),
            "{name}"
        );
        if !dead_letter_queue {
            let mut dead =
                Queue::open(&cluster, "jobs.dead", config).unwrap_or_else(|e| panic!("{e}"));
            let copy = dead.receive();
            // Its copy in the dead-letter queue is undeliverable there too:
            // set aside, counted, not blocking.
            assert!(matches!(copy, Ok(None)), "{copy:?}");
            assert_eq!(dead.metrics().counts().undeliverable, 1);
        }
    }
}
