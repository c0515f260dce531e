//! Security you can run: a network attacker against clusters with and
//! without authenticated links, on the deterministic simulator.
//!
//! Each run is one seeded workload (three clients, three keys, unique
//! values, one operation at a time across clients) on a simulated
//! cluster with 1 ms links, under one [`AttackKind`]. Without a defence the
//! damage is measured with the tools that exist: the linearizability
//! checker (strong mode), acknowledged writes lost (eventual mode), and
//! values read that no client wrote. With `authenticate_links` on, every
//! attack is refused at the node core and counted, and the run is clean.
//!
//! `cargo test --test security -- --nocapture` prints the figures.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replikv::history::{Checker, lost_writes};
use replikv::network::Latency;
use replikv::security::{AttackKind, Attacker, LinkKey, is_attacker_value};
use replikv::{Cluster, Consistency, NodeId, Runtime, StorageKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const KEYS: [&str; 3] = ["k0", "k1", "k2"];

/// What one run did.
#[derive(Debug, Default)]
struct Damage {
    /// The checker's verdict on the whole history.
    linearizable: bool,
    /// Successful reads (in the history and at the end) of a value the
    /// attacker made up.
    attacker_values_read: usize,
    /// Copies of a value the attacker made up, stored on the replicas at
    /// the end.
    attacker_values_stored: usize,
    /// Acknowledged writes no longer visible at the end (eventual only).
    lost_writes: usize,
    /// Operations that succeeded.
    ok: usize,
    /// Messages the attacker forged, altered or replayed.
    injected: u64,
    /// Refused by the link check, summed over nodes.
    unauthentic: u64,
    /// Refused as replays, summed over nodes.
    replayed: u64,
}

struct Setup {
    consistency: Consistency,
    attack: Option<AttackKind>,
    authenticated: bool,
    /// Crash and restart a node every 40 operations.
    crashes: bool,
    seed: u64,
}

fn run(setup: &Setup) -> replikv::Result<Damage> {
    let mut builder = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .replication(3)
        .storage(StorageKind::Memory)
        .consistency(setup.consistency)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .client_timeout(Duration::from_millis(200))
        .seed(setup.seed);
    if setup.authenticated {
        builder = builder.authenticate_links(LinkKey::for_experiment(setup.seed));
    }
    let cluster = builder.build()?;
    let attacker = match setup.attack {
        Some(kind) => {
            let probability = if kind == AttackKind::Forge { 0.2 } else { 0.3 };
            let attacker = Arc::new(Attacker::new(
                kind,
                setup.consistency,
                probability,
                setup.seed ^ 0xA77A,
            )?);
            cluster.network().set_adversary(attacker.clone());
            Some(attacker)
        }
        None => None,
    };
    let mut clients = (0..3)
        .map(|_| cluster.client())
        .collect::<replikv::Result<Vec<_>>>()?;
    let mut rng = ChaCha8Rng::seed_from_u64(setup.seed);
    let mut attacker_values_read = 0;
    let mut ok = 0;
    for op in 0..240 {
        if setup.crashes && op % 40 == 20 {
            let node = NodeId((op / 40) % 3);
            cluster.crash(node)?;
            cluster.run_for(Duration::from_millis(5));
            cluster.restart(node)?;
        }
        let c = rng.random_range(0..clients.len());
        let key = KEYS[rng.random_range(0..KEYS.len())];
        let client = &mut clients[c];
        let result = if rng.random_bool(0.5) {
            client.put(key, format!("c{c}-{op}")).map(|()| None)
        } else {
            client.get(key)
        };
        if let Ok(value) = result {
            ok += 1;
            if value.is_some_and(|v| is_attacker_value(&v)) {
                attacker_values_read += 1;
            }
        }
    }
    cluster.network().clear_adversary();
    cluster.run_until_quiet(Duration::from_secs(10));
    let history = cluster.history();
    let linearizable = Checker::new().check(&history).is_linearizable();
    // The final value of each key, read by a fresh client after the attack.
    let mut reader = cluster.client()?;
    let mut finals = BTreeMap::new();
    for key in KEYS {
        let value = reader.get(key)?;
        if value.as_deref().is_some_and(is_attacker_value) {
            attacker_values_read += 1;
        }
        finals.insert(key.as_bytes().to_vec(), value);
    }
    let mut attacker_values_stored = 0;
    for node in cluster.nodes() {
        for (_, record) in cluster.store(node)?.records()? {
            attacker_values_stored +=
                usize::from(record.value.is_some_and(|v| is_attacker_value(&v)));
        }
    }
    let metrics = cluster.metrics();
    Ok(Damage {
        linearizable,
        attacker_values_read,
        attacker_values_stored,
        lost_writes: lost_writes(&history, &finals).len(),
        ok,
        injected: attacker.map_or(0, |a| a.injected()),
        unauthentic: metrics.nodes.iter().map(|n| n.unauthentic_messages).sum(),
        replayed: metrics.nodes.iter().map(|n| n.replayed_messages).sum(),
    })
}

const STRONG: Consistency = Consistency::Strong;
const EVENTUAL: Consistency = Consistency::Eventual { r: 2, w: 2 };

fn setup(consistency: Consistency, attack: AttackKind, authenticated: bool, seed: u64) -> Setup {
    Setup {
        consistency,
        attack: Some(attack),
        authenticated,
        crashes: false,
        seed,
    }
}

fn damage(setup: &Setup) -> Damage {
    let damage = run(setup).unwrap_or_else(|e| panic!("seed {}: {e}", setup.seed));
    println!(
        "{:?} {:?} authenticated={} crashes={} seed={}: {damage:?}",
        setup.consistency, setup.attack, setup.authenticated, setup.crashes, setup.seed
    );
    damage
}

#[test]
fn forged_writes_break_strong_mode_without_a_defence() {
    let d = damage(&setup(STRONG, AttackKind::Forge, false, 1));
    assert!(d.injected > 0);
    assert!(!d.linearizable, "{d:?}");
    assert!(d.attacker_values_read > 0, "{d:?}");
}

#[test]
fn forged_writes_lose_acknowledged_writes_in_eventual_mode_without_a_defence() {
    let d = damage(&setup(EVENTUAL, AttackKind::Forge, false, 2));
    assert!(d.lost_writes > 0, "{d:?}");
    assert!(d.attacker_values_read > 0, "{d:?}");
}

#[test]
fn tampered_values_are_read_back_without_a_defence() {
    for consistency in [STRONG, EVENTUAL] {
        let d = damage(&setup(consistency, AttackKind::Tamper, false, 3));
        assert!(d.injected > 0, "{d:?}");
        assert!(d.attacker_values_read > 0, "{consistency:?}: {d:?}");
    }
    let d = damage(&setup(STRONG, AttackKind::Tamper, false, 3));
    assert!(!d.linearizable, "{d:?}");
}

#[test]
fn replays_reach_the_protocol_without_a_defence() {
    // The built-in protocols tolerate duplicates of their own messages, so
    // replays on the same link are absorbed: the damage is nil, and nothing
    // is refused either — the protocol handles every copy.
    for consistency in [STRONG, EVENTUAL] {
        let d = damage(&setup(consistency, AttackKind::Replay, false, 4));
        assert!(d.injected > 0, "{d:?}");
        assert_eq!(d.replayed + d.unauthentic, 0, "{d:?}");
    }
}

#[test]
fn with_authenticated_links_every_attack_is_refused_and_the_run_is_clean() {
    for consistency in [STRONG, EVENTUAL] {
        for attack in [AttackKind::Forge, AttackKind::Tamper, AttackKind::Replay] {
            for seed in 10..12 {
                let d = damage(&setup(consistency, attack, true, seed));
                assert!(d.injected > 0, "{d:?}");
                assert!(
                    d.linearizable || consistency != STRONG,
                    "{attack} seed {seed}: {d:?}"
                );
                assert_eq!(d.lost_writes, 0, "{attack} seed {seed}: {d:?}");
                assert_eq!(d.attacker_values_read, 0, "{attack} seed {seed}: {d:?}");
                let refused = match attack {
                    AttackKind::Replay => d.replayed,
                    _ => d.unauthentic,
                };
                assert_eq!(
                    refused, d.injected,
                    "{attack} seed {seed}: every injection refused: {d:?}"
                );
                assert!(d.ok > 200, "the cluster kept serving: {d:?}");
            }
        }
    }
}

#[test]
fn replays_across_crashes_and_restarts_are_refused() {
    for consistency in [STRONG, EVENTUAL] {
        let d = damage(&Setup {
            consistency,
            attack: Some(AttackKind::Replay),
            authenticated: true,
            crashes: true,
            seed: 5,
        });
        assert!(d.injected > 0, "{d:?}");
        assert!(d.linearizable || consistency != STRONG, "{d:?}");
        assert_eq!(d.lost_writes, 0, "{d:?}");
        assert_eq!(d.unauthentic, 0, "{d:?}");
    }
}

#[test]
fn authenticated_links_refuse_nothing_legitimate() {
    for consistency in [STRONG, EVENTUAL] {
        let d = damage(&Setup {
            consistency,
            attack: None,
            authenticated: true,
            crashes: true,
            seed: 6,
        });
        assert_eq!((d.unauthentic, d.replayed), (0, 0), "{d:?}");
        assert!(d.linearizable, "{d:?}");
        assert_eq!(d.lost_writes, 0, "{d:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_attack_run() {
    let a = damage(&setup(EVENTUAL, AttackKind::Forge, false, 7));
    let b = damage(&setup(EVENTUAL, AttackKind::Forge, false, 7));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn authenticated_links_work_on_threads_too() -> replikv::Result<()> {
    // The seal and the check live in the node core, which both runtimes
    // drive: a forger on the threaded network is refused the same way.
    let cluster = Cluster::builder()
        .runtime(Runtime::Threads)
        .nodes(3)
        .storage(StorageKind::Memory)
        .consistency(STRONG)
        .authenticate_links(LinkKey::for_experiment(9))
        .client_timeout(Duration::from_secs(5))
        .seed(9)
        .build()?;
    let attacker = Arc::new(Attacker::new(AttackKind::Forge, STRONG, 1.0, 9)?);
    cluster.network().set_adversary(attacker.clone());
    let mut client = cluster.client()?;
    for i in 0..20 {
        client.put("k", format!("v{i}"))?;
        assert_eq!(client.get("k")?, Some(format!("v{i}").into_bytes()));
    }
    let refused: u64 = cluster
        .metrics()
        .nodes
        .iter()
        .map(|n| n.unauthentic_messages)
        .sum();
    assert!(attacker.injected() >= 20, "{}", attacker.injected());
    // Forgeries still in flight when the loop ended may not have arrived yet.
    assert!(refused > 0 && refused <= attacker.injected(), "{refused}");
    Ok(())
}

const CONSENSUS: Consistency = Consistency::Consensus;

#[test]
fn raft_messages_are_attacked_too_and_authenticated_links_refuse_every_injection() {
    // Without a defence: a forged AppendEntries from "a leader of a later
    // term" takes over the log, and clients read what it wrote.
    let d = damage(&setup(CONSENSUS, AttackKind::Forge, false, 21));
    assert!(d.injected > 0, "{d:?}");
    assert!(d.attacker_values_read > 0 && !d.linearizable, "{d:?}");
    // Values tampered inside AppendEntries reach the followers' state
    // machines: the leader serves its own copy, so clients do not see it
    // yet, but the replicas have diverged (a later leader would serve it).
    let d = damage(&setup(CONSENSUS, AttackKind::Tamper, false, 21));
    assert!(d.injected > 0, "{d:?}");
    assert!(d.attacker_values_stored > 0, "{d:?}");
    for attack in [AttackKind::Forge, AttackKind::Tamper, AttackKind::Replay] {
        let d = damage(&setup(CONSENSUS, attack, true, 22));
        assert!(d.injected > 0, "{attack}: {d:?}");
        let refused = match attack {
            AttackKind::Replay => d.replayed,
            _ => d.unauthentic,
        };
        assert_eq!(
            refused, d.injected,
            "{attack}: every injection refused: {d:?}"
        );
        assert!(d.linearizable, "{attack}: {d:?}");
        assert_eq!(d.attacker_values_read, 0, "{attack}: {d:?}");
        assert_eq!(d.attacker_values_stored, 0, "{attack}: {d:?}");
        assert_eq!(d.lost_writes, 0, "{attack}: {d:?}");
    }
}
