//! Exercise 10, coordination: elect a leader.
//!
//! The grader runs the learner's [`Protocol`] on 5 simulated nodes whose
//! links take 5–15 ms each, and watches the roles the protocol announces
//! through [`Context::became_leader`](crate::protocol::Context::became_leader)
//! (see [`crate::leadership`]). It plays three scenes:
//!
//! 1. **Start.** Within [`ELECTION_BOUND`] some node must lead.
//! 2. **The leader crashes.** Within [`ELECTION_BOUND`] of the crash
//!    another node must lead.
//! 3. **A follower is cut off** from every other node for a second, then
//!    the network heals. Alone it can reach no majority, so it must never
//!    lead while cut off; after the heal some node must lead again within
//!    [`ELECTION_BOUND`]. (A node that declares itself leader whenever it
//!    hears nothing is caught here: that is split brain.)
//!
//! Throughout, at most one node may lead any one term — Raft's Election
//! Safety (Ongaro & Ousterhout 2014, §5.2): two leaders of one term means
//! some node voted twice, or a node counted votes short of a majority.
//! Every scene runs on virtual time from the seed, so a failure replays
//! exactly with the command the grade prints.

use super::{Grade, replay_command, set_node_link_latency};
use crate::cluster::{Cluster, StorageKind};
use crate::error::Result;
use crate::ids::NodeId;
use crate::leadership::{LeadershipSummary, Role, RoleChange};
use crate::network::Latency;
use crate::protocol::{NodeSetup, Protocol};
use crate::sim::Runtime;
use std::time::Duration;

const EXERCISE: &str = "exercise 10: elect a leader";
const EXAMPLE: &str = "exercise_10_election";
/// The exercise's own seed.
const SEED: u64 = 10;
const NODES: usize = 5;
/// How long the cluster may go without a leader at the start, after the
/// leader crashes, and after a partition heals: a few election timeouts
/// of the 150–300 ms the lesson suggests.
pub const ELECTION_BOUND: Duration = Duration::from_secs(1);
/// How long the follower stays cut off.
const CUT_OFF: Duration = Duration::from_secs(1);

/// Grades a leader-election protocol, given as the factory the cluster
/// builder takes. Uses the exercise's seed; see [`grade_election_with_seed`].
///
/// ```
/// use replikv::lab::exercises::grade_election;
/// use replikv::protocol::Consensus;
/// // Raft's election passes.
/// assert!(grade_election(|_| Consensus::new()).passed);
/// ```
pub fn grade_election<P, F>(factory: F) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    grade_election_with_seed(factory, None)
}

/// [`grade_election`] with another seed (`None`: the exercise's own, 10) —
/// what `cargo run --release --example exercise_10_election -- --seed N`
/// runs.
pub fn grade_election_with_seed<P, F>(factory: F, seed: Option<u64>) -> Grade
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    let seed = seed.unwrap_or(SEED);
    match run(factory, seed) {
        Ok(grade) => grade,
        Err(e) => Grade::could_not_run(EXERCISE, &e, "the cluster must start with your protocol"),
    }
}

/// The node that leads at the end of `changes`, if any: the leader of the
/// highest term among the nodes whose last word was `Leader`.
fn current_leader(changes: &[RoleChange]) -> Option<RoleChange> {
    let mut last: std::collections::BTreeMap<NodeId, RoleChange> = Default::default();
    for c in changes {
        last.insert(c.node, *c);
    }
    last.into_values()
        .filter(|c| c.role == Role::Leader)
        .max_by_key(|c| c.term)
}

/// The first `Leader` announcement at or after `since_ns` (by a node other
/// than `not`), and how long after `since_ns` it came.
fn first_leader_after(
    changes: &[RoleChange],
    since_ns: u64,
    not: Option<NodeId>,
) -> Option<(NodeId, u64)> {
    changes
        .iter()
        .find(|c| c.role == Role::Leader && c.at_ns >= since_ns && Some(c.node) != not)
        .map(|c| (c.node, c.at_ns - since_ns))
}

fn ms(ns: u64) -> String {
    format!("{} ms", ns / 1_000_000)
}

fn run<P, F>(factory: F, seed: u64) -> Result<Grade>
where
    P: Protocol,
    F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
{
    let cluster = Cluster::builder()
        .nodes(NODES)
        .storage(StorageKind::Memory)
        .runtime(Runtime::Simulated)
        .seed(seed)
        .protocol(factory)
        .build()?;
    set_node_link_latency(
        &cluster,
        Latency::Uniform {
            min: Duration::from_millis(5),
            max: Duration::from_millis(15),
        },
    )?;
    let bound_ns = ELECTION_BOUND.as_nanos() as u64;
    let fail = |measured: String, hint: &str| {
        Ok(Grade {
            exercise: EXERCISE,
            passed: false,
            measured: format!("{measured} (simulated, seed {seed})"),
            explanation: "a leader lets the nodes act as one; without one nothing is \
                          decided, and with two per term they decide differently"
                .into(),
            hint: hint.into(),
            replay: Some(replay_command(EXAMPLE, seed)),
            history: None,
        })
    };
    // Scene 1: the start.
    cluster.run_for(ELECTION_BOUND);
    let changes = cluster.leadership();
    let Some(first) = current_leader(&changes) else {
        return fail(
            format!("no node announced itself leader within {}", ms(bound_ns)),
            "a follower that hears from no leader for an election timeout (random, e.g. \
             150–300 ms, from ctx.rng()) should stand for election; a candidate with votes \
             from a majority calls ctx.became_leader(term)",
        )
        .map(|g: Grade| g.unless_panicked(&cluster.metrics().node_panics()));
    };
    // Scene 2: the leader crashes.
    let crashed_at = cluster.clock().now_ns();
    cluster.crash(first.node)?;
    cluster.run_for(ELECTION_BOUND);
    let changes = cluster.leadership();
    let Some((second, after_crash_ns)) = first_leader_after(&changes, crashed_at, Some(first.node))
    else {
        return fail(
            format!(
                "{} led term {}, crashed at {}, and no other node led within {} of the crash",
                first.node,
                first.term,
                ms(crashed_at),
                ms(bound_ns)
            ),
            "the other nodes must notice the silence: every follower needs an election timeout \
             that a leader's heartbeats reset, and when it fires the follower stands for \
             election in a higher term",
        )
        .map(|g: Grade| g.unless_panicked(&cluster.metrics().node_panics()));
    };
    cluster.restart(first.node)?;
    // Scene 3: a follower alone.
    let loner = cluster
        .nodes()
        .into_iter()
        .find(|&n| n != second && n != first.node)
        .unwrap_or(first.node);
    let cut_at = cluster.clock().now_ns();
    cluster.network().isolate(loner)?;
    cluster.run_for(CUT_OFF);
    let healed_at = cluster.clock().now_ns();
    cluster.network().heal();
    cluster.run_for(ELECTION_BOUND);
    let changes = cluster.leadership();
    let end_ns = cluster.clock().now_ns();
    let panics = cluster.metrics().node_panics();
    let loner_led = changes.iter().find(|c| {
        c.node == loner && c.role == Role::Leader && (cut_at..healed_at).contains(&c.at_ns)
    });
    let split = LeadershipSummary::split_terms(&changes);
    if let Some((term, leaders)) = split.iter().next() {
        let names: Vec<String> = leaders.iter().map(|n| n.to_string()).collect();
        return fail(
            format!(
                "term {term} had {} leaders: {} ({} terms with more than one)",
                leaders.len(),
                names.join(", "),
                split.len()
            ),
            "one vote per node per term: remember whom you voted for in this term (and \
             forget it only when the term moves on), and become leader only with votes \
             from a majority of ctx.members()",
        )
        .map(|g: Grade| g.unless_panicked(&panics));
    }
    if let Some(c) = loner_led {
        return fail(
            format!(
                "{loner}, cut off from every other node from {} to {}, announced itself \
                 leader of term {} at {}",
                ms(cut_at),
                ms(healed_at),
                c.term,
                ms(c.at_ns)
            ),
            "a node alone cannot reach a majority, so it must not lead: count granted \
             votes (your own included) and lead only once they are more than half of \
             ctx.members()",
        )
        .map(|g: Grade| g.unless_panicked(&panics));
    }
    if current_leader(&changes).is_none() {
        return fail(
            format!(
                "after {loner} was cut off ({} to {}) and the network healed, no node \
                 led at {}",
                ms(cut_at),
                ms(healed_at),
                ms(end_ns)
            ),
            "a node that stood for election in vain comes back with a higher term; the \
             others must adopt it, step down if they led, and elect a leader again",
        )
        .map(|g: Grade| g.unless_panicked(&panics));
    }
    let summary = LeadershipSummary::of(&changes, end_ns).unwrap_or_default();
    Ok(Grade {
        exercise: EXERCISE,
        passed: true,
        measured: format!(
            "{} led first; after it crashed, {second} led {} later; {loner} cut off for {} \
             never led; {} elections, {} leaders, at most {} per term (simulated, seed {seed})",
            first.node,
            ms(after_crash_ns),
            ms(CUT_OFF.as_nanos() as u64),
            summary.elections,
            summary.leaders_elected,
            summary.max_leaders_in_a_term
        ),
        explanation: "randomized timeouts let one candidate ask first, one vote per term \
                      lets at most one candidate win it, and a majority of votes cannot be \
                      had by a node cut off from the rest"
            .into(),
        hint: String::new(),
        replay: Some(replay_command(EXAMPLE, seed)),
        history: None,
    }
    .unless_panicked(&panics))
}
