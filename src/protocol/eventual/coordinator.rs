//! The coordinator's side: quorum writes with sloppy-quorum hints, quorum
//! reads (to R replicas or to all N, [`ReadStrategy`]) with read repair,
//! retransmission and deadlines.
//!
//! Every pending operation lives in a map keyed by its operation id and is
//! driven by the protocol's one periodic tick
//! ([`EventualConfig::tick`](super::EventualConfig::tick)): each tick
//! retransmits what has not been answered, moves writes for silent replicas
//! to hint holders, and ends operations past their deadline. One periodic
//! timer rather than one per operation keeps the runtime's timer heap small.

use super::Eventual;
use super::ReadStrategy;
use super::messages::EventualMessage;
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::{Context, ReplyTo, Response};
use crate::storage::{Record, Version};
use std::collections::{BTreeMap, BTreeSet};

type Msg = EventualMessage;

/// A write waiting for W acknowledgements (and, after answering, for the
/// remaining replicas, so that replication finishes without anti-entropy).
#[derive(Debug)]
pub(super) struct PendingWrite {
    reply_to: ReplyTo,
    key: Vec<u8>,
    record: Record,
    /// The key's first N nodes: where the write belongs.
    replicas: Vec<NodeId>,
    /// The rest of the preference list, in order: candidate hint holders.
    fallbacks: Vec<NodeId>,
    used_fallbacks: usize,
    /// Intended replica → (hint holder, tick age when the hint was sent).
    holders: BTreeMap<NodeId, (NodeId, u32)>,
    /// Nodes (replicas and hint holders) that acknowledged.
    acked: BTreeSet<NodeId>,
    /// Ticks since the write started.
    age: u32,
    replied: bool,
}

impl PendingWrite {
    fn covered(&self, replica: NodeId) -> bool {
        self.acked.contains(&replica)
            || self
                .holders
                .get(&replica)
                .is_some_and(|(holder, _)| self.acked.contains(holder))
    }

    fn done(&self) -> bool {
        self.replied && self.replicas.iter().all(|&r| self.covered(r))
    }

    fn store_message(&self, op: u64, hint_for: Option<NodeId>) -> Msg {
        Msg::Store {
            op,
            key: self.key.clone(),
            record: self.record.clone(),
            hint_for,
        }
    }

    /// Sends the write for `replica` to the next unused hint holder, if any.
    fn hint_next(&mut self, ctx: &mut Context<Msg>, op: u64, replica: NodeId) {
        if let Some(&holder) = self.fallbacks.get(self.used_fallbacks) {
            self.used_fallbacks += 1;
            self.holders.insert(replica, (holder, self.age));
            ctx.send(holder, self.store_message(op, Some(replica)));
        }
    }
}

/// A read waiting for R answers (and, after answering, for the stragglers, to repair them).
#[derive(Debug)]
pub(super) struct PendingRead {
    reply_to: ReplyTo,
    key: Vec<u8>,
    /// The key's N replicas, this node first if it is one.
    replicas: Vec<NodeId>,
    asked: BTreeSet<NodeId>,
    answers: BTreeMap<NodeId, Option<Record>>,
    age: u32,
    replied: bool,
}

impl PendingRead {
    /// Asks `node` for the key: this node's own copy is read at once, any
    /// other replica gets a message.
    fn ask(
        &mut self,
        ctx: &mut Context<Msg>,
        replica: &super::replica::Replica,
        op: u64,
        node: NodeId,
    ) -> Result<()> {
        self.asked.insert(node);
        if node == ctx.node() {
            let local = replica.get(ctx, &self.key)?;
            self.answers.insert(node, local);
        } else {
            ctx.send(
                node,
                Msg::Read {
                    op,
                    key: self.key.clone(),
                },
            );
        }
        Ok(())
    }

    fn newest(&self) -> Option<&Record> {
        self.answers
            .values()
            .flatten()
            .max_by_key(|record| record.version)
    }
}

fn version_of(record: &Option<Record>) -> Option<Version> {
    record.as_ref().map(|r| r.version)
}

impl Eventual {
    fn next_op(&mut self) -> u64 {
        self.next_op = self.next_op.wrapping_add(1);
        self.next_op
    }

    /// A client put (`Some(value)`) or delete (`None`).
    pub(super) fn start_write(
        &mut self,
        ctx: &mut Context<Msg>,
        reply_to: ReplyTo,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    ) -> Result<()> {
        let me = ctx.node();
        let stamp = self.clock.stamp(ctx.now_ns());
        let record = Record {
            version: Version::new(stamp, me),
            value,
        };
        let mut preference = ctx.preference_list(&key, ctx.members().len());
        let fallbacks = preference.split_off(ctx.replication().min(preference.len()));
        let op = self.next_op();
        let mut write = PendingWrite {
            reply_to,
            key,
            record,
            replicas: preference,
            fallbacks,
            used_fallbacks: 0,
            holders: BTreeMap::new(),
            acked: BTreeSet::new(),
            age: 0,
            replied: false,
        };
        if write.replicas.contains(&me) {
            // Persisted before it counts as an acknowledgement.
            self.replica.apply(ctx, &write.key, &write.record)?;
            write.acked.insert(me);
        }
        for replica in write.replicas.clone() {
            if replica == me {
                continue;
            }
            ctx.send(replica, write.store_message(op, None));
            if self.suspects.contains(&replica) {
                // Known unreachable: do not wait for it to time out again.
                write.hint_next(ctx, op, replica);
            }
        }
        self.settle_write(ctx, op, write);
        Ok(())
    }

    /// Answers the client once W nodes acknowledged; keeps the write pending
    /// until every replica is covered.
    fn settle_write(&mut self, ctx: &mut Context<Msg>, op: u64, mut write: PendingWrite) {
        if !write.replied && write.acked.len() >= self.config.w.max(1) {
            ctx.reply(write.reply_to, Response::Done);
            write.replied = true;
        }
        if !write.done() {
            self.writes.insert(op, write);
        }
    }

    pub(super) fn on_store_ack(&mut self, ctx: &mut Context<Msg>, from: NodeId, op: u64) {
        let Some(mut write) = self.writes.remove(&op) else {
            return;
        };
        let expected = write.replicas.contains(&from)
            || write.holders.values().any(|(holder, _)| *holder == from);
        if expected {
            write.acked.insert(from);
        }
        self.settle_write(ctx, op, write);
    }

    /// A client get.
    pub(super) fn start_read(
        &mut self,
        ctx: &mut Context<Msg>,
        reply_to: ReplyTo,
        key: Vec<u8>,
    ) -> Result<()> {
        let me = ctx.node();
        let mut replicas = ctx.replicas(&key);
        if let Some(at) = replicas.iter().position(|&n| n == me) {
            replicas[..=at].rotate_right(1);
        }
        let op = self.next_op();
        let mut read = PendingRead {
            reply_to,
            key,
            replicas,
            asked: BTreeSet::new(),
            answers: BTreeMap::new(),
            age: 0,
            replied: false,
        };
        let asked = match self.config.read_strategy {
            ReadStrategy::AskR => self.config.r.max(1),
            ReadStrategy::AskAll => read.replicas.len(),
        };
        let first: Vec<NodeId> = read.replicas.iter().take(asked).copied().collect();
        for node in first {
            read.ask(ctx, &self.replica, op, node)?;
        }
        self.settle_read(ctx, op, read)
    }

    pub(super) fn on_read_reply(
        &mut self,
        ctx: &mut Context<Msg>,
        from: NodeId,
        op: u64,
        record: Option<Record>,
    ) -> Result<()> {
        let Some(mut read) = self.reads.remove(&op) else {
            return Ok(());
        };
        if read.replicas.contains(&from) {
            read.answers.insert(from, record);
        }
        self.settle_read(ctx, op, read)
    }

    /// Answers once R replicas did; repairs every answer older than the newest.
    fn settle_read(
        &mut self,
        ctx: &mut Context<Msg>,
        op: u64,
        mut read: PendingRead,
    ) -> Result<()> {
        if !read.replied && read.answers.len() >= self.config.r.max(1) {
            let value = read.newest().and_then(|r| r.value.clone());
            ctx.reply(read.reply_to, Response::Value(value));
            read.replied = true;
        }
        if read.replied {
            self.read_repair(ctx, &mut read)?;
        }
        let everyone_answered = read.asked.iter().all(|n| read.answers.contains_key(n));
        if !(read.replied && everyone_answered) {
            self.reads.insert(op, read);
        }
        Ok(())
    }

    /// Sends the newest record to every replica that answered with an older
    /// one (or none). Dynamo §4.7 / Cassandra's read repair.
    fn read_repair(&mut self, ctx: &mut Context<Msg>, read: &mut PendingRead) -> Result<()> {
        let Some(newest) = read.newest().cloned() else {
            return Ok(());
        };
        let me = ctx.node();
        for (&node, answer) in read.answers.iter_mut() {
            if version_of(answer) >= Some(newest.version) {
                continue;
            }
            if node == me {
                self.replica.apply(ctx, &read.key, &newest)?;
            } else {
                ctx.send(
                    node,
                    Msg::Repair {
                        key: read.key.clone(),
                        record: newest.clone(),
                    },
                );
            }
            *answer = Some(newest.clone());
        }
        Ok(())
    }

    /// One tick of every pending operation: retransmit, hint, expire.
    pub(super) fn tick_operations(&mut self, ctx: &mut Context<Msg>) -> Result<()> {
        let me = ctx.node();
        let hint_after = self.hint_after_ticks;
        let deadline = self.deadline_ticks;
        let writes: Vec<u64> = self.writes.keys().copied().collect();
        for op in writes {
            let Some(mut write) = self.writes.remove(&op) else {
                continue;
            };
            write.age += 1;
            for replica in write.replicas.clone() {
                if replica == me || write.covered(replica) {
                    continue;
                }
                ctx.send(replica, write.store_message(op, None));
                if write.age < hint_after {
                    continue;
                }
                self.suspects.insert(replica);
                match write.holders.get(&replica).copied() {
                    None => write.hint_next(ctx, op, replica),
                    Some((_, since)) if write.age - since >= hint_after => {
                        write.hint_next(ctx, op, replica);
                    }
                    Some((holder, _)) => ctx.send(holder, write.store_message(op, Some(replica))),
                }
            }
            if write.age >= deadline {
                if !write.replied {
                    // Stores went out (or were applied locally): the write
                    // may take effect, so this is indeterminate, not Unavailable.
                    ctx.reply(
                        write.reply_to,
                        Response::Failed(format!(
                            "indeterminate: {} of W = {} acknowledgements before the deadline; \
                             the write may still take effect",
                            write.acked.len(),
                            self.config.w
                        )),
                    );
                }
                continue;
            }
            self.settle_write(ctx, op, write);
        }
        let reads: Vec<u64> = self.reads.keys().copied().collect();
        for op in reads {
            let Some(mut read) = self.reads.remove(&op) else {
                continue;
            };
            read.age += 1;
            if read.age >= deadline {
                if !read.replied {
                    ctx.reply(
                        read.reply_to,
                        Response::Unavailable(format!(
                            "{} of R = {} replicas answered before the deadline",
                            read.answers.len(),
                            self.config.r
                        )),
                    );
                }
                continue;
            }
            if !read.replied {
                // Retransmit to the silent, and widen to every replica.
                for node in read.replicas.clone() {
                    if read.answers.contains_key(&node) {
                        continue;
                    }
                    read.ask(ctx, &self.replica, op, node)?;
                }
            }
            self.settle_read(ctx, op, read)?;
        }
        Ok(())
    }

    /// How many writes and reads this coordinator has in progress (a write
    /// stays until every replica is covered, a read until every replica it
    /// asked has answered, or either until its deadline).
    pub fn pending_operations(&self) -> (usize, usize) {
        (self.writes.len(), self.reads.len())
    }
}
