//! `replikv balance`: the coordinator policies against one slow node, on the
//! deterministic simulator (`replikv::lab::balancing`).

use crate::args::BalanceArgs;
use crate::limits::{self, at_least_one, at_most, invalid};
use crate::output::Stdout;
use comfy_table::{Table, presets::UTF8_FULL};
use replikv::lab::balancing::{POLICIES, SlowNode, compare_policies};
use replikv::network::{Latency, parse_duration};
use replikv::{NodeId, Result};
use std::process::ExitCode;
use std::time::Duration;

/// Most nodes `balance` simulates: the table has a column per node.
const MAX_BALANCE_NODES: usize = 64;
/// Most operations per client (16 clients × 100,000 operations take about
/// a minute per policy in a debug build).
const MAX_BALANCE_OPS: u64 = 100_000;

/// The slowest slow node: every operation that reaches it waits this long
/// in virtual time, and the simulator still handles every timer in between,
/// so the wall time of a run grows with it (`--slow 1000s` ran for minutes).
const MAX_SLOW: Duration = Duration::from_secs(10);

fn trial(args: &BalanceArgs) -> Result<SlowNode> {
    if !(2..=MAX_BALANCE_NODES).contains(&args.nodes) {
        return Err(invalid(
            "--nodes",
            args.nodes,
            &format!("a slow node and at least one other: 2 to {MAX_BALANCE_NODES}"),
        ));
    }
    at_least_one("--clients", args.clients as u64)?;
    at_most("--clients", args.clients, limits::MAX_CLIENTS)?;
    at_least_one("--ops", args.ops)?;
    at_most("--ops", args.ops, MAX_BALANCE_OPS)?;
    at_least_one("--keys", args.keys)?;
    let latency: Latency = args.latency.parse()?;
    let slow_latency = parse_duration(&args.slow)?;
    if slow_latency > MAX_SLOW {
        return Err(invalid(
            "--slow",
            &args.slow,
            &format!("at most {MAX_SLOW:?} (a slower node only makes the run longer)"),
        ));
    }
    let trial = SlowNode {
        nodes: args.nodes,
        replicas: args.replicas,
        clients: args.clients,
        ops_per_client: args.ops,
        keys: args.keys,
        zipf: args.zipf,
        latency,
        slow_node: NodeId(0),
        slow_latency,
        seed: args.seed,
        ..SlowNode::default()
    };
    trial.validate()?;
    Ok(trial)
}

pub fn balance(args: BalanceArgs, out: &mut Stdout) -> Result<ExitCode> {
    let trial = trial(&args)?;
    let outcomes = compare_policies(&trial, &POLICIES)?;
    let mut table = Table::new();
    table.load_style(UTF8_FULL);
    let mut header: Vec<String> = ["policy", "p50", "p90", "p99", "max", "mean", "run took"]
        .map(String::from)
        .to_vec();
    header.push("slow node's share".into());
    header.push("requests per node (n0 slow)".into());
    table.set_header(header);
    let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
    for o in &outcomes {
        let per_node: Vec<String> = o.requests.iter().map(|(_, r)| r.to_string()).collect();
        table.add_row(vec![
            format!("{:?}", o.policy),
            ms(o.latency.p50_us),
            ms(o.latency.p90_us),
            ms(o.latency.p99_us),
            ms(o.latency.max_us),
            format!("{:.1} ms", o.latency.mean_us / 1000.0),
            format!("{:.2} s", o.duration.as_secs_f64()),
            format!("{:.1} %", o.slow_share * 100.0),
            per_node.join(" "),
        ]);
    }
    let failed: u64 = outcomes.iter().map(|o| o.failed).sum();
    out.line(format_args!(
        "{} nodes (N = {}), node 0 slow ({} per message to it, {} elsewhere), {} closed-loop \
         clients × {} operations, 90 % reads, eventual R = W = 1, simulated (seed {}){}\n{table}",
        trial.nodes,
        trial.replicas,
        args.slow,
        args.latency,
        trial.clients,
        trial.ops_per_client,
        trial.seed,
        if failed > 0 {
            format!("; {failed} operations failed")
        } else {
            String::new()
        }
    ))?;
    Ok(ExitCode::SUCCESS)
}
