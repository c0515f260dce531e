//! The duplicate-request rule: which client requests a node runs.
//!
//! The network may deliver a client's request twice, or deliver a copy long
//! after the client gave up on it. Run twice, a put writes its value again
//! with a *newer* version, possibly after the client has seen it complete
//! and written something else — undoing a later write, which no
//! linearization allows. A client sends its next request only after the
//! previous one returned (or timed out), and never retries, so its request
//! numbers only grow: a request not numbered above the last one seen from
//! that client is a duplicate or a late copy, and is dropped. (A dropped late
//! copy belongs to an operation its client already recorded as
//! indeterminate, so dropping it is always allowed.)
//!
//! [`RequestFilter`] is that rule, in one place. The node runtime applies it
//! to every client request before [`Protocol::on_request`](super::Protocol::on_request)
//! sees it. A protocol that hands a request on to another node (single-copy
//! and primary-backup forward to the key's owner) must apply it again where
//! the request is *run*, because the forward is a peer message and peer
//! messages are not filtered: keep a [`RequestFilter`] in the protocol and
//! run a forwarded request only when [`RequestFilter::admit`] says so.
//!
//! The memory is volatile, and needs not be durable: the network delivers a
//! message only to the node incarnation it was sent to (a restart breaks
//! every connection, see [`crate::network`]), so no copy sent before a crash
//! reaches the restarted node, and a client's requests after the restart are
//! numbered above everything it sent before.

use super::ReplyTo;
use crate::ids::ClientId;
use std::collections::BTreeMap;

/// Remembers the highest request number run for each client, and refuses
/// anything at or below it.
///
/// ```
/// use replikv::protocol::{ReplyTo, RequestFilter};
/// use replikv::ClientId;
///
/// let mut filter = RequestFilter::new();
/// let req = |n| ReplyTo { client: ClientId(7), request: n };
/// assert!(filter.admit(req(1)));
/// assert!(!filter.admit(req(1)), "a duplicate");
/// assert!(filter.admit(req(3)));
/// assert!(!filter.admit(req(2)), "a late copy of a request its client gave up on");
/// assert!(filter.admit(ReplyTo { client: ClientId(8), request: 1 }), "clients are apart");
/// ```
#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    /// Highest request number admitted per client: one entry per client
    /// that ever reached this node incarnation.
    latest: BTreeMap<ClientId, u64>,
}

impl RequestFilter {
    /// An empty filter (a node incarnation that has run nothing yet).
    pub fn new() -> Self {
        RequestFilter::default()
    }

    /// True when `request` is numbered above every request run so far for
    /// its client (and records it); false for a duplicate or a late copy,
    /// which must not be run.
    pub fn admit(&mut self, request: ReplyTo) -> bool {
        let latest = self.latest.entry(request.client).or_insert(0);
        if request.request <= *latest {
            return false;
        }
        *latest = request.request;
        true
    }
}
