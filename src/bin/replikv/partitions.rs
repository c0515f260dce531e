//! `replikv partitions`: balance of keys and of request load under skew,
//! key movement of the partitioning strategies, each node's share under
//! weights (vertical scaling), and with `--scaling` every figure at 10, 100
//! and 1,000 nodes (and an SVG of balance and movement).

use crate::args::PartitionsArgs;
use crate::limits::{self, at_least_one, at_most, invalid};
use crate::output::Stdout;
use comfy_table::{Table, presets::UTF8_FULL};
use replikv::partition::analysis::{
    Candidate, ScalingConfig, balance, load, movement, sample_keys, scaling_svg, scaling_table,
    skew_sweep, zipf_loads,
};
use replikv::partition::{Member, Strategy};
use replikv::{Error, NodeId, Result};
use std::process::ExitCode;

/// The Zipf exponents of the skew table.
const SKEW_EXPONENTS: [f64; 5] = [0.0, 0.5, 0.8, 0.99, 1.2];

/// The candidates compared: every strategy (the ring with `--vnodes`) and
/// bounded loads over the workload's keys.
fn candidates(vnodes: u32) -> Vec<Candidate> {
    Candidate::all()
        .into_iter()
        .map(|c| match c {
            Candidate::Strategy(Strategy::Ring { .. }) => {
                Candidate::Strategy(Strategy::Ring { vnodes })
            }
            other => other,
        })
        .collect()
}

/// Checks `partitions`' sizes and weights before any key is placed.
fn check_partitions(args: &PartitionsArgs) -> Result<()> {
    at_least_one("--nodes", args.nodes.into())?;
    at_most("--nodes", args.nodes, limits::MAX_PARTITION_NODES)?;
    at_least_one("--keys", args.keys)?;
    at_most("--keys", args.keys, limits::MAX_PARTITION_KEYS)?;
    let work = args.keys.saturating_mul(u64::from(args.nodes) + 1);
    if work > limits::MAX_PARTITION_WORK {
        return Err(invalid(
            "--keys × --nodes",
            format!("{} × {}", args.keys, args.nodes),
            &format!(
                "over the limit of {} placements (see `replikv --help`)",
                limits::MAX_PARTITION_WORK
            ),
        ));
    }
    at_least_one("--vnodes", args.vnodes.into())?;
    at_most("--vnodes", args.vnodes, limits::MAX_VNODES)?;
    at_most(
        "--vnodes × --nodes (ring points)",
        u64::from(args.vnodes) * u64::from(args.nodes),
        replikv::partition::MAX_RING_POINTS,
    )?;
    if let Some(replicas) = args.replicas
        && (replicas == 0 || replicas > args.nodes as usize)
    {
        return Err(invalid(
            "--replicas",
            replicas,
            &format!(
                "a replica set is 1 to --nodes ({}) distinct nodes",
                args.nodes
            ),
        ));
    }
    if !(args.zipf.is_finite() && (0.0..=5.0).contains(&args.zipf)) {
        return Err(invalid(
            "--zipf",
            args.zipf,
            "the exponent must be from 0 to 5",
        ));
    }
    if let (Some(svg), false) = (&args.svg, args.scaling) {
        return Err(invalid(
            "--svg",
            svg.display(),
            "the chart is of the --scaling table: add --scaling",
        ));
    }
    if args.scaling {
        let most = args.scale_nodes.iter().copied().max().unwrap_or(0);
        if args.scale_nodes.is_empty() || args.scale_nodes.contains(&0) {
            return Err(invalid(
                "--scale-nodes",
                "0",
                "give node counts of at least 1",
            ));
        }
        at_most("--scale-nodes", most, limits::MAX_PARTITION_NODES)?;
        let work = args.keys.saturating_mul(u64::from(most));
        if work > limits::MAX_PARTITION_WORK {
            return Err(invalid(
                "--keys × --scale-nodes",
                format!("{} × {most}", args.keys),
                &format!(
                    "over the limit of {} placements (see `replikv --help`)",
                    limits::MAX_PARTITION_WORK
                ),
            ));
        }
    }
    if let Some(weights) = &args.weights {
        if weights.len() != args.nodes as usize {
            return Err(Error::InvalidConfig(format!(
                "{} weights given for {} nodes: give one per node",
                weights.len(),
                args.nodes
            )));
        }
        if let Some(bad) = weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
            return Err(invalid(
                "--weights",
                bad,
                "every weight must be a positive number",
            ));
        }
    }
    Ok(())
}

pub fn partitions(args: PartitionsArgs, out: &mut Stdout) -> Result<ExitCode> {
    check_partitions(&args)?;
    let replicas = args.replicas.unwrap_or(3.min(args.nodes as usize));
    let members: Vec<Member> = (0..args.nodes).map(|i| Member::new(NodeId(i))).collect();
    let joining = Member::new(NodeId(args.nodes));
    let keys = sample_keys(args.keys);
    let loads = zipf_loads(args.keys, args.zipf);
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "strategy".to_string(),
        "keys max/mean".into(),
        "keys CV".into(),
        format!("load max/mean (zipf {})", args.zipf),
        "hottest node's share".into(),
        "owners moved on add".into(),
        "÷ ideal 1/(n+1)".into(),
        "replica sets changed".into(),
    ]);
    let mut hottest_key = 0.0f64;
    for candidate in candidates(args.vnodes) {
        let before = candidate.build(&members, &loads)?;
        let after = before.with_node(joining)?;
        let b = balance(before.as_ref(), keys.clone());
        let l = load(before.as_ref(), loads.iter().map(|(k, w)| (k, *w)));
        hottest_key = l.hottest_key_share;
        let m = movement(before.as_ref(), after.as_ref(), replicas, keys.clone());
        let ideal = 1.0 / (f64::from(args.nodes) + 1.0);
        table.add_row(vec![
            candidate.name(),
            format!("{:.3}", b.max_over_mean),
            format!("{:.1} %", b.coefficient_of_variation * 100.0),
            format!("{:.3}", l.max_over_mean),
            format!("{:.1} %", l.hottest_node_share * 100.0),
            format!("{:.1} %", m.owner_moved_fraction * 100.0),
            format!("{:.2}", m.owner_moved_fraction / ideal),
            format!("{:.1} %", m.list_changed_fraction * 100.0),
        ]);
    }
    out.line(format_args!(
        "{} keys on {} nodes, then one node added (N = {} for replica sets); request load \
         under Zipf {} (the hottest key alone takes {:.1} %, a node's fair share is {:.1} %)\n{table}",
        args.keys,
        args.nodes,
        replicas,
        args.zipf,
        hottest_key * 100.0,
        100.0 / f64::from(args.nodes)
    ))?;
    print_skew(&args, &members, out)?;
    if let Some(weights) = &args.weights {
        print_weighted_shares(&args, weights, out)?;
    }
    if args.scaling {
        print_scaling(&args, replicas, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Max/mean request load of every candidate as the Zipf exponent grows.
fn print_skew(args: &PartitionsArgs, members: &[Member], out: &mut Stdout) -> Result<()> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    let mut header = vec!["load max/mean".to_string()];
    header.extend(SKEW_EXPONENTS.iter().map(|s| format!("zipf {s}")));
    table.set_header(header);
    let mut hottest = vec!["(hottest key's share × n)".to_string()];
    for candidate in candidates(args.vnodes) {
        let sweep = skew_sweep(candidate, members, args.keys, &SKEW_EXPONENTS)?;
        if hottest.len() == 1 {
            hottest.extend(
                sweep
                    .iter()
                    .map(|p| format!("{:.2}", p.load.hottest_key_share * f64::from(args.nodes))),
            );
        }
        let mut row = vec![candidate.name()];
        row.extend(sweep.iter().map(|p| format!("{:.2}", p.load.max_over_mean)));
        table.add_row(row);
    }
    table.add_row(hottest);
    out.line(format_args!(
        "\nskew: the busiest node's requests ÷ the mean, {} keys on {} nodes (no placement \
         can go below the last row: the hottest key is on one node)\n{table}",
        args.keys, args.nodes
    ))
}

/// Every figure at each of `--scale-nodes`, and the chart.
fn print_scaling(args: &PartitionsArgs, replicas: usize, out: &mut Stdout) -> Result<()> {
    let config = ScalingConfig {
        node_counts: args.scale_nodes.iter().map(|&n| n as usize).collect(),
        keys: args.keys,
        zipf: args.zipf,
        replicas,
    };
    let rows = scaling_table(&candidates(args.vnodes), &config)?;
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "nodes".to_string(),
        "strategy".into(),
        "keys max/mean".into(),
        format!("load max/mean (zipf {})", args.zipf),
        "add: moved ÷ 1/(n+1)".into(),
        "remove last: moved ÷ 1/n".into(),
        format!("lookup of {replicas}, ns (× key_hash)"),
        "memory per node".into(),
        "build".into(),
    ]);
    for r in &rows {
        table.add_row(vec![
            r.nodes.to_string(),
            r.candidate.clone(),
            format!("{:.3}", r.key_max_over_mean),
            format!("{:.3}", r.load_max_over_mean),
            format!("{:.2}", r.add_over_ideal),
            format!("{:.2}", r.remove_over_ideal),
            format!("{:.0} ({:.1}×)", r.lookup_ns, r.lookup_over_hash),
            bytes(r.memory_per_node),
            format!("{:.2} ms", r.build_ms),
        ]);
    }
    out.line(format_args!(
        "\nevery figure by node count ({} keys; times are wall-clock in this build: use a \
         release build to compare them)\n{table}",
        args.keys
    ))?;
    if let Some(path) = &args.svg {
        std::fs::write(path, scaling_svg(&rows)?)?;
        out.line(format_args!("chart written to {}", path.display()))?;
    }
    Ok(())
}

/// A byte count for people: B, KiB or MiB.
fn bytes(b: f64) -> String {
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

/// Vertical scaling: each node's share of keys when nodes have capacities
/// (`weights` has one positive entry per node: [`check_partitions`]).
fn print_weighted_shares(args: &PartitionsArgs, weights: &[f64], out: &mut Stdout) -> Result<()> {
    let members: Vec<Member> = (0..args.nodes)
        .map(|i| Member {
            node: NodeId(i),
            weight: weights[i as usize],
        })
        .collect();
    let total_weight: f64 = weights.iter().sum();
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    let mut header = vec!["node".to_string(), "weight".into(), "fair share".into()];
    // Every strategy that honours weights (the others refuse them).
    let strategies: Vec<Strategy> = Strategy::ALL
        .into_iter()
        .map(|s| match s {
            Strategy::Ring { .. } => Strategy::Ring {
                vnodes: args.vnodes,
            },
            other => other,
        })
        .filter(|s| s.build(&members).is_ok())
        .collect();
    header.extend(strategies.iter().map(|s| format!("{s} share")));
    table.set_header(header);
    let shares = strategies
        .iter()
        .map(|s| Ok(balance(s.build(&members)?.as_ref(), sample_keys(args.keys))))
        .collect::<Result<Vec<_>>>()?;
    for member in &members {
        let mut row = vec![
            member.node.to_string(),
            format!("{}", member.weight),
            format!("{:.1} %", 100.0 * member.weight / total_weight),
        ];
        for b in &shares {
            let keys = b.per_node.get(&member.node).copied().unwrap_or(0);
            row.push(format!("{:.1} %", 100.0 * keys as f64 / args.keys as f64));
        }
        table.add_row(row);
    }
    out.line(format_args!(
        "\nwith weights (vertical scaling: a bigger node takes more keys)\n{table}"
    ))
}
