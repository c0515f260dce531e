//! The lab under a network attacker (`Experiment::attack`), on the
//! simulator: exact, replayable figures. Without a defence the damage shows
//! in the report (checker verdict, lost writes, values no client wrote);
//! with authenticated links every injection is refused and counted, and the
//! run is clean.

use replikv::lab::{Experiment, ExperimentReport, Workload};
use replikv::network::Latency;
use replikv::security::AttackKind;
use replikv::{Consistency, Runtime, StorageKind};
use std::time::Duration;

const STRONG: Consistency = Consistency::Strong;
const EVENTUAL: Consistency = Consistency::Eventual { r: 2, w: 2 };

fn experiment(
    consistency: Consistency,
    attack: AttackKind,
    authenticated: bool,
    seed: u64,
) -> Experiment {
    Experiment {
        consistency,
        runtime: Runtime::Simulated,
        storage: StorageKind::Memory,
        latency: Latency::Fixed(Duration::from_millis(1)),
        client_timeout: Duration::from_millis(200),
        workload: Workload {
            clients: 3,
            ops_per_client: 60,
            keys: 3,
            ..Workload::default()
        },
        attack: Some(attack),
        attack_probability: 0.3,
        authenticate_links: authenticated,
        seed,
        ..Experiment::default()
    }
}

fn run(e: &Experiment) -> ExperimentReport {
    let report = e
        .run(&mut |_| {})
        .unwrap_or_else(|err| panic!("seed {}: {err}", e.seed));
    println!(
        "{} {:?} seed {}: linearizable {:?} lost {:?} {:?}",
        report.mode_label(),
        e.attack,
        e.seed,
        report.linearizable,
        report.lost_writes,
        report.security
    );
    report
}

#[test]
fn without_a_defence_the_attacks_do_measurable_damage() {
    let forge = run(&experiment(STRONG, AttackKind::Forge, false, 1));
    let s = forge.security.clone().expect("security report");
    assert!(s.injected > 0, "{s:?}");
    assert_eq!((s.refused_unauthentic, s.refused_replayed), (0, 0), "{s:?}");
    assert_eq!(forge.linearizable, Some(false), "{s:?}");
    assert!(s.foreign_reads > 0 && s.foreign_stored > 0, "{s:?}");

    let eventual = run(&experiment(EVENTUAL, AttackKind::Forge, false, 2));
    assert!(
        eventual.lost_writes.is_some_and(|n| n > 0),
        "{:?}",
        eventual.lost_writes
    );

    let tamper = run(&experiment(EVENTUAL, AttackKind::Tamper, false, 3));
    let s = tamper.security.expect("security report");
    assert!(
        s.injected > 0 && s.foreign_reads + s.foreign_stored > 0,
        "{s:?}"
    );
}

#[test]
fn with_authenticated_links_every_attack_is_refused_and_counted() {
    for consistency in [STRONG, EVENTUAL] {
        for attack in [AttackKind::Forge, AttackKind::Tamper, AttackKind::Replay] {
            let seed = 10;
            let report = run(&experiment(consistency, attack, true, seed));
            let s = report.security.clone().expect("security report");
            assert!(s.injected > 0, "{attack} seed {seed}: {s:?}");
            let refused = match attack {
                AttackKind::Replay => s.refused_replayed,
                _ => s.refused_unauthentic,
            };
            assert_eq!(refused, s.injected, "{attack} seed {seed}: {s:?}");
            assert_eq!((s.foreign_reads, s.foreign_stored), (0, 0), "{s:?}");
            match consistency {
                STRONG => assert_eq!(report.linearizable, Some(true), "{attack} seed {seed}"),
                _ => assert_eq!(report.lost_writes, Some(0), "{attack} seed {seed}"),
            }
        }
    }
}

#[test]
fn the_report_json_carries_the_security_fields_only_when_asked() {
    let report = run(&experiment(STRONG, AttackKind::Replay, true, 4));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let s = &json["security"];
    for field in [
        "attack",
        "links",
        "injected",
        "refused_unauthentic",
        "refused_replayed",
        "foreign_reads",
        "foreign_stored",
    ] {
        assert!(!s[field].is_null(), "{field} missing in {s}");
    }
    assert_eq!(s["links"], "authenticated");
    assert!(report.to_string().contains("values no client wrote"));
    let plain = Experiment {
        attack: None,
        authenticate_links: false,
        ..experiment(STRONG, AttackKind::Replay, false, 4)
    };
    let json: serde_json::Value = serde_json::from_str(&run(&plain).to_json()).unwrap();
    assert!(json.get("security").is_none(), "{json}");
}

#[test]
fn an_attack_run_replays_from_its_seed() {
    let e = experiment(EVENTUAL, AttackKind::Forge, false, 7);
    assert_eq!(run(&e).to_json(), run(&e).to_json());
}
