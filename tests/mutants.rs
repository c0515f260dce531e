//! Mutation tests for the bug-hunting tools: a default sweep on the
//! simulator finds every known-bad variant (`replikv::lab::Mutant`), the
//! seed it reports replays the violation every time, and the correct modes
//! pass the very same sweep.
//!
//! One configuration serves every mode, the one a learner would type:
//!
//! ```text
//! replikv sweep --protocol NAME --latency pareto:1ms,1.1 --duplicate 0.5 \
//!     --nemesis all --nemesis-interval 5ms --keys 2 --ops 50 --timeout 200ms \
//!     --coordinator random --seeds 1..81
//! ```
//!
//! Heavy-tailed latency lets a copy arrive long after its peers; duplication
//! makes the second copies; crashes every few milliseconds make restarted
//! nodes that forgot what they ran; two keys make every operation collide.
//! In a debug build on 2 cores each sweep of 80 seeds takes 5–10 s. The
//! simulator makes the outcome a fact, not a probability: the seeds below
//! fail or pass the same way on every machine and every run.

use replikv::lab::{
    Claim, Experiment, Mutant, Nemesis, NemesisKind, Sweep, SweepReport, Workload, judge, shrink,
};
use replikv::network::Latency;
use replikv::{Consistency, CoordinatorPolicy, Runtime};
use std::time::Duration;

const SEEDS: std::ops::Range<u64> = 1..81;

/// The sweep's configuration (the command line above), on the simulator.
fn hunt() -> Experiment {
    Experiment {
        nodes: 5,
        replicas: 3,
        runtime: Runtime::Simulated,
        workload: Workload {
            clients: 4,
            ops_per_client: 50,
            keys: 2,
            ..Workload::default()
        },
        latency: Latency::Pareto {
            scale: Duration::from_millis(1),
            shape: 1.1,
        },
        duplicate: 0.5,
        nemesis: Nemesis {
            kind: NemesisKind::All,
            interval: Duration::from_millis(5),
            seed: 0,
        },
        client_timeout: Duration::from_millis(200),
        coordinator: CoordinatorPolicy::Random,
        ..Experiment::default()
    }
}

fn sweep(experiment: Experiment) -> SweepReport {
    let sweep = Sweep {
        experiment,
        seeds: SEEDS,
        shrink: false,
        ..Sweep::default()
    };
    sweep.run(&mut |_, _| {}).expect("a valid sweep")
}

/// The sweep finds `mutant`, and each of the first violations replays,
/// three times, to the same failing report.
fn found_and_replayed(mutant: Mutant) {
    let experiment = hunt().with_mutant(mutant);
    let report = sweep(experiment.clone());
    assert!(
        !report.violations.is_empty(),
        "{mutant}: a sweep of seeds {SEEDS:?} found nothing:\n{report}"
    );
    for violation in report.violations.iter().take(2) {
        let seed = violation.seed;
        assert!(
            violation.replay.contains(&format!("--protocol {mutant} "))
                && violation.replay.ends_with(&format!("--seed {seed}")),
            "{mutant}: the replay line does not name the mutant and the seed: {}",
            violation.replay
        );
        let mut replayed = experiment.clone();
        replayed.seed = seed;
        replayed.workload.seed = seed;
        replayed.nemesis.seed = seed;
        let mut reports = Vec::new();
        for attempt in 1..=3 {
            let run = replayed.run(&mut |_| {});
            assert_eq!(
                judge(&replayed, &run).as_deref(),
                Some(violation.what.as_str()),
                "{mutant}: replay {attempt} of seed {seed} did not reproduce the violation \
                 ({})",
                violation.replay
            );
            reports.push(run.expect("judged a failure, not an error").to_json());
        }
        assert!(
            reports.windows(2).all(|w| w[0] == w[1]),
            "{mutant}: replays of seed {seed} differ"
        );
    }
}

#[test]
fn abd_without_write_back_is_found_and_its_seed_replays() {
    found_and_replayed(Mutant::AbdWithoutWriteBack);
}

#[test]
fn single_copy_running_duplicated_forwards_is_found_and_its_seed_replays() {
    found_and_replayed(Mutant::SingleCopyUnfilteredForwards);
}

#[test]
fn a_runtime_that_forgets_requests_on_restart_is_found_and_its_seed_replays() {
    found_and_replayed(Mutant::StrongAmnesiacRestart);
}

#[test]
fn eventual_judged_by_the_linearizability_checker_is_found_and_its_seed_replays() {
    found_and_replayed(Mutant::EventualAsLinearizable);
}

#[test]
fn the_correct_modes_pass_the_same_sweep() {
    for (name, experiment) in [
        ("strong", hunt()),
        (
            // Three replicas to choose coordinators from, as the mutant has:
            // two of them forward to the key's owner.
            "single-copy",
            Experiment {
                consistency: Consistency::SingleCopy,
                ..hunt()
            },
        ),
        (
            "eventual R=W=1",
            Experiment {
                consistency: Consistency::Eventual { r: 1, w: 1 },
                ..hunt()
            },
        ),
    ] {
        let report = sweep(experiment);
        assert_eq!(report.schedules, SEEDS.end - SEEDS.start);
        assert!(
            report.violations.is_empty(),
            "{name}: the correct protocol failed the sweep:\n{report}"
        );
    }
}

#[test]
fn the_eventual_sweep_judges_convergence_and_the_mutants_linearizability() {
    let eventual = Experiment {
        consistency: Consistency::Eventual { r: 1, w: 1 },
        ..hunt()
    };
    assert_eq!(Claim::of(&eventual), Claim::Convergent);
    for mutant in Mutant::ALL {
        assert_eq!(Claim::of(&hunt().with_mutant(mutant)), Claim::Linearizable);
    }
}

#[test]
fn shrinking_keeps_a_smaller_configuration_that_still_fails() {
    let experiment = hunt().with_mutant(Mutant::SingleCopyUnfilteredForwards);
    let report = sweep(experiment.clone());
    let first = report.violations.first().expect("the mutant is found");
    let mut failing = experiment.clone();
    failing.seed = first.seed;
    failing.workload.seed = first.seed;
    failing.nemesis.seed = first.seed;
    let shrunk = shrink(&failing, 40).expect("it fails at its seed");
    let (small, big) = (&shrunk.experiment, &failing);
    assert!(
        !shrunk.steps.is_empty(),
        "nothing smaller failed:\n{shrunk}"
    );
    assert!(
        small.workload.clients <= big.workload.clients
            && small.workload.ops_per_client <= big.workload.ops_per_client
            && small.workload.keys <= big.workload.keys
            && small.duplicate <= big.duplicate
            && small.drop <= big.drop,
        "shrinking grew something:\n{shrunk}"
    );
    // What it prints is true: the shrunk configuration fails at its seed.
    let run = small.run(&mut |_| {});
    assert_eq!(
        judge(small, &run).as_deref(),
        Some(shrunk.what.as_str()),
        "{shrunk}"
    );
    assert!(shrunk.replay.ends_with(&format!("--seed {}", shrunk.seed)));
    eprintln!("{shrunk}");
}
