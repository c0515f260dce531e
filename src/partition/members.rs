//! Checks and edits of member lists shared by every strategy.
//!
//! Every constructor validates its members here, so that each strategy's
//! placement code may assume a non-empty list of distinct nodes with finite,
//! positive weights.

use super::Member;
use crate::error::{Error, Result};
use crate::ids::NodeId;

/// The members must be non-empty, distinct, with finite positive weights.
pub(crate) fn validate_members(members: &[Member]) -> Result<()> {
    if members.is_empty() {
        return Err(Error::InvalidConfig(
            "a partitioner needs at least one node".into(),
        ));
    }
    for (i, m) in members.iter().enumerate() {
        if !(m.weight.is_finite() && m.weight > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "node {} has weight {}: weights must be finite and positive",
                m.node, m.weight
            )));
        }
        if members[..i].iter().any(|o| o.node == m.node) {
            return Err(Error::InvalidConfig(format!(
                "node {} appears twice",
                m.node
            )));
        }
    }
    Ok(())
}

/// For strategies that cannot weight nodes: every weight must be exactly 1.
///
/// Silently ignoring a weight would hand a node a share of keys its operator
/// did not ask for, so the strategy refuses instead and names an alternative.
pub(crate) fn require_unit_weights(strategy: &str, members: &[Member]) -> Result<()> {
    match members.iter().find(|m| m.weight != 1.0) {
        Some(m) => Err(Error::InvalidConfig(format!(
            "node {} has weight {}, but the {strategy} strategy cannot weight nodes \
             (every node gets an equal share); use weight 1.0, or the ring, \
             rendezvous, maglev or bounded strategy for weighted placement",
            m.node, m.weight
        ))),
        None => Ok(()),
    }
}

/// `members` with `member` appended (validated by the caller's constructor).
pub(crate) fn with_member(members: &[Member], member: Member) -> Vec<Member> {
    let mut out = Vec::with_capacity(members.len() + 1);
    out.extend_from_slice(members);
    out.push(member);
    out
}

/// `members` without `node`, keeping the order of the others; an
/// [`Error::UnknownNode`] when `node` is not a member and an
/// [`Error::InvalidConfig`] when it is the only one.
pub(crate) fn without_member(members: &[Member], node: NodeId) -> Result<Vec<Member>> {
    if !members.iter().any(|m| m.node == node) {
        return Err(Error::UnknownNode(node));
    }
    if members.len() == 1 {
        return Err(Error::InvalidConfig(format!(
            "cannot remove node {node}: it is the only node, and a partitioner needs at least one"
        )));
    }
    Ok(members.iter().copied().filter(|m| m.node != node).collect())
}
