//! Helpers shared by the eventual-mode integration tests.
#![allow(dead_code)]

use replikv::history::{History, OpKind, Operation};
use replikv::network::{EnvelopeInfo, Verdict};
use replikv::{Cluster, Endpoint};
use std::collections::BTreeMap;
use std::time::Duration;

/// Prints the seed if the test panics while this guard is alive. On
/// threads a seed fixes a run's inputs (faults, latencies, workload), not
/// its execution.
pub struct SeedGuard(pub u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "*** failing seed: {} (rerun with REPLIKV_SEED={}: the same inputs; \
                 on threads the interleaving differs from run to run, so a failure \
                 may not repeat — the sim_* suites replay exactly)",
                self.0, self.0
            );
        }
    }
}

/// The seeds to run: `REPLIKV_SEED` if set, else `defaults`.
pub fn seeds(defaults: &[u64]) -> Vec<u64> {
    match std::env::var("REPLIKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => defaults.to_vec(),
    }
}

/// A fault hook that keeps client ↔ node links perfect (instant, lossless):
/// faults are then confined to node ↔ node links, where the protocol lives.
pub fn reliable_clients(cluster: &Cluster) {
    cluster.network().set_fault_hook(|e: &EnvelopeInfo| {
        let client = matches!(e.from, Endpoint::Client(_)) || matches!(e.to, Endpoint::Client(_));
        client.then_some(Verdict::Deliver(Duration::ZERO))
    });
}

/// Checks that no acknowledged write was lost, for keys written sequentially
/// (one writer per key, no clock skew): each key's final value must be the
/// last acknowledged write's, or that of a later write whose outcome is
/// unknown (it may have taken effect after the acknowledged one).
pub fn check_no_lost_writes(history: &History, finals: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    let mut by_key: BTreeMap<&[u8], Vec<&Operation>> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.is_write()) {
        by_key.entry(&op.key).or_default().push(op);
    }
    for (key, writes) in by_key {
        let written = |op: &Operation| match op.kind {
            OpKind::Put => op.value.clone(),
            _ => None,
        };
        let last_ack = writes.iter().rposition(|op| op.ok);
        let allowed: Vec<Option<Vec<u8>>> = match last_ack {
            Some(i) => writes[i..]
                .iter()
                .filter(|op| op.ok || op.is_indeterminate())
                .map(|op| written(op))
                .collect(),
            None => {
                let mut all: Vec<_> = writes.iter().map(|op| written(op)).collect();
                all.push(None);
                all
            }
        };
        let got = finals.get(key).cloned();
        let got_value = got.clone().flatten();
        assert!(
            (last_ack.is_none() && got.is_none()) || allowed.contains(&got_value),
            "key {:?}: final value {:?} is not one of the allowed {:?} (lost acknowledged write)",
            String::from_utf8_lossy(key),
            got.map(|v| v.map(|v| String::from_utf8_lossy(&v).into_owned())),
            allowed
                .iter()
                .map(|v| v.as_ref().map(|v| String::from_utf8_lossy(v).into_owned()))
                .collect::<Vec<_>>()
        );
    }
}
