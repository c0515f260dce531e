//! Exercise 8, CAP: a bank balance must never be read stale, even while the
//! network is partitioned.
//!
//! When a partition splits the replicas, each side must choose: keep
//! answering (available) and risk answers the other side contradicts, or
//! refuse where it cannot be sure (consistent). For a bank balance, a stale
//! read is a double spend. The grader puts a balance on a 3-node cluster
//! (N = 3), cuts the key's primary off from the other two nodes, and lets
//! two tellers deposit and check the balance through random replicas: one
//! teller reaches every node, the other only the majority side. Passing:
//! the [`Checker`] finds the history linearizable, and the majority side
//! kept working — the majority-side teller completed at least 3 deposits
//! and balance checks, at least one of each. (Refusing everything is
//! consistent, and no bank; so is keeping one copy on the cut-off node.)

use super::concurrent::{Script, get, put, run_clients};
use super::{Grade, node_list};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::{Error, Result};
use crate::history::{CheckResult, Checker, OpKind};
use crate::ids::Endpoint;
use crate::network::{EnvelopeInfo, Verdict};
use crate::sim::Runtime;
use std::time::Duration;

const EXERCISE: &str = "exercise 8: CAP and the bank balance";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 8;
const KEY: &str = "balance";
/// Successful operations the majority-side teller needs during the partition.
const MIN_OK: usize = 3;
/// Operations per teller: alternately a deposit and a balance check.
const OPS_PER_TELLER: usize = 8;
/// Each teller's pause between an answer and its next operation. Links are
/// instant and the simulator's operations take no virtual time: without a
/// pause, operations would share instants and look concurrent to the
/// checker, which then accepts almost any order.
const THINK: Duration = Duration::from_millis(1);

/// Grades a consistency mode for a balance read and written during a
/// partition.
///
/// ```no_run
/// use replikv::Consistency;
/// use replikv::lab::exercises::grade_bank_balance;
/// assert!(!grade_bank_balance(Consistency::Eventual { r: 1, w: 1 }).passed);
/// ```
pub fn grade_bank_balance(consistency: Consistency) -> Grade {
    grade_bank_balance_with_seed(consistency, None)
}

/// [`grade_bank_balance`] with another seed (`None`: the exercise's own, 8) — what
/// `cargo run --release --example exercise_08_cap -- --seed N` runs.
pub fn grade_bank_balance_with_seed(consistency: Consistency, seed: Option<u64>) -> Grade {
    match run(consistency, seed.unwrap_or(SEED)) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(
            EXERCISE,
            &e,
            "pick a Consistency mode (R and W between 1 and N = 3 for eventual)",
        ),
    }
}

fn run(consistency: Consistency, seed: u64) -> Result<Grade> {
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .consistency(consistency)
        .coordinator(CoordinatorPolicy::Random)
        .client_timeout(Duration::from_millis(550))
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    cluster.client()?.put(KEY, "100")?;
    let replicas = cluster.placement().replicas(KEY.as_bytes());
    let (minority, majority) = replicas.split_at(1);
    cluster.network().partition(&[minority, majority])?;
    // Two tellers: one in the majority's data centre (it cannot reach the
    // minority node either), one that reaches every node.
    let clients = (0..2)
        .map(|_| cluster.client())
        .collect::<Result<Vec<_>>>()?;
    let majority_teller = clients[0].id();
    let Some(&cut_off) = minority.first() else {
        return Err(Error::InvalidConfig("the balance has no replica".into()));
    };
    cluster.network().set_fault_hook(move |e: &EnvelopeInfo| {
        (e.from == Endpoint::Client(majority_teller) && e.to == Endpoint::Node(cut_off))
            .then_some(Verdict::Drop)
    });
    let tellers = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let mut i = 0;
            let script: Script<'_> = Box::new(move |_, _| {
                if i == OPS_PER_TELLER {
                    return None;
                }
                i += 1;
                // Errors are the point: the history records them.
                Some(if (i - 1) % 2 == 0 {
                    put(KEY, format!("{}", 100 + 10 * (c * OPS_PER_TELLER + i - 1)))
                } else {
                    get(KEY)
                })
            });
            (client, script)
        })
        .collect();
    run_clients(&cluster, tellers, THINK, &mut |_, _| Ok(()))?;
    let history = cluster.history();
    // The first operation is the opening balance, before the partition.
    let during = || history.ops.iter().skip(1);
    let majority_ok = |kind: fn(&crate::history::Operation) -> bool| {
        during()
            .filter(|op| op.client == majority_teller && op.ok && kind(op))
            .count()
    };
    let ok_reads = majority_ok(|op| op.kind == OpKind::Get);
    let ok_writes = majority_ok(|op| op.is_write());
    let all_ok = during().filter(|op| op.ok).count();
    let verdict = Checker::new()
        .time_budget(Duration::from_secs(5))
        .check(&history);
    let progress = ok_reads + ok_writes >= MIN_OK && ok_reads > 0 && ok_writes > 0;
    let measured = format!(
        "{consistency}, {} cut off from {}: {all_ok} of {} operations during the partition \
         succeeded, {ok_writes} deposits and {ok_reads} balance checks by the majority-side \
         teller; checker: {}",
        node_list(minority),
        node_list(majority),
        history.len().saturating_sub(1),
        match &verdict {
            CheckResult::Linearizable => "linearizable".to_string(),
            CheckResult::NotLinearizable(cx) => format!("NOT linearizable —\n{cx}"),
            other => other.to_string(),
        }
    );
    let (passed, explanation) = match (&verdict, progress) {
        (CheckResult::Linearizable, true) => (
            true,
            "the side that could not reach a majority refused rather than guess, and the \
             majority side kept serving: consistency chosen over availability on the minority side",
        ),
        (CheckResult::Linearizable, false) => (
            false,
            "nothing contradicts, but almost nothing succeeded: the majority side should have \
             kept serving the balance",
        ),
        (CheckResult::NotLinearizable(_), _) => (
            false,
            "both sides accepted operations they could not coordinate: a balance check missed \
             a deposit that had already been confirmed (see the counterexample)",
        ),
        _ => (false, "the checker could not decide in time"),
    };
    let grade = Grade {
        replay: Some(super::replay_command("exercise_08_cap", seed)),
        history: None,
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [simulated, seed {seed}]"),
        explanation: explanation.into(),
        hint: match verdict {
            CheckResult::Linearizable => {
                "your mode kept the balance consistent by refusing almost everything: pick one \
                 that needs a *majority* of the replicas for every read and write, so the side \
                 holding the majority can still serve"
            }
            _ => {
                "during a partition you can have consistency or availability on both sides, \
                 not both: pick a mode that needs a majority of replicas for every read and write"
            }
        }
        .into(),
    };
    Ok(grade
        .with_history(cluster.history())
        .unless_panicked(&cluster.metrics().node_panics()))
}
