//! A group of [`Consensus`] nodes on the stepping harness
//! ([`crate::sim::Harness`]): no event queue, no timers firing on their
//! own, no randomness in delivery — the scenario decides everything. After
//! every step the group is checked against Raft's safety properties.

use super::super::{Consensus, ConsensusConfig, ELECTION, Entry, HEARTBEAT, RaftMessage};
use crate::ids::NodeId;
use crate::protocol::{ReplyTo, Request, Response};
use crate::sim::Harness;
use std::collections::{BTreeMap, BTreeSet};

/// The group, and what the safety checks saw.
pub(super) struct Net {
    harness: Harness<Consensus>,
    /// Every node seen leading each term.
    pub(super) leaders: BTreeMap<u64, BTreeSet<NodeId>>,
    /// The entry first applied at each index, by any node.
    applied: BTreeMap<u64, Entry>,
    /// Per node: how far its applying has been checked.
    checked: BTreeMap<NodeId, u64>,
    /// Indices at which two nodes applied different entries: the
    /// state-machine-safety property (Figure 3) says there are none.
    pub(super) diverged: Vec<u64>,
}

impl Net {
    pub(super) fn new(size: u32, config: ConsensusConfig) -> Net {
        let harness = Harness::new(size, size as usize, move |_| {
            Consensus::with_config(config.clone())
        })
        .expect("a group of distinct nodes");
        let mut net = Net {
            harness,
            leaders: BTreeMap::new(),
            applied: BTreeMap::new(),
            checked: BTreeMap::new(),
            diverged: Vec::new(),
        };
        for i in 0..size {
            net.restarted(NodeId(i));
        }
        net
    }

    fn proto(&self, id: NodeId) -> &Consensus {
        self.harness.protocol(id).expect("the node runs")
    }

    /// A fresh incarnation of `id` starts checking where it applied from.
    fn restarted(&mut self, id: NodeId) {
        let applied = self.proto(id).applied;
        self.checked.insert(id, applied);
        self.observe();
    }

    /// Notes who leads, and checks what each running node applied.
    fn observe(&mut self) {
        for (id, checked) in &mut self.checked {
            let Some(node) = self.harness.protocol(*id) else {
                continue;
            };
            if node.is_leader() {
                self.leaders.entry(node.term()).or_default().insert(*id);
            }
            while *checked < node.applied {
                *checked += 1;
                // Compacted (or installed from a snapshot): nothing to compare.
                let Some(entry) = node.entry(*checked) else {
                    continue;
                };
                let first = self
                    .applied
                    .entry(*checked)
                    .or_insert_with(|| entry.clone());
                if first != entry {
                    self.diverged.push(*checked);
                }
            }
        }
    }

    fn fire(&mut self, id: NodeId, token: u64, what: &str) {
        assert!(
            self.harness.fire_timer(id, token).unwrap(),
            "{id} has {what}"
        );
        self.observe();
    }

    /// `id`'s election timeout fires.
    pub(super) fn timeout(&mut self, id: NodeId) {
        self.fire(id, ELECTION, "an election timer");
    }

    /// `id`'s heartbeat fires (it must lead).
    pub(super) fn heartbeat(&mut self, id: NodeId) {
        self.fire(id, HEARTBEAT, "a heartbeat timer (it leads)");
    }

    /// Delivers what `allow` allows, oldest first, until nothing is in
    /// flight; everything else (and anything to a crashed node) is lost.
    /// At most 10,000 messages are delivered, so that a bug that makes
    /// two nodes argue for ever ends the scenario instead of the test run.
    pub(super) fn deliver(&mut self, allow: impl Fn(NodeId, NodeId, &RaftMessage) -> bool) {
        for _ in 0..10_000 {
            let Some(next) = self.harness.in_flight().into_iter().next() else {
                return;
            };
            if allow(next.from, next.to, &next.message) {
                self.harness.deliver(next.id).unwrap();
            } else {
                self.harness.drop_message(next.id).unwrap();
            }
            self.observe();
        }
    }

    pub(super) fn crash(&mut self, id: NodeId) {
        self.harness.crash(id).unwrap();
    }

    /// A fresh protocol on the crashed node's store.
    pub(super) fn restart(&mut self, id: NodeId) {
        self.harness.restart(id).unwrap();
        self.restarted(id);
    }

    /// A client sends `request` to `id`; the request's address.
    pub(super) fn request(&mut self, id: NodeId, request: Request) -> ReplyTo {
        let to = self.harness.request(id, request).unwrap();
        self.observe();
        to
    }

    /// What `to` was answered, if anything.
    pub(super) fn answer(&self, to: ReplyTo) -> Option<&Response> {
        self.harness.response(to)
    }

    /// Terms in which more than one node led: the election-safety
    /// property (Figure 3) says there are none.
    pub(super) fn split_brains(&self) -> Vec<(u64, BTreeSet<NodeId>)> {
        (self.leaders.iter())
            .filter(|(_, l)| l.len() > 1)
            .map(|(t, l)| (*t, l.clone()))
            .collect()
    }

    /// One line per node: up, term, role, commit, log terms.
    pub(super) fn describe(&self) -> String {
        let mut out = String::new();
        for &id in self.checked.keys() {
            let Some(n) = self.harness.protocol(id) else {
                out += &format!("{id}: down\n");
                continue;
            };
            let terms: Vec<u64> = n.log.iter().map(|e| e.term).collect();
            out += &format!(
                "{id}: term {} {:?} commit {} applied {} log {terms:?}\n",
                n.hard.term, n.role, n.commit, n.applied
            );
        }
        out
    }

    /// `id`'s state machine: every record.
    pub(super) fn records(&self, id: NodeId) -> Vec<(Vec<u8>, crate::storage::Record)> {
        self.harness
            .store(id)
            .expect("the node exists")
            .records()
            .expect("records read")
    }

    /// `id`'s snapshot index.
    pub(super) fn snapshot_index(&self, id: NodeId) -> u64 {
        self.proto(id).snapshot_index()
    }

    pub(super) fn is_leader(&self, id: NodeId) -> bool {
        self.proto(id).is_leader()
    }

    /// `id`'s current term.
    pub(super) fn term(&self, id: NodeId) -> u64 {
        self.proto(id).term()
    }

    /// The terms of `id`'s log entries after its snapshot, in order.
    pub(super) fn log_terms(&self, id: NodeId) -> Vec<u64> {
        self.proto(id).log().iter().map(|e| e.term).collect()
    }
}

/// Only votes and vote requests.
pub(super) fn votes_only(_: NodeId, _: NodeId, m: &RaftMessage) -> bool {
    matches!(
        m,
        RaftMessage::RequestVote { .. } | RaftMessage::Vote { .. }
    )
}

/// Messages within `group`.
pub(super) fn within(group: &[u32]) -> impl Fn(NodeId, NodeId, &RaftMessage) -> bool + '_ {
    move |from, to, _| group.contains(&from.0) && group.contains(&to.0)
}
