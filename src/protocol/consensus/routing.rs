//! Where a client request goes: a leader runs it, a follower forwards it
//! to the leader it knows, and a node that knows none holds it, for a
//! bounded time (see the module docs, "Followers forward").

use super::{ClientOp, Consensus, HOLD, MAX_HELD, RaftMessage, ReadMode, Role};
use crate::error::Result;
use crate::protocol::{Context, ReplyTo, Request};

impl Consensus {
    /// A client operation arrived, directly or forwarded.
    pub(super) fn client_op(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        op: ClientOp,
        hops: u8,
    ) -> Result<()> {
        if !self.admitted.admit(reply_to) {
            return Ok(()); // a duplicate, or overtaken by a later request
        }
        self.route(ctx, reply_to, op, hops)
    }

    /// Proposes (leader), forwards (follower with a leader) or holds.
    pub(super) fn route(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        op: ClientOp,
        hops: u8,
    ) -> Result<()> {
        match self.role {
            Role::Leader { .. } => match op {
                ClientOp::Request(Request::Get { key })
                    if self.config.read_mode != ReadMode::Log =>
                {
                    self.read(ctx, reply_to, key)
                }
                op => self.propose(ctx, reply_to, op),
            },
            Role::Follower {
                leader: Some(leader),
            } if hops < 3 => {
                ctx.send(
                    leader,
                    RaftMessage::Forward {
                        reply_to,
                        op,
                        hops: hops + 1,
                    },
                );
                Ok(())
            }
            // Handed on too often (stale leader hints): nothing was
            // appended, so say so rather than let the client wait.
            Role::Follower { leader: Some(_) } => {
                ctx.reply(
                    reply_to,
                    crate::protocol::Response::Unavailable(format!(
                        "forwarded {hops} times without reaching a leader"
                    )),
                );
                Ok(())
            }
            _ if self.held.len() >= MAX_HELD => {
                ctx.reply(
                    reply_to,
                    crate::protocol::Response::Unavailable(format!(
                        "no leader known, and {MAX_HELD} requests already wait for one"
                    )),
                );
                Ok(())
            }
            _ => {
                self.hold(ctx, reply_to, op);
                Ok(())
            }
        }
    }

    /// Holds a request until a leader is known, at most `hold_timeout`.
    pub(super) fn hold(&mut self, ctx: &mut Context<RaftMessage>, reply_to: ReplyTo, op: ClientOp) {
        self.held.push((reply_to, op, ctx.now_ns()));
        if self.hold_timer.is_none() {
            self.hold_timer = Some(ctx.set_timer(self.config.hold_timeout, HOLD));
        }
    }

    /// Answers `Unavailable` to the requests held for `hold_timeout`.
    pub(super) fn on_hold_timeout(&mut self, ctx: &mut Context<RaftMessage>) {
        self.hold_timer = None;
        let limit = self.config.hold_timeout.as_nanos() as u64;
        let now = ctx.now_ns();
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(_, _, since)| now.saturating_sub(*since) >= limit);
        self.held = kept;
        for (reply_to, _, _) in expired {
            ctx.reply(
                reply_to,
                crate::protocol::Response::Unavailable(format!(
                    "no leader known for {:?}: nothing was done, try again",
                    self.config.hold_timeout
                )),
            );
        }
        if !self.held.is_empty() {
            self.hold_timer = Some(ctx.set_timer(self.config.hold_timeout, HOLD));
        }
    }

    /// Routes the requests held while no leader was known.
    pub(super) fn release_held(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        if let Some(timer) = self.hold_timer.take() {
            ctx.cancel_timer(timer);
        }
        for (reply_to, op, _) in std::mem::take(&mut self.held) {
            self.route(ctx, reply_to, op, 0)?;
        }
        Ok(())
    }
}
