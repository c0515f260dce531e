//! Exercise 4, eventual consistency: replicas must converge although the
//! network loses messages.
//!
//! Eventual consistency promises one thing: once writes stop and faults
//! heal, all replicas hold the same value. A message that is lost is not
//! coming back, so a protocol that sends each copy once (fire and forget)
//! leaves replicas behind forever. The grader runs the learner's
//! [`Protocol`] on 3 nodes (N = 3) and writes 10 keys 3 times each in quick
//! succession (30 writes) through each key's primary while 20 % of
//! node → node messages are lost (clients' own messages arrive); then it
//! heals the network and waits up to 2 s for [`Cluster::is_converged`].
//! Every acknowledged write must also be the value the key converged to —
//! an empty store is converged too, and useless.
//!
//! # Hints from what the grader saw
//!
//! On a failure the hint depends on what the protocol *did*, which the
//! grader watches through a network hook that sees every node → node
//! message's endpoints and time (never its contents). Once the network has
//! been quiet for a while, it writes one more key, a probe, and loses the
//! primary's first copy to one replica on purpose; then it watches whether
//! the primary sends that replica a copy again (a resend) and whether the
//! replicas that got their copy send anything back (an acknowledgement). A
//! protocol that already acknowledges and resends is not told to add
//! acknowledgements and resends: its hint is about what a replica does with
//! a copy that arrives late or twice.

use super::Grade;
use super::watch::Watch;
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, StorageKind};
use crate::error::Result;
use crate::ids::NodeId;
use crate::protocol::{NodeSetup, Protocol};
use crate::sim::Runtime;
use std::collections::BTreeMap;
use std::time::Duration;

const EXERCISE: &str = "exercise 4: convergence under message loss";
/// Seed of the cluster (network faults, coordinator choice) and workload.
const SEED: u64 = 4;
const DROP: f64 = 0.2;
const KEYS: usize = 10;
/// Writes of each key, one right after the other: a copy of an earlier one
/// that is lost and sent again arrives after the later ones.
const WRITES_PER_KEY: usize = 3;
const DEADLINE: Duration = Duration::from_secs(2);
/// The network counts as quiet once no node → node message has been sent
/// for this long; the grader waits at most [`QUIET_WAIT`] for that.
const QUIET_FOR: Duration = Duration::from_millis(100);
const QUIET_WAIT: Duration = Duration::from_secs(1);
/// How long the probe watches for the lost copy to be sent again.
const PROBE_WINDOW: Duration = Duration::from_secs(1);
const PROBE_KEY: &[u8] = b"probe";
/// `duration` in nanoseconds of the cluster clock.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// How often (in virtual time) the grader looks at what the hook has seen.
const POLL: Duration = Duration::from_millis(5);

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
    grade_converges_with_seed(factory, None)
}

/// [`grade_converges`] with another seed (`None`: the exercise's own, 4) — what
/// `cargo run --release --example exercise_04_convergence -- --seed N` runs.
pub fn grade_converges_with_seed<P, F>(factory: F, seed: Option<u64>) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    match run(factory, seed.unwrap_or(SEED)) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "the cluster must start with your protocol"),
    }
}

/// What the probe saw the protocol do with one lost copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Node → node messages never stopped after the network healed.
    NeverQuiet,
    /// The probe write: `primary`'s first copy to `lost_to` was lost.
    Probed {
        primary: NodeId,
        lost_to: NodeId,
        /// `primary` sent `lost_to` another message afterwards.
        resent: bool,
        /// A replica that got a copy sent `primary` a message back.
        answered: bool,
    },
    /// The probe could not be set up (the key has a single replica).
    Unknown,
}

impl Behaviour {
    fn describe(self) -> String {
        match self {
            Behaviour::NeverQuiet => format!(
                "node → node messages were still flowing {} s after the writes and healing",
                QUIET_WAIT.as_secs()
            ),
            Behaviour::Probed {
                primary,
                lost_to,
                resent,
                answered,
            } => format!(
                "probe: the grader lost {primary}'s copy of one more write to {lost_to}; \
                 {primary} {} within {} s, and the replicas that got their copy {}",
                if resent {
                    format!("sent {lost_to} a copy again")
                } else {
                    format!("never sent {lost_to} a copy again")
                },
                PROBE_WINDOW.as_secs(),
                if answered {
                    format!("answered {primary}")
                } else {
                    format!("sent {primary} nothing back")
                }
            ),
            Behaviour::Unknown => {
                "probe: not run (the key has no replica to lose a copy to)".into()
            }
        }
    }
}

/// Waits for the network to go quiet, then writes [`PROBE_KEY`] with the
/// primary's first copy to its second replica lost, and watches what follows.
fn probe(cluster: &Cluster, watch: &Watch) -> Result<Behaviour> {
    let give_up = cluster.clock().now_ns().saturating_add(nanos(QUIET_WAIT));
    loop {
        let now_ns = cluster.clock().now_ns();
        let idle = watch
            .last_ns()
            .is_none_or(|last| now_ns.saturating_sub(last) >= QUIET_FOR.as_nanos() as u64);
        if idle {
            break;
        }
        if cluster.clock().now_ns() >= give_up {
            return Ok(Behaviour::NeverQuiet);
        }
        cluster.run_for(POLL);
    }
    let replicas = cluster.placement().replicas(PROBE_KEY);
    let (Some(&primary), Some(&lost_to)) = (replicas.first(), replicas.get(1)) else {
        return Ok(Behaviour::Unknown);
    };
    watch.drop_next(primary, lost_to);
    let start_ns = cluster.clock().now_ns();
    let mut client = cluster.client()?;
    client.set_policy(CoordinatorPolicy::First);
    // Its outcome does not matter: what the nodes send does.
    let _ = client.put(PROBE_KEY, "probe");
    let give_up = cluster.clock().now_ns().saturating_add(nanos(PROBE_WINDOW));
    let (resent, answered) = loop {
        let seen = watch.since(start_ns);
        let to_lost: Vec<_> = seen
            .iter()
            .filter(|s| s.from == primary && s.to == lost_to)
            .collect();
        let resent = to_lost.first().is_some_and(|s| s.dropped) && to_lost.len() >= 2;
        let answered = seen.iter().any(|s| s.to == primary && s.from != primary);
        if (resent && answered) || cluster.clock().now_ns() >= give_up {
            break (resent, answered);
        }
        cluster.run_for(POLL);
    };
    watch.cancel_drop_next();
    Ok(Behaviour::Probed {
        primary,
        lost_to,
        resent,
        answered,
    })
}

/// The hint for a failed answer, from what was seen.
fn hint(acked_enough: bool, behaviour: Behaviour) -> String {
    if !acked_enough {
        return "acknowledge a write as soon as the key's primary has stored it, and let the \
                copies travel in the background: here the client must not wait for the replicas"
            .into();
    }
    match behaviour {
        Behaviour::NeverQuiet => "your nodes keep sending long after every copy could have \
            arrived: resend a copy to a replica only until that replica acknowledges it, then \
            stop — so make each replica acknowledge the copies it stores"
            .into(),
        Behaviour::Probed {
            primary,
            lost_to,
            resent: false,
            answered: false,
        } => format!(
            "a copy the network loses is never sent again ({primary} did not resend the lost \
             copy to {lost_to}), and a sender cannot know a message arrived unless the receiver \
             says so: ask for acknowledgements and resend on a timer (ctx.set_timer) until they \
             come"
        ),
        Behaviour::Probed {
            primary,
            lost_to,
            resent: false,
            answered: true,
        } => format!(
            "your replicas already answer the copies they get, but {primary} never sent the \
             lost copy to {lost_to} again: keep each copy until its replica's acknowledgement \
             has come, and send it again on a timer (ctx.set_timer) until then"
        ),
        Behaviour::Probed {
            primary,
            resent: true,
            answered: false,
            ..
        } => format!(
            "{primary} does send a lost copy again, but no replica answers a copy it gets, so \
             {primary} cannot know when a copy has arrived (and when to stop): let each \
             replica acknowledge every copy it stores, and resend a copy only until its \
             acknowledgement comes"
        ),
        Behaviour::Probed {
            resent: true,
            answered: true,
            ..
        } => "your protocol already acknowledges copies and sends lost ones again — so look \
            at what happens when a copy arrives late or twice: a replica must never let an \
            older copy replace a newer one it holds (store a copy only if its version is \
            newer: put_if_newer), and an acknowledgement must settle only the copy it answers, \
            for the replica that sent it"
            .into(),
        Behaviour::Unknown => "a sender cannot know a message arrived unless the receiver says \
            so: ask for acknowledgements and resend on a timer until they come"
            .into(),
    }
}

fn run<P, F>(factory: F, seed: u64) -> Result<Grade>
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
        .runtime(Runtime::Simulated)
        .seed(seed)
        .build()?;
    let watch = Watch::install(&cluster, seed);
    watch.set_drop(DROP);
    let mut client = cluster.client()?;
    // What each key may end up holding: the last acknowledged value, or a
    // later write whose outcome is unknown.
    let mut allowed: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    let (mut writes, mut acked) = (0, 0);
    for k in 0..KEYS {
        for round in 0..WRITES_PER_KEY {
            let key = format!("key-{k}").into_bytes();
            let value = format!("value-{k}-{round}").into_bytes();
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
    }
    let written_ns = cluster.clock().now_ns();
    watch.set_drop(0.0);
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
    let log = watch.log();
    let while_writing = log.iter().filter(|s| s.at_ns <= written_ns).count();
    let dropped = log.iter().filter(|s| s.dropped).count();
    let afterwards = log.len() - while_writing;
    let acked_enough = acked * 10 >= writes * 9;
    let passed = converged && missing == 0 && acked_enough;
    let mut measured = format!(
        "{acked} of {writes} writes acknowledged with {:.0} % of node → node messages lost \
         ({while_writing} sent while writing, {dropped} of them lost; {afterwards} sent after \
         the last write); {} s after healing: {}; {disagreeing} of {} keys still differ between \
         replicas; {missing} keys lost their last acknowledged write",
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
    } else if !acked_enough {
        "too few writes were acknowledged: a store that does not confirm writes converges \
         to nothing useful"
    } else if !converged {
        "some replicas never got the latest copy of a key, or lost it again, and nothing \
         repaired it: they stay behind forever, so the system is not even eventually consistent"
    } else {
        "the replicas agree, but not on the acknowledged writes: converging to the wrong \
         value, or to nothing, is no use"
    };
    // Only a failure has a hint; the probe that chooses it runs only then.
    let hint = if passed {
        String::new()
    } else {
        let behaviour = probe(&cluster, &watch)?;
        measured.push_str(&format!("; {}", behaviour.describe()));
        hint(acked_enough, behaviour)
    };
    let grade = Grade {
        replay: Some(super::replay_command("exercise_04_convergence", seed)),
        history: None,
        exercise: EXERCISE,
        passed,
        measured: format!("{measured} [simulated, seed {seed}]"),
        explanation: explanation.into(),
        hint,
    };
    Ok(grade
        .with_history(cluster.history())
        .unless_panicked(&cluster.metrics().node_panics()))
}
