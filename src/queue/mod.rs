//! A replicated message queue: named queues, `send`, `receive` with a
//! visibility timeout, `ack`, redelivery, and a dead-letter queue.
//!
//! # The pattern
//!
//! A message queue decouples a producer from its consumers in time: the
//! producer's `send` returns once the message is stored, and a consumer
//! takes it later, at its own pace, even if it was down when the message
//! was sent. Amazon SQS's contract is the model here: `receive` hands a
//! message out and *hides* it for a **visibility timeout**; the consumer
//! `ack`s (SQS: deletes) it once done; a message not acknowledged in time
//! becomes visible again and is delivered again; after
//! [`QueueConfig::max_deliveries`] deliveries without an acknowledgement it
//! is moved to a **dead-letter queue** (`NAME.dead`) so that one poison
//! message cannot block its consumers for ever. A dead-letter queue is
//! opened by that name like any queue and has no dead-letter queue of its
//! own: its messages are redelivered for as long as nobody acknowledges
//! them. Queue names are made of `A-Z a-z 0-9 . _ -`; a name ending in
//! `.dead` is reserved for the dead-letter queues.
//!
//! Delivery is **at-least-once**: a consumer that crashes (or stalls past
//! the timeout) after acting on a message and before acknowledging it gets
//! the message again, so it may act twice; a message is never lost once its
//! `send` returned `Ok`, as long as a majority of the nodes keeps its disk.
//! That promise needs every node to flush a write before acknowledging it
//! ([`Durability::FlushBeforeAck`]): under [`Durability::Periodic`] a node
//! that crashes forgets its writes since the last flush, acknowledged ones
//! included, and a few crashes one after the other can then lose a sent
//! message that every node had acknowledged. [`Queue::open`] therefore
//! refuses a cluster that does not flush before acknowledging. Exactly-once *effects* are the consumer's job, by
//! deduplicating on the message's [`MessageId`]: [`exactly_once`] does it
//! with the idempotency keys kept in the store beside the state they guard
//! (Helland, "Idempotence Is Not a Medical Condition", CACM 2012).
//!
//! # Order
//!
//! Messages sit in numbered slots in the order their sends took effect (a
//! send acknowledged before another starts gets the lower number), and
//! `receive` hands out the **lowest-numbered visible** message. So one
//! consumer that acknowledges each message before receiving the next sees
//! the messages in send order, each once. A message whose visibility
//! timeout expires is handed out again when it becomes visible — after
//! messages sent later may already have been delivered — and several
//! consumers run concurrently: neither redeliveries nor different
//! consumers keep any order. (Tests: `tests/queue.rs`.)
//!
//! # Why a layer over compare-and-set on Raft
//!
//! Every step of a message's life is a read-modify-write of one record:
//! claim an empty slot, hide a message from every other receiver, mark it
//! acknowledged. Done with plain puts, two receivers would both take the
//! same message and two senders would overwrite each other's slot. The
//! queue therefore stands on [`Client::compare_and_set`], which only
//! [`Consistency::Consensus`](crate::Consistency::Consensus) (Raft) offers
//! — linearizable, and durable once acknowledged (a majority has the entry
//! in its persisted log) — and which every other mode refuses with
//! [`Error::Unsupported`]. [`Queue::open`] checks this up front.
//!
//! The alternative was a protocol of its own behind
//! [`crate::protocol::Protocol`]. A replicated queue *is* a replicated
//! state machine, so that protocol would have to re-implement a leader,
//! a log and commit rules — Raft again, unchecked. As a layer, the queue
//! is a few compare-and-sets over the one piece the
//! crate already checks for linearizability. The price is round trips:
//! a `send` is a read and at least two compare-and-sets, a `receive` reads
//! every unsettled slot from the head up to the first visible message; the
//! `queue` bench measures it beside the store's own puts.
//!
//! # How
//!
//! Slots are filled by a compare-and-set from absent and never emptied, so
//! the filled slots form a prefix with no hole; `tail` and `head` are only
//! hints, moved forward by compare-and-set by whoever notices they lag (see
//! `slot.rs` for the keys). An acknowledged or dead slot never changes
//! again, so each handle remembers the settled slots it has read above the
//! head and skips them without reading them again: a message left in
//! flight at the front of the queue (the head cannot pass it) costs the
//! receivers behind it one read per message still unsettled, not one per
//! message ever sent after it. There is no limit on how far a `receive`
//! looks. Visibility is decided on the cluster clock
//! ([`crate::Cluster::clock`]): real time on threads, virtual time on the
//! simulator, so a timeout of a minute costs nothing in a simulated run.
//! The clock is the global observer's, shared by every client — a real
//! broker would keep the timeout on its own leader's clock.
//!
//! Failures: every operation returns the store's error ([`Error::Timeout`],
//! [`Error::Unavailable`]) and does not retry. A `send` that failed may or
//! may not have stored the message; retrying it with the same id
//! ([`Queue::send_with_id`]) may store it twice, which a deduplicating
//! consumer absorbs. Dead-lettering copies the message to the dead-letter
//! queue *before* marking it dead, so a crash between the two steps can
//! copy it twice, never lose it.
//!
//! ```
//! use replikv::queue::{Queue, QueueConfig};
//! use replikv::storage::Durability;
//! use replikv::{Cluster, Consistency, Runtime};
//! use std::time::Duration;
//!
//! let cluster = Cluster::builder().runtime(Runtime::Simulated)
//!     .consistency(Consistency::Consensus)
//!     .durability(Durability::FlushBeforeAck).build()?;
//! let config = QueueConfig { visibility_timeout: Duration::from_secs(5), max_deliveries: 2 };
//! let mut queue = Queue::open(&cluster, "jobs", config)?;
//! queue.send("resize photo 7")?;
//! let first = queue.receive()?.expect("a message");
//! assert_eq!(first.body, b"resize photo 7");
//! assert!(queue.receive()?.is_none(), "hidden while in flight");
//! // The consumer never acknowledges: after the visibility timeout it comes back.
//! cluster.run_for(Duration::from_secs(6));
//! let again = queue.receive()?.expect("redelivered");
//! assert_eq!((again.id, again.delivery), (first.id, 2));
//! assert!(queue.ack(&again)?);
//! assert!(queue.receive()?.is_none());
//! # Ok::<(), replikv::Error>(())
//! ```

pub mod exactly_once;
mod metrics;
pub mod run;
mod slot;

pub use metrics::{DepthSample, LatencySummary, QueueCounts, QueueMetrics};
pub use slot::MessageId;

use crate::client::Client;
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::codec;
use crate::error::{Error, Result};
use crate::storage::Durability;
use slot::{Slot, State};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The longest queue name accepted, in bytes (its dead-letter queue's name
/// is [`DEAD_LETTER_SUFFIX`] longer).
pub const MAX_QUEUE_NAME_LEN: usize = 200;

/// What names the dead-letter queue of queue `NAME`: `NAME.dead`.
pub const DEAD_LETTER_SUFFIX: &str = ".dead";

#[cfg(test)]
mod tests;

/// Settings of a queue handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a delivered message stays hidden from other receivers
    /// before it is delivered again, unless acknowledged. Not zero.
    pub visibility_timeout: Duration,
    /// After this many deliveries without an acknowledgement a message goes
    /// to the dead-letter queue `NAME.dead`. At least 1.
    pub max_deliveries: u32,
}

impl Default for QueueConfig {
    /// A 30-second visibility timeout (SQS's default) and 5 deliveries.
    fn default() -> Self {
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_deliveries: 5,
        }
    }
}

/// A message handed to a consumer by [`Queue::receive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The queue it came from.
    pub queue: String,
    /// Its slot in the queue.
    pub seq: u64,
    /// Its producer's id for it: the same on every delivery.
    pub id: MessageId,
    /// Its content.
    pub body: Vec<u8>,
    /// Which delivery this is: 1 the first time, 2 after one visibility
    /// timeout expired, and so on.
    pub delivery: u32,
    /// When it was sent, on the cluster clock (nanoseconds).
    pub sent_ns: u64,
}

/// A handle on one named queue: a client of the cluster with the queue's
/// operations. One per thread, like [`Client`].
#[derive(Debug)]
pub struct Queue {
    name: String,
    /// `None` for a dead-letter queue, which has none.
    dead_letters: Option<String>,
    /// Slots at or above the head that this handle saw acknowledged or
    /// dead: final, so never read again.
    settled: BTreeSet<u64>,
    config: QueueConfig,
    client: Client,
    clock: Arc<Clock>,
    metrics: QueueMetrics,
    next_number: u64,
}

impl Queue {
    /// Opens queue `name` on `cluster` (a queue exists as soon as something
    /// is sent to it). The cluster must run
    /// [`Consistency::Consensus`](crate::Consistency::Consensus): any other
    /// mode is refused with [`Error::Unsupported`]. Its nodes must flush
    /// before they acknowledge ([`Durability::FlushBeforeAck`]), or a crash
    /// could lose an acknowledged send: any other durability is
    /// [`Error::InvalidConfig`]. So are a name that is empty, longer than
    /// [`MAX_QUEUE_NAME_LEN`], holds anything but `A-Z a-z 0-9 . _ -`, or
    /// ends in `.dead` other than as `NAME.dead`, the dead-letter queue of a
    /// valid `NAME`; a zero visibility timeout; and zero deliveries.
    ///
    /// ```
    /// use replikv::queue::{Queue, QueueConfig};
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, Consistency, Error, Runtime};
    /// let eventual = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Eventual { r: 1, w: 1 }).build()?;
    /// let refused = Queue::open(&eventual, "jobs", QueueConfig::default());
    /// assert!(matches!(refused, Err(Error::Unsupported(why)) if why.contains("Consensus")));
    /// let periodic = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus).build()?;
    /// let refused = Queue::open(&periodic, "jobs", QueueConfig::default());
    /// assert!(matches!(refused, Err(Error::InvalidConfig(why)) if why.contains("FlushBeforeAck")));
    /// let raft = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .durability(Durability::FlushBeforeAck).build()?;
    /// assert!(matches!(Queue::open(&raft, "a/b", QueueConfig::default()), Err(Error::InvalidConfig(_))));
    /// assert!(matches!(Queue::open(&raft, "x.dead.dead", QueueConfig::default()), Err(Error::InvalidConfig(_))));
    /// let jobs = Queue::open(&raft, "jobs", QueueConfig::default())?;
    /// assert_eq!(jobs.dead_letter_queue(), Some("jobs.dead"));
    /// let dead = Queue::open(&raft, "jobs.dead", QueueConfig::default())?;
    /// assert_eq!(dead.dead_letter_queue(), None);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn open(cluster: &Cluster, name: &str, config: QueueConfig) -> Result<Queue> {
        let dead_letters = validate_name(name)?;
        if config.visibility_timeout.is_zero() {
            return Err(Error::InvalidConfig(
                "a queue's visibility timeout must be above zero".into(),
            ));
        }
        if config.max_deliveries == 0 {
            return Err(Error::InvalidConfig(
                "a queue's max_deliveries must be at least 1".into(),
            ));
        }
        let mut client = cluster.client()?;
        // A compare-and-set that cannot swap (the probe key holds nothing,
        // and we expect something): Consensus answers `false` and changes
        // nothing; every other mode refuses it.
        if let Err(Error::Unsupported(why)) =
            client.compare_and_set(slot::tail_key(name), Some(b"probe"), Some(b"probe"))
        {
            return Err(Error::Unsupported(format!(
                "a queue needs Consistency::Consensus (compare-and-set): {why}"
            )));
        }
        if cluster.durability() != Durability::FlushBeforeAck {
            return Err(Error::InvalidConfig(format!(
                "queue {name}: a queue promises that a message survives crashes once `send` \
                 returned Ok, which needs nodes that flush before they acknowledge; build the \
                 cluster with .durability(Durability::FlushBeforeAck) (under {:?} a crashed node \
                 forgets its writes since the last flush, acknowledged ones included)",
                cluster.durability()
            )));
        }
        let next_number = 0;
        Ok(Queue {
            dead_letters,
            settled: BTreeSet::new(),
            name: name.to_string(),
            config,
            client,
            clock: cluster.clock().clone(),
            metrics: QueueMetrics::new(),
            next_number,
        })
    }

    /// Records into `metrics` from now on (share one between handles to add
    /// their counts up).
    pub fn with_metrics(mut self, metrics: QueueMetrics) -> Queue {
        self.metrics = metrics;
        self
    }

    /// This handle's metrics.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of its dead-letter queue (`NAME.dead`), to open like any
    /// other; `None` when this is a dead-letter queue.
    pub fn dead_letter_queue(&self) -> Option<&str> {
        self.dead_letters.as_deref()
    }

    /// The client underneath, to act on the same cluster (a consumer's
    /// effects, [`exactly_once`]).
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// A fresh id for a message of this handle.
    pub fn next_id(&mut self) -> MessageId {
        self.next_number += 1;
        MessageId {
            producer: self.client.id().0,
            number: self.next_number,
        }
    }

    /// Sends `body` under a fresh id; once this returns `Ok`, the message
    /// survives any crash a majority of the nodes survives.
    ///
    /// A body is refused with [`Error::ValueTooLong`] (its `max` says how
    /// long it may be) unless its record still fits
    /// [`crate::MAX_VALUE_LEN`] with the largest delivery count and
    /// visibility deadline `receive` may write into it: a message that is
    /// accepted can always be delivered.
    ///
    /// ```
    /// use replikv::queue::{Queue, QueueConfig};
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, Consistency, Error, Runtime, MAX_VALUE_LEN};
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .durability(Durability::FlushBeforeAck).build()?;
    /// let mut queue = Queue::open(&cluster, "jobs", QueueConfig::default())?;
    /// let id = queue.send("job 1")?;
    /// assert_eq!(queue.receive()?.map(|d| d.id), Some(id));
    /// let too_long = queue.send(vec![0u8; MAX_VALUE_LEN]);
    /// assert!(matches!(too_long, Err(Error::ValueTooLong { max, .. }) if max < MAX_VALUE_LEN));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn send(&mut self, body: impl AsRef<[u8]>) -> Result<MessageId> {
        let id = self.next_id();
        self.send_with_id(id, body)?;
        Ok(id)
    }

    /// Sends `body` under `id` — to retry a send that failed, so that a
    /// consumer can recognise the copy if both were stored.
    pub fn send_with_id(&mut self, id: MessageId, body: impl AsRef<[u8]>) -> Result<()> {
        let slot = Slot {
            id,
            body: body.as_ref().to_vec(),
            sent_ns: self.clock.now_ns(),
            deliveries: 0,
            hidden_until_ns: 0,
            state: State::Ready,
        };
        // The largest record `receive` may write for this message.
        let worst = Slot {
            deliveries: u32::MAX,
            hidden_until_ns: u64::MAX,
            ..slot.clone()
        };
        let worst_len = codec::encode(&worst).map_err(Error::Encode)?.len();
        if worst_len > crate::MAX_VALUE_LEN {
            let overhead = worst_len - slot.body.len();
            return Err(Error::ValueTooLong {
                len: slot.body.len(),
                max: crate::MAX_VALUE_LEN.saturating_sub(overhead),
            });
        }
        let name = self.name.clone();
        self.append(&name, &slot)?;
        self.metrics.update(|c| c.sent += 1);
        Ok(())
    }

    /// Puts `slot` in the first empty slot of `queue`.
    fn append(&mut self, queue: &str, slot: &Slot) -> Result<u64> {
        let bytes = codec::encode(slot).map_err(Error::Encode)?;
        crate::client::validate_value(&bytes)?;
        let tail = slot::tail_key(queue);
        let mut seq = slot::decode_counter(self.client.get(&tail)?.as_deref())?;
        loop {
            let key = slot::slot_key(queue, seq);
            let stored = self.client.compare_and_set(&key, None, Some(&bytes))?;
            // Filled by us or by someone else: either way the tail may move
            // past it.
            self.advance(&tail, seq);
            if stored {
                return Ok(seq);
            }
            seq += 1;
        }
    }

    /// Moves the counter at `key` from `seq` to `seq + 1` if it is still at
    /// `seq`. A hint: failure (someone else moved it, or a timeout) is fine.
    fn advance(&mut self, key: &str, seq: u64) {
        self.move_counter(key, seq, seq + 1);
    }

    /// Moves the counter at `key` from `from` to `to` if it is still at
    /// `from` (a hint, like [`Queue::advance`]).
    fn move_counter(&mut self, key: &str, from: u64, to: u64) {
        let expected = (from > 0).then(|| slot::encode_counter(from));
        let _ =
            self.client
                .compare_and_set(key, expected.as_deref(), Some(&slot::encode_counter(to)));
    }

    /// Reads the head hint and forgets the settled slots below it.
    fn head(&mut self) -> Result<u64> {
        let head = slot::decode_counter(self.client.get(slot::head_key(&self.name))?.as_deref())?;
        self.settled = self.settled.split_off(&head);
        Ok(head)
    }

    /// The first slot at or after `seq` not known to be settled.
    fn skip_settled(&self, mut seq: u64) -> u64 {
        for &settled in self.settled.range(seq..) {
            if settled != seq {
                break;
            }
            seq += 1;
        }
        seq
    }

    /// Reads slot `seq`: `None` past the end of the queue.
    fn read(&mut self, queue: &str, seq: u64) -> Result<Option<(Vec<u8>, Slot)>> {
        match self.client.get(slot::slot_key(queue, seq))? {
            None => Ok(None),
            Some(raw) => {
                let slot = codec::decode(&raw).map_err(|e| {
                    Error::Decode(format!("queue {queue} slot {seq} holds no message: {e}"))
                })?;
                Ok(Some((raw, slot)))
            }
        }
    }

    /// Takes the lowest-numbered visible message and hides it for the
    /// visibility timeout; `None` when no message is visible. A message
    /// already delivered [`QueueConfig::max_deliveries`] times whose timeout
    /// expired is moved to the dead-letter queue instead (in a dead-letter
    /// queue, which has none, it is simply delivered again). A message whose
    /// record could not be handed out within [`crate::MAX_VALUE_LEN`] (only
    /// one stored without [`Queue::send`]'s check) is moved aside the same
    /// way and counted in [`QueueCounts::undeliverable`]: no record blocks
    /// the ones behind it.
    ///
    /// ```
    /// use replikv::queue::{Queue, QueueConfig};
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, Consistency, Runtime};
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .durability(Durability::FlushBeforeAck).build()?;
    /// let mut queue = Queue::open(&cluster, "jobs", QueueConfig::default())?;
    /// assert_eq!(queue.receive()?, None, "empty");
    /// queue.send("a")?;
    /// queue.send("b")?;
    /// let a = queue.receive()?.expect("a");
    /// let b = queue.receive()?.expect("b: a is in flight, hidden");
    /// assert_eq!((a.body.as_slice(), b.body.as_slice()), (&b"a"[..], &b"b"[..]));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn receive(&mut self) -> Result<Option<Delivery>> {
        let head_key = slot::head_key(&self.name);
        let head = self.head()?;
        // Still at the settled prefix: the head hint may move past it.
        let mut at_head = true;
        let mut seq = head;
        loop {
            seq = self.skip_settled(seq);
            let name = self.name.clone();
            let Some((raw, slot)) = self.read(&name, seq)? else {
                if at_head && seq > head {
                    self.move_counter(&head_key, head, seq);
                }
                return Ok(None);
            };
            if slot.state != State::Ready {
                self.settled.insert(seq);
                seq += 1;
                continue;
            }
            if at_head {
                at_head = false;
                if seq > head {
                    self.move_counter(&head_key, head, seq);
                }
            }
            let now = self.clock.now_ns();
            if slot.hidden_until_ns > now {
                seq += 1;
                continue;
            }
            if slot.deliveries >= self.config.max_deliveries && self.dead_letters.is_some() {
                self.dead_letter(seq, &raw, slot, false)?;
                continue; // read the slot again: dead now, or changed
            }
            let timeout =
                u64::try_from(self.config.visibility_timeout.as_nanos()).unwrap_or(u64::MAX);
            let taken = Slot {
                deliveries: slot.deliveries.saturating_add(1),
                hidden_until_ns: now.saturating_add(timeout),
                ..slot.clone()
            };
            let bytes = codec::encode(&taken).map_err(Error::Encode)?;
            if bytes.len() > crate::MAX_VALUE_LEN {
                // Stored without `send`'s check: it can never be handed
                // out, and must not block the messages behind it.
                self.dead_letter(seq, &raw, slot, true)?;
                continue;
            }
            let key = slot::slot_key(&self.name, seq);
            if self
                .client
                .compare_and_set(&key, Some(&raw), Some(&bytes))?
            {
                self.metrics.update(|c| {
                    c.deliveries += 1;
                    if taken.deliveries > 1 {
                        c.redeliveries += 1;
                    }
                });
                return Ok(Some(Delivery {
                    queue: self.name.clone(),
                    seq,
                    id: taken.id,
                    body: taken.body,
                    delivery: taken.deliveries,
                    sent_ns: taken.sent_ns,
                }));
            }
            // Someone else changed it first: look at it again.
        }
    }

    /// Copies the message of slot `seq` to the dead-letter queue (a
    /// dead-letter queue has none: the message is only set aside), then
    /// marks it dead (if nobody changed it meanwhile). `undeliverable`: it
    /// goes because it cannot be handed out, not for its deliveries.
    fn dead_letter(&mut self, seq: u64, raw: &[u8], slot: Slot, undeliverable: bool) -> Result<()> {
        if let Some(dead_letters) = self.dead_letters.clone() {
            let copy = Slot {
                deliveries: 0,
                hidden_until_ns: 0,
                ..slot.clone()
            };
            self.append(&dead_letters, &copy)?;
        }
        // Copied: the body is dropped here. Set aside in a dead-letter
        // queue: it stays in the record (which it fitted when stored).
        let body = if self.dead_letters.is_some() {
            Vec::new()
        } else {
            slot.body.clone()
        };
        let dead = Slot {
            state: State::Dead,
            body,
            ..slot
        };
        let bytes = codec::encode(&dead).map_err(Error::Encode)?;
        let key = slot::slot_key(&self.name, seq);
        if self.client.compare_and_set(&key, Some(raw), Some(&bytes))? {
            let copied = self.dead_letters.is_some();
            self.metrics.update(|c| {
                if copied {
                    c.dead_lettered += 1;
                }
                if undeliverable {
                    c.undeliverable += 1;
                }
            });
        }
        Ok(())
    }

    /// Acknowledges `delivery`: the message is done and will not be
    /// delivered again. `Ok(false)` when the acknowledgement comes too late
    /// — the message was delivered again since (to this consumer or
    /// another), dead-lettered, or already acknowledged — so this
    /// delivery's work may be repeated by another delivery. A delivery from
    /// another queue is [`Error::InvalidConfig`].
    ///
    /// ```
    /// use replikv::queue::{Queue, QueueConfig};
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, Consistency, Runtime};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .durability(Durability::FlushBeforeAck).build()?;
    /// let config = QueueConfig { visibility_timeout: Duration::from_secs(1), max_deliveries: 5 };
    /// let mut queue = Queue::open(&cluster, "jobs", config)?;
    /// queue.send("a")?;
    /// let slow = queue.receive()?.expect("a");
    /// cluster.run_for(Duration::from_secs(2)); // too slow: delivered again
    /// let again = queue.receive()?.expect("a again");
    /// assert!(!queue.ack(&slow)?, "too late");
    /// assert!(queue.ack(&again)?);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn ack(&mut self, delivery: &Delivery) -> Result<bool> {
        if delivery.queue != self.name {
            return Err(Error::InvalidConfig(format!(
                "a delivery from queue {} acknowledged on queue {}",
                delivery.queue, self.name
            )));
        }
        loop {
            let name = self.name.clone();
            let Some((raw, slot)) = self.read(&name, delivery.seq)? else {
                return Err(Error::InvalidConfig(format!(
                    "queue {} has no message in slot {}",
                    self.name, delivery.seq
                )));
            };
            if slot.id != delivery.id {
                return Err(Error::InvalidConfig(format!(
                    "slot {} of queue {} holds message {}, not {}",
                    delivery.seq, self.name, slot.id, delivery.id
                )));
            }
            if slot.state != State::Ready || slot.deliveries != delivery.delivery {
                self.metrics.update(|c| c.stale_acks += 1);
                return Ok(false);
            }
            let acked = Slot {
                state: State::Acked,
                body: Vec::new(),
                ..slot
            };
            let bytes = codec::encode(&acked).map_err(Error::Encode)?;
            let key = slot::slot_key(&self.name, delivery.seq);
            if self
                .client
                .compare_and_set(&key, Some(&raw), Some(&bytes))?
            {
                let now = self.clock.now_ns();
                self.settled.insert(delivery.seq);
                self.metrics.update(|c| c.acked += 1);
                self.metrics
                    .record_latency(now.saturating_sub(acked.sent_ns));
                return Ok(true);
            }
        }
    }

    /// Counts the messages not yet acknowledged nor dead, visible and in
    /// flight, and records the sample in the metrics (depth over time).
    /// Reads every unsettled slot from the head (and, the first time, the
    /// settled ones too): a measurement, not a fast path.
    ///
    /// ```
    /// use replikv::queue::{Queue, QueueConfig};
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, Consistency, Runtime};
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .durability(Durability::FlushBeforeAck).build()?;
    /// let mut queue = Queue::open(&cluster, "jobs", QueueConfig::default())?;
    /// queue.send("a")?;
    /// queue.send("b")?;
    /// let a = queue.receive()?.expect("a");
    /// let depth = queue.depth()?;
    /// assert_eq!((depth.visible, depth.in_flight), (1, 1));
    /// queue.ack(&a)?;
    /// assert_eq!(queue.depth()?.in_flight, 0);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn depth(&mut self) -> Result<DepthSample> {
        let mut seq = self.head()?;
        let now = self.clock.now_ns();
        let mut sample = DepthSample {
            at_ns: now,
            visible: 0,
            in_flight: 0,
        };
        let name = self.name.clone();
        loop {
            seq = self.skip_settled(seq);
            let Some((_, slot)) = self.read(&name, seq)? else {
                break;
            };
            if slot.state == State::Ready {
                if slot.hidden_until_ns > now {
                    sample.in_flight += 1;
                } else {
                    sample.visible += 1;
                }
            } else {
                self.settled.insert(seq);
            }
            seq += 1;
        }
        self.metrics.record_depth(sample);
        Ok(sample)
    }
}

/// Checks a queue name; the name of its dead-letter queue, or `None` when
/// it names a dead-letter queue.
fn validate_name(name: &str) -> Result<Option<String>> {
    let (base, dead) = match name.strip_suffix(DEAD_LETTER_SUFFIX) {
        Some(base) => (base, true),
        None => (name, false),
    };
    let valid = !base.is_empty()
        && base.len() <= MAX_QUEUE_NAME_LEN
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !base.ends_with(DEAD_LETTER_SUFFIX);
    if !valid {
        return Err(Error::InvalidConfig(format!(
            "a queue name is 1 to {MAX_QUEUE_NAME_LEN} characters from A-Z a-z 0-9 . _ - and \
             does not end in {DEAD_LETTER_SUFFIX:?}, which names a queue's dead-letter queue \
             (NAME{DEAD_LETTER_SUFFIX}, opened by that name); not {name:?}"
        )));
    }
    Ok((!dead).then(|| format!("{name}{DEAD_LETTER_SUFFIX}")))
}
