//! Single-copy: every key lives on exactly one node, the head of its
//! preference list. No replication, so no disagreement — and no fault
//! tolerance: when the owner is down, its keys are unreachable.
//!
//! This is the baseline the replicated modes are measured against, and the
//! smallest complete example of the [`Protocol`] trait. A coordinator that
//! does not own the key hands the request on to the owner, which answers the
//! client directly.

use super::{Context, Protocol, ReplyTo, Request, Response};
use crate::error::Result;
use crate::ids::NodeId;
use crate::storage::{Record, Version};
use serde::{Deserialize, Serialize};

/// The single-copy protocol.
#[derive(Debug, Default)]
pub struct SingleCopy;

/// Single-copy's only peer message: a request handed on to the key's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// Who to answer.
    pub reply_to: ReplyTo,
    /// What to do.
    pub request: Request,
}

impl SingleCopy {
    /// A single-copy protocol instance.
    pub fn new() -> Self {
        SingleCopy
    }

    fn apply(ctx: &mut Context<Forward>, reply_to: ReplyTo, request: Request) -> Result<()> {
        let store = ctx.store();
        let response = match request {
            Request::Get { key } => {
                Response::Value(store.get_record(&key)?.and_then(|record| record.value))
            }
            Request::Put { key, value } => {
                let version = Self::next_version(ctx, &key)?;
                ctx.store()
                    .put_record(&key, &Record::value(version, value))?;
                Response::Done
            }
            Request::Delete { key } => {
                let version = Self::next_version(ctx, &key)?;
                ctx.store().put_record(&key, &Record::tombstone(version))?;
                Response::Done
            }
        };
        ctx.reply(reply_to, response);
        Ok(())
    }

    fn next_version(ctx: &Context<Forward>, key: &[u8]) -> Result<Version> {
        let current = ctx
            .store()
            .get_record(key)?
            .map_or(0, |r| r.version.counter);
        Ok(Version::new(current + 1, ctx.node()))
    }
}

impl Protocol for SingleCopy {
    type Message = Forward;

    fn on_request(
        &mut self,
        ctx: &mut Context<Forward>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        let owner = ctx.preference_list(request.key(), 1);
        match owner.first() {
            Some(&owner) if owner != ctx.node() => {
                ctx.send(owner, Forward { reply_to, request });
                Ok(())
            }
            _ => Self::apply(ctx, reply_to, request),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Forward>,
        _from: NodeId,
        message: Forward,
    ) -> Result<()> {
        Self::apply(ctx, message.reply_to, message.request)
    }
}
