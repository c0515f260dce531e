//! The harness keeps the runtime's rules and its own promises.

use super::*;
use crate::protocol::{SingleCopy, TimerId};

fn put(value: &str) -> Request {
    Request::Put {
        key: b"k".to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

/// Two nodes that answer every number with the next one, for ever; and a
/// timer of token 7, 5 ms after the start.
struct PingPong;

impl Protocol for PingPong {
    type Message = u64;
    fn on_start(&mut self, ctx: &mut Context<u64>) -> Result<()> {
        ctx.set_timer(Duration::from_millis(5), 7);
        Ok(())
    }
    fn on_request(&mut self, ctx: &mut Context<u64>, to: ReplyTo, _: Request) -> Result<()> {
        let other = NodeId(1 - ctx.node().0);
        ctx.send(other, 0);
        ctx.reply(to, Response::Done);
        Ok(())
    }
    fn on_message(&mut self, ctx: &mut Context<u64>, from: NodeId, n: u64) -> Result<()> {
        ctx.send(from, n + 1);
        Ok(())
    }
    fn on_timer(&mut self, ctx: &mut Context<u64>, _: TimerId, token: u64) -> Result<()> {
        assert_eq!(token, 7, "only one timer is ever set");
        ctx.send(NodeId(1 - ctx.node().0), 100);
        Ok(())
    }
}

#[test]
fn a_resent_request_runs_once_as_on_the_runtimes() -> Result<()> {
    let mut h = Harness::new(1, 1, |_| SingleCopy::new())?;
    let first = h.request(NodeId(0), put("v1"))?;
    h.request(NodeId(0), put("v2"))?;
    h.resend(NodeId(0), first, put("v1"))?;
    assert_eq!(h.responses().len(), 2, "the copy got no answer");
    assert_eq!(
        h.record(NodeId(0), b"k")?.and_then(|r| r.value),
        Some(b"v2".to_vec())
    );
    Ok(())
}

#[test]
fn a_message_held_for_a_restarted_node_is_lost() -> Result<()> {
    let mut h = Harness::new(2, 1, |_| PingPong)?;
    h.request(NodeId(0), put("x"))?;
    let held = h.in_flight();
    assert_eq!((held.len(), held[0].to, held[0].message), (1, NodeId(1), 0));
    let copy = h.duplicate(held[0].id)?;
    h.restart(NodeId(1))?;
    assert!(!h.deliver(held[0].id)?, "sent to the previous incarnation");
    assert!(!h.deliver(copy)?);
    assert!(h.in_flight().is_empty());
    // A crashed node takes no request; a lost message cannot be delivered.
    h.crash(NodeId(1))?;
    assert!(matches!(
        h.request(NodeId(1), put("y")),
        Err(Error::NodeAlreadyCrashed(_))
    ));
    assert!(h.deliver(held[0].id).is_err());
    Ok(())
}

#[test]
fn nodes_that_never_fall_quiet_end_the_step_with_an_error() -> Result<()> {
    let mut h = Harness::new(2, 1, |_| PingPong)?;
    h.request(NodeId(0), put("x"))?;
    assert!(matches!(h.deliver_all(), Err(Error::Protocol(_))));
    // Losing the one message in flight ends the argument.
    assert_eq!(h.deliver_all_where(|_| false)?, 0);
    Ok(())
}

#[test]
fn a_timer_fires_only_when_asked_and_moves_time_to_its_deadline() -> Result<()> {
    let mut h = Harness::new(2, 1, |_| PingPong)?;
    assert_eq!(h.timers(NodeId(0))?, vec![(5_000_000, 7)]);
    h.advance(Duration::from_millis(50));
    assert!(h.in_flight().is_empty(), "time passing fires nothing");
    assert!(h.fire_timer(NodeId(1), 7)?);
    assert_eq!(h.clock().now_ns(), 50_000_000, "time never goes back");
    assert_eq!(h.in_flight()[0].message, 100);
    assert!(!h.fire_timer(NodeId(1), 7)?, "it fired once");
    assert_eq!(h.timers(NodeId(0))?.len(), 1, "node 0's timer still waits");

    let mut fresh = Harness::new(1, 1, |_| PingPong)?;
    assert!(fresh.fire_timer(NodeId(0), 7)?);
    assert_eq!(fresh.clock().now_ns(), 5_000_000, "moved to the deadline");
    Ok(())
}
