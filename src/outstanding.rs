//! Requests in flight per node, shared by all of a cluster's clients.
//!
//! The load-aware coordinator policies ([`crate::CoordinatorPolicy::LeastOutstanding`]
//! and [`crate::CoordinatorPolicy::PowerOfTwoChoices`]) need to know how
//! busy each node is *right now*. The cheapest honest signal a client has
//! is how many of its requests a node has not answered yet: a slow or
//! overloaded node answers late, so its count grows. One client alone sees
//! only its own requests, so the counts live here, in one table shared by
//! every client of the cluster (as the clients of one load balancer share
//! its connection counts).
//!
//! A request counts from the moment it is sent until its client finishes it
//! — with the answer, a timeout, or by dropping it — through an
//! [`InFlight`] guard, so a count can never leak.

use crate::ids::NodeId;
use parking_lot::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Outstanding requests per node id.
#[derive(Debug, Default)]
pub(crate) struct Outstanding {
    /// Indexed by node id; grown (rarely: nodes join) under the write lock.
    counts: RwLock<Vec<AtomicU64>>,
}

impl Outstanding {
    /// Requests sent to `node` and not yet finished.
    pub(crate) fn of(&self, node: NodeId) -> u64 {
        self.counts
            .read()
            .get(node.0 as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Counts a request to `node` until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>, node: NodeId) -> InFlight {
        let index = node.0 as usize;
        let counted = self
            .counts
            .read()
            .get(index)
            .map(|c| c.fetch_add(1, Ordering::Relaxed))
            .is_some();
        if !counted {
            let mut counts = self.counts.write();
            if counts.len() <= index {
                counts.resize_with(index + 1, || AtomicU64::new(0));
            }
            counts[index].fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            table: self.clone(),
            node,
        }
    }

    fn end(&self, node: NodeId) {
        if let Some(c) = self.counts.read().get(node.0 as usize) {
            // Never below zero: every end follows its begin.
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
        }
    }
}

/// One request in flight; dropping it ends the count.
pub(crate) struct InFlight {
    table: Arc<Outstanding>,
    node: NodeId,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InFlight({})", self.node)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.table.end(self.node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rise_and_fall_with_guards() {
        let table = Arc::new(Outstanding::default());
        let a = table.begin(NodeId(3));
        let b = table.begin(NodeId(3));
        let c = table.begin(NodeId(0));
        assert_eq!((table.of(NodeId(3)), table.of(NodeId(0))), (2, 1));
        assert_eq!(table.of(NodeId(9)), 0);
        drop(a);
        assert_eq!(table.of(NodeId(3)), 1);
        drop((b, c));
        assert_eq!((table.of(NodeId(3)), table.of(NodeId(0))), (0, 0));
    }
}
