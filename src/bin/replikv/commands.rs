//! The subcommands.

use crate::args::{
    CheckArgs, Cli, Command, CompareArgs, Coordinator, FaultsOn, Mode, PartitionsArgs,
    ReportFormat, RunArgs, StalenessArgs, WorkloadArgs,
};
use comfy_table::{Table, presets::UTF8_FULL};
use indicatif::{ProgressBar, ProgressStyle};
use replikv::cache::CacheConfig;
use replikv::history::{CheckResult, Checker, History};
use replikv::lab::pbs::StalenessExperiment;
use replikv::lab::{Experiment, ExperimentReport, Nemesis, Workload};
use replikv::network::{FaultScope, Latency, parse_duration};
use replikv::partition::analysis::{Change, balance, expected_owner_moved, movement, sample_keys};
use replikv::partition::{Member, Strategy};
use replikv::{Consistency, CoordinatorPolicy, Error, NodeId, Result, StorageKind};
use std::process::ExitCode;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Check(args) => check(args),
        Command::Staleness(args) => staleness(args),
        Command::Partitions(args) => partitions(args),
    }
}

fn consistency(mode: Mode, r: usize, w: usize) -> Consistency {
    match mode {
        Mode::Strong => Consistency::Strong,
        Mode::Single => Consistency::SingleCopy,
        Mode::Eventual => Consistency::Eventual { r, w },
    }
}

/// `strong`, `single`, `eventual:R:W`.
fn parse_mode(text: &str) -> Result<Consistency> {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| Error::InvalidConfig(format!("{s:?} in mode {text:?} is not a number")))
    };
    match parts.as_slice() {
        ["strong"] => Ok(Consistency::Strong),
        ["single"] => Ok(Consistency::SingleCopy),
        ["eventual"] => Ok(Consistency::Eventual { r: 1, w: 1 }),
        ["eventual", r, w] => Ok(Consistency::Eventual {
            r: number(r)?,
            w: number(w)?,
        }),
        _ => Err(Error::InvalidConfig(format!(
            "unknown mode {text:?}: expected strong, single or eventual:R:W"
        ))),
    }
}

fn experiment(args: &WorkloadArgs, consistency: Consistency) -> Result<Experiment> {
    let mut partitioning: Strategy = args.partitioning.parse()?;
    if let (Some(vnodes), Strategy::Ring { .. }) = (args.vnodes, partitioning) {
        partitioning = Strategy::Ring { vnodes };
    }
    let replicas = match consistency {
        Consistency::SingleCopy => 1,
        _ => args.replicas,
    };
    Ok(Experiment {
        nodes: args.nodes,
        replicas,
        consistency,
        hybrid_clock: args.hybrid_clock,
        partitioning,
        workload: Workload {
            clients: args.clients,
            ops_per_client: args.ops,
            duration: args.duration.as_deref().map(parse_duration).transpose()?,
            keys: args.keys,
            read_ratio: args.read_ratio,
            zipf: args.zipf,
            value_size: 16,
            seed: args.seed,
        },
        latency: args.latency.parse::<Latency>()?,
        drop: args.drop,
        duplicate: args.duplicate,
        fault_scope: match args.faults_on {
            FaultsOn::All => FaultScope::AllLinks,
            FaultsOn::Nodes => FaultScope::NodeLinks,
        },
        nemesis: Nemesis {
            kind: args.nemesis.parse()?,
            interval: parse_duration(&args.nemesis_interval)?,
            seed: args.seed,
        },
        cache: args
            .cache_capacity
            .map(|capacity| {
                Ok::<_, Error>(CacheConfig::new(capacity, parse_duration(&args.cache_ttl)?))
            })
            .transpose()?,
        storage: args
            .storage
            .clone()
            .map_or(StorageKind::Temporary, StorageKind::Directory),
        client_timeout: parse_duration(&args.timeout)?,
        coordinator: match args.coordinator {
            Coordinator::First => CoordinatorPolicy::First,
            Coordinator::Random => CoordinatorPolicy::Random,
            Coordinator::RoundRobin => CoordinatorPolicy::RoundRobin,
        },
        check_linearizability: !args.no_check,
        seed: args.seed,
        ..Experiment::default()
    })
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn progress_bar(total: Option<u64>, label: &str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    let style =
        ProgressStyle::with_template("{prefix:>14} [{elapsed_precise}] {wide_bar} {pos}/{len} ops")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}

fn run_one(experiment: &Experiment, label: &str) -> Result<(ExperimentReport, History)> {
    let bar = progress_bar(experiment.workload.total_ops(), label);
    let result = experiment.run_with_history(&mut |done| bar.set_position(done));
    bar.finish_and_clear();
    result
}

fn run(args: RunArgs) -> Result<ExitCode> {
    if args.workload.hybrid_clock && args.consistency != Mode::Eventual {
        return Err(Error::InvalidConfig(
            "--hybrid-clock is a setting of --consistency eventual".into(),
        ));
    }
    let experiment = experiment(
        &args.workload,
        consistency(args.consistency, args.r, args.w),
    )?;
    let (report, history) = run_one(&experiment, "running")?;
    if let Some(path) = &args.history {
        let file = std::fs::File::create(path)?;
        history.write_json(std::io::BufWriter::new(file))?;
        eprintln!(
            "history of {} operations written to {}",
            history.len(),
            path.display()
        );
    }
    match args.workload.report {
        ReportFormat::Json => println!("{}", report.to_json()),
        ReportFormat::Table => println!("{report}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(args: CompareArgs) -> Result<ExitCode> {
    let mut reports = Vec::new();
    for mode in &args.modes {
        let mut experiment = experiment(&args.workload, parse_mode(mode)?)?;
        // A setting of eventual mode: the other modes of the table run as usual.
        experiment.hybrid_clock &= matches!(experiment.consistency, Consistency::Eventual { .. });
        let (report, _) = run_one(&experiment, mode)?;
        reports.push(report);
    }
    match args.workload.report {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&reports).map_err(|e| Error::Encode(e.to_string()))?
        ),
        ReportFormat::Table => {
            println!("{}", ExperimentReport::comparison_table(&reports));
            if args.workload.nemesis != "none" {
                println!(
                    "note: the nemesis cuts links between nodes and crashes nodes; clients still \
                     reach every live node, so single-copy, which never talks node to node, \
                     only suffers from crashes."
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::InvalidHistory(format!("{}: {e}", args.file.display())))?;
    let history = History::from_json(&text)?;
    let verdict = Checker::new()
        .time_budget(parse_duration(&args.budget)?)
        .check(&history);
    match verdict {
        CheckResult::Linearizable => {
            println!("linearizable: {} operations", history.len());
            Ok(ExitCode::SUCCESS)
        }
        CheckResult::NotLinearizable(counterexample) => {
            println!("NOT linearizable\n{counterexample}");
            Ok(ExitCode::from(1))
        }
        CheckResult::Unknown { reason } => {
            println!("unknown: {reason}");
            Ok(ExitCode::from(3))
        }
    }
}

fn staleness(args: StalenessArgs) -> Result<ExitCode> {
    let experiment = StalenessExperiment {
        nodes: args.n,
        n: args.n,
        r: args.r,
        w: args.w,
        latency: args.latency.parse()?,
        times: args
            .t
            .iter()
            .map(|t| parse_duration(t))
            .collect::<Result<_>>()?,
        trials_per_t: args.trials,
        seed: args.seed,
        ..StalenessExperiment::default()
    };
    let total = args.trials * experiment.times.len() as u64;
    let bar = progress_bar(Some(total), "trials");
    let curve = experiment.run_with_progress(&mut |done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    println!("{}", curve.report(3.0));
    if args.trials < 1000 {
        // The binomial 95% interval at p = 0.5 is ±1.96·√(0.25/n).
        let half_width = 196.0 * (0.25 / args.trials as f64).sqrt();
        println!(
            "note: with {} trials per t the measured values are only good to about ±{half_width:.1} \
             percentage points; use --trials 2000 or more before judging a ±3 pp gap.",
            args.trials
        );
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, curve.to_csv())?;
        eprintln!("CSV written to {}", path.display());
    }
    if let Some(path) = &args.svg {
        curve.to_svg(path)?;
        eprintln!("plot written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn partitions(args: PartitionsArgs) -> Result<ExitCode> {
    if args.nodes == 0 {
        return Err(Error::InvalidConfig("--nodes must be at least 1".into()));
    }
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
        let m = movement(before.as_ref(), after.as_ref(), args.replicas, keys.clone());
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
    println!(
        "{} keys on {} nodes, then one node added (N = {} for replica sets)\n{table}",
        args.keys, args.nodes, args.replicas
    );
    if let Some(weights) = &args.weights {
        print_weighted_shares(&args, weights)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Vertical scaling: each node's share of keys when nodes have capacities.
fn print_weighted_shares(args: &PartitionsArgs, weights: &[f64]) -> Result<()> {
    if weights.len() != args.nodes as usize {
        return Err(Error::InvalidConfig(format!(
            "{} weights given for {} nodes: give one per node",
            weights.len(),
            args.nodes
        )));
    }
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
    println!("\nwith weights (vertical scaling: a bigger node takes more keys)\n{table}");
    Ok(())
}
