//! What the cluster asks a protocol when nodes join and leave, and when it
//! checks convergence.
//!
//! # Why these hooks exist
//!
//! Two pieces of the cluster look at every node's storage from outside its
//! protocol. A membership change ([`crate::Cluster::add_node`],
//! [`crate::Cluster::remove_node`]) copies each moving key to its new
//! replicas; a convergence check ([`crate::Cluster::is_converged`]) asks
//! whether every key's replicas agree. Both must decide things only the
//! protocol knows:
//!
//! - **Which copy wins.** When the copies of a key disagree, rebalancing has
//!   to write *one* record to the key's new replicas. The built-in protocols
//!   keep the highest [`Version`](crate::storage::Version) (ABD's largest
//!   tag; Dynamo-style last-writer-wins), but a protocol of your own may merge
//!   differently — a write-once register keeps the *first* write, a CRDT
//!   merges the values. [`Protocol::reconcile`] says how; its default,
//!   [`newest`], is the built-in rule, spelled out so you can see and replace
//!   it. Convergence and [`crate::Cluster::final_values`] use the same rule,
//!   so "the replicas agree" means agree *by your protocol's rule*.
//! - **Which records are held aside.** A protocol may keep records in its
//!   metadata rather than among its records: the eventual protocol's hints
//!   ([`super::eventual::hints`]) are writes held by a node that is *not* a
//!   replica of the key, waiting to be handed to one. They are the only copy
//!   of an acknowledged write until handed off, so rebalancing must not leave
//!   them behind (a node that leaves would take them with it), and a cluster
//!   whose hints still carry news has not converged.
//!   [`Protocol::pending_records`] lists them, by their metadata name; the
//!   default is "none".
//!
//! Everything else in a protocol's metadata is its own business: rebalancing
//! neither copies nor deletes it, and convergence does not read it. That
//! includes state that belongs to a *node* rather than a key, such as the
//! strong protocol's tag reservations (`strong/tags.rs`): it stays with its
//! node, and needs no moving because the cluster never reuses a node id —
//! no later node can stamp versions with the id of one that left.
//!
//! The hooks are associated functions, not methods: the cluster calls them
//! while the nodes are stopped (see [`crate::Cluster::add_node`]), when no
//! protocol value exists, so the rule must follow from the stored records
//! alone.
//!
//! # What the cluster does with them
//!
//! During a membership change, with every node stopped, for each key whose
//! replica set changes or that has pending records:
//!
//! 1. it gathers every copy — the records on the key's old and new replicas,
//!    and every pending record for the key on any node;
//! 2. [`Protocol::reconcile`] picks the record the new replicas hold; the
//!    cluster writes it to every new replica whose copy differs;
//! 3. it removes the key from nodes that stopped being replicas, and removes
//!    each pending record's metadata entry: its record has reached the key's
//!    replicas, as if the protocol had handed it off.

use super::Protocol;
use crate::error::Result;
use crate::storage::{NodeStore, Record};
use std::marker::PhantomData;

/// A record a protocol holds in its metadata for a key's replicas, rather
/// than as a record of its own (the eventual protocol's hints).
///
/// ```
/// use replikv::protocol::PendingRecord;
/// use replikv::storage::{Record, Version};
/// use replikv::NodeId;
/// let held = PendingRecord {
///     name: b"mine/parked/k".to_vec(),
///     key: b"k".to_vec(),
///     record: Record::value(Version::new(3, NodeId(1)), b"v".to_vec()),
/// };
/// assert_eq!(held.key, b"k");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// The metadata name it is stored under ([`NodeStore::put_meta`]). A
    /// membership change deletes this entry once `record` is on the key's
    /// replicas.
    pub name: Vec<u8>,
    /// The user key the record belongs to.
    pub key: Vec<u8>,
    /// The record waiting to reach the key's replicas.
    pub record: Record,
}

/// The built-in merge rule and the default of [`Protocol::reconcile`]: the
/// copy with the highest version (the last of equals); `None` only when
/// there are no copies.
///
/// ```
/// use replikv::protocol::rebalance::newest;
/// use replikv::storage::{Record, Version};
/// use replikv::NodeId;
/// let old = Record::value(Version::new(1, NodeId(0)), b"old".to_vec());
/// let new = Record::tombstone(Version::new(2, NodeId(1)));
/// assert_eq!(newest(&[old.clone(), new.clone()]), Some(new));
/// assert_eq!(newest(&[]), None);
/// ```
pub fn newest(copies: &[Record]) -> Option<Record> {
    copies.iter().max_by_key(|record| record.version).cloned()
}

/// The hooks of one protocol type, without its type: the cluster keeps the
/// protocol only as a type-erased spawner.
pub(crate) trait Hooks: Send + Sync {
    /// [`Protocol::reconcile`].
    fn reconcile(&self, key: &[u8], copies: &[Record]) -> Option<Record>;
    /// [`Protocol::pending_records`].
    fn pending_records(&self, store: &NodeStore) -> Result<Vec<PendingRecord>>;
}

/// [`Hooks`] for the protocol type `P`.
pub(crate) struct HooksOf<P>(PhantomData<fn() -> P>);

impl<P> HooksOf<P> {
    pub(crate) fn new() -> Self {
        HooksOf(PhantomData)
    }
}

impl<P: Protocol> Hooks for HooksOf<P> {
    fn reconcile(&self, key: &[u8], copies: &[Record]) -> Option<Record> {
        P::reconcile(key, copies)
    }

    fn pending_records(&self, store: &NodeStore) -> Result<Vec<PendingRecord>> {
        P::pending_records(store)
    }
}
