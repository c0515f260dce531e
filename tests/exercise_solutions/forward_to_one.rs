//! A WRONG answer to exercise 3 that looks right: every request is handed to
//! one node, which alone reads and writes — and replicates nothing.
//!
//! One copy ordered by one node is linearizable, so while every node is up
//! the checker finds nothing to object to. But each acknowledged write exists
//! on one disk only: when that node crashes, the writes are gone. The grader
//! crashes the node whose loss hurts the most, and must fail this answer for
//! the lost writes, whichever node the answer forwards to.

use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, Response};
use replikv::storage::{Record, Version};
use replikv::{NodeId, Result};
use serde::{Deserialize, Serialize};

/// Messages between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// A client request handed on to the node that serves it.
    Forward {
        /// Who to answer.
        reply_to: ReplyTo,
        /// The request.
        request: Request,
    },
}

/// Which node serves a request.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// This node, for every key.
    Node(NodeId),
    /// The key's primary (the first of its replicas).
    Primary,
}

/// One node's protocol state.
#[derive(Debug)]
pub struct ForwardToOne {
    target: Target,
}

/// Every request to node 0.
pub fn to_node_0(_setup: &NodeSetup) -> ForwardToOne {
    ForwardToOne {
        target: Target::Node(NodeId(0)),
    }
}

/// Every request to node 2.
pub fn to_node_2(_setup: &NodeSetup) -> ForwardToOne {
    ForwardToOne {
        target: Target::Node(NodeId(2)),
    }
}

/// Every request to the key's primary, which keeps the only copy.
pub fn to_primary(_setup: &NodeSetup) -> ForwardToOne {
    ForwardToOne {
        target: Target::Primary,
    }
}

impl ForwardToOne {
    fn serve(ctx: &mut Context<Message>, reply_to: ReplyTo, request: Request) -> Result<()> {
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
        Ok(())
    }
}

impl Protocol for ForwardToOne {
    type Message = Message;

    fn on_request(
        &mut self,
        ctx: &mut Context<Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> Result<()> {
        let server = match self.target {
            Target::Node(node) => Some(node),
            Target::Primary => ctx.replicas(request.key()).first().copied(),
        };
        match server {
            Some(node) if node != ctx.node() => {
                ctx.send(node, Message::Forward { reply_to, request });
                Ok(())
            }
            _ => Self::serve(ctx, reply_to, request),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<Message>,
        _from: NodeId,
        message: Message,
    ) -> Result<()> {
        let Message::Forward { reply_to, request } = message;
        Self::serve(ctx, reply_to, request)
    }
}
