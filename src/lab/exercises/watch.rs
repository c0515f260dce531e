//! A network fault hook that also *watches*: it drops node → node messages
//! at a rate, or one chosen message, and logs every node → node message it
//! sees, so a grader can tell what a protocol did — did it send a lost copy
//! again? did the replica answer? — without reading a single message's
//! contents (a hook only sees endpoints, sizes and times).
//!
//! Clients' own messages always arrive at once: the faults are the
//! protocol's problem, not the client's.

use crate::cluster::Cluster;
use crate::ids::{Endpoint, NodeId};
use crate::network::{EnvelopeInfo, Verdict};
use parking_lot::Mutex;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::sync::Arc;

/// One node → node message, as the hook saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Seen {
    pub from: NodeId,
    pub to: NodeId,
    /// Cluster clock, nanoseconds.
    pub at_ns: u64,
    pub dropped: bool,
}

#[derive(Debug)]
struct State {
    drop: f64,
    rng: ChaCha8Rng,
    /// Drop the next message on this link, once.
    drop_next: Option<(NodeId, NodeId)>,
    log: Vec<Seen>,
}

/// The watching hook's shared state.
#[derive(Clone, Debug)]
pub(super) struct Watch {
    state: Arc<Mutex<State>>,
}

impl Watch {
    /// Installs the hook on `cluster`'s network, dropping nothing yet.
    pub fn install(cluster: &Cluster, seed: u64) -> Watch {
        let watch = Watch {
            state: Arc::new(Mutex::new(State {
                drop: 0.0,
                rng: ChaCha8Rng::seed_from_u64(seed),
                drop_next: None,
                log: Vec::new(),
            })),
        };
        let hook = watch.clone();
        cluster
            .network()
            .set_fault_hook(move |e: &EnvelopeInfo| Some(hook.decide(e)));
        watch
    }

    fn decide(&self, e: &EnvelopeInfo) -> Verdict {
        let (Endpoint::Node(from), Endpoint::Node(to)) = (e.from, e.to) else {
            return Verdict::Deliver(std::time::Duration::ZERO);
        };
        let mut state = self.state.lock();
        let dropped = if state.drop_next == Some((from, to)) {
            state.drop_next = None;
            true
        } else {
            let p = state.drop;
            p > 0.0 && state.rng.random_bool(p)
        };
        state.log.push(Seen {
            from,
            to,
            at_ns: e.at_ns,
            dropped,
        });
        if dropped {
            Verdict::Drop
        } else {
            Verdict::Deliver(std::time::Duration::ZERO)
        }
    }

    /// Loses each node → node message with probability `p` (0 to 1) from now on.
    pub fn set_drop(&self, p: f64) {
        self.state.lock().drop = p.clamp(0.0, 1.0);
    }

    /// Loses the next message from `from` to `to`, once.
    pub fn drop_next(&self, from: NodeId, to: NodeId) {
        self.state.lock().drop_next = Some((from, to));
    }

    /// Forgets a [`Watch::drop_next`] that has not happened yet.
    pub fn cancel_drop_next(&self) {
        self.state.lock().drop_next = None;
    }

    /// Every node → node message seen so far.
    pub fn log(&self) -> Vec<Seen> {
        self.state.lock().log.clone()
    }

    /// Node → node messages seen at or after `since_ns`.
    pub fn since(&self, since_ns: u64) -> Vec<Seen> {
        self.state
            .lock()
            .log
            .iter()
            .filter(|s| s.at_ns >= since_ns)
            .copied()
            .collect()
    }

    /// When the last node → node message was seen (`None`: never).
    pub fn last_ns(&self) -> Option<u64> {
        self.state.lock().log.iter().map(|s| s.at_ns).max()
    }
}
