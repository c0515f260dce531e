//! The state machine: committed entries applied, in order, to the node's
//! records, and the answers to the clients waiting here.

use super::messages::{ClientOp, Command};
use super::storage;
use super::{Consensus, RaftMessage};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::{Cas, Context, Request, Response};
use crate::storage::{NodeStore, Record, Version};

/// The version a record written by entry `index` carries: the index, so
/// that every node writes the very same record. (The writer field is
/// meaningless here and fixed.)
fn version(index: u64) -> Version {
    Version::new(index, NodeId(0))
}

/// Writes `value` (or a tombstone) for `key` as entry `index`.
fn write(store: &NodeStore, key: &[u8], value: Option<Vec<u8>>, index: u64) -> Result<()> {
    let record = match value {
        Some(v) => Record::value(version(index), v),
        None => Record::tombstone(version(index)),
    };
    store.put_record(key, &record)
}

/// The current value of `key` in the state machine (none if absent or
/// deleted).
pub(super) fn current(store: &NodeStore, key: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(store.get_record(key)?.and_then(|r| r.value))
}

/// Runs one client operation against the records; its answer.
fn run(store: &NodeStore, op: ClientOp, index: u64) -> Result<Response> {
    let current = |key: &[u8]| -> Result<Option<Vec<u8>>> {
        Ok(store.get_record(key)?.and_then(|r| r.value))
    };
    Ok(match op {
        ClientOp::Request(Request::Get { key }) => Response::Value(current(&key)?),
        ClientOp::Request(Request::Put { key, value }) => {
            write(store, &key, Some(value), index)?;
            Response::Done
        }
        ClientOp::Request(Request::Delete { key }) => {
            write(store, &key, None, index)?;
            Response::Done
        }
        ClientOp::Cas(Cas { key, expected, new }) => {
            let swapped = current(&key)? == expected;
            if swapped {
                write(store, &key, new, index)?;
            }
            Response::Swapped(swapped)
        }
    })
}

impl Consensus {
    /// Applies every committed entry not applied yet, persisting the
    /// applied index after each (see `storage.rs` for why one re-applied
    /// entry is harmless).
    pub(super) fn apply_committed(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let upto = self.commit.min(self.last_index());
        while self.applied < upto {
            let index = self.applied + 1;
            let command = match self.entry(index) {
                Some(entry) => entry.command.clone(),
                None => unreachable!("entry {index} is applied before it is compacted"),
            };
            if let Command::Op { reply_to, op } = command {
                let response = run(ctx.store(), op, index)?;
                if self.waiting.remove(&reply_to) {
                    ctx.reply(reply_to, response);
                }
            }
            storage::save_applied(ctx.store(), index)?;
            self.applied = index;
        }
        self.maybe_compact(ctx)?;
        self.serve_reads(ctx)
    }
}
