//! The coordinator's side: one in-flight operation per client request, each
//! going through ABD's two phases, driven by replies and by a periodic tick.
//!
//! All of this is volatile: a crash loses every in-flight operation, its
//! clients time out, and their operations are recorded as indeterminate —
//! which is exactly what they are, since some stores may have landed.

use super::config::StrongConfig;
use super::messages::{OpId, StrongMessage};
use super::tags::Tags;
use crate::ids::NodeId;
use crate::protocol::{Context, ReplyTo, Request, Response};
use crate::storage::{Record, Version};
use std::collections::BTreeMap;

/// The token of the coordinator's tick timer (it has no other timer).
pub(super) const TICK: u64 = 0;

/// What the client asked for.
#[derive(Debug)]
enum Intent {
    Get,
    Put(Vec<u8>),
    Delete,
}

/// Where an operation is.
#[derive(Debug)]
enum Phase {
    /// Phase 1: collecting records; `best` is the newest seen so far and
    /// `agreeing` how many replies carried exactly its version.
    Query {
        answered: Vec<NodeId>,
        best: Option<Record>,
        agreeing: usize,
    },
    /// Phase 2: `record` sent to every replica, `acked` have stored it.
    Store { record: Record, acked: Vec<NodeId> },
}

/// One client operation in flight.
#[derive(Debug)]
struct Pending {
    reply_to: ReplyTo,
    key: Vec<u8>,
    intent: Intent,
    /// The key's replicas when the operation started (fixed for its life).
    replicas: Vec<NodeId>,
    /// Replies needed: a majority of `replicas`.
    quorum: usize,
    phase: Phase,
    /// Tick at which the operation started (for its deadline).
    started: u64,
    /// Tick at which the current phase started (for retransmission).
    phase_started: u64,
    /// Replicas whose stored record for the key does not decode. They
    /// count as replicas that lost their data: never toward a quorum.
    corrupt: Vec<NodeId>,
}

/// The coordinator state of one node incarnation.
#[derive(Debug)]
pub(super) struct Coordinator {
    config: StrongConfig,
    incarnation: u64,
    next_seq: u64,
    ops: BTreeMap<u64, Pending>,
    tags: Tags,
    /// Ticks since start; time as the coordinator counts it.
    tick: u64,
    /// Whether the tick timer is armed (it is only while operations are in flight).
    ticking: bool,
    /// Whether a read writes back what it returns (always, but in the
    /// teaching mutant [`crate::protocol::mutants::AbdWithoutWriteBack`]).
    write_back: bool,
}

/// `n / 2 + 1`: any two majorities of the same `n` replicas intersect.
pub(super) fn majority(n: usize) -> usize {
    n / 2 + 1
}

fn version_of(record: Option<&Record>) -> Version {
    record.map_or(Version::ZERO, |r| r.version)
}

impl Coordinator {
    pub(super) fn new(incarnation: u64, config: StrongConfig) -> Self {
        Coordinator {
            config,
            incarnation,
            next_seq: 0,
            ops: BTreeMap::new(),
            tags: Tags::default(),
            tick: 0,
            ticking: false,
            write_back: true,
        }
    }

    /// Reads answer after phase 1, with no write-back: the mutant.
    pub(super) fn skip_write_back(&mut self) {
        self.write_back = false;
    }

    /// Operations in flight.
    pub(super) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    fn op_id(&self, seq: u64) -> OpId {
        OpId {
            incarnation: self.incarnation,
            seq,
        }
    }

    /// A client request: start phase 1 by querying every replica.
    pub(super) fn start(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        reply_to: ReplyTo,
        request: Request,
    ) {
        let (key, intent) = match request {
            Request::Get { key } => (key, Intent::Get),
            Request::Put { key, value } => (key, Intent::Put(value)),
            Request::Delete { key } => (key, Intent::Delete),
        };
        let replicas = ctx.replicas(&key);
        if replicas.is_empty() {
            ctx.reply(
                reply_to,
                Response::Unavailable("strong: the key has no replicas".into()),
            );
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let op = Pending {
            reply_to,
            quorum: majority(replicas.len()),
            key,
            intent,
            replicas,
            phase: Phase::Query {
                answered: Vec::new(),
                best: None,
                agreeing: 0,
            },
            started: self.tick,
            phase_started: self.tick,
            corrupt: Vec::new(),
        };
        send_phase(ctx, self.op_id(seq), &op, &[]);
        self.ops.insert(seq, op);
        if !self.ticking {
            ctx.set_timer(self.config.retransmit(), TICK);
            self.ticking = true;
        }
    }

    /// Looks up the operation a reply is for; `None` for replies to another
    /// incarnation, to a finished operation, or from a node that is not one
    /// of the operation's replicas.
    fn pending(&mut self, op: OpId, from: NodeId) -> Option<(u64, &mut Pending)> {
        if op.incarnation != self.incarnation {
            return None;
        }
        let pending = self.ops.get_mut(&op.seq)?;
        pending
            .replicas
            .contains(&from)
            .then_some((op.seq, pending))
    }

    /// A phase 1 reply.
    pub(super) fn on_query_reply(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        from: NodeId,
        op: OpId,
        record: Option<Record>,
    ) {
        let Some((seq, pending)) = self.pending(op, from) else {
            return;
        };
        let quorum = pending.quorum;
        let Phase::Query {
            answered,
            best,
            agreeing,
        } = &mut pending.phase
        else {
            return; // late: phase 1 is over
        };
        if answered.contains(&from) {
            return; // duplicate
        }
        answered.push(from);
        let (theirs, ours) = (version_of(record.as_ref()), version_of(best.as_ref()));
        if theirs > ours {
            *best = record;
            *agreeing = 1;
        } else if theirs == ours {
            *agreeing += 1;
        }
        if answered.len() < quorum {
            return;
        }
        let (best, agreeing) = (best.take(), *agreeing);
        self.finish_query(ctx, seq, best, agreeing);
    }

    /// A replica could not answer phase 1: its record for the key is
    /// corrupt. The operation goes on with the healthy replicas — any
    /// majority of them still meets every write quorum in a healthy node —
    /// and fails with [`Response::Corrupt`] (nothing written, no value
    /// guessed) only when too few healthy replicas are left for a majority.
    pub(super) fn on_corrupt_reply(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        from: NodeId,
        op: OpId,
        reason: String,
    ) {
        let Some((seq, pending)) = self.pending(op, from) else {
            return;
        };
        if !matches!(pending.phase, Phase::Query { .. }) || pending.corrupt.contains(&from) {
            return;
        }
        pending.corrupt.push(from);
        if pending.replicas.len() - pending.corrupt.len() >= pending.quorum {
            return;
        }
        let response = Response::Corrupt {
            node: from,
            key: String::from_utf8_lossy(&pending.key).into_owned(),
            reason,
        };
        self.finish(ctx, seq, response);
    }

    /// Phase 1 reached a majority holding at most `best`: answer a read that
    /// the majority already agrees on, otherwise start phase 2.
    fn finish_query(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        seq: u64,
        best: Option<Record>,
        agreeing: usize,
    ) {
        let Some(pending) = self.ops.get(&seq) else {
            return;
        };
        let seen = version_of(best.as_ref());
        let record = match &pending.intent {
            Intent::Get if agreeing >= pending.quorum || !self.write_back => {
                // A majority already stores the newest version: writing it
                // back would change nothing, so answer now (one round trip).
                let value = best.and_then(|r| r.value);
                self.finish(ctx, seq, Response::Value(value));
                return;
            }
            Intent::Get => match best {
                Some(record) => record,
                // Only reachable through a record stored with version ZERO,
                // which no coordinator makes: such a record reads as absent.
                None => {
                    self.finish(ctx, seq, Response::Value(None));
                    return;
                }
            },
            Intent::Put(_) | Intent::Delete => {
                let counter = match self.tags.next(ctx.store(), seen.counter) {
                    Ok(counter) => counter,
                    Err(e) => {
                        // Nothing was stored anywhere yet: a definite no.
                        let why = format!("strong: cannot allocate a version: {e}");
                        self.finish(ctx, seq, Response::Unavailable(why));
                        return;
                    }
                };
                let version = Version::new(counter, ctx.node());
                match &pending.intent {
                    Intent::Put(value) => Record::value(version, value.clone()),
                    _ => Record::tombstone(version),
                }
            }
        };
        let id = self.op_id(seq);
        let tick = self.tick;
        if let Some(pending) = self.ops.get_mut(&seq) {
            pending.phase = Phase::Store {
                record,
                acked: Vec::new(),
            };
            pending.phase_started = tick;
            send_phase(ctx, id, pending, &[]);
        }
    }

    /// A phase 2 acknowledgement.
    pub(super) fn on_store_ack(
        &mut self,
        ctx: &mut Context<StrongMessage>,
        from: NodeId,
        op: OpId,
    ) {
        let Some((seq, pending)) = self.pending(op, from) else {
            return;
        };
        let quorum = pending.quorum;
        let Phase::Store { record, acked } = &mut pending.phase else {
            return; // cannot be ours: we have not sent a store yet
        };
        if acked.contains(&from) {
            return; // duplicate
        }
        acked.push(from);
        if acked.len() < quorum {
            return;
        }
        let response = match pending.intent {
            Intent::Get => Response::Value(record.value.take()),
            Intent::Put(_) | Intent::Delete => Response::Done,
        };
        self.finish(ctx, seq, response);
    }

    fn finish(&mut self, ctx: &mut Context<StrongMessage>, seq: u64, response: Response) {
        if let Some(pending) = self.ops.remove(&seq) {
            ctx.reply(pending.reply_to, response);
        }
    }

    /// The tick: retransmit each phase to the replicas that have not
    /// answered, give up on operations past their deadline, re-arm.
    pub(super) fn on_tick(&mut self, ctx: &mut Context<StrongMessage>) {
        self.tick += 1;
        let deadline = self.config.deadline_ticks();
        let mut expired = Vec::new();
        for (&seq, pending) in &self.ops {
            if self.tick - pending.started > deadline {
                expired.push(seq);
            } else if self.tick - pending.phase_started >= 2 {
                // At least one whole interval since the phase's requests.
                let answered = match &pending.phase {
                    Phase::Query { answered, .. } => answered,
                    Phase::Store { acked, .. } => acked,
                };
                send_phase(ctx, self.op_id(seq), pending, answered);
            }
        }
        for seq in expired {
            self.give_up(ctx, seq);
        }
        if self.ops.is_empty() {
            self.ticking = false;
        } else {
            ctx.set_timer(self.config.retransmit(), TICK);
        }
    }

    /// The deadline passed. In phase 1 nothing was stored: answer
    /// `Unavailable` (definitely no effect). In phase 2 a write may have
    /// landed on some replicas: stay silent so the client times out and
    /// records the write as indeterminate. A read's write-back only copies a
    /// value some write already stored, so a read may answer `Unavailable`
    /// in either phase.
    fn give_up(&mut self, ctx: &mut Context<StrongMessage>, seq: u64) {
        let Some(pending) = self.ops.remove(&seq) else {
            return;
        };
        let (phase, got) = match &pending.phase {
            Phase::Query { answered, .. } => ("query", answered.len()),
            Phase::Store { acked, .. } => ("store", acked.len()),
        };
        let silent =
            matches!(pending.phase, Phase::Store { .. }) && !matches!(pending.intent, Intent::Get);
        if !silent {
            let why = format!(
                "strong: {got} of {} replicas answered the {phase} phase within {:?}, {} needed",
                pending.replicas.len(),
                self.config.deadline(),
                pending.quorum
            );
            ctx.reply(pending.reply_to, Response::Unavailable(why));
        }
    }
}

/// Sends the operation's current phase request to its replicas, except
/// those in `skip` (which have already answered).
fn send_phase(ctx: &mut Context<StrongMessage>, op: OpId, pending: &Pending, skip: &[NodeId]) {
    for &to in pending.replicas.iter().filter(|r| !skip.contains(r)) {
        let message = match &pending.phase {
            Phase::Query { .. } => StrongMessage::Query {
                op,
                key: pending.key.clone(),
            },
            Phase::Store { record, .. } => StrongMessage::Store {
                op,
                key: pending.key.clone(),
                record: record.clone(),
            },
        };
        ctx.send(to, message);
    }
}
