//! Proposing, AppendEntries and commit (§5.3, §5.4.2).

use super::messages::{ClientOp, Command, Entry};
use super::storage;
use super::{Consensus, RaftMessage, Role};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::{Context, ReplyTo};

impl Consensus {
    /// Appends `entry` to the leader's own log (persisted first).
    fn append_own(&mut self, ctx: &mut Context<RaftMessage>, entry: Entry) -> Result<()> {
        let index = self.last_index() + 1;
        storage::save_entries(ctx.store(), index, std::slice::from_ref(&entry))?;
        self.log.push(entry);
        Ok(())
    }

    /// A new leader's first entry, of its own term.
    pub(super) fn append_noop(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let term = self.hard.term;
        self.append_own(
            ctx,
            Entry {
                term,
                command: Command::Noop,
            },
        )?;
        self.advance_commit(ctx)
    }

    /// The leader appends a client's operation and sends it on; the client
    /// is answered when the entry is applied here.
    pub(super) fn propose(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        reply_to: ReplyTo,
        op: ClientOp,
    ) -> Result<()> {
        let term = self.hard.term;
        self.append_own(
            ctx,
            Entry {
                term,
                command: Command::Op { reply_to, op },
            },
        )?;
        self.waiting.insert(reply_to);
        self.broadcast_append(ctx)?;
        // A group of one commits at once.
        self.advance_commit(ctx)
    }

    /// Sends each follower the entries from its `next` index on (none: a
    /// heartbeat), and assumes they arrive (pipelining).
    pub(super) fn broadcast_append(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let Role::Leader { progress } = &self.role else {
            return Ok(());
        };
        let peers: Vec<NodeId> = progress.keys().copied().collect();
        for peer in peers {
            self.send_append(ctx, peer)?;
        }
        Ok(())
    }

    /// One AppendEntries to `peer` (an InstallSnapshot if it needs entries
    /// compacted away).
    fn send_append(&mut self, ctx: &mut Context<RaftMessage>, peer: NodeId) -> Result<()> {
        let last = self.last_index();
        let snap_index = self.snap_index;
        let max_batch = self.config.max_batch.max(1) as u64;
        let Role::Leader { progress } = &mut self.role else {
            return Ok(());
        };
        let Some(p) = progress.get_mut(&peer) else {
            return Ok(());
        };
        if p.next <= snap_index {
            return self.send_snapshot(ctx, peer);
        }
        let prev_index = p.next.saturating_sub(1).min(last);
        let upto = last.min(prev_index + max_batch);
        p.next = upto + 1;
        let entries = self.entries(prev_index + 1, upto);
        let message = RaftMessage::Append {
            term: self.hard.term,
            prev_index,
            prev_term: self.term_at(prev_index),
            entries,
            commit: self.commit,
        };
        ctx.send(peer, message);
        Ok(())
    }

    /// AppendEntries at a follower (a higher term was adopted already).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_append(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        leader: NodeId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    ) -> Result<()> {
        let reject = |this: &Self, ctx: &mut Context<RaftMessage>| {
            ctx.send(
                leader,
                RaftMessage::AppendReply {
                    term: this.hard.term,
                    matched: Err(prev_index),
                    last_index: this.last_index(),
                },
            );
        };
        if term < self.hard.term || self.is_leader() {
            // A stale leader (it learns our term from the reply), or,
            // under a mutation, two leaders in one term.
            reject(self, ctx);
            return Ok(());
        }
        self.become_follower(ctx, Some(leader));
        self.reset_election_timer(ctx);
        self.reads.heard_from_leader(ctx);
        self.release_held(ctx)?;
        // Entries up to our snapshot are committed, hence the leader's
        // too: skip them, and match from the snapshot on.
        let (prev_index, prev_term, entries) = if prev_index < self.snap_index {
            let skip = usize::try_from(self.snap_index - prev_index).unwrap_or(usize::MAX);
            let rest = entries.into_iter().skip(skip).collect();
            (self.snap_index, self.snap_term, rest)
        } else {
            (prev_index, prev_term, entries)
        };
        if prev_index > self.last_index() || self.term_at(prev_index) != prev_term {
            reject(self, ctx);
            return Ok(());
        }
        // Skip what we already hold; cut our log at the first conflict.
        let mut index = prev_index;
        let mut new = entries.into_iter().peekable();
        while let Some(entry) = new.peek() {
            if index + 1 > self.last_index() {
                break;
            }
            if self.term_at(index + 1) != entry.term {
                storage::truncate(ctx.store(), index + 1, self.last_index())?;
                self.log.truncate((index - self.snap_index) as usize);
                break;
            }
            index += 1;
            new.next();
        }
        let rest: Vec<Entry> = new.collect();
        let matched = index + rest.len() as u64;
        if !rest.is_empty() {
            storage::save_entries(ctx.store(), index + 1, &rest)?;
            self.log.extend(rest);
        }
        // Only what is known to match the leader's log may commit here.
        let commit = leader_commit.min(matched);
        if commit > self.commit {
            self.commit = commit;
            self.apply_committed(ctx)?;
        }
        ctx.send(
            leader,
            RaftMessage::AppendReply {
                term: self.hard.term,
                matched: Ok(matched),
                last_index: self.last_index(),
            },
        );
        Ok(())
    }

    /// A follower answered AppendEntries.
    pub(super) fn on_append_reply(
        &mut self,
        ctx: &mut Context<RaftMessage>,
        follower: NodeId,
        term: u64,
        matched: std::result::Result<u64, u64>,
        last_index: u64,
    ) -> Result<()> {
        if term != self.hard.term {
            return Ok(()); // an answer to an earlier term's leader
        }
        let Role::Leader { progress } = &mut self.role else {
            return Ok(());
        };
        let Some(p) = progress.get_mut(&follower) else {
            return Ok(());
        };
        match matched {
            Ok(index) => {
                p.matched = p.matched.max(index);
                p.next = p.next.max(p.matched + 1);
                // More to send than one message held: keep going.
                let behind = p.next <= self.last_index();
                if behind {
                    self.send_append(ctx, follower)?;
                }
                self.advance_commit(ctx)
            }
            Err(rejected) => {
                // Entry `rejected` did not match: try the one before it
                // (or the follower's last, if that is earlier), never below
                // what the follower is known to match. (Not `next - 1`:
                // pipelining has moved `next` on since that message.)
                p.next = rejected.min(last_index + 1).max(p.matched + 1);
                self.send_append(ctx, follower)
            }
        }
    }

    /// Commits the highest index stored on a majority, if it is of the
    /// current term (Figure 8), and applies what became committed.
    pub(super) fn advance_commit(&mut self, ctx: &mut Context<RaftMessage>) -> Result<()> {
        let Role::Leader { progress } = &self.role else {
            return Ok(());
        };
        let mut matched: Vec<u64> = progress.values().map(|p| p.matched).collect();
        matched.push(self.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let majority = Self::majority(ctx);
        let Some(&on_majority) = matched.get(majority - 1) else {
            return Ok(());
        };
        let of_this_term = self.term_at(on_majority) == self.hard.term;
        if on_majority > self.commit && (of_this_term || self.config.mutations.commit_old_terms) {
            self.commit = on_majority;
            self.apply_committed(ctx)?;
        }
        Ok(())
    }
}
