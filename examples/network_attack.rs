//! An attacker on the network, with and without authenticated node links.
//!
//! For each mode (strong, eventual R=2 W=2) and each attack (forge, tamper,
//! replay), runs the same seeded workload twice on the deterministic
//! simulator — links open, then links authenticated — and prints what the
//! attack did: the checker's verdict, acknowledged writes lost, values read
//! that no client wrote, and what the nodes refused.
//!
//! ```text
//! cargo run --release --example network_attack
//! ```

use comfy_table::{Table, presets::UTF8_FULL};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replikv::history::{Checker, lost_writes};
use replikv::network::Latency;
use replikv::security::{AttackKind, Attacker, LinkKey, is_attacker_value};
use replikv::{Cluster, Consistency, Runtime, StorageKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const KEYS: [&str; 3] = ["k0", "k1", "k2"];
const SEED: u64 = 42;

fn run(
    consistency: Consistency,
    attack: AttackKind,
    authenticated: bool,
) -> replikv::Result<Vec<String>> {
    let mut builder = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .storage(StorageKind::Memory)
        .consistency(consistency)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .client_timeout(Duration::from_millis(200))
        .seed(SEED);
    if authenticated {
        builder = builder.authenticate_links(LinkKey::for_experiment(SEED));
    }
    let cluster = builder.build()?;
    let attacker = Arc::new(Attacker::new(attack, consistency, 0.2, SEED)?);
    cluster.network().set_adversary(attacker.clone());
    let mut clients = (0..3)
        .map(|_| cluster.client())
        .collect::<replikv::Result<Vec<_>>>()?;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut forged_reads = 0;
    for op in 0..240 {
        let c = rng.random_range(0..clients.len());
        let key = KEYS[rng.random_range(0..KEYS.len())];
        let result = if rng.random_bool(0.5) {
            clients[c].put(key, format!("c{c}-{op}")).map(|()| None)
        } else {
            clients[c].get(key)
        };
        if result.is_ok_and(|v| v.is_some_and(|v| is_attacker_value(&v))) {
            forged_reads += 1;
        }
    }
    cluster.network().clear_adversary();
    cluster.run_until_quiet(Duration::from_secs(10));
    let history = cluster.history();
    let linearizable = Checker::new().check(&history).is_linearizable();
    let mut reader = cluster.client()?;
    let mut finals = BTreeMap::new();
    for key in KEYS {
        let value = reader.get(key)?;
        forged_reads += usize::from(value.as_deref().is_some_and(is_attacker_value));
        finals.insert(key.as_bytes().to_vec(), value);
    }
    let nodes = cluster.metrics().nodes;
    let unauthentic: u64 = nodes.iter().map(|n| n.unauthentic_messages).sum();
    let replayed: u64 = nodes.iter().map(|n| n.replayed_messages).sum();
    let mode = match consistency {
        Consistency::Eventual { r, w } => format!("eventual R={r} W={w}"),
        _ => "strong".to_string(),
    };
    Ok(vec![
        mode,
        attack.to_string(),
        if authenticated { "on" } else { "off" }.to_string(),
        attacker.injected().to_string(),
        if linearizable { "yes" } else { "NO" }.to_string(),
        lost_writes(&history, &finals).len().to_string(),
        forged_reads.to_string(),
        format!("{unauthentic} / {replayed}"),
    ])
}

fn main() -> replikv::Result<()> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "mode",
        "attack",
        "link auth",
        "injected",
        "linearizable",
        "lost writes",
        "attacker values read",
        "refused (forged / replayed)",
    ]);
    for consistency in [Consistency::Strong, Consistency::Eventual { r: 2, w: 2 }] {
        for attack in [AttackKind::Forge, AttackKind::Tamper, AttackKind::Replay] {
            for authenticated in [false, true] {
                table.add_row(run(consistency, attack, authenticated)?);
            }
        }
    }
    println!("{table}");
    Ok(())
}
