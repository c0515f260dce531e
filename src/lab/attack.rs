//! An experiment under a network attacker ([`crate::security::Attacker`]):
//! what it injected, what the nodes refused, and the damage counted with the
//! lab's tools — the checker's verdict and lost writes are in the main
//! report; this adds the values that no client wrote.

use crate::cluster::Cluster;
use crate::history::{History, OpKind};
use serde::Serialize;
use std::collections::HashSet;

/// The security part of an [`ExperimentReport`](super::ExperimentReport),
/// present when the experiment ran an attacker or authenticated links.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SecurityReport {
    /// The attack (`forge`, `tamper`, `replay`), or `None` with no attacker.
    pub attack: Option<String>,
    /// `open` or `authenticated`.
    pub links: String,
    /// Messages the attacker forged, altered or replayed.
    pub injected: u64,
    /// Refused by the link check as forged or altered, over all nodes.
    pub refused_unauthentic: u64,
    /// Refused as replays, over all nodes: the attacker's replays, and the
    /// network's own duplicates of node messages (with a duplicate
    /// probability above 0), which authenticated links refuse the same way.
    pub refused_replayed: u64,
    /// Successful reads that returned a value no client wrote.
    pub foreign_reads: u64,
    /// Copies of a value no client wrote, stored on the replicas at the end.
    pub foreign_stored: u64,
}

impl SecurityReport {
    /// Counts the damage in `history` and on `cluster`'s replicas.
    pub(crate) fn measure(
        cluster: &Cluster,
        history: &History,
        attack: Option<crate::security::AttackKind>,
        authenticated: bool,
        injected: u64,
    ) -> crate::Result<Self> {
        let written: HashSet<&[u8]> = history
            .ops
            .iter()
            .filter(|op| matches!(op.kind, OpKind::Put | OpKind::Cas))
            .filter_map(|op| op.value.as_deref())
            .collect();
        let foreign = |value: &[u8]| !written.contains(value);
        let foreign_reads = history
            .ops
            .iter()
            .filter(|op| op.ok && op.kind == OpKind::Get)
            .filter(|op| op.output.as_deref().is_some_and(foreign))
            .count() as u64;
        let mut foreign_stored = 0;
        for node in cluster.nodes() {
            for (_, record) in cluster.store(node)?.records()? {
                foreign_stored += u64::from(record.value.as_deref().is_some_and(foreign));
            }
        }
        let nodes = cluster.metrics().nodes;
        Ok(SecurityReport {
            attack: attack.map(|a| a.to_string()),
            links: if authenticated {
                "authenticated"
            } else {
                "open"
            }
            .into(),
            injected,
            refused_unauthentic: nodes.iter().map(|n| n.unauthentic_messages).sum(),
            refused_replayed: nodes.iter().map(|n| n.replayed_messages).sum(),
            foreign_reads,
            foreign_stored,
        })
    }
}
