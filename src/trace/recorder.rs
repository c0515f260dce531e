//! The network's notebook: where [`TraceEvent`]s are written while a run
//! goes on.
//!
//! One lock around one vector. Recording is off unless asked for (the
//! network then never touches this), and on the simulator there is only one
//! thread, so the lock is never contended there; on threads it serializes
//! the senders a little, which is the price of a trace.

use super::{DropReason, MessageKind, TRACE_VERSION, Trace, TraceEvent};
use crate::ids::{Endpoint, NodeId};
use crate::network::{Envelope, Payload};
use parking_lot::Mutex;
use std::collections::BTreeSet;

/// Records a trace. Owned by the network.
#[derive(Debug)]
pub(crate) struct Recorder {
    exact: bool,
    started_ns: u64,
    nodes: Vec<u32>,
    down_at_start: Vec<u32>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<TraceEvent>,
    next_id: u64,
    truncated: bool,
    /// Nodes currently down, so that a second detach of a node already down
    /// is not recorded twice.
    down: BTreeSet<u32>,
}

impl Recorder {
    /// A recorder started at `started_ns` with these members, of which
    /// `down` are down.
    pub(crate) fn new(exact: bool, started_ns: u64, nodes: Vec<u32>, down: Vec<u32>) -> Self {
        Recorder {
            exact,
            started_ns,
            nodes,
            down_at_start: down.clone(),
            state: Mutex::new(State {
                down: down.into_iter().collect(),
                ..State::default()
            }),
        }
    }

    fn push(state: &mut State, event: TraceEvent) {
        if state.events.len() >= Trace::MAX_EVENTS {
            state.truncated = true;
        } else {
            state.events.push(event);
        }
    }

    /// Records a send and returns the message's number.
    pub(crate) fn send(&self, envelope: &Envelope, at_ns: u64, cause: Option<u64>) -> u64 {
        let payload = match &envelope.payload {
            Payload::Authenticated { payload, .. } => payload.as_ref(),
            payload => payload,
        };
        let message = match payload {
            Payload::Peer(_) | Payload::Authenticated { .. } => MessageKind::Peer,
            Payload::Request { id, request } => MessageKind::Request {
                client: client_of(envelope.from),
                request: *id,
                op: variant_name(request),
                key: String::from_utf8_lossy(request.key()).into_owned(),
            },
            Payload::Cas { id, cas } => MessageKind::Request {
                client: client_of(envelope.from),
                request: *id,
                op: "Cas".into(),
                key: String::from_utf8_lossy(&cas.key).into_owned(),
            },
            Payload::Response { id, response } => MessageKind::Response {
                client: client_of(envelope.to),
                request: *id,
                outcome: variant_name(response),
            },
        };
        let mut state = self.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        Self::push(
            &mut state,
            TraceEvent::Send {
                at_ns,
                id,
                from: envelope.from.to_string(),
                to: envelope.to.to_string(),
                bytes: envelope.size() as u64,
                message,
                cause,
            },
        );
        id
    }

    /// Records a delivery.
    pub(crate) fn deliver(&self, id: u64, at_ns: u64) {
        Self::push(&mut self.state.lock(), TraceEvent::Deliver { at_ns, id });
    }

    /// Records a lost copy.
    pub(crate) fn drop(&self, id: u64, at_ns: u64, reason: DropReason) {
        Self::push(
            &mut self.state.lock(),
            TraceEvent::Drop { at_ns, id, reason },
        );
    }

    /// Records a duplication.
    pub(crate) fn duplicate(&self, id: u64, at_ns: u64) {
        Self::push(&mut self.state.lock(), TraceEvent::Duplicate { at_ns, id });
    }

    /// Records a node going down or up (only a change is recorded).
    pub(crate) fn node(&self, node: NodeId, up: bool, at_ns: u64) {
        let mut state = self.state.lock();
        let changed = if up {
            state.down.remove(&node.0)
        } else {
            state.down.insert(node.0)
        };
        if changed {
            let node = node.0;
            let event = if up {
                TraceEvent::NodeUp { at_ns, node }
            } else {
                TraceEvent::NodeDown { at_ns, node }
            };
            Self::push(&mut state, event);
        }
    }

    /// Records the cut links now in force.
    pub(crate) fn partition(&self, cut: &BTreeSet<(NodeId, NodeId)>, at_ns: u64) {
        let cut = cut.iter().map(|(a, b)| [a.0, b.0]).collect();
        Self::push(&mut self.state.lock(), TraceEvent::Partition { at_ns, cut });
    }

    /// Records a timer firing on `node`.
    pub(crate) fn timer(&self, node: NodeId, at_ns: u64) {
        Self::push(
            &mut self.state.lock(),
            TraceEvent::Timer {
                at_ns,
                node: node.0,
            },
        );
    }

    /// A copy of the trace so far.
    pub(crate) fn snapshot(&self) -> Trace {
        let state = self.state.lock();
        Trace {
            version: TRACE_VERSION,
            runtime: if self.exact { "sim" } else { "threads" }.into(),
            exact: self.exact,
            truncated: state.truncated,
            started_ns: self.started_ns,
            nodes: self.nodes.clone(),
            down_at_start: self.down_at_start.clone(),
            events: state.events.clone(),
        }
    }
}

fn client_of(end: Endpoint) -> u64 {
    match end {
        Endpoint::Client(c) => c.0,
        Endpoint::Node(_) => u64::MAX,
    }
}

/// The name of an enum value's variant, lowercased (`Get { .. }` → `get`),
/// read from its serde form so that a new request or response kind needs no
/// change here.
fn variant_name<T: serde::Serialize>(value: &T) -> String {
    let name = match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned(),
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    name.map_or_else(|| "?".into(), |n| n.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, Response};

    #[test]
    fn variant_names_follow_the_enums() {
        assert_eq!(variant_name(&Request::Get { key: b"k".to_vec() }), "get");
        assert_eq!(variant_name(&Response::Done), "done");
        assert_eq!(variant_name(&Response::Value(None)), "value");
        assert_eq!(variant_name(&Response::Failed("x".into())), "failed");
    }

    #[test]
    fn a_node_already_down_is_not_recorded_twice() {
        let recorder = Recorder::new(true, 0, vec![0, 1], vec![]);
        recorder.node(NodeId(1), false, 5);
        recorder.node(NodeId(1), false, 6);
        recorder.node(NodeId(1), true, 9);
        let events = recorder.snapshot().events;
        assert_eq!(
            events,
            vec![
                TraceEvent::NodeDown { at_ns: 5, node: 1 },
                TraceEvent::NodeUp { at_ns: 9, node: 1 }
            ]
        );
    }
}
