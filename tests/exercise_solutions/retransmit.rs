//! Reference solution to exercise 4: asynchronous replication that
//! retransmits each copy until the replica acknowledges it.
//!
//! The primary still acknowledges a write at once (the message-queue
//! pattern: the copy is *queued* for delivery), but it keeps every copy in a
//! pending set until the replica says it stored it, and resends on a timer.
//! Duplicates are harmless: a replica only keeps a record newer than its own.
//!
//! The same file keeps two WRONG variants, each one mistake away from the
//! reference, so the tests can check that the grader's hint follows what the
//! protocol did ([`overwrites_newer`] already acknowledges and resends;
//! [`never_resends`] acknowledges but never resends).

use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response, TimerId};
use replikv::storage::{Record, Version};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// How often unacknowledged copies are sent again.
const RESEND_EVERY: Duration = Duration::from_millis(20);

/// Messages between replicas.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Primary → replica: store this record (if newer than yours).
    Replicate {
        /// Which copy, for the acknowledgement.
        op: u64,
        /// The key.
        key: Vec<u8>,
        /// The record.
        record: Record,
    },
    /// Replica → primary: stored.
    Ack {
        /// The copy acknowledged.
        op: u64,
        /// Its version: a restarted primary numbers copies from 1 again, so
        /// the number alone could match an earlier incarnation's copy.
        version: replikv::storage::Version,
    },
}

/// A copy still travelling.
#[derive(Debug)]
struct Pending {
    key: Vec<u8>,
    record: Record,
    waiting_for: BTreeSet<NodeId>,
}

/// A deliberate mistake, for the grader's tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mistake {
    /// None: the reference solution.
    #[default]
    None,
    /// A replica stores every copy it gets, even one older than its own: a
    /// late resend of an earlier write replaces a later one.
    OverwritesNewer,
    /// Copies are acknowledged, but a lost one is never sent again.
    NeverResends,
}

/// One node's protocol state.
#[derive(Debug, Default)]
pub struct Retransmit {
    next_op: u64,
    pending: HashMap<u64, Pending>,
    mistake: Mistake,
}

/// Builds the protocol for one node.
pub fn solution(_setup: &NodeSetup) -> Retransmit {
    Retransmit::default()
}

/// WRONG: acknowledges and resends, but a replica overwrites newer records.
pub fn overwrites_newer(_setup: &NodeSetup) -> Retransmit {
    Retransmit {
        mistake: Mistake::OverwritesNewer,
        ..Retransmit::default()
    }
}

/// WRONG: replicas acknowledge, but the primary never resends.
pub fn never_resends(_setup: &NodeSetup) -> Retransmit {
    Retransmit {
        mistake: Mistake::NeverResends,
        ..Retransmit::default()
    }
}

impl Retransmit {
    fn send_copies(ctx: &mut Context<Message>, op: u64, pending: &Pending) {
        for &replica in &pending.waiting_for {
            let (key, record) = (pending.key.clone(), pending.record.clone());
            ctx.send(replica, Message::Replicate { op, key, record });
        }
    }
}

impl Protocol for Retransmit {
    type Message = Message;

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        let (key, value) = match request {
            Request::Get { key } => {
                let value = ctx.store().get_record(&key)?.and_then(|r| r.value);
                ctx.reply(reply_to, Response::Value(value));
                return Ok(());
            }
            Request::Put { key, value } => (key, Some(value)),
            Request::Delete { key } => (key, None),
        };
        let counter = ctx
            .store()
            .get_record(&key)?
            .map_or(0, |r| r.version.counter);
        let record = Record {
            version: Version::new(counter + 1, ctx.node()),
            value,
        };
        ctx.store().put_record(&key, &record)?;
        ctx.reply(reply_to, Response::Done);
        let waiting_for: BTreeSet<NodeId> = ctx
            .replicas(&key)
            .into_iter()
            .filter(|&n| n != ctx.node())
            .collect();
        if waiting_for.is_empty() {
            return Ok(());
        }
        self.next_op += 1;
        let op = self.next_op;
        let pending = Pending {
            key,
            record,
            waiting_for,
        };
        Self::send_copies(ctx, op, &pending);
        self.pending.insert(op, pending);
        ctx.set_timer(RESEND_EVERY, op);
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Message>,
        from: NodeId,
        message: Message,
    ) -> Result<()> {
        match message {
            Message::Replicate { op, key, record } => {
                if self.mistake == Mistake::OverwritesNewer {
                    ctx.store().put_record(&key, &record)?;
                } else {
                    ctx.store().put_if_newer(&key, &record)?;
                }
                let version = record.version;
                ctx.send(from, Message::Ack { op, version });
            }
            Message::Ack { op, version } => {
                let done = self.pending.get_mut(&op).is_some_and(|p| {
                    if p.record.version == version {
                        p.waiting_for.remove(&from);
                    }
                    p.waiting_for.is_empty()
                });
                if done {
                    self.pending.remove(&op);
                }
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<Message>, _timer: TimerId, op: u64) -> Result<()> {
        if self.mistake == Mistake::NeverResends {
            return Ok(());
        }
        if let Some(pending) = self.pending.get(&op) {
            Self::send_copies(ctx, op, pending);
            ctx.set_timer(RESEND_EVERY, op);
        }
        Ok(())
    }
}
