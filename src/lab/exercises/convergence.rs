//! Exercise 4, eventual consistency: replicas must converge although the
//! network loses messages.
//!
//! Eventual consistency promises one thing: once writes stop and faults
//! heal, all replicas hold the same value. A message that is lost is not
//! coming back, so a protocol that sends each copy once (fire and forget)
//! leaves replicas behind forever. The grader runs the learner's
//! [`Protocol`] on 3 nodes (N = 3), writes 30 times through each key's
//! primary while 20 % of node → node messages are lost (clients' own
//! messages arrive), heals the network, and waits up to 2 s for
//! [`Cluster::is_converged`]. Every acknowledged write must also be the
//! value the key converged to — an empty store is converged too, and
//! useless.

use super::{Grade, reliable_clients};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, StorageKind};
use crate::error::Result;
use crate::protocol::{NodeSetup, Protocol};
use std::collections::BTreeMap;
use std::time::Duration;

const EXERCISE: &str = "exercise 4: convergence under message loss";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 4;
const DROP: f64 = 0.2;
const DEADLINE: Duration = Duration::from_secs(2);

/// Grades a protocol by whether its replicas converge after message loss.
///
/// ```no_run
/// use replikv::lab::exercises::grade_converges;
/// use replikv::protocol::SingleCopy;
/// // One copy per key: nothing to disagree about, but N = 3 replicas are
/// // expected to hold the key, so this fails.
/// assert!(!grade_converges(|_| SingleCopy::new()).passed);
/// ```
pub fn grade_converges<P, F>(factory: F) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    match run(factory) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "the cluster must start with your protocol"),
    }
}

fn run<P, F>(factory: F) -> Result<Grade>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .protocol(factory)
        .coordinator(CoordinatorPolicy::First)
        .client_timeout(Duration::from_millis(500))
        .seed(SEED)
        .build()?;
    reliable_clients(&cluster);
    cluster.network().set_drop_probability(DROP)?;
    let mut client = cluster.client()?;
    // What each key may end up holding: the last acknowledged value, or a
    // later write whose outcome is unknown.
    let mut allowed: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    let (mut writes, mut acked) = (0, 0);
    for i in 0..30 {
        let key = format!("key-{}", i % 20).into_bytes();
        let value = format!("value-{i}").into_bytes();
        writes += 1;
        match client.put(&key, &value) {
            Ok(()) => {
                acked += 1;
                allowed.insert(key, vec![value]);
            }
            Err(e) if e.is_indeterminate() => allowed.entry(key).or_default().push(value),
            Err(_) => {}
        }
    }
    cluster.network().clear_faults();
    let dropped = cluster.network().stats().dropped;
    let converged = cluster.wait_for_convergence(DEADLINE)?;
    let finals = cluster.final_values()?;
    let missing = allowed
        .iter()
        .filter(|(key, values)| {
            let last_acked_or_later = finals.get(*key).cloned().flatten();
            !values.is_empty() && !last_acked_or_later.is_some_and(|v| values.contains(&v))
        })
        .count();
    let mut disagreeing = 0;
    for key in allowed.keys() {
        let records = cluster.replica_records(key)?;
        let first = records.first().map(|(_, r)| r.as_ref().map(|r| r.version));
        if records
            .iter()
            .any(|(_, r)| Some(r.as_ref().map(|r| r.version)) != first)
        {
            disagreeing += 1;
        }
    }
    let passed = converged && missing == 0 && acked * 10 >= writes * 9;
    let measured = format!(
        "{acked} of {writes} writes acknowledged with {:.0} % of node → node messages lost \
         ({dropped} dropped); {} s after healing: {}; {disagreeing} of {} keys still differ \
         between replicas; {missing} keys lost their last acknowledged write",
        100.0 * DROP,
        DEADLINE.as_secs(),
        if converged {
            "converged"
        } else {
            "NOT converged"
        },
        allowed.len()
    );
    let explanation = if passed {
        "every replica caught up once the network healed: each lost copy was sent again until \
         it arrived, which is all eventual consistency needs"
    } else if !converged {
        "some replicas never received a copy that the network lost, and nothing sends it \
         again: they stay behind forever, so the system is not even eventually consistent"
    } else {
        "the replicas agree, but not on the acknowledged writes (or too few writes were \
         acknowledged): converging to the wrong value, or to nothing, is no use"
    };
    let grade = Grade {
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [seed {SEED}]"),
        explanation: explanation.into(),
        hint: "a sender cannot know a message arrived unless the receiver says so: ask for \
               acknowledgements and resend on a timer until they come"
            .into(),
    };
    Ok(grade.unless_panicked(&cluster.metrics().node_panics()))
}
