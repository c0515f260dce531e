//! A hand-driven group of [`Consensus`] nodes: no runtime, no timers, no
//! randomness in delivery — the scenario decides everything.

use super::super::{Consensus, ConsensusConfig, ELECTION, Entry, HEARTBEAT, RaftMessage};
use crate::clock::Clock;
use crate::ids::{ClientId, NodeId};
use crate::partition::{Member, Partitioner, Rendezvous};
use crate::placement::Placement;
use crate::protocol::{Context, Effect, Protocol, ReplyTo, Request, Response};
use crate::storage::{Durability, MemoryStorage, NodeStore};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

struct Node {
    proto: Consensus,
    ctx: Context<RaftMessage>,
    store: NodeStore,
    up: bool,
}

/// The group, the messages in flight, and what clients were told.
pub(super) struct Net {
    size: u32,
    config: ConsensusConfig,
    nodes: BTreeMap<NodeId, Node>,
    in_flight: Vec<(NodeId, NodeId, RaftMessage)>,
    /// Every answer sent to a client.
    pub(super) replies: Vec<(ReplyTo, Response)>,
    /// Every node seen leading each term.
    pub(super) leaders: BTreeMap<u64, BTreeSet<NodeId>>,
    /// The entry first applied at each index, by any node.
    applied: BTreeMap<u64, Entry>,
    /// Per node: how far its applying has been checked.
    checked: BTreeMap<NodeId, u64>,
    /// Indices at which two nodes applied different entries: the
    /// state-machine-safety property (Figure 3) says there are none.
    pub(super) diverged: Vec<u64>,
    next_request: u64,
}

fn context(node: NodeId, size: u32, store: NodeStore) -> Context<RaftMessage> {
    let members: Vec<Member> = (0..size).map(|i| Member::new(NodeId(i))).collect();
    let partitioner: Box<dyn Partitioner> = Box::new(Rendezvous::new(&members).unwrap());
    Context::new(
        node,
        store,
        Arc::new(Placement::new(partitioner, members.len())),
        Arc::new(Clock::new(members.len())),
        u64::from(node.0),
    )
}

impl Net {
    pub(super) fn new(size: u32, config: ConsensusConfig) -> Net {
        let mut net = Net {
            size,
            config,
            nodes: BTreeMap::new(),
            in_flight: Vec::new(),
            replies: Vec::new(),
            leaders: BTreeMap::new(),
            applied: BTreeMap::new(),
            checked: BTreeMap::new(),
            diverged: Vec::new(),
            next_request: 0,
        };
        for i in 0..size {
            let store = NodeStore::new(
                NodeId(i),
                Arc::new(MemoryStorage::new()),
                Durability::Periodic,
            );
            net.boot(NodeId(i), store);
        }
        net
    }

    fn boot(&mut self, id: NodeId, store: NodeStore) {
        let mut node = Node {
            proto: Consensus::with_config(self.config.clone()),
            ctx: context(id, self.size, store.clone()),
            store,
            up: true,
        };
        node.proto.on_start(&mut node.ctx).unwrap();
        self.checked.insert(id, node.proto.applied);
        self.nodes.insert(id, node);
        self.collect(id);
    }

    /// Moves `id`'s effects into the network; notes who leads.
    fn collect(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        for effect in node.ctx.take_effects() {
            match effect {
                Effect::Send { to, message } => self.in_flight.push((id, to, message)),
                Effect::Reply { to, response } => self.replies.push((to, response)),
                Effect::SetTimer { .. } | Effect::CancelTimer(_) => {}
            }
        }
        if node.proto.is_leader() {
            self.leaders
                .entry(node.proto.term())
                .or_default()
                .insert(id);
        }
        let checked = self.checked.entry(id).or_default();
        while *checked < node.proto.applied {
            *checked += 1;
            // Compacted (or installed from a snapshot): nothing to compare.
            let Some(entry) = node.proto.entry(*checked) else {
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

    /// `id`'s election timeout fires.
    pub(super) fn timeout(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        let timer = node
            .proto
            .election_timer
            .expect("a follower has an election timer");
        node.proto.on_timer(&mut node.ctx, timer, ELECTION).unwrap();
        self.collect(id);
    }

    /// `id`'s heartbeat fires (it must lead).
    pub(super) fn heartbeat(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        let timer = node
            .proto
            .heartbeat_timer
            .expect("a leader has a heartbeat timer");
        node.proto
            .on_timer(&mut node.ctx, timer, HEARTBEAT)
            .unwrap();
        self.collect(id);
    }

    /// Delivers what `allow` allows, until nothing is in flight; everything
    /// else (and anything to or from a crashed node) is lost.
    /// At most 10,000 messages are delivered, so that a bug that makes
    /// two nodes argue for ever ends the scenario instead of the test run.
    pub(super) fn deliver(&mut self, allow: impl Fn(NodeId, NodeId, &RaftMessage) -> bool) {
        let mut budget = 10_000u32;
        while !self.in_flight.is_empty() && budget > 0 {
            budget -= 1;
            for (from, to, message) in std::mem::take(&mut self.in_flight) {
                let up = |n: &NodeId| self.nodes.get(n).is_some_and(|n| n.up);
                if !(up(&from) && up(&to) && allow(from, to, &message)) {
                    continue;
                }
                let node = self.nodes.get_mut(&to).unwrap();
                node.proto.on_message(&mut node.ctx, from, message).unwrap();
                self.collect(to);
            }
        }
    }

    pub(super) fn crash(&mut self, id: NodeId) {
        self.nodes.get_mut(&id).unwrap().up = false;
    }

    /// A fresh protocol on the crashed node's store.
    pub(super) fn restart(&mut self, id: NodeId) {
        let store = self.nodes[&id].store.clone();
        self.boot(id, store);
    }

    /// A client sends `request` to `id`; the request's address.
    pub(super) fn request(&mut self, id: NodeId, request: Request) -> ReplyTo {
        self.next_request += 1;
        let to = ReplyTo {
            client: ClientId(1),
            request: self.next_request,
        };
        let node = self.nodes.get_mut(&id).unwrap();
        node.proto.on_request(&mut node.ctx, to, request).unwrap();
        self.collect(id);
        to
    }

    /// What `to` was answered, if anything.
    pub(super) fn answer(&self, to: ReplyTo) -> Option<&Response> {
        self.replies.iter().find(|(r, _)| *r == to).map(|(_, a)| a)
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
        for (id, n) in &self.nodes {
            let terms: Vec<u64> = n.proto.log.iter().map(|e| e.term).collect();
            out += &format!(
                "{id}: up {} term {} {:?} commit {} applied {} log {terms:?}\n",
                n.up, n.proto.hard.term, n.proto.role, n.proto.commit, n.proto.applied
            );
        }
        out
    }

    /// `id`'s state machine: every record.
    pub(super) fn records(&self, id: NodeId) -> Vec<(Vec<u8>, crate::storage::Record)> {
        self.nodes[&id].store.records().unwrap()
    }

    /// `id`'s snapshot index.
    pub(super) fn snapshot_index(&self, id: NodeId) -> u64 {
        self.nodes[&id].proto.snapshot_index()
    }

    pub(super) fn is_leader(&self, id: NodeId) -> bool {
        self.nodes[&id].proto.is_leader()
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
