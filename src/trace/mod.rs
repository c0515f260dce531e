//! Message traces: every message a run sent, what became of it, and the
//! crashes, restarts, partitions and timers around it — and the sequence
//! diagram drawn from them.
//!
//! # Why
//!
//! A history says what the *clients* saw. When it holds a stale read, the
//! question that follows is *why*: which replica answered, which message was
//! lost or late, which node was cut off. The answer is in the messages, and
//! people have drawn them the same way since Lamport's 1978 paper: one
//! vertical lane per process, time downwards, an arrow per message. Maelstrom
//! draws its runs so; this module does it for replikv.
//!
//! # What is recorded
//!
//! [`Network::record_trace`](crate::network::Network::record_trace) starts
//! recording; [`Network::trace`](crate::network::Network::trace) takes a
//! copy. The network records, as [`TraceEvent`]s on the cluster clock:
//!
//! | event | when |
//! |---|---|
//! | `send` | a node or client hands a message to the network (with what it is: a client request and its key, a response and its outcome, or an opaque peer message and its size) |
//! | `deliver` | a copy reaches the receiver's inbox |
//! | `drop` | a copy is lost: a fault, a cut link, or a receiver that is down or restarted since |
//! | `duplicate` | the network decided to deliver a second copy |
//! | `node_down` / `node_up` | a node crashed (or its protocol panicked, or it left) / started again |
//! | `partition` | the set of cut links changed (a partition, a cut, an isolation, a heal) |
//! | `timer` | a node's timer fired (simulator only) |
//!
//! A peer message stays opaque — the network never decodes it — but on the
//! simulator each send also names its **cause**: the message whose handling
//! produced it. Following causes back to a client request gives every
//! message a key, which is how [`DiagramOptions::key`] shows one key's
//! traffic.
//!
//! # Exact on the simulator, best effort on threads
//!
//! On the simulator ([`crate::Runtime::Simulated`]) every event is recorded
//! on the one thread that causes it, on virtual time: the trace is exact, and
//! the same seed records the same trace byte for byte. On threads
//! ([`Trace::exact`] is false) the events are recorded by whichever thread
//! sends or delivers, under a lock, on the monotonic clock: two events a few
//! microseconds apart may appear in either order, causes are not known
//! (the node threads do not tell the network which message they were
//! handling), and timers are not recorded. The diagram says so in its title.
//!
//! # Format
//!
//! [`Trace::to_json`] writes one JSON object with a `version` field
//! ([`TRACE_VERSION`]); [`Trace::from_json`] refuses another version with an
//! [`Error::InvalidTrace`] that says which, rather than drawing a wrong
//! picture from fields that changed meaning.
//!
//! ```
//! use replikv::{Cluster, Runtime, StorageKind};
//! use replikv::trace::{DiagramOptions, Trace, TraceEvent};
//!
//! let cluster = Cluster::builder().nodes(3).runtime(Runtime::Simulated)
//!     .storage(StorageKind::Memory).build()?;
//! cluster.network().record_trace();
//! let mut client = cluster.client()?;
//! client.put("x", "1")?;
//! let trace = cluster.network().trace().expect("recording");
//! assert!(trace.exact);
//! let sends = trace.events.iter().filter(|e| matches!(e, TraceEvent::Send { .. })).count();
//! assert!(sends >= 2); // the request and its response, at least
//! let again = Trace::from_json(&trace.to_json())?;
//! assert_eq!(again, trace);
//! let svg = trace.to_svg(&DiagramOptions::default())?;
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), replikv::Error>(())
//! ```

mod diagram;
mod recorder;

pub use diagram::DiagramOptions;
pub(crate) use diagram::esc as escape_xml;
pub(crate) use recorder::Recorder;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The version of the trace format this build reads and writes.
pub const TRACE_VERSION: u32 = 1;

/// A recorded message trace. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// The format version, [`TRACE_VERSION`] when written by this build.
    pub version: u32,
    /// Which driver ran the nodes: `sim` or `threads`.
    pub runtime: String,
    /// True on the simulator: every event, in the order it happened, with
    /// causes and timers. False on threads (best effort: see the module docs).
    pub exact: bool,
    /// True when the recording stopped at its event limit
    /// ([`Trace::MAX_EVENTS`]); the events that followed are missing.
    pub truncated: bool,
    /// The cluster clock, ns, when recording started.
    pub started_ns: u64,
    /// The member nodes when recording started, by id.
    pub nodes: Vec<u32>,
    /// The nodes among them that were down then.
    pub down_at_start: Vec<u32>,
    /// What happened, in the order it was recorded.
    pub events: Vec<TraceEvent>,
}

/// What a message is, as far as the network can tell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MessageKind {
    /// A protocol message between nodes: opaque bytes.
    Peer,
    /// A client's request.
    Request {
        /// The client.
        client: u64,
        /// The client's request number.
        request: u64,
        /// `get`, `put`, `delete`, … (the request's name).
        op: String,
        /// The key, as text (lossy UTF-8).
        key: String,
    },
    /// A coordinator's answer to a client.
    Response {
        /// The client.
        client: u64,
        /// The request number answered.
        request: u64,
        /// `value`, `done`, `unavailable`, … (the response's name).
        outcome: String,
    },
}

/// Why a copy of a message was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The link was cut (a partition).
    Cut,
    /// A random loss ([`crate::network::Network::set_drop_probability`]) or
    /// the fault hook.
    Fault,
    /// The receiver was down when the copy arrived, or had restarted since
    /// it was sent (the copy died with the old connection).
    ReceiverDown,
}

/// One thing that happened, at `at_ns` on the cluster clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum TraceEvent {
    /// A message was handed to the network.
    Send {
        /// When.
        at_ns: u64,
        /// The message's number in this trace (deliveries and drops name it).
        id: u64,
        /// Sender: `n0`, `c3`, …
        from: String,
        /// Receiver.
        to: String,
        /// Size on the wire.
        bytes: u64,
        /// What it is.
        message: MessageKind,
        /// The message whose handling produced this one (simulator only).
        cause: Option<u64>,
    },
    /// A copy reached the receiver's inbox.
    Deliver {
        /// When.
        at_ns: u64,
        /// The message.
        id: u64,
    },
    /// A copy was lost.
    Drop {
        /// When.
        at_ns: u64,
        /// The message.
        id: u64,
        /// Why.
        reason: DropReason,
    },
    /// The network will deliver a second copy of the message.
    Duplicate {
        /// When.
        at_ns: u64,
        /// The message.
        id: u64,
    },
    /// A node went down (crash, panic, or leaving the cluster).
    NodeDown {
        /// When.
        at_ns: u64,
        /// The node.
        node: u32,
    },
    /// A node came (back) up.
    NodeUp {
        /// When.
        at_ns: u64,
        /// The node.
        node: u32,
    },
    /// The cut links are now exactly these (empty: healed).
    Partition {
        /// When.
        at_ns: u64,
        /// Directed cut links `[from, to]`, sorted.
        cut: Vec<[u32; 2]>,
    },
    /// A node's timer fired (simulator only).
    Timer {
        /// When.
        at_ns: u64,
        /// The node.
        node: u32,
    },
}

impl TraceEvent {
    /// When it happened, ns on the cluster clock.
    ///
    /// ```
    /// use replikv::trace::TraceEvent;
    /// assert_eq!(TraceEvent::Timer { at_ns: 7, node: 0 }.at_ns(), 7);
    /// ```
    pub fn at_ns(&self) -> u64 {
        match self {
            TraceEvent::Send { at_ns, .. }
            | TraceEvent::Deliver { at_ns, .. }
            | TraceEvent::Drop { at_ns, .. }
            | TraceEvent::Duplicate { at_ns, .. }
            | TraceEvent::NodeDown { at_ns, .. }
            | TraceEvent::NodeUp { at_ns, .. }
            | TraceEvent::Partition { at_ns, .. }
            | TraceEvent::Timer { at_ns, .. } => *at_ns,
        }
    }
}

impl Trace {
    /// Events a recording keeps at most (about 200 MB of JSON); then it
    /// stops and sets [`Trace::truncated`].
    pub const MAX_EVENTS: usize = 2_000_000;

    /// The trace as JSON (one object; one event per line).
    ///
    /// ```
    /// use replikv::trace::{Trace, TRACE_VERSION};
    /// let trace = Trace { version: TRACE_VERSION, runtime: "sim".into(), exact: true,
    ///     truncated: false, started_ns: 0, nodes: vec![0], down_at_start: vec![], events: vec![] };
    /// assert!(trace.to_json().starts_with("{\"version\":1,"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128 + self.events.len() * 120);
        out.push_str(&format!(
            "{{\"version\":{},\"runtime\":{},\"exact\":{},\"truncated\":{},\"started_ns\":{},\
             \"nodes\":{},\"down_at_start\":{},\"events\":[",
            self.version,
            json(&self.runtime),
            self.exact,
            self.truncated,
            self.started_ns,
            json(&self.nodes),
            json(&self.down_at_start),
        ));
        for (i, event) in self.events.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&json(event));
        }
        out.push_str("\n]}\n");
        out
    }

    /// Reads a trace written by [`Trace::to_json`]. A document that is not
    /// a trace, or a trace of another [`TRACE_VERSION`], is an
    /// [`Error::InvalidTrace`] saying so.
    ///
    /// ```
    /// use replikv::trace::Trace;
    /// let old = r#"{"version":0,"events":[]}"#;
    /// let err = Trace::from_json(old).unwrap_err().to_string();
    /// assert!(err.contains("version 0"), "{err}");
    /// assert!(Trace::from_json("[1, 2]").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Trace> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidTrace(format!("not JSON: {e}")))?;
        let Some(object) = value.as_object() else {
            return Err(Error::InvalidTrace(
                "a trace is a JSON object with a \"version\" field; this is not an object \
                 (a history JSON array goes to `replikv check`, not `replikv diagram`)"
                    .into(),
            ));
        };
        match object.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(TRACE_VERSION) => {}
            Some(v) => {
                return Err(Error::InvalidTrace(format!(
                    "this trace has format version {v}, and this build of replikv reads \
                     version {TRACE_VERSION} only: record it again with this build"
                )));
            }
            None => {
                return Err(Error::InvalidTrace(
                    "no numeric \"version\" field: not a replikv message trace".into(),
                ));
            }
        }
        let trace: Trace =
            serde_json::from_value(value).map_err(|e| Error::InvalidTrace(e.to_string()))?;
        trace.validate()?;
        Ok(trace)
    }

    /// Checks what serde cannot: endpoint names and that every delivery,
    /// drop and duplicate names a message sent earlier.
    fn validate(&self) -> Result<()> {
        let mut sent = std::collections::HashSet::new();
        for (i, event) in self.events.iter().enumerate() {
            let bad = |what: String| Err(Error::InvalidTrace(format!("event {i}: {what}")));
            match event {
                TraceEvent::Send { id, from, to, .. } => {
                    for end in [from, to] {
                        if Lane::parse(end).is_none() {
                            return bad(format!(
                                "endpoint {end:?} is neither a node (n0) nor a client (c1)"
                            ));
                        }
                    }
                    sent.insert(*id);
                }
                TraceEvent::Deliver { id, .. }
                | TraceEvent::Drop { id, .. }
                | TraceEvent::Duplicate { id, .. }
                    if !sent.contains(id) =>
                {
                    return bad(format!("message {id} was never sent"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Draws the trace as an SVG sequence diagram (see [`DiagramOptions`]).
    /// Fails with [`Error::InvalidTrace`] when the window is empty or
    /// inverted.
    pub fn to_svg(&self, options: &DiagramOptions) -> Result<String> {
        diagram::render(self, options)
    }
}

/// A lane of the diagram: a node or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Lane {
    Node(u32),
    Client(u64),
}

impl Lane {
    pub(crate) fn parse(text: &str) -> Option<Lane> {
        if let Some(n) = text.strip_prefix('n') {
            n.parse().ok().map(Lane::Node)
        } else if let Some(c) = text.strip_prefix('c') {
            c.parse().ok().map(Lane::Client)
        } else {
            None
        }
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing these plain types into a String cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}
