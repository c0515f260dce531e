//! Raft under partitions, on the simulator: a minority cannot elect, and
//! terms keep two leaders from acting as one (no split brain).
//!
//! Five nodes run `Consistency::Consensus`. The example watches the roles
//! the nodes announce (`Cluster::leadership`) through three scenes:
//!
//! 1. A follower is cut off alone. It hears no leader, stands for election
//!    again and again — each time in a higher term — and never wins: one
//!    vote (its own) is no majority of five. The other four carry on.
//! 2. The leader and one follower are cut off from the other three. The
//!    old leader still believes it leads, and accepts a write — which it
//!    can never commit, because two nodes are no majority: the write times
//!    out. The three elect a new leader in a higher term and go on.
//! 3. The network heals. The old leader hears the higher term and steps
//!    down; its uncommitted entry is overwritten by the new leader's log.
//!    Two nodes believed they led, but in different terms, and only the
//!    one with a majority could commit anything.
//!
//! Run: `cargo run --release --example raft_partition` (virtual time: the
//! same output on every run).

use replikv::leadership::{LeadershipSummary, Role, RoleChange};
use replikv::{Cluster, Consistency, CoordinatorPolicy, NodeId, Runtime, StorageKind};
use std::time::Duration;

/// The leader of the highest term among nodes whose last word was Leader.
fn leader(cluster: &Cluster) -> Option<RoleChange> {
    let mut last = std::collections::BTreeMap::new();
    for c in cluster.leadership() {
        last.insert(c.node, c);
    }
    last.into_values()
        .filter(|c| c.role == Role::Leader)
        .max_by_key(|c| c.term)
}

fn main() -> replikv::Result<()> {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(5)
        .consistency(Consistency::Consensus)
        .storage(StorageKind::Memory)
        .latency(replikv::network::Latency::Fixed(Duration::from_millis(2)))
        .client_timeout(Duration::from_millis(500))
        .seed(3)
        .build()?;
    let ms = |ns: u64| ns / 1_000_000;
    cluster.run_for(Duration::from_secs(1));
    let first = leader(&cluster).ok_or(replikv::Error::Unavailable("no leader".into()))?;
    println!(
        "start: {} leads term {} (elected at {} ms)",
        first.node,
        first.term,
        ms(first.at_ns)
    );

    // Scene 1: a follower alone.
    let loner = cluster
        .nodes()
        .into_iter()
        .find(|&n| n != first.node)
        .unwrap_or(NodeId(0));
    let cut_at = cluster.clock().now_ns();
    cluster.network().isolate(loner)?;
    let mut client = cluster.client()?;
    client.set_policy(CoordinatorPolicy::Fixed(first.node));
    client.put("x", "1")?;
    cluster.run_for(Duration::from_secs(2));
    let tries: Vec<u64> = cluster
        .leadership()
        .iter()
        .filter(|c| c.node == loner && c.role == Role::Candidate && c.at_ns >= cut_at)
        .map(|c| c.term)
        .collect();
    let loner_led = cluster
        .leadership()
        .iter()
        .any(|c| c.node == loner && c.role == Role::Leader);
    println!(
        "scene 1: {loner} cut off alone for 2 s: stood for election {} times (terms {}..={}), \
         led: {loner_led}; {} still leads term {}",
        tries.len(),
        tries.first().copied().unwrap_or(0),
        tries.last().copied().unwrap_or(0),
        first.node,
        leader(&cluster).map_or(0, |l| l.term)
    );
    cluster.network().heal();
    cluster.run_for(Duration::from_secs(1));

    // Scene 2: the leader and one follower against the other three.
    let old = leader(&cluster).ok_or(replikv::Error::Unavailable("no leader".into()))?;
    let nodes = cluster.nodes();
    let buddy = nodes
        .iter()
        .copied()
        .find(|&n| n != old.node)
        .unwrap_or(NodeId(0));
    let minority = [old.node, buddy];
    let majority: Vec<NodeId> = nodes
        .into_iter()
        .filter(|n| !minority.contains(n))
        .collect();
    cluster.network().partition(&[&minority, &majority])?;
    client.set_policy(CoordinatorPolicy::Fixed(old.node));
    let stale = client.put("x", "from-the-minority");
    println!(
        "scene 2: {} (term {}) and {buddy} cut off from {}, {}, {}; a write through {}: {}",
        old.node,
        old.term,
        majority[0],
        majority[1],
        majority[2],
        old.node,
        match &stale {
            Ok(()) => "acknowledged".to_string(),
            Err(e) => format!("{e}"),
        }
    );
    cluster.run_for(Duration::from_secs(1));
    let new = leader(&cluster).ok_or(replikv::Error::Unavailable("no leader".into()))?;
    let old_still_leads = cluster
        .leadership()
        .iter()
        .rev()
        .find(|c| c.node == old.node)
        .is_some_and(|c| c.role == Role::Leader);
    println!(
        "         the majority elected {} in term {}; {} still believes it leads term {}: {}",
        new.node, new.term, old.node, old.term, old_still_leads
    );
    client.set_policy(CoordinatorPolicy::Fixed(new.node));
    client.put("x", "from-the-majority")?;

    // Scene 3: heal.
    cluster.network().heal();
    cluster.run_for(Duration::from_secs(1));
    let stepped = cluster
        .leadership()
        .iter()
        .find(|c| c.node == old.node && c.role == Role::Follower && c.term > old.term)
        .map(|c| c.term);
    client.set_policy(CoordinatorPolicy::Fixed(old.node));
    let read = client
        .get("x")?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    println!(
        "scene 3: healed; {} stepped down on hearing term {}; x read through {} = {:?}",
        old.node,
        stepped.unwrap_or(0),
        old.node,
        read.unwrap_or_default()
    );
    let changes = cluster.leadership();
    let summary = LeadershipSummary::of(&changes, cluster.clock().now_ns()).unwrap_or_default();
    println!(
        "overall: {} elections, {} leaders elected, {} leader changes, at most {} leader per term; \
         longest without a leader: {} ms",
        summary.elections,
        summary.leaders_elected,
        summary.leader_changes,
        summary.max_leaders_in_a_term,
        ms(summary.longest_without_leader_ns)
    );
    let checked = replikv::history::Checker::new().check(&cluster.history());
    println!("history linearizable: {}", checked.is_linearizable());
    Ok(())
}
