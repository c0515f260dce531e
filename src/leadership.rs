//! Who led, and when: the roles a protocol announces, gathered into a
//! timeline and summed up for reports.
//!
//! A protocol with leaders says so through its [`Context`]:
//! [`Context::became_leader`] when it wins a term,
//! [`Context::stood_for_election`] when it becomes a candidate, and
//! [`Context::stepped_down`] when it goes back to following. The node
//! stamps each announcement with the cluster clock (virtual time on the
//! simulator), and [`Cluster::crash`](crate::Cluster::crash) adds a
//! [`Role::Down`] for the node it crashes. [`Cluster::leadership`] returns
//! the timeline, and [`LeadershipSummary::of`] counts elections, leaders
//! and leader changes, the most leaders any one term had (Raft promises at
//! most one: Ongaro & Ousterhout 2014, §5.2, "Election Safety"), and the
//! longest stretch of time in which no node led.
//!
//! What a node *believes*: a leader cut off by a partition goes on
//! believing it leads until it hears of a higher term, so the timeline
//! counts it as a leader meanwhile (it cannot commit anything: see
//! `protocol::consensus`). "Without a leader" therefore means "no node
//! believed it led", which is exact for crashes and step-downs, and short
//! of the truth for a partitioned leader.
//!
//! Protocols that announce nothing (every mode but consensus) have an empty
//! timeline, and reports show their leadership rows as `-`.
//!
//! [`Context`]: crate::protocol::Context
//! [`Context::became_leader`]: crate::protocol::Context::became_leader
//! [`Context::stood_for_election`]: crate::protocol::Context::stood_for_election
//! [`Context::stepped_down`]: crate::protocol::Context::stepped_down
//! [`Cluster::leadership`]: crate::Cluster::leadership

use crate::ids::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A role a node announced (or [`Role::Down`], which the cluster records
/// when it crashes the node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Role {
    /// Follows (or waits for) a leader.
    Follower,
    /// Stands for election in its term.
    Candidate,
    /// Leads its term.
    Leader,
    /// Crashed.
    Down,
}

/// One announcement, stamped with the cluster clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RoleChange {
    /// When, in nanoseconds on the cluster clock.
    pub at_ns: u64,
    /// Who.
    pub node: NodeId,
    /// In which term (for [`Role::Down`]: the node's last announced term).
    pub term: u64,
    /// The new role.
    pub role: Role,
}

/// What a timeline of [`RoleChange`]s adds up to.
///
/// ```
/// use replikv::leadership::{LeadershipSummary, Role, RoleChange};
/// use replikv::NodeId;
/// let at = |ms: u64, node: u32, term: u64, role: Role| RoleChange {
///     at_ns: ms * 1_000_000, node: NodeId(node), term, role,
/// };
/// let summary = LeadershipSummary::of(&[
///     at(150, 0, 1, Role::Candidate),
///     at(160, 0, 1, Role::Leader),
///     at(500, 0, 1, Role::Down),
///     at(700, 2, 2, Role::Candidate),
///     at(710, 2, 2, Role::Leader),
/// ], 1_000_000_000).unwrap();
/// assert_eq!((summary.elections, summary.leaders_elected, summary.leader_changes), (2, 2, 1));
/// assert_eq!(summary.longest_without_leader_ns, 210_000_000); // 500 ms → 710 ms
/// assert_eq!(summary.max_leaders_in_a_term, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeadershipSummary {
    /// Candidacies: how many times a node stood for election.
    pub elections: u64,
    /// Elections won: how many times a node became leader of a term.
    pub leaders_elected: u64,
    /// Leaders elected that differ from the leader before them (the first
    /// leader is no change).
    pub leader_changes: u64,
    /// The longest stretch, from the cluster's start (time 0) to `end_ns`,
    /// in which no node believed it led.
    pub longest_without_leader_ns: u64,
    /// The most distinct nodes that led any one term (Raft: at most 1).
    pub max_leaders_in_a_term: usize,
}

impl LeadershipSummary {
    /// Sums up `changes` (in any order) over the time from 0 to `end_ns`;
    /// `None` when nothing was announced (a protocol without leaders).
    pub fn of(changes: &[RoleChange], end_ns: u64) -> Option<LeadershipSummary> {
        if changes.is_empty() {
            return None;
        }
        let mut changes = changes.to_vec();
        changes.sort_by_key(|c| c.at_ns);
        let mut summary = LeadershipSummary::default();
        let mut leaders: BTreeSet<NodeId> = BTreeSet::new();
        let mut per_term: BTreeMap<u64, BTreeSet<NodeId>> = BTreeMap::new();
        let mut previous_leader = None;
        let mut leaderless_since = Some(0);
        for change in &changes {
            match change.role {
                Role::Candidate => summary.elections += 1,
                Role::Leader => {
                    summary.leaders_elected += 1;
                    if previous_leader.is_some_and(|p| p != change.node) {
                        summary.leader_changes += 1;
                    }
                    previous_leader = Some(change.node);
                    per_term.entry(change.term).or_default().insert(change.node);
                }
                Role::Follower | Role::Down => {}
            }
            if change.role == Role::Leader {
                leaders.insert(change.node);
            } else {
                leaders.remove(&change.node);
            }
            match (leaders.is_empty(), leaderless_since) {
                (true, None) => leaderless_since = Some(change.at_ns),
                (false, Some(since)) => {
                    summary.longest_without_leader_ns = summary
                        .longest_without_leader_ns
                        .max(change.at_ns.saturating_sub(since));
                    leaderless_since = None;
                }
                _ => {}
            }
        }
        if let Some(since) = leaderless_since {
            summary.longest_without_leader_ns = summary
                .longest_without_leader_ns
                .max(end_ns.saturating_sub(since));
        }
        summary.max_leaders_in_a_term = per_term.values().map(BTreeSet::len).max().unwrap_or(0);
        Some(summary)
    }

    /// The terms that had more than one leader, each with its leaders
    /// (empty for a correct Raft).
    pub fn split_terms(changes: &[RoleChange]) -> BTreeMap<u64, BTreeSet<NodeId>> {
        let mut per_term: BTreeMap<u64, BTreeSet<NodeId>> = BTreeMap::new();
        for c in changes.iter().filter(|c| c.role == Role::Leader) {
            per_term.entry(c.term).or_default().insert(c.node);
        }
        per_term.retain(|_, leaders| leaders.len() > 1);
        per_term
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, node: u32, term: u64, role: Role) -> RoleChange {
        RoleChange {
            at_ns: ms * 1_000_000,
            node: NodeId(node),
            term,
            role,
        }
    }

    #[test]
    fn nothing_announced_is_no_summary() {
        assert_eq!(LeadershipSummary::of(&[], 10), None);
    }

    #[test]
    fn a_leader_that_never_goes_leaves_only_the_first_election_without_one() {
        let s = LeadershipSummary::of(
            &[at(200, 1, 1, Role::Candidate), at(205, 1, 1, Role::Leader)],
            5_000_000_000,
        )
        .unwrap();
        assert_eq!(s.longest_without_leader_ns, 205_000_000);
        assert_eq!(s.leader_changes, 0);
    }

    #[test]
    fn a_step_down_opens_a_gap_that_lasts_until_the_run_ends_if_nobody_leads() {
        let s = LeadershipSummary::of(
            &[
                at(10, 0, 1, Role::Leader),
                at(100, 0, 2, Role::Follower),
                at(150, 1, 2, Role::Candidate),
            ],
            1_000_000_000,
        )
        .unwrap();
        assert_eq!(s.longest_without_leader_ns, 900_000_000);
    }

    #[test]
    fn two_leaders_in_one_term_are_counted_and_named() {
        let changes = [
            at(10, 0, 3, Role::Leader),
            at(11, 2, 3, Role::Leader),
            at(20, 1, 4, Role::Leader),
        ];
        let s = LeadershipSummary::of(&changes, 30_000_000).unwrap();
        assert_eq!(s.max_leaders_in_a_term, 2);
        assert_eq!(s.leader_changes, 2);
        let split = LeadershipSummary::split_terms(&changes);
        assert_eq!(
            split,
            BTreeMap::from([(3, BTreeSet::from([NodeId(0), NodeId(2)]))])
        );
    }

    #[test]
    fn the_same_node_elected_again_is_an_election_but_no_change() {
        let s = LeadershipSummary::of(
            &[
                at(10, 0, 1, Role::Leader),
                at(20, 0, 1, Role::Down),
                at(30, 0, 2, Role::Leader),
            ],
            40_000_000,
        )
        .unwrap();
        assert_eq!((s.leaders_elected, s.leader_changes), (2, 0));
        assert_eq!(s.longest_without_leader_ns, 10_000_000);
    }
}
