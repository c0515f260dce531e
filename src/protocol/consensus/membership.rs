//! Membership changes, stop-the-world: how [`Cluster::add_node`] and
//! [`Cluster::remove_node`] change the Raft group.
//!
//! # Why stop the world here
//!
//! The group's members are the cluster's nodes (`Context::members`), read
//! from the cluster's placement at every decision. Raft's own answer to a
//! change of members — one server at a time, the new configuration as a
//! log entry that takes effect when appended (thesis ch. 4) — would need
//! the configuration to live in the log, apart from the placement, and a
//! way for a client to propose it. The cluster already changes membership
//! for every mode by stopping every node, rewriting their stores, and
//! restarting them under the new placement
//! ([`crate::Cluster::add_node`]); this mode uses the same gate, and makes
//! the rewrite a Raft-safe one.
//!
//! # Why it is safe
//!
//! With every node stopped, [`reconfigure`] finds the most up-to-date log
//! of the group — highest last term, then highest last index, the order
//! RequestVote uses (§5.4.1) — and makes every member of the new group a
//! copy of that node: its records (the snapshot), applied index, snapshot
//! point and log. The term of every member becomes the highest any node
//! had.
//!
//! - **Nothing committed is lost.** An entry committed under the old
//!   membership is on a majority of it; the most up-to-date log is at
//!   least as up to date as one of them, so by the Leader Completeness
//!   argument (§5.4.3) it holds the entry. Every member gets it.
//! - **Nothing is committed twice differently.** Entries of the copied log
//!   after the commit point were appended by some leader; copying them
//!   is what that leader's AppendEntries would have done, and every other
//!   node's conflicting suffix was never committed (it conflicts with a
//!   log that holds every committed entry).
//! - **No two leaders in a term.** Every member restarts as a follower at
//!   the highest term, so any leader after the change wins a new term by a
//!   majority of the new members; no old leader survives the restart.
//! - **Later changes stay safe.** Unlike a single-server change in Raft,
//!   which leaves the old majority holding the log, here *every* member
//!   holds it, so the next change starts from a group in full agreement,
//!   and changes of any size are safe, not only one server at a time.
//!
//! The price is availability: nothing is served while the nodes are
//! stopped (the cluster holds new operations at its gate), and operations
//! in flight whose nodes were stopped come back indeterminate, as after a
//! crash.
//!
//! [`Cluster::add_node`]: crate::Cluster::add_node
//! [`Cluster::remove_node`]: crate::Cluster::remove_node

use super::messages::Entry;
use super::storage::{self, HardState, Recovered, Snapshot};
use crate::error::{Error, Result};
use crate::storage::NodeStore;

fn last(recovered: &Recovered) -> (u64, u64) {
    let index = recovered.snapshot.index + recovered.log.len() as u64;
    let term = recovered
        .log
        .last()
        .map_or(recovered.snapshot.term, |e: &Entry| e.term);
    (term, index)
}

/// Makes every store in `members` (all of the new group's nodes, stopped)
/// a copy of the most up-to-date Raft state among `members` and `leaving`
/// (stores of nodes that leave the group, stopped too). See the module
/// docs for why this is safe.
///
/// ```
/// use replikv::protocol::consensus::reconfigure;
/// use replikv::storage::{Durability, MemoryStorage, NodeStore};
/// use replikv::NodeId;
/// use std::sync::Arc;
/// let store = |i| NodeStore::new(NodeId(i), Arc::new(MemoryStorage::new()), Durability::Periodic);
/// // Fresh stores: nothing to copy, nothing breaks.
/// reconfigure(&[store(0), store(1)], &[store(2)])?;
/// assert!(reconfigure(&[], &[store(2)]).is_err(), "a group needs a member");
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn reconfigure(members: &[NodeStore], leaving: &[NodeStore]) -> Result<()> {
    if members.is_empty() {
        return Err(Error::InvalidConfig(
            "a consensus group needs at least one member".into(),
        ));
    }
    let mut states = Vec::new();
    for store in members.iter().chain(leaving) {
        states.push((store, storage::recover(store)?));
    }
    let max_term = states.iter().map(|(_, r)| r.hard.term).max().unwrap_or(0);
    let Some((source, best)) = states.iter().max_by_key(|(_, r)| last(r)) else {
        return Ok(());
    };
    let records = source.records()?;
    let first = best.snapshot.index + 1;
    let member = |s: &NodeStore| members.iter().any(|m| m.node() == s.node());
    for (store, recovered) in states.iter().filter(|(s, _)| member(s)) {
        let hard = HardState {
            term: max_term,
            vote: recovered
                .hard
                .vote
                .filter(|_| recovered.hard.term == max_term),
        };
        if store.node() != source.node() {
            let (_, own_last) = last(recovered);
            storage::truncate(store, recovered.snapshot.index + 1, own_last)?;
            storage::save_entries(store, first, &best.log)?;
            let snapshot = Snapshot {
                index: best.snapshot.index,
                term: best.snapshot.term,
                pending: None,
            };
            storage::save_snapshot(store, &snapshot)?;
            storage::install_records(store, &records, best.applied)?;
        }
        storage::save_hard(store, &hard)?;
    }
    Ok(())
}
