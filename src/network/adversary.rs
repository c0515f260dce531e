//! The network adversary: a component beside the fault knobs that sees, and
//! may rewrite, what messages *contain*.
//!
//! Everything else in the fault model — loss, delay, duplication, partitions,
//! a [`super::FaultHook`] — treats a message as a sealed box: it decides
//! whether and when the box arrives, and is shown only endpoints and sizes.
//! An attacker on a real network does more: it reads the bytes, changes
//! them, makes up new ones and sends old ones again. An [`Adversary`] is
//! that attacker. [`Network::send`] hands it every envelope first, on both
//! runtimes; whatever it returns then goes through the ordinary faults as if
//! the sender had sent it. It is kept apart from the faults on purpose:
//! [`Network::clear_faults`] heals the network but does not remove an
//! attacker, and a fault hook can never see contents.
//!
//! The built-in adversary is [`crate::security::Attacker`]; the defence
//! against it is [`crate::security`]'s authenticated links.

use super::{Envelope, Network};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Sees every envelope before the faults do, and says what the network
/// carries instead. Called on the sender's thread (on the simulator: its
/// only thread), so keep it quick and deterministic from its own seed.
pub trait Adversary: Send + Sync {
    /// Pushes into `out` what travels in place of `envelope`: the envelope
    /// itself untouched (the default), an altered copy, nothing (the
    /// message is suppressed), and any extra envelopes (forgeries, replays).
    /// `at_ns` is the cluster clock.
    fn intercept(&self, envelope: Envelope, at_ns: u64, out: &mut Vec<Envelope>);
}

impl Network {
    /// Puts an attacker on the network: from the next message on, every
    /// envelope passes through `adversary` before the faults.
    ///
    /// ```
    /// use replikv::network::{Adversary, Envelope, Network, Payload};
    /// use replikv::{Endpoint, NodeId};
    /// use std::sync::Arc;
    ///
    /// /// Rewrites every peer message to "owned".
    /// struct Rewrite;
    /// impl Adversary for Rewrite {
    ///     fn intercept(&self, mut envelope: Envelope, _at_ns: u64, out: &mut Vec<Envelope>) {
    ///         if let Payload::Peer(bytes) = &mut envelope.payload {
    ///             *bytes = b"owned".to_vec();
    ///         }
    ///         out.push(envelope);
    ///     }
    /// }
    ///
    /// let net = Network::new(2, 1, Arc::new(replikv::Clock::new(2)))?;
    /// let inbox = net.attach_node(NodeId(1))?;
    /// net.set_adversary(Arc::new(Rewrite));
    /// net.send(Envelope::new(
    ///     Endpoint::Node(NodeId(0)),
    ///     Endpoint::Node(NodeId(1)),
    ///     Payload::Peer(b"hello".to_vec()),
    /// ));
    /// assert!(matches!(inbox.try_recv().map(|e| e.payload), Ok(Payload::Peer(b)) if b == b"owned"));
    /// net.shutdown();
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn set_adversary(&self, adversary: Arc<dyn Adversary>) {
        *self.shared.adversary.write() = Some(adversary);
        self.shared.attacked.store(true, Ordering::Release);
    }

    /// Takes the attacker off the network.
    pub fn clear_adversary(&self) {
        *self.shared.adversary.write() = None;
        self.shared.attacked.store(false, Ordering::Release);
    }

    /// The attacker's rewrite of `envelope`, or `None` when there is no
    /// attacker (the common case costs one atomic load).
    pub(super) fn intercept(&self, envelope: Envelope) -> Result<Vec<Envelope>, Envelope> {
        if !self.shared.attacked.load(Ordering::Acquire) {
            return Err(envelope);
        }
        let adversary = self.shared.adversary.read().clone();
        match adversary {
            Some(adversary) => {
                let mut out = Vec::with_capacity(1);
                adversary.intercept(envelope, self.shared.clock.now_ns(), &mut out);
                Ok(out)
            }
            None => Err(envelope),
        }
    }
}
