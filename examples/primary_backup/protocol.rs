//! A primary-backup protocol written *outside* the crate, with nothing but
//! replikv's public API: the same trait the built-in protocols implement.
//!
//! The key's primary (head of its preference list) orders every write: it
//! gives the write the next version, stores it, and copies it to every backup
//! (the rest of the N replicas). Only when all backups have acknowledged does
//! it answer the client, so an acknowledged write survives the loss of any
//! N−1 replicas. Reads are answered by the primary alone — it saw every
//! write. The price: a single slow or crashed backup blocks writes (the
//! client times out), which is why real systems add failure detection and
//! reconfiguration (view changes, as in Viewstamped Replication).
//!
//! Duplicates: the runtime runs each client request once, but a request
//! this node hands on to the primary travels as a peer message, which the
//! network may duplicate or delay: the primary admits each forward through
//! a `RequestFilter` before running it, or a late copy of an old put would
//! overwrite a newer value. Replication messages are idempotent (versions
//! only move forward) and acks are counted once per backup.

use replikv::protocol::{Context, Protocol, ReplyTo, Request, RequestFilter, Response};
use replikv::storage::{Record, Version};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// How often the primary resends a write to backups that have not acked.
const RESEND_EVERY: Duration = Duration::from_millis(30);

/// Messages between replicas.
#[derive(Debug, Serialize, Deserialize)]
pub enum PbMessage {
    /// A request handed on to the key's primary.
    Forward { reply_to: ReplyTo, request: Request },
    /// Primary → backup: store this record.
    Replicate {
        op: u64,
        key: Vec<u8>,
        record: Record,
    },
    /// Backup → primary: stored. It names the write it acknowledges, not
    /// just the operation number: a restarted primary numbers its operations
    /// from 1 again, and an ack a backup sends *after* that restart for the
    /// old incarnation's operation 1 reaches the new one (the runtime drops
    /// only what was sent *before* the restart) — matched by number alone,
    /// it would complete the new operation 1 although no backup stored it.
    Ack {
        op: u64,
        key: Vec<u8>,
        version: Version,
    },
}

/// A write the primary is waiting on.
struct Pending {
    reply_to: ReplyTo,
    key: Vec<u8>,
    record: Record,
    waiting_for: BTreeSet<NodeId>,
}

/// The protocol state of one node.
#[derive(Default)]
pub struct PrimaryBackup {
    /// Forwarded requests already run (or overtaken) at this primary.
    forwarded: RequestFilter,
    next_op: u64,
    pending: HashMap<u64, Pending>,
}

impl PrimaryBackup {
    fn as_primary(
        &mut self,
        ctx: &mut Context<PbMessage>,
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
            .map_or(0, |r| r.version.counter)
            + 1;
        let record = Record {
            version: Version::new(counter, ctx.node()),
            value,
        };
        ctx.store().put_record(&key, &record)?;
        let backups: BTreeSet<NodeId> = ctx
            .replicas(&key)
            .into_iter()
            .filter(|&n| n != ctx.node())
            .collect();
        if backups.is_empty() {
            ctx.reply(reply_to, Response::Done);
            return Ok(());
        }
        self.next_op += 1;
        let op = self.next_op;
        for &backup in &backups {
            ctx.send(
                backup,
                PbMessage::Replicate {
                    op,
                    key: key.clone(),
                    record: record.clone(),
                },
            );
        }
        self.pending.insert(
            op,
            Pending {
                reply_to,
                key,
                record,
                waiting_for: backups,
            },
        );
        ctx.set_timer(RESEND_EVERY, op);
        Ok(())
    }
}

impl Protocol for PrimaryBackup {
    type Message = PbMessage;

    fn on_request(
        &mut self,
        ctx: &mut Context<PbMessage>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        match ctx.replicas(request.key()).first() {
            Some(&primary) if primary != ctx.node() => {
                ctx.send(primary, PbMessage::Forward { reply_to, request });
                Ok(())
            }
            _ => self.as_primary(ctx, reply_to, request),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<PbMessage>,
        from: NodeId,
        message: PbMessage,
    ) -> Result<()> {
        match message {
            PbMessage::Forward { reply_to, request } => {
                if !self.forwarded.admit(reply_to) {
                    return Ok(()); // a duplicate or a late copy
                }
                self.as_primary(ctx, reply_to, request)
            }
            PbMessage::Replicate { op, key, record } => {
                // Versions only move forward, so a duplicate or late copy is harmless.
                ctx.store().put_if_newer(&key, &record)?;
                let version = record.version;
                ctx.send(from, PbMessage::Ack { op, key, version });
                Ok(())
            }
            PbMessage::Ack { op, key, version } => {
                let done = self.pending.get_mut(&op).is_some_and(|p| {
                    // An ack for another write (an earlier incarnation's
                    // operation with the same number) counts for nothing.
                    if p.key == key && p.record.version == version {
                        p.waiting_for.remove(&from);
                    }
                    p.waiting_for.is_empty()
                });
                if let Some(p) = done.then(|| self.pending.remove(&op)).flatten() {
                    ctx.reply(p.reply_to, Response::Done);
                }
                Ok(())
            }
        }
    }

    fn on_timer(
        &mut self,
        ctx: &mut Context<PbMessage>,
        _timer: replikv::protocol::TimerId,
        op: u64,
    ) -> Result<()> {
        if let Some(p) = self.pending.get(&op) {
            for &backup in &p.waiting_for {
                ctx.send(
                    backup,
                    PbMessage::Replicate {
                        op,
                        key: p.key.clone(),
                        record: p.record.clone(),
                    },
                );
            }
            ctx.set_timer(RESEND_EVERY, op);
        }
        Ok(())
    }
}
