//! Single-copy: every key lives on exactly one node, the head of its
//! preference list. No replication, so no disagreement — and no fault
//! tolerance: when the owner is down, its keys are unreachable.
//!
//! This is the baseline the replicated modes are measured against, and the
//! smallest complete example of the [`Protocol`] trait. A coordinator that
//! does not own the key hands the request on to the owner, which answers the
//! client directly.
//!
//! The forward is a peer message, which the runtime does not deduplicate
//! (see the [`crate::protocol`] docs): the network may deliver it twice, or
//! late. So the owner keeps a [`RequestFilter`] of its own and runs a
//! forwarded request only once, and only if its client has not moved on —
//! otherwise a late copy of an old put would overwrite a newer value.

use super::{Context, Protocol, ReplyTo, Request, RequestFilter, Response};
use crate::error::Result;
use crate::ids::NodeId;
use crate::storage::{Record, Version};
use serde::{Deserialize, Serialize};

/// The single-copy protocol.
#[derive(Debug, Default)]
pub struct SingleCopy {
    /// Forwarded requests already run (or overtaken) at this owner.
    forwarded: RequestFilter,
    /// Runs every forward, duplicates too: only for the teaching mutant
    /// [`super::mutants::SingleCopyUnfilteredForwards`].
    unfiltered: bool,
}

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
        SingleCopy::default()
    }

    /// The mutant that runs every forwarded request (crate-internal: the
    /// public face is [`super::mutants::SingleCopyUnfilteredForwards`]).
    pub(crate) fn unfiltered() -> Self {
        SingleCopy {
            unfiltered: true,
            ..SingleCopy::default()
        }
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

    fn mode_name(&self) -> String {
        "single-copy".into()
    }

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
        if !self.forwarded.admit(message.reply_to) && !self.unfiltered {
            return Ok(()); // a duplicate or a late copy
        }
        Self::apply(ctx, message.reply_to, message.request)
    }
}
