//! Leader leases versus ReadIndex, when the leader's clock is wrong.
//!
//! Three nodes run Raft (`Consistency::Consensus`) on the simulator. The
//! leader is cut off from the other two, and its clock goes wrong: it
//! jumps 5 s back (skew), or it stops while the node is paused for 3 s (a
//! suspended VM whose clock is not corrected). The two others elect a new
//! leader and a write of x = 2 completes there. Then a client reads x from
//! the old leader.
//!
//! - Under `lease`, the old leader still believes its lease (its clock says
//!   it was granted moments ago) and answers x = 1: a stale read, and the
//!   linearizability checker says so.
//! - Under `read-index`, it must first hear from a majority that it still
//!   leads; it cannot, so the read gets no answer (it times out), and the
//!   history stays linearizable. Reads through the `log` likewise.
//! - With an honest clock, the paused leader wakes with its lease run out:
//!   the lease is only as good as the clock.
//!
//! Run: `cargo run --example lease_reads` (virtual time: instant, the same
//! output on every run).

use replikv::history::Checker;
use replikv::network::Latency;
use replikv::protocol::ConsensusConfig;
use replikv::protocol::consensus::{HardState, ReadMode};
use replikv::{Cluster, Consistency, CoordinatorPolicy, Error, NodeId, Runtime, codec};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The leader's clock jumps 5 s back.
    Skew,
    /// The leader is paused for 3 s; its clock does not count the pause.
    PauseClockStopped,
    /// The leader is paused for 3 s; its clock keeps counting.
    Pause,
}

/// The node that voted for itself in the highest term.
fn leader(cluster: &Cluster) -> replikv::Result<NodeId> {
    let mut best = None;
    for node in cluster.nodes() {
        let bytes = cluster
            .store(node)?
            .get_meta(b"raft/hard")?
            .unwrap_or_default();
        let hard: HardState = codec::decode(&bytes).map_err(Error::Protocol)?;
        if hard.vote == Some(node) && best.is_none_or(|(term, _)| hard.term > term) {
            best = Some((hard.term, node));
        }
    }
    best.map(|(_, node)| node)
        .ok_or_else(|| Error::Unavailable("no leader".into()))
}

fn scenario(mode: ReadMode, fault: Fault) -> replikv::Result<(String, bool)> {
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .consensus(ConsensusConfig {
            read_mode: mode,
            ..ConsensusConfig::default()
        })
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .seed(1)
        .build()?;
    let mut writer = cluster.client()?;
    writer.put("x", "1")?;
    cluster.run_for(Duration::from_millis(300));
    let old = leader(&cluster)?;
    let others: Vec<NodeId> = cluster.nodes().into_iter().filter(|&n| n != old).collect();
    cluster.network().partition(&[&[old], &others])?;
    match fault {
        Fault::Skew => cluster.set_clock_skew(old, -5_000_000_000)?,
        Fault::PauseClockStopped => {
            cluster.pause(old, Duration::from_secs(3))?;
            cluster.set_clock_skew(old, -3_000_000_000)?;
        }
        Fault::Pause => cluster.pause(old, Duration::from_secs(3))?,
    }
    cluster.run_for(Duration::from_secs(1));
    writer.set_policy(CoordinatorPolicy::Fixed(others[0]));
    writer.put("x", "2")?;
    let mut reader = cluster.client()?;
    reader.set_timeout(Duration::from_secs(5));
    reader.set_policy(CoordinatorPolicy::Fixed(old));
    let read = match reader.get("x") {
        Ok(Some(value)) => format!("x = {}", String::from_utf8_lossy(&value)),
        Ok(None) => "x absent".into(),
        Err(Error::Timeout(after)) => format!("no answer in {after:?}"),
        Err(e) => format!("error: {e}"),
    };
    let linearizable = Checker::new().check(&cluster.history()).is_linearizable();
    Ok((read, linearizable))
}

fn main() -> replikv::Result<()> {
    println!(
        "the leader is cut off; x = 2 is written at the new leader; then x is read at the old one\n"
    );
    println!(
        "{:<12} {:<28} {:<24} linearizable",
        "read mode", "old leader's fault", "read at the old leader"
    );
    for fault in [Fault::Skew, Fault::PauseClockStopped, Fault::Pause] {
        for mode in [ReadMode::Lease, ReadMode::ReadIndex, ReadMode::Log] {
            let (read, linearizable) = scenario(mode, fault)?;
            let fault = match fault {
                Fault::Skew => "clock jumps 5 s back",
                Fault::PauseClockStopped => "paused 3 s, clock stopped",
                Fault::Pause => "paused 3 s, clock honest",
            };
            let verdict = if linearizable {
                "yes"
            } else {
                "NO (stale read)"
            };
            println!(
                "{:<12} {:<28} {:<24} {verdict}",
                mode.to_string(),
                fault,
                read
            );
        }
    }
    Ok(())
}
