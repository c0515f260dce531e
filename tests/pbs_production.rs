//! The PBS paper's production table (Bailis et al., VLDB 2012), reproduced
//! on the simulator: the fits as transcribed give the paper's operation
//! latencies, and a replikv cluster in the paper's setting meets the WARS
//! prediction at a tail quantile — while a different setting measurably
//! does not.
//!
//! The CI tests are sized for a debug build: the t-quantile test uses
//! p = 99 % (not the table's 99.9 %, which needs some 10⁵ trials per `t`).
//! The full table at 99.9 % with the issue's goals is an ignored test, run
//! in release: `cargo test --release --test pbs_production -- --ignored`
//! (some 8 CPU-minutes). `REPLIKV_SEED` picks another seed.

use replikv::CoordinatorPolicy;
use replikv::lab::pbs::{
    PbsReproduction, ProductionFit, TimeEstimate, WarsModel, operation_latency,
};
use replikv::network::Latency;
use replikv::protocol::eventual::ReadStrategy;
use std::time::Duration;

fn seed() -> u64 {
    std::env::var("REPLIKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(28)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Trials per 99.9th percentile latency: about 200 draws beyond it.
const LATENCY_TRIALS: u64 = 200_000;

/// How close the fits' 99.9th percentile latencies must come to the
/// paper's `L_r`, `L_w` (the paper used 1M trials, we 200 000; the
/// noisiest is Yammer's R = 2 read, whose 99.9th percentile sits where two
/// of three heavy-tailed round trips must be slow: 30.0 ms against the
/// paper's 32.6 with 200 000 trials and seed 1).
const LATENCY_TOLERANCE: f64 = 0.15;

#[test]
fn the_fits_as_transcribed_give_the_papers_read_and_write_latencies() {
    let seed = seed();
    let mut checked = std::collections::HashMap::new();
    for fit in ProductionFit::ALL {
        let l = fit.latencies();
        for (r, w) in replikv::lab::pbs::production::PAPER_QUORUMS {
            let (paper_r, paper_w) = fit.published_latencies_ms(r, w).expect("a published row");
            // Each distinct (legs, quorum) once: the rows share many.
            let mut latency = |there: Latency, back: Latency, quorum: usize| {
                *checked
                    .entry(format!("{there} {back} {quorum}"))
                    .or_insert_with(|| {
                        operation_latency(3, quorum, there, back, 0.999, LATENCY_TRIALS, seed)
                            .expect("valid")
                    })
            };
            let read = latency(l.read, l.response, r);
            let write = latency(l.write, l.ack, w);
            for (what, ours, paper) in [("L_r", ms(read), paper_r), ("L_w", ms(write), paper_w)] {
                assert!(
                    (ours / paper - 1.0).abs() <= LATENCY_TOLERANCE,
                    "seed {seed}: {fit} R={r} W={w}: {what} {ours:.2} ms, the paper {paper} ms"
                );
            }
        }
    }
}

#[test]
fn reading_the_linkedin_weights_the_other_way_round_misses_the_papers_latency() {
    // 91.22 % exponential + 8.78 % Pareto instead of the other way round.
    let pareto = Latency::Pareto {
        scale: Duration::from_micros(235),
        shape: 10.0,
    };
    let swapped = Latency::mixture(&[
        (0.9122, Latency::exponential_per_ms(1.66)),
        (0.0878, pareto),
    ])
    .expect("valid");
    let read =
        operation_latency(3, 1, swapped, swapped, 0.999, LATENCY_TRIALS, seed()).expect("valid");
    let (paper_r, _) = ProductionFit::LnkdSsd
        .published_latencies_ms(1, 1)
        .expect("published");
    assert!(
        ms(read) > 2.0 * paper_r,
        "the swapped reading gives L_r = {:.2} ms, not far from the paper's {paper_r} ms",
        ms(read)
    );
}

/// The CI check of the table's machinery, at p = 99 % so that a debug build
/// can afford it: LinkedIn SSD, R = W = 1, where the paper's setting and
/// replikv's default setting differ most at this quantile.
fn small(seed: u64) -> PbsReproduction {
    PbsReproduction {
        fits: vec![ProductionFit::LnkdSsd],
        quorums: vec![(1, 1)],
        p: 0.99,
        trials: TRIALS,
        seeds: vec![seed],
        model_trials: 200_000,
        ..PbsReproduction::default()
    }
}

/// Fine-stage trials per `t`: about 100 stale reads at the answer, ±10 %,
/// which moves the estimated `t` by about ±10 % here (the stale fraction
/// falls by a factor e per 0.6 ms near 0.6 ms).
const TRIALS: u64 = 10_000;

/// Measured against predicted `t`: 2.5 standard deviations of the estimate.
const TOLERANCE: f64 = 0.25;

#[test]
fn the_papers_setting_measured_on_the_simulator_meets_the_wars_prediction_at_the_tail() {
    let seed = seed();
    let table = small(seed).run(&mut |_, _| {}).expect("runs");
    eprintln!("{table}");
    let cell = &table.cells[0];
    assert!(
        matches!(cell.measured[0], TimeEstimate::At(t) if t > Duration::ZERO),
        "seed {seed}: the search should bracket a positive t: {cell:?}"
    );
    assert!(
        cell.gap_to_model().abs() <= TOLERANCE,
        "seed {seed}: measured {:.3} ms is not within {:.0} % of the WARS prediction {:.3} ms",
        cell.measured_ms(),
        TOLERANCE * 100.0,
        cell.predicted_ms()
    );
    assert_eq!(cell.published_ms, None, "the paper publishes 99.9 % only");
}

#[test]
fn replikvs_default_setting_measured_the_same_way_misses_the_papers_prediction() {
    // A replica coordinates (its own copy is free) and reads ask exactly R:
    // fresh at 99 % only about 1 ms after the commit, not 0.6 ms.
    let seed = seed();
    let table = PbsReproduction {
        coordinator: CoordinatorPolicy::Random,
        read_strategy: ReadStrategy::AskR,
        ..small(seed)
    }
    .run(&mut |_, _| {})
    .expect("runs");
    eprintln!("{table}");
    let cell = &table.cells[0];
    assert!(
        cell.gap_to_model() > TOLERANCE,
        "seed {seed}: a different system should not meet the paper's prediction: measured \
         {:.3} ms, predicted {:.3} ms",
        cell.measured_ms(),
        cell.predicted_ms()
    );
}

#[test]
fn in_the_tail_an_outside_coordinator_reading_exactly_r_is_hard_to_tell_from_reading_all_n() {
    // Where the production fits' 99.9 % comes from: a write straggling to a
    // replica. Whether the outside coordinator asks R replicas or all N and
    // keeps the first R barely matters there (LinkedIn disk, R = W = 1).
    let fit = ProductionFit::LnkdDisk;
    let paper = WarsModel::paper(3, 1, 1, fit.latencies());
    let ask_r = WarsModel {
        fanout: replikv::lab::pbs::ReadFanout::Quorum,
        ..paper
    };
    let t = |m: &WarsModel| {
        ms(m.simulate(200_000, seed())
            .expect("valid")
            .time_for(0.999)
            .expect("a probability"))
    };
    let (all, r) = (t(&paper), t(&ask_r));
    assert!(
        (r / all - 1.0).abs() < 0.10,
        "reads to all N: {all:.2} ms, to R: {r:.2} ms"
    );
}

/// The issue's goals on the full table at 99.9 %: measured within 10 % of
/// the WARS prediction in every cell above 1 ms, within 20 % of the paper's
/// published value in every cell with a published value above 1 ms. Release
/// only (ignored; some 8 CPU-minutes): 100 000 trials per fine `t`, seeds
/// 1, 2, 3 — the table in LESSON.md, which `replikv staleness
/// --reproduce-pbs --trials 100000 --seeds 3 --model-trials 4000000` prints
/// (`REPLIKV_SEED` moves the first seed).
#[test]
#[ignore]
fn the_full_table_meets_the_issues_goals() {
    let base = std::env::var("REPLIKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let table = PbsReproduction {
        trials: 100_000,
        seeds: vec![base, base + 1, base + 2],
        model_trials: 4_000_000,
        ..PbsReproduction::default()
    }
    .run(&mut |done, total| eprintln!("{done}/{total}"))
    .expect("runs");
    println!("{table}");
    assert!(
        table
            .largest_gap_to_model(Duration::from_millis(1))
            .is_some_and(|gap| gap <= 0.10),
        "seeds from {base}: measured is not within 10 % of WARS in every cell above 1 ms"
    );
    for cell in &table.cells {
        if let Some(published) = cell.published_ms.filter(|&p| p > 1.0) {
            let gap = cell.measured_gap_to_published().unwrap_or(f64::INFINITY);
            assert!(
                gap.abs() <= 0.20,
                "seeds from {base}: {} R={} W={}: measured {:.2} ms vs published {published} ms",
                cell.fit,
                cell.r,
                cell.w,
                cell.measured_ms()
            );
        }
    }
}

/// The paper's estimator, as its simulator (`nrw_solver/src/Simulator.java`
/// in the authors' repository) computes a t-visibility sweep: fresh trials
/// at each `t` of a 1 ms grid, and the published `t` is (we assume) the
/// first grid `t` whose estimate reaches 99.9 %. With 50 000 trials per `t`
/// that is about 50 stale reads, ±7, at each `t`; as `t` climbs towards the
/// true answer, one of the noisy estimates tends to cross early. Slow
/// (ignored; some 3 minutes in debug): it shows that estimator lands below
/// the exact WARS quantile for LinkedIn's disk fit, R = W = 1 — with the
/// default seeds at 48–51 ms, mean 49.4, against 52.5 ms: about 6 % early.
#[test]
#[ignore]
fn a_first_crossing_sweep_with_50000_trials_per_t_lands_early() {
    let fit = ProductionFit::LnkdDisk;
    let model = WarsModel::paper(3, 1, 1, fit.latencies());
    let exact = ms(model
        .simulate(4_000_000, 1)
        .expect("valid")
        .time_for(0.999)
        .expect("a probability"));
    let repetitions = 5;
    let mut sweeps = Vec::new();
    for rep in 0..repetitions {
        let first = (20..200u64)
            .find(|&t| {
                let samples = model.simulate(50_000, 1000 * rep + t).expect("valid");
                samples.probability(Duration::from_millis(t)) >= 0.999
            })
            .expect("crosses before 200 ms");
        sweeps.push(first as f64);
    }
    let mean = sweeps.iter().sum::<f64>() / repetitions as f64;
    eprintln!("exact {exact:.2} ms, first-crossing sweeps {sweeps:?} (mean {mean:.2} ms)");
    assert!(
        mean < exact,
        "the sweep estimator should land early: exact {exact:.2} ms, sweeps {sweeps:?}"
    );
}

/// LinkedIn SSD, R = 2, W = 1: the paper's table has `t` = 0 and its text
/// says no staleness was observed across 10M writes. WARS on the published
/// fits agrees with the 0 — more than 99.9 % of reads are fresh at once —
/// but not with "none in 10M": a few in 10 000 are stale at `t` = 0 (two
/// replicas whose writes drew the slow exponential part, answering first).
#[test]
fn linkedin_ssd_r2_w1_is_fresh_at_once_for_the_table_but_not_for_seven_nines() {
    let samples = WarsModel::paper(3, 2, 1, ProductionFit::LnkdSsd.latencies())
        .simulate(200_000, seed())
        .expect("valid");
    let fresh = samples.probability(Duration::ZERO);
    assert!(
        (0.999..0.9999).contains(&fresh),
        "P(consistent at t = 0) = {fresh}"
    );
}
