//! `replikv partitions`: balance and key movement of the partitioning
//! strategies, and each node's share under weights (vertical scaling).

use crate::args::PartitionsArgs;
use crate::limits::{self, at_least_one, at_most, invalid};
use crate::output::Stdout;
use comfy_table::{Table, presets::UTF8_FULL};
use replikv::partition::analysis::{Change, balance, expected_owner_moved, movement, sample_keys};
use replikv::partition::{Member, Strategy};
use replikv::{Error, NodeId, Result};
use std::process::ExitCode;

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
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    table.set_header(vec![
        "strategy",
        "max/mean",
        "CV",
        "owners moved on add",
        "expected",
        "replica sets changed",
    ]);
    for strategy in [
        Strategy::Modulo,
        Strategy::Ring {
            vnodes: args.vnodes,
        },
        Strategy::Jump,
        Strategy::Rendezvous,
    ] {
        let before = strategy.build(&members)?;
        let after = before.with_node(joining)?;
        let b = balance(before.as_ref(), keys.clone());
        let m = movement(before.as_ref(), after.as_ref(), replicas, keys.clone());
        let expected = expected_owner_moved(strategy, args.nodes as usize, Change::Add);
        table.add_row(vec![
            strategy.to_string(),
            format!("{:.3}", b.max_over_mean),
            format!("{:.1} %", b.coefficient_of_variation * 100.0),
            format!("{:.1} %", m.owner_moved_fraction * 100.0),
            format!("{:.1} %", expected * 100.0),
            format!("{:.1} %", m.list_changed_fraction * 100.0),
        ]);
    }
    out.line(format_args!(
        "{} keys on {} nodes, then one node added (N = {} for replica sets)\n{table}",
        args.keys, args.nodes, replicas
    ))?;
    if let Some(weights) = &args.weights {
        print_weighted_shares(&args, weights, out)?;
    }
    Ok(ExitCode::SUCCESS)
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
    let strategies = [
        Strategy::Ring {
            vnodes: args.vnodes,
        },
        Strategy::Rendezvous,
    ];
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
