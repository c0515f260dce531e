//! Measuring what the simulation adds to every message: the
//! [`Overheads`] fed to the WARS model.
//!
//! Bailis et al. fed WARS with latency distributions *measured* on the
//! production systems they predicted. This does the same for replikv's
//! simulated network, for the part that is not the drawn delay: a message
//! delayed by the network waits in the delay thread, which wakes a little
//! after the message is due (timer slack), and then the receiving thread
//! must wake up; a message on an instant link (client ↔ node in the
//! measurement) pays only the second. Both are measured here on a private
//! two-link network with receiving threads as sleepy as a node's, using a
//! *fixed* delay so that the overhead is not lost in the delay's variance.

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{Endpoint, NodeId};
use crate::network::{Envelope, Latency, Network, Payload};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Processing time added to messages on top of their drawn delay.
///
/// ```
/// use replikv::lab::pbs::Overheads;
/// assert_eq!(Overheads::default(), Overheads::NONE);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overheads {
    /// Added to every node-to-node message (W, A, R, S): the delay
    /// thread's lateness plus the receiver's wake-up.
    pub network: Duration,
    /// Added to each of the two client hops between a write's commit and
    /// its read reaching the read's coordinator (the acknowledgement to the
    /// client, the read request to the coordinator): a wake-up each.
    pub client: Duration,
}

impl Overheads {
    /// No overhead: the pure WARS model.
    pub const NONE: Overheads = Overheads {
        network: Duration::ZERO,
        client: Duration::ZERO,
    };

    /// Measures both overheads with `samples` messages of each kind (a few
    /// hundred take well under a second); reports medians.
    pub fn calibrate(samples: u32) -> Result<Overheads> {
        let samples = samples.max(1);
        let clock = Arc::new(Clock::new(3));
        let network = Network::new(3, 0, clock)?;
        let fixed = Duration::from_micros(500);
        let (from, delayed, instant) = (NodeId(0), NodeId(1), NodeId(2));
        network.set_link_latency(
            Endpoint::Node(from),
            Endpoint::Node(delayed),
            Latency::Fixed(fixed),
        )?;
        network.set_link_latency(Endpoint::Node(from), Endpoint::Node(instant), Latency::Zero)?;
        let result = (|| {
            let net = median_late(&network, from, delayed, fixed, samples)?;
            let client = median_late(&network, from, instant, Duration::ZERO, samples)?;
            Ok(Overheads {
                network: net,
                client,
            })
        })();
        network.shutdown();
        result
    }
}

/// Sends `samples` messages `from → to`, one at a time, each after the
/// previous arrived and the receiver went back to sleep; returns the median
/// of (arrival − send − `nominal`).
fn median_late(
    network: &Network,
    from: NodeId,
    to: NodeId,
    nominal: Duration,
    samples: u32,
) -> Result<Duration> {
    let inbox = network.attach_node(to)?;
    let base = Instant::now();
    let receiver = std::thread::Builder::new()
        .name("replikv-pbs-calibrate".into())
        .spawn(move || {
            let mut late = Vec::with_capacity(samples as usize);
            while late.len() < samples as usize {
                let Ok(envelope) = inbox.recv_timeout(Duration::from_secs(5)) else {
                    break;
                };
                let arrived = base.elapsed();
                if let Payload::Peer(bytes) = envelope.payload
                    && let Ok(sent) = <[u8; 16]>::try_from(bytes.as_slice())
                {
                    let sent = Duration::from_nanos(u128::from_le_bytes(sent) as u64);
                    late.push(arrived.saturating_sub(sent + nominal));
                }
            }
            late
        })
        .map_err(Error::Io)?;
    for _ in 0..samples {
        let sent = base.elapsed().as_nanos();
        network.send(Envelope::new(
            Endpoint::Node(from),
            Endpoint::Node(to),
            Payload::Peer(sent.to_le_bytes().to_vec()),
        ));
        // Long enough for the message to arrive and the receiver to sleep.
        std::thread::sleep(nominal + Duration::from_micros(300));
    }
    let mut late = receiver
        .join()
        .map_err(|_| Error::Protocol("the calibration thread panicked".into()))?;
    late.sort_unstable();
    late.get(late.len() / 2)
        .copied()
        .ok_or_else(|| Error::Protocol("calibration: no message arrived".into()))
}
