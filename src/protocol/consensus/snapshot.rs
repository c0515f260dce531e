//! Log compaction and InstallSnapshot (§7).
//!
//! The state machine is the node's records, already on disk, so a
//! snapshot costs no copy: compacting writes down which index the records
//! stand for and deletes the log up to it (see `storage.rs` for the order
//! of the writes and what a crash between them leaves). A follower that
//! needs an entry the leader has compacted away gets the leader's records
//! instead, in one [`RaftMessage::InstallSnapshot`].

use super::messages::Entry;
use super::storage::{self, Snapshot};
use super::{Consensus, RaftMessage, Role};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::Context;
use crate::storage::Record;

impl Consensus {
    /// Compacts the log once it holds `snapshot_threshold` applied entries.
    pub(super) fn maybe_compact(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let threshold = self.config.snapshot_threshold;
        if threshold == 0 || self.applied - self.snap_index < threshold {
            return Ok(());
        }
        let (index, term) = (self.applied, self.term_at(self.applied));
        let snapshot = Snapshot {
            index,
            term,
            pending: None,
        };
        storage::save_snapshot(ctx.store(), &snapshot)?;
        storage::truncate(ctx.store(), self.snap_index + 1, index)?;
        self.log.drain(..(index - self.snap_index) as usize);
        self.snap_index = index;
        self.snap_term = term;
        Ok(())
    }

    /// Sends `peer` the leader's state machine as of its applied index
    /// (which is at least the snapshot's: the records already include it).
    pub(super) fn send_snapshot(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        peer: NodeId,
    ) -> Result<()> {
        let (last_index, last_term) = (self.applied, self.term_at(self.applied));
        let records = ctx.store().records()?;
        if let Role::Leader { progress } = &mut self.role
            && let Some(p) = progress.get_mut(&peer)
        {
            // Assume it arrives, as for entries; a rejection repairs it.
            p.next = last_index + 1;
        }
        ctx.send(
            peer,
            RaftMessage::InstallSnapshot {
                term: self.hard.term,
                last_index,
                last_term,
                records,
            },
        );
        Ok(())
    }

    /// InstallSnapshot at a follower (a higher term was adopted already).
    pub(super) fn on_install_snapshot(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        leader: NodeId,
        term: u64,
        last_index: u64,
        last_term: u64,
        records: Vec<(Vec<u8>, Record)>,
    ) -> Result<()> {
        if term < self.hard.term || self.is_leader() {
            ctx.send(
                leader,
                RaftMessage::AppendReply {
                    term: self.hard.term,
                    matched: Err(last_index),
                    last_index: self.last_index(),
                },
            );
            return Ok(());
        }
        self.become_follower(ctx, Some(leader));
        self.reset_election_timer(ctx);
        self.reads.heard_from_leader(ctx);
        self.release_held(ctx)?;
        // Applied entries are committed, so they match the leader's: a
        // snapshot no further than them brings nothing new.
        if last_index > self.applied {
            self.install(ctx, last_index, last_term, records)?;
        }
        ctx.send(
            leader,
            RaftMessage::AppendReply {
                term: self.hard.term,
                matched: Ok(last_index.max(self.applied)),
                last_index: self.last_index(),
            },
        );
        Ok(())
    }

    /// Replaces the state machine by the snapshot, keeping the log after
    /// it if the log follows it.
    fn install(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        index: u64,
        term: u64,
        records: Vec<(Vec<u8>, Record)>,
    ) -> Result<()> {
        let store = ctx.store().clone();
        let follows = index <= self.last_index() && self.term_at(index) == term;
        let kept: Vec<Entry> = if follows {
            self.entries(index + 1, self.last_index())
        } else {
            // Our entries after `index` do not follow the leader's log
            // (an entry at `index` differs), so they were never matched:
            // delete them before the snapshot is written.
            if self.last_index() > index {
                storage::truncate(&store, index + 1, self.last_index())?;
            }
            Vec::new()
        };
        let mut snapshot = Snapshot {
            index,
            term,
            pending: Some(records),
        };
        storage::save_snapshot(&store, &snapshot)?;
        storage::truncate(&store, self.snap_index + 1, index.min(self.last_index()))?;
        if let Some(records) = &snapshot.pending {
            storage::install_records(&store, records, index)?;
        }
        snapshot.pending = None;
        storage::save_snapshot(&store, &snapshot)?;
        self.log = kept;
        self.snap_index = index;
        self.snap_term = term;
        self.applied = index;
        self.commit = self.commit.max(index);
        Ok(())
    }
}
