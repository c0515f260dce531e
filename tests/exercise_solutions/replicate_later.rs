//! A WRONG answer to exercise 3 that replicates — too late: the key's
//! primary orders every write, stores it, sends copies to the backups and
//! answers the client at once, without waiting for any backup to store it.
//!
//! While no node fails, nothing shows: the copies land a few milliseconds
//! later. But a write is acknowledged while its only stored copy is on the
//! primary; if the primary crashes then, the acknowledged write is on no
//! surviving node. The grader judges what the other nodes held at the
//! instant of its crash, and must fail this answer.

use replikv::protocol::{Context, Protocol, ReplyTo, Request, Response};
use replikv::storage::{Record, Version};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};

/// Messages between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// A request handed on to the key's primary.
    Forward { reply_to: ReplyTo, request: Request },
    /// Primary → backup: store this record (no answer expected).
    Copy { key: Vec<u8>, record: Record },
}

/// The protocol of one node: no state at all.
#[derive(Debug, Default)]
pub struct ReplicateLater;

impl ReplicateLater {
    fn as_primary(ctx: &mut Context<Message>, reply_to: ReplyTo, request: Request) -> Result<()> {
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
        for backup in ctx.replicas(&key) {
            if backup != ctx.node() {
                let (key, record) = (key.clone(), record.clone());
                ctx.send(backup, Message::Copy { key, record });
            }
        }
        // The mistake: answered before any backup stored the copy.
        ctx.reply(reply_to, Response::Done);
        Ok(())
    }
}

impl Protocol for ReplicateLater {
    type Message = Message;

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        match ctx.replicas(request.key()).first() {
            Some(&primary) if primary != ctx.node() => {
                ctx.send(primary, Message::Forward { reply_to, request });
                Ok(())
            }
            _ => Self::as_primary(ctx, reply_to, request),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Message>,
        _from: NodeId,
        message: Message,
    ) -> Result<()> {
        match message {
            Message::Forward { reply_to, request } => Self::as_primary(ctx, reply_to, request),
            Message::Copy { key, record } => {
                ctx.store().put_if_newer(&key, &record)?;
                Ok(())
            }
        }
    }
}
