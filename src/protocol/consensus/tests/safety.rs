//! The cases the paper warns about. Each scenario returns what went wrong
//! (nothing, for the real protocol); each test runs it as written and with
//! the deliberate bug it is about, which it must catch.

use super::super::RaftMessage;
use super::super::{ConsensusConfig, Mutations};
use super::harness::{Net, votes_only, within};
use crate::ids::NodeId;
use crate::protocol::{Request, Response};

fn config(mutations: Mutations) -> ConsensusConfig {
    ConsensusConfig {
        mutations,
        ..ConsensusConfig::default()
    }
}

/// A voter crashes after voting and restarts; another candidate asks for
/// its vote in the same term. Returns the terms with two leaders.
fn vote_across_a_crash(mutations: Mutations) -> Vec<(u64, std::collections::BTreeSet<NodeId>)> {
    let mut net = Net::new(3, config(mutations));
    // Node 0 stands in term 1 and wins node 1's vote; node 2 hears nothing,
    // and node 1 sees no entry yet (only votes travel).
    net.timeout(NodeId(0));
    net.deliver(|from, to, m| votes_only(from, to, m) && within(&[0, 1])(from, to, m));
    assert!(net.is_leader(NodeId(0)));
    // Node 1 crashes and restarts; node 2 stands in term 1 too.
    net.crash(NodeId(1));
    net.restart(NodeId(1));
    net.timeout(NodeId(2));
    net.deliver(within(&[1, 2]));
    net.split_brains()
}

#[test]
fn a_vote_survives_a_crash() {
    assert_eq!(vote_across_a_crash(Mutations::default()), vec![]);
}

#[test]
fn mutation_a_vote_not_persisted_elects_two_leaders_in_one_term() {
    let brains = vote_across_a_crash(Mutations {
        forget_vote: true,
        ..Mutations::default()
    });
    assert_eq!(brains.len(), 1, "caught: {brains:?}");
    assert_eq!(brains[0].0, 1);
}

/// A leader is cut off with an entry no one else has, the others elect a
/// new one, and the partition heals. Returns what went wrong: terms with
/// two leaders, and a deposed leader that did not adopt the new term, still
/// leads, acknowledged its cut-off put, or kept its uncommitted entry.
fn deposed_leader(mutations: Mutations) -> Vec<String> {
    let mut net = Net::new(3, config(mutations));
    net.timeout(NodeId(0));
    net.deliver(|_, _, _| true);
    assert!(net.is_leader(NodeId(0)));
    // Cut off, node 0 appends a put that reaches no one.
    let put = net.request(
        NodeId(0),
        Request::Put {
            key: b"x".to_vec(),
            value: b"stale".to_vec(),
        },
    );
    net.deliver(within(&[1, 2]));
    net.timeout(NodeId(1));
    net.deliver(within(&[1, 2]));
    assert!(net.is_leader(NodeId(1)));
    let new_term = net.term(NodeId(1));
    // The partition heals: node 0's next heartbeat meets the new term, and
    // the new leader's next one brings node 0's log in line with its own.
    net.heartbeat(NodeId(0));
    net.deliver(|_, _, _| true);
    net.heartbeat(NodeId(1));
    net.deliver(|_, _, _| true);
    let mut wrong: Vec<String> = (net.split_brains().into_iter())
        .map(|(term, leaders)| format!("term {term} has leaders {leaders:?}"))
        .collect();
    if net.term(NodeId(0)) != new_term {
        wrong.push(format!(
            "node 0 is in term {}, not the new term {new_term}",
            net.term(NodeId(0))
        ));
    }
    if net.is_leader(NodeId(0)) {
        wrong.push("node 0 still leads".into());
    }
    if net.answer(put) == Some(&Response::Done) {
        wrong.push("node 0 acknowledged a put it could not commit".into());
    }
    if net.log_terms(NodeId(0)) != net.log_terms(NodeId(1)) {
        wrong.push(format!(
            "node 0 kept its uncommitted entry: log terms {:?}, leader's {:?}",
            net.log_terms(NodeId(0)),
            net.log_terms(NodeId(1))
        ));
    }
    wrong
}

#[test]
fn a_deposed_leader_steps_down() {
    assert_eq!(deposed_leader(Mutations::default()), Vec::<String>::new());
}

#[test]
fn mutation_a_leader_that_keeps_leading_in_a_higher_term_is_caught() {
    let wrong = deposed_leader(Mutations {
        leader_keeps_leading: true,
        ..Mutations::default()
    });
    assert!(
        wrong.iter().any(|w| w.contains("has leaders")),
        "caught as two leaders in a term: {wrong:?}"
    );
}

#[test]
fn mutation_a_leader_that_ignores_a_higher_term_is_caught() {
    let wrong = deposed_leader(Mutations {
        leader_ignores_higher_term: true,
        ..Mutations::default()
    });
    assert!(
        wrong.iter().any(|w| w.contains("not the new term"))
            && wrong.iter().any(|w| w.contains("still leads")),
        "caught: {wrong:?}"
    );
}

/// The paper's Figure 8 on five nodes: an entry of an old term reaches a
/// majority under a later leader, which then crashes; a node that never
/// had it wins the next election and overwrites it. Returns `Err` when two
/// nodes applied different entries at one index, or a put acknowledged to
/// its client is not what a later get returns.
fn figure_8(mutations: Mutations) -> Result<(), String> {
    let mut net = Net::new(
        5,
        ConsensusConfig {
            max_batch: 1, // one entry per message, as the figure needs
            ..config(mutations)
        },
    );
    // (a) Node 0 leads term 1; everyone holds its first entry.
    net.timeout(NodeId(0));
    net.deliver(|_, _, _| true);
    // A put reaches node 0 and node 1 only (index 2, term 1).
    let put = net.request(
        NodeId(0),
        Request::Put {
            key: b"x".to_vec(),
            value: b"A".to_vec(),
        },
    );
    net.deliver(within(&[0, 1]));
    // (b) Node 0 crashes; node 4 wins term 2 with votes of 2 and 3, and
    // appends its own entry at index 2 but sends it nowhere.
    net.crash(NodeId(0));
    net.timeout(NodeId(4));
    net.deliver(|from, to, m| votes_only(from, to, m) && within(&[2, 3, 4])(from, to, m));
    assert!(net.is_leader(NodeId(4)));
    // (c) Node 4 crashes; node 0 restarts and wins term 3 with 1 and 2,
    // then copies index 2 (term 1) to node 2: now on a majority.
    net.crash(NodeId(4));
    net.restart(NodeId(0));
    net.timeout(NodeId(0)); // term 2: node 2 already voted in it
    net.deliver(votes_only);
    net.timeout(NodeId(0)); // term 3
    net.deliver(votes_only);
    assert!(net.is_leader(NodeId(0)));
    // Node 2 gets index 2 but not the entry of term 3 (node 0 crashes
    // before it is sent there).
    net.heartbeat(NodeId(0));
    net.deliver(|from, to, m| {
        let term_3_to_2 = to == NodeId(2)
            && matches!(m, RaftMessage::Append { entries, .. } if entries.iter().any(|e| e.term == 3));
        within(&[0, 1, 2])(from, to, m) && !term_3_to_2
    });
    let acknowledged = net.answer(put) == Some(&Response::Done);
    // (d) Node 0 crashes before anything of term 3 reaches a majority;
    // node 4 restarts and wins term 4 with 2 and 3 (its last entry, term
    // 2, beats their term 1), and replicates its own index 2.
    net.crash(NodeId(0));
    net.restart(NodeId(4));
    net.timeout(NodeId(4)); // term 3: taken
    net.deliver(votes_only);
    net.timeout(NodeId(4)); // term 4
    net.deliver(votes_only);
    assert!(
        net.is_leader(NodeId(4)),
        "the scenario needs node 4 to lead"
    );
    net.deliver(|_, _, _| true);
    let get = net.request(NodeId(4), Request::Get { key: b"x".to_vec() });
    net.deliver(|_, _, _| true);
    net.heartbeat(NodeId(4));
    net.deliver(|_, _, _| true);
    if !net.diverged.is_empty() {
        return Err(format!(
            "nodes applied different entries at {:?}",
            net.diverged
        ));
    }
    match (acknowledged, net.answer(get)) {
        (true, Some(Response::Value(v))) if v.as_deref() != Some(&b"A"[..]) => Err(format!(
            "the put of A was acknowledged, then a get returned {v:?}"
        )),
        (_, Some(Response::Value(_))) => Ok(()),
        (_, other) => Err(format!(
            "the get was answered {other:?}\n{}",
            net.describe()
        )),
    }
}

#[test]
fn figure_8_an_old_term_entry_is_not_committed_by_counting() {
    assert_eq!(figure_8(Mutations::default()), Ok(()));
}

#[test]
fn mutation_committing_an_old_term_entry_loses_an_acknowledged_put() {
    let caught = figure_8(Mutations {
        commit_old_terms: true,
        ..Mutations::default()
    });
    let why = caught.expect_err("the Figure 8 bug went unnoticed");
    assert!(why.contains("applied different entries at [2"), "{why}");
}
