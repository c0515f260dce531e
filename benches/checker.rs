//! How long does the linearizability checker take on a realistic history?
//!
//! The history comes from a simulated atomic register (so it is
//! linearizable, and the checker must search it to the end): 10,000
//! operations from 8 clients on 10 keys, with overlapping intervals. As a
//! baseline measured in the same run, `json_round_trip` exports and
//! re-imports the same history: a linear pass over it.
//!
//! Run with `cargo bench --bench checker`.

use criterion::{Criterion, criterion_group, criterion_main};
use replikv::history::{Checker, History, random_plan, simulate};
use std::hint::black_box;

fn checker(c: &mut Criterion) {
    let history = simulate(&random_plan(2024, 10_000, 8, 10));
    let checker = Checker::new();
    assert!(checker.check(&history).is_linearizable());

    let mut group = c.benchmark_group("10k ops, 8 clients, 10 keys");
    group.bench_function("check", |b| b.iter(|| checker.check(black_box(&history))));
    group.bench_function("json_round_trip", |b| {
        b.iter(|| History::from_json(&black_box(&history).to_json()))
    });
    group.finish();
}

criterion_group!(benches, checker);
criterion_main!(benches);
