//! How a message that the fault model let through travels to its inbox.
//!
//! The fault decisions ([`super::Network::send`]) are the same for both
//! runtimes; only the transport differs:
//!
//! - **threads**: a message with no delay goes straight into the receiver's
//!   channel on the sender's thread; a delayed one waits in the delay line
//!   (`delay.rs`), a thread that releases it on the monotonic clock;
//! - **simulation**: every message, delayed or not, goes into an outbox that
//!   the simulator drains after each step into its event queue, on virtual
//!   time. Nothing moves until the simulator says so, which is what makes a
//!   run replayable.

use super::Envelope;
use super::delay::DelayLine;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A message on its way, as the simulator receives it.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The message.
    pub envelope: Envelope,
    /// The receiver's connection when it was sent (see `Shared::deliver`).
    pub connection: Option<u64>,
    /// How long it travels.
    pub delay: Duration,
    /// Its number in the message trace, if one is recorded.
    pub trace: Option<u64>,
}

/// The simulator's side of the network: messages sent since it last looked.
#[derive(Debug, Default)]
pub(crate) struct SimOutbox {
    sent: Mutex<Vec<InFlight>>,
    /// Messages handed over and not yet delivered or dropped (for stats).
    in_flight: AtomicUsize,
}

impl SimOutbox {
    /// Moves the messages sent since the last call into `into` (empty on
    /// entry), in send order. The two vectors trade places, so neither side
    /// allocates once both have grown to the traffic of one step.
    pub(crate) fn take_into(&self, into: &mut Vec<InFlight>) {
        std::mem::swap(&mut *self.sent.lock(), into);
    }

    /// The simulator delivered (or dropped) one message it had taken.
    pub(crate) fn settled(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The simulator threw away `n` messages it had taken (end of a run).
    pub(crate) fn abandoned(&self, n: usize) {
        self.in_flight.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The transport of one network.
pub(crate) enum Transport {
    Threads(DelayLine),
    Simulated(Arc<SimOutbox>),
}

impl Transport {
    /// Messages sent and not yet in an inbox (or dropped).
    pub(crate) fn waiting(&self) -> usize {
        match self {
            Transport::Threads(line) => line.len(),
            Transport::Simulated(outbox) => outbox.in_flight.load(Ordering::Relaxed),
        }
    }

    /// Hands a simulated message to the simulator's outbox.
    pub(crate) fn simulate(outbox: &SimOutbox, message: InFlight) {
        outbox.in_flight.fetch_add(1, Ordering::Relaxed);
        outbox.sent.lock().push(message);
    }
}
