//! The duplicate-request rule: which client requests a node runs.
//!
//! The network may deliver a client's request twice, or deliver a copy long
//! after the client gave up on it. Run twice, a put writes its value again
//! with a *newer* version, possibly after the client has seen it complete
//! and written something else — undoing a later write, which no
//! linearization allows. So a node runs each request at most once.
//!
//! A client numbers its requests upwards and never retries. A blocking
//! client has one request in flight; a pipelined one
//! ([`crate::Client::submit`]) up to [`REQUEST_WINDOW`]. The filter keeps,
//! per client, the highest number it admitted and which of the
//! [`REQUEST_WINDOW`] numbers below it it has seen: a number seen before is a
//! duplicate, and a number more than a window below the highest belongs to
//! a request its client has long finished with. Both are dropped. A first
//! copy that arrives late but within the window still runs: its client
//! either is still waiting for it, or gave up on it and recorded it as
//! indeterminate — which allows it to take effect at any later time.
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

/// How many requests one client may have in flight at once: the width of
/// the window [`RequestFilter`] remembers per client.
pub const REQUEST_WINDOW: u64 = 64;

/// What the filter remembers of one client.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// The highest request number admitted.
    highest: u64,
    /// Bit `i` set: request `highest - i` was admitted (bit 0 is `highest`).
    window: u64,
}

/// Runs each client request at most once, remembering a window of
/// [`REQUEST_WINDOW`] request numbers per client (see the module docs).
///
/// ```
/// use replikv::protocol::{ReplyTo, RequestFilter, REQUEST_WINDOW};
/// use replikv::ClientId;
///
/// let mut filter = RequestFilter::new();
/// let req = |n| ReplyTo { client: ClientId(7), request: n };
/// assert!(filter.admit(req(1)));
/// assert!(!filter.admit(req(1)), "a duplicate");
/// assert!(filter.admit(req(3)));
/// assert!(filter.admit(req(2)), "a first copy, late but within the window");
/// assert!(!filter.admit(req(2)), "its duplicate");
/// assert!(filter.admit(req(3 + REQUEST_WINDOW)));
/// assert!(!filter.admit(req(3)), "far below the window: long finished");
/// assert!(filter.admit(ReplyTo { client: ClientId(8), request: 1 }), "clients are apart");
/// ```
#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    /// One entry per client that ever reached this node incarnation.
    seen: BTreeMap<ClientId, Seen>,
}

impl RequestFilter {
    /// An empty filter (a node incarnation that has run nothing yet).
    pub fn new() -> Self {
        RequestFilter::default()
    }

    /// True the first time `request` is seen, when its number is within
    /// [`REQUEST_WINDOW`] of the highest seen for its client (and records
    /// it); false for a duplicate or a copy from long ago, which must not
    /// be run. Request numbers start at 1.
    pub fn admit(&mut self, request: ReplyTo) -> bool {
        let n = request.request;
        if n == 0 {
            return false;
        }
        let seen = self.seen.entry(request.client).or_default();
        if n > seen.highest {
            let shift = n - seen.highest;
            seen.window = if shift >= REQUEST_WINDOW {
                1
            } else {
                (seen.window << shift) | 1
            };
            seen.highest = n;
            return true;
        }
        let below = seen.highest - n;
        if below >= REQUEST_WINDOW {
            return false;
        }
        let bit = 1u64 << below;
        if seen.window & bit != 0 {
            return false;
        }
        seen.window |= bit;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(n: u64) -> ReplyTo {
        ReplyTo {
            client: ClientId(1),
            request: n,
        }
    }

    proptest! {
        /// Against a model that remembers everything: admitted exactly when
        /// never admitted before and within the window of the highest.
        #[test]
        fn admits_each_number_once_within_the_window(
            arrivals in proptest::collection::vec(1u64..200, 1..400)
        ) {
            let mut filter = RequestFilter::new();
            let mut admitted = std::collections::BTreeSet::new();
            let mut highest = 0u64;
            for n in arrivals {
                let expected = !admitted.contains(&n) && n + REQUEST_WINDOW > highest;
                prop_assert_eq!(filter.admit(req(n)), expected, "request {}", n);
                if expected {
                    admitted.insert(n);
                    highest = highest.max(n);
                }
            }
        }
    }

    #[test]
    fn request_zero_is_never_admitted() {
        assert!(!RequestFilter::new().admit(req(0)));
    }
}
