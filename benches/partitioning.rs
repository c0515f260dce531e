//! Partitioning strategies compared: balance, movement and lookup cost.
//!
//! Run with `cargo bench --bench partitioning`. It first prints two tables
//! (a few seconds in release):
//!
//! 1. balance (max/mean and coefficient of variation of the owners' loads)
//!    and the fraction of keys whose owner moves when a node is added and
//!    when the last node is removed, for 5, 10 and 50 nodes over 1,000,000
//!    keys, with the fraction theory expects beside each, and the replica
//!    copies (lists of 3) that adding a node costs against the minimum;
//! 2. a rough cost of one preference list of 3, and of rebuilding the
//!    placement from its member list, in ns and as a ratio to hashing the
//!    key alone (the baseline, measured in the same run).
//!
//! Then criterion measures lookup cost precisely: a preference list of 3 on
//! 10 nodes per strategy (with `key_hash` as the baseline), how it grows
//! with the node count, and the rebuild (`Strategy::build`) of every
//! strategy at 10 and 100 nodes beside the same baseline. `replikv
//! partitions --scaling` prints all of these figures, with skew and memory,
//! at 10, 100 and 1,000 nodes. Set `REPLIKV_TABLE_KEYS` to change the key count of
//! the tables (0 skips them); under `cargo test --benches` they use 2,000.

use comfy_table::{CellAlignment, Table, presets::UTF8_FULL};
use criterion::{BenchmarkId, Criterion};
use replikv::NodeId;
use replikv::partition::analysis::{Change, balance, expected_owner_moved, movement};
use replikv::partition::{Member, Partitioner, Strategy, key_hash};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Node counts of the tables.
const TABLE_NODES: [usize; 3] = [5, 10, 50];
/// Keys in the tables: enough that sampling noise (about 1/√(keys per node),
/// 0.7 % at 50 nodes) is well below the differences between strategies.
const TABLE_KEYS: u64 = 1_000_000;
/// The strategies of the balance-and-movement table: the four of
/// `Strategy::ALL`, plus a ring with 4× the default virtual nodes to show
/// what they buy (a node's share spreads by about 1/√vnodes: 6 % at 256,
/// 3 % at 1,024).
const TABLE_STRATEGIES: [Strategy; 8] = [
    Strategy::Modulo,
    Strategy::Ring { vnodes: 256 },
    Strategy::Ring { vnodes: 1024 },
    Strategy::Jump,
    Strategy::Rendezvous,
    Strategy::Maglev { table_size: 65_537 },
    Strategy::MultiProbe { probes: 21 },
    Strategy::BoundedLoad {
        epsilon_permille: 250,
    },
];
/// Replicas per key in every lookup measured.
const N: usize = 3;
/// Keys cycled through by the criterion benches: more than fit in L1, so a
/// lookup pays for its key like a real one, fewer than would dominate.
const POOL: usize = 4096;

fn nodes(count: usize) -> Vec<Member> {
    (0..count as u32).map(|i| Member::new(NodeId(i))).collect()
}

fn keys(count: u64) -> Vec<Vec<u8>> {
    replikv::partition::analysis::sample_keys(count).collect()
}

fn build(strategy: Strategy, count: usize) -> Box<dyn Partitioner> {
    match strategy.build(&nodes(count)) {
        Ok(p) => p,
        Err(e) => panic!("building {strategy} over {count} nodes: {e}"),
    }
}

/// `measured` followed by `× expected` as a ratio, e.g. "0.0912 (1.00×)".
fn versus(measured: f64, expected: f64) -> String {
    format!("{measured:.4} ({:.2}×)", measured / expected)
}

fn movement_table(key_count: u64) {
    let keys = keys(key_count);
    let mut table = Table::new();
    table.load_style(UTF8_FULL).set_header(vec![
        "nodes",
        "strategy",
        "max/mean",
        "CV",
        "add: owners moved (÷ expected)",
        "expected",
        "add: replica copies (÷ expected)",
        "remove last: moved (÷ expected)",
        "expected",
    ]);
    for m in TABLE_NODES {
        for strategy in TABLE_STRATEGIES {
            let p = build(strategy, m);
            let b = balance(p.as_ref(), &keys);
            let added = p.with_node(Member::new(NodeId(m as u32)));
            let removed = p.without_node(NodeId(m as u32 - 1));
            let (Ok(added), Ok(removed)) = (added, removed) else {
                panic!("{strategy}: adding or removing the last node failed");
            };
            let add = movement(p.as_ref(), added.as_ref(), N, &keys);
            let remove = movement(p.as_ref(), removed.as_ref(), N, &keys);
            let expect_add = expected_owner_moved(strategy, m, Change::Add);
            let expect_remove = expected_owner_moved(strategy, m, Change::RemoveLast);
            table.add_row(vec![
                m.to_string(),
                strategy.to_string(),
                format!("{:.3}", b.max_over_mean),
                format!("{:.3}", b.coefficient_of_variation),
                versus(add.owner_moved_fraction, expect_add),
                format!("{expect_add:.4}"),
                // The minimum copies: one per changed list, 1/(m+1) of all.
                versus(add.replica_moved_fraction, 1.0 / (m as f64 + 1.0)),
                versus(remove.owner_moved_fraction, expect_remove),
                format!("{expect_remove:.4}"),
            ]);
        }
    }
    right_align(&mut table, 2, 9);
    println!(
        "Balance and movement over {key_count} keys (owners; movement on add of one node and removal of the last)"
    );
    println!("{table}");
}

/// Average ns per call of `f` over all keys.
fn ns_per_key(keys: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> f64 {
    let start = Instant::now();
    for key in keys {
        f(key);
    }
    start.elapsed().as_nanos() as f64 / keys.len().max(1) as f64
}

fn cost_table(key_count: u64) {
    let keys = keys(key_count);
    let baseline = ns_per_key(&keys, |k| {
        black_box(key_hash(black_box(k)));
    });
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    let mut header = vec!["strategy".to_string()];
    header.push("owner, 10 nodes".to_string());
    header.extend(TABLE_NODES.map(|m| format!("list of {N}, {m} nodes")));
    header.push("rebuild, 10 nodes".to_string());
    table.set_header(header);
    for strategy in Strategy::ALL {
        let p = build(strategy, 10);
        let ns = ns_per_key(&keys, |k| {
            black_box(p.owner(black_box(k)));
        });
        let mut row = vec![
            strategy.to_string(),
            format!("{ns:.0} ({:.1}×)", ns / baseline),
        ];
        for m in TABLE_NODES {
            let p = build(strategy, m);
            let ns = ns_per_key(&keys, |k| {
                black_box(p.preference_list(black_box(k), N));
            });
            row.push(format!("{ns:.0} ({:.1}×)", ns / baseline));
        }
        let members = nodes(10);
        let rounds = 20;
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(strategy.build(black_box(&members)).is_ok());
        }
        let ns = started.elapsed().as_nanos() as f64 / f64::from(rounds);
        row.push(format!("{:.0} µs ({:.0}×)", ns / 1e3, ns / baseline));
        table.add_row(row);
    }
    right_align(&mut table, 1, 3 + TABLE_NODES.len());
    println!(
        "Rough lookup and rebuild cost, ns (× key_hash alone, {baseline:.1} ns), lookups timed over the {key_count} keys"
    );
    println!("{table}");
}

/// Right-aligns columns `first..end` (the numbers).
fn right_align(table: &mut Table, first: usize, end: usize) {
    for i in first..end {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn lookup_benches(c: &mut Criterion) {
    let keys = keys(POOL as u64);
    let mut group = c.benchmark_group("preference_list_3_of_10");
    group.bench_function("key_hash (baseline)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % POOL;
            key_hash(black_box(&keys[i]))
        })
    });
    for strategy in Strategy::ALL {
        let p = build(strategy, 10);
        group.bench_function(strategy.to_string(), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % POOL;
                p.preference_list(black_box(&keys[i]), N)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("preference_list_3_by_nodes");
    for m in [5, 50, 500] {
        for strategy in Strategy::ALL {
            let p = build(strategy, m);
            group.bench_with_input(BenchmarkId::new(strategy.to_string(), m), &p, |b, p| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % POOL;
                    p.preference_list(black_box(&keys[i]), N)
                })
            });
        }
    }
    group.finish();

    // Rebuilding the placement from its member list (what a membership
    // change costs), beside key_hash in the same group so that the report
    // reads as multiples of it.
    let mut group = c.benchmark_group("rebuild");
    group.bench_function("key_hash (baseline)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % POOL;
            key_hash(black_box(&keys[i]))
        })
    });
    for m in [10, 100] {
        let members = nodes(m);
        for strategy in Strategy::ALL {
            group.bench_with_input(
                BenchmarkId::new(strategy.to_string(), m),
                &members,
                |b, members| b.iter(|| strategy.build(black_box(members)).is_ok()),
            );
        }
    }
    group.finish();
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let key_count = match std::env::var("REPLIKV_TABLE_KEYS") {
        Ok(v) => v.parse().unwrap_or(TABLE_KEYS),
        Err(_) if test_mode => 2_000,
        Err(_) => TABLE_KEYS,
    };
    if key_count > 0 {
        movement_table(key_count);
        cost_table(key_count);
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    lookup_benches(&mut c);
    c.final_summary();
}
