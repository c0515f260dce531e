//! The fault knobs, as data (stateright's `Network`, raft-rs's harness):
//! drop probability, duplicate probability, latency (global and per link),
//! partitions and one-way cuts, and a user hook that can decide each
//! envelope's fate itself.

use super::kind::MessageKind;
use super::latency::Latency;
use crate::ids::{Endpoint, NodeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What a fault hook is shown of an envelope: endpoints, size and the kind
/// its sender labelled it with, never contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeInfo {
    /// Sender.
    pub from: Endpoint,
    /// Receiver.
    pub to: Endpoint,
    /// Encoded size in bytes.
    pub bytes: usize,
    /// Nanoseconds since the cluster started.
    pub at_ns: u64,
    /// What the sender says the message is for (see [`MessageKind`]).
    pub kind: MessageKind,
}

/// A fault hook's decision for one envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver once, after the given delay.
    Deliver(Duration),
    /// Lose it.
    Drop,
    /// Deliver twice, after each of the two delays.
    Duplicate(Duration, Duration),
}

/// Decides the fate of envelopes. Return `None` to let the network's own knobs
/// decide. Called on the sender's thread, so keep it quick.
pub trait FaultHook: Send + Sync {
    /// The verdict for this envelope, or `None` for the default treatment.
    fn decide(&self, envelope: &EnvelopeInfo) -> Option<Verdict>;
}

impl<F> FaultHook for F
where
    F: Fn(&EnvelopeInfo) -> Option<Verdict> + Send + Sync,
{
    fn decide(&self, envelope: &EnvelopeInfo) -> Option<Verdict> {
        self(envelope)
    }
}

/// Which links the random knobs — drop and duplicate probability, and the
/// global latency — act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaultScope {
    /// Every link, client ↔ node included: a lost request or reply makes
    /// the client time out, as on a real network.
    #[default]
    AllLinks,
    /// Only node ↔ node links: clients reach nodes at once and reliably, so
    /// every fault lands on the protocol and none on the client's view.
    /// Link-specific latencies, the client latency, cuts and the fault hook
    /// still apply.
    NodeLinks,
}

impl fmt::Display for FaultScope {
    /// The name the command line and the report use: `all` or `nodes`.
    ///
    /// ```
    /// use replikv::network::FaultScope;
    /// assert_eq!(FaultScope::NodeLinks.to_string(), "nodes");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultScope::AllLinks => "all",
            FaultScope::NodeLinks => "nodes",
        })
    }
}

/// The current fault settings.
#[derive(Clone, Default)]
pub(crate) struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    pub latency: Latency,
    pub link_latency: HashMap<(Endpoint, Endpoint), Latency>,
    /// Node-to-node latency per [`MessageKind`] (indexed by
    /// `MessageKind::index`); `None`: the global latency.
    pub kind_latency: [Option<Latency>; MessageKind::ALL.len()],
    /// Latency of every link with a client at one end; `None`: the global one.
    pub client_latency: Option<Latency>,
    /// Directed node-to-node links that are cut.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    pub hook: Option<Arc<dyn FaultHook>>,
    pub scope: FaultScope,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("drop", &self.drop)
            .field("duplicate", &self.duplicate)
            .field("latency", &self.latency)
            .field("link_latency", &self.link_latency)
            .field("kind_latency", &self.kind_latency)
            .field("client_latency", &self.client_latency)
            .field("cut", &self.cut)
            .field("hook", &self.hook.is_some())
            .field("scope", &self.scope)
            .finish()
    }
}

impl Faults {
    /// True when nothing can happen to a message but instant delivery, so the
    /// sender can skip the random number generator entirely.
    pub fn is_quiet(&self) -> bool {
        self.drop == 0.0
            && self.duplicate == 0.0
            && self.latency == Latency::Zero
            && self.link_latency.is_empty()
            && self.kind_latency.iter().all(Option::is_none)
            && self.client_latency.is_none()
            && self.cut.is_empty()
            && self.hook.is_none()
    }

    /// True when the link from `from` to `to` is cut.
    pub fn is_cut(&self, from: Endpoint, to: Endpoint) -> bool {
        match (from, to) {
            (Endpoint::Node(a), Endpoint::Node(b)) => self.cut.contains(&(a, b)),
            _ => false,
        }
    }

    /// True when the random knobs leave this link alone.
    pub fn spares(&self, from: Endpoint, to: Endpoint) -> bool {
        self.scope == FaultScope::NodeLinks
            && (matches!(from, Endpoint::Client(_)) || matches!(to, Endpoint::Client(_)))
    }

    /// The latency set for this message specifically — its link's, else
    /// the client latency on a client link or its kind's on a node link —
    /// or `None` when only the global latency applies. See the order in the
    /// [module docs](super).
    pub fn own_latency_of(
        &self,
        from: Endpoint,
        to: Endpoint,
        kind: MessageKind,
    ) -> Option<Latency> {
        if let Some(&latency) = self.link_latency.get(&(from, to)) {
            return Some(latency);
        }
        let client_link = matches!(from, Endpoint::Client(_)) || matches!(to, Endpoint::Client(_));
        if client_link {
            self.client_latency
        } else {
            self.kind_latency[kind.index()]
        }
    }

    /// The latency distribution of a message of `kind` on a link.
    pub fn latency_of(&self, from: Endpoint, to: Endpoint, kind: MessageKind) -> Latency {
        self.own_latency_of(from, to, kind).unwrap_or(self.latency)
    }
}
