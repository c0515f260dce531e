//! The subcommands. Each first turns its arguments into checked settings
//! (and opens the files it will write), then does its work, then prints.

use crate::args::{
    CheckArgs, Cli, Command, CompareArgs, Coordinator, DurabilityArg, FaultsOn, KindLatencyArgs,
    Mode, ModeArgs, ModelArg, ReadModeArg, ReadStrategyArg, ReportFormat, RunArgs, RuntimeArg,
    StalenessArgs, WorkloadArgs,
};
use crate::limits::{self, at_least_one, at_most, create_output, invalid};
use crate::output::Stdout;
use indicatif::{ProgressBar, ProgressStyle};
use replikv::cache::CacheConfig;
use replikv::history::{CheckResult, Checker, History};
use replikv::lab::pbs::{StalenessExperiment, WarsVariant};
use replikv::lab::{Experiment, ExperimentReport, Mutant, Nemesis, NemesisKind, Workload};
use replikv::network::{FaultScope, Latency, MessageKind, parse_duration};
use replikv::partition::Strategy;
use replikv::protocol::ConsensusConfig;
use replikv::protocol::consensus::ReadMode;
use replikv::protocol::eventual::ReadStrategy;
use replikv::storage::Durability;
use replikv::{Consistency, CoordinatorPolicy, Error, Result, Runtime, StorageKind};
use std::io::Write as _;
use std::process::ExitCode;

pub fn dispatch(cli: Cli, out: &mut Stdout) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run(args, out),
        Command::Compare(args) => compare(args, out),
        Command::Check(args) => check(args, out),
        Command::Staleness(args) => staleness(args, out),
        Command::Partitions(args) => crate::partitions::partitions(args, out),
        Command::Sweep(args) => crate::sweep::sweep(args, out),
        Command::Balance(args) => crate::balance::balance(args, out),
        Command::Diagram(args) => crate::pictures::diagram(args, out),
    }
}

/// The mode `run` asked for. R and W are quorum sizes of eventual mode
/// only: given with another mode they would be silently ignored.
fn consistency(mode: Mode, r: Option<usize>, w: Option<usize>) -> Result<Consistency> {
    match mode {
        Mode::Eventual => Ok(Consistency::Eventual {
            r: r.unwrap_or(1),
            w: w.unwrap_or(1),
        }),
        _ if r.is_some() || w.is_some() => Err(Error::InvalidConfig(
            "--r and --w are the quorums of --consistency eventual; strong mode always \
             uses majorities and single-copy one node"
                .into(),
        )),
        Mode::Strong => Ok(Consistency::Strong),
        Mode::Consensus => Ok(Consistency::Consensus),
        Mode::Single => Ok(Consistency::SingleCopy),
    }
}

/// The runtime a command runs on: `--runtime`, or `default`.
pub fn runtime(arg: Option<RuntimeArg>, default: Runtime) -> Runtime {
    match arg {
        Some(RuntimeArg::Threads) => Runtime::Threads,
        Some(RuntimeArg::Sim) => Runtime::Simulated,
        None => default,
    }
}

/// The experiment `--consistency`/`--r`/`--w` or `--protocol` describe,
/// checked, on `runtime`.
pub fn mode_experiment(
    mode: &ModeArgs,
    workload: &WorkloadArgs,
    runtime: Runtime,
) -> Result<Experiment> {
    if workload.hybrid_clock && (mode.consistency != Mode::Eventual || mode.protocol.is_some()) {
        return Err(Error::InvalidConfig(
            "--hybrid-clock is a setting of --consistency eventual".into(),
        ));
    }
    if workload.read_strategy != ReadStrategyArg::R
        && (mode.consistency != Mode::Eventual || mode.protocol.is_some())
    {
        return Err(Error::InvalidConfig(
            "--read-strategy is a setting of --consistency eventual".into(),
        ));
    }
    // Any explicit --read-mode, even `log`, is a setting of consensus mode
    // only: accepting it elsewhere would suggest it changed something.
    if workload.read_mode.is_some()
        && (mode.consistency != Mode::Consensus || mode.protocol.is_some())
    {
        return Err(Error::InvalidConfig(
            "--read-mode is a setting of --consistency consensus".into(),
        ));
    }
    let mutant = mode
        .protocol
        .as_deref()
        .map(str::parse::<Mutant>)
        .transpose()?;
    let consistency = match mutant {
        Some(mutant) => mutant.consistency(),
        None => consistency(mode.consistency, mode.r, mode.w)?,
    };
    if workload.cas_ratio > 0.0 && consistency != Consistency::Consensus {
        return Err(Error::InvalidConfig(format!(
            "--cas-ratio needs a mode with compare-and-set (--consistency consensus); \
             {} has none",
            mode.protocol.as_deref().unwrap_or(match mode.consistency {
                Mode::Strong => "strong",
                Mode::Eventual => "eventual",
                Mode::Single => "single",
                Mode::Consensus => "consensus",
            })
        )));
    }
    let mut experiment = experiment(workload, consistency)?;
    experiment.runtime = runtime;
    experiment.mutant = mutant;
    if let (Consistency::SingleCopy, Some(n)) = (consistency, workload.replicas) {
        // Asked for: one copy per key, coordinators among n nodes.
        experiment.replicas = n;
    }
    experiment.validate()?;
    Ok(experiment)
}

/// `strong`, `consensus`, `single`, `eventual:R:W`.
fn parse_mode(text: &str) -> Result<Consistency> {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| Error::InvalidConfig(format!("{s:?} in mode {text:?} is not a number")))
    };
    match parts.as_slice() {
        ["strong"] => Ok(Consistency::Strong),
        ["consensus"] => Ok(Consistency::Consensus),
        ["single"] => Ok(Consistency::SingleCopy),
        ["eventual"] => Ok(Consistency::Eventual { r: 1, w: 1 }),
        ["eventual", r, w] => Ok(Consistency::Eventual {
            r: number(r)?,
            w: number(w)?,
        }),
        _ => Err(Error::InvalidConfig(format!(
            "unknown mode {text:?}: expected strong, consensus, single or eventual:R:W"
        ))),
    }
}

/// N when --replicas is not given.
const DEFAULT_REPLICAS: usize = 3;

/// The library's read strategy.
fn read_strategy(arg: ReadStrategyArg) -> ReadStrategy {
    match arg {
        ReadStrategyArg::R => ReadStrategy::AskR,
        ReadStrategyArg::All => ReadStrategy::AskAll,
    }
}

/// The library's coordinator policy.
fn coordinator_policy(arg: Coordinator) -> CoordinatorPolicy {
    match arg {
        Coordinator::First => CoordinatorPolicy::First,
        Coordinator::Random => CoordinatorPolicy::Random,
        Coordinator::RoundRobin => CoordinatorPolicy::RoundRobin,
        Coordinator::NonReplica => CoordinatorPolicy::NonReplica,
        Coordinator::LeastOutstanding => CoordinatorPolicy::LeastOutstanding,
        Coordinator::PowerOfTwo => CoordinatorPolicy::PowerOfTwoChoices,
    }
}

/// The latencies by message kind that were given, parsed; an error names
/// the option.
fn kind_latencies(args: &KindLatencyArgs) -> Result<Vec<(MessageKind, Latency)>> {
    [
        (
            "--write-latency",
            MessageKind::WriteRequest,
            &args.write_latency,
        ),
        ("--ack-latency", MessageKind::WriteAck, &args.ack_latency),
        (
            "--read-latency",
            MessageKind::ReadRequest,
            &args.read_latency,
        ),
        (
            "--response-latency",
            MessageKind::ReadResponse,
            &args.response_latency,
        ),
    ]
    .into_iter()
    .filter_map(|(option, kind, text)| text.as_deref().map(|text| (option, kind, text)))
    .map(|(option, kind, text)| Ok((kind, parse_latency(option, text)?)))
    .collect()
}

/// A latency option, with the option's name in the error.
fn parse_latency(option: &str, text: &str) -> Result<Latency> {
    text.parse::<Latency>().map_err(|e| match e {
        Error::InvalidConfig(m) => Error::InvalidConfig(format!("{option}: {m}")),
        other => other,
    })
}

/// A checked experiment: every setting, and the limits of [`limits`].
pub fn experiment(args: &WorkloadArgs, consistency: Consistency) -> Result<Experiment> {
    at_most("--nodes", args.nodes, limits::MAX_NODES)?;
    at_most("--clients", args.clients, limits::MAX_CLIENTS)?;
    if args.duration.is_none() {
        at_least_one("--ops", args.ops)?;
    }
    let mut partitioning: Strategy = args.partitioning.parse()?;
    if let (Some(vnodes), Strategy::Ring { .. }) = (args.vnodes, partitioning) {
        partitioning = Strategy::Ring { vnodes };
    }
    if let Strategy::Ring { vnodes } = partitioning {
        at_most("ring vnodes", vnodes, limits::MAX_VNODES)?;
    }
    let replicas = match (consistency, args.replicas) {
        (Consistency::SingleCopy, _) => 1,
        (_, replicas) => replicas.unwrap_or(DEFAULT_REPLICAS),
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
            cas_ratio: args.cas_ratio,
            zipf: args.zipf,
            value_size: 16,
            in_flight: args.in_flight,
            seed: args.seed,
        },
        latency: parse_latency("--latency", &args.latency)?,
        kind_latencies: kind_latencies(&args.kinds)?,
        client_latency: args
            .client_latency
            .as_deref()
            .map(|text| parse_latency("--client-latency", text))
            .transpose()?,
        // A setting of eventual mode (`run` refuses it for the others,
        // `compare` applies it to the eventual modes of its table only).
        read_strategy: if matches!(consistency, Consistency::Eventual { .. }) {
            read_strategy(args.read_strategy)
        } else {
            ReadStrategy::default()
        },
        // A setting of consensus mode, likewise.
        consensus: if consistency == Consistency::Consensus {
            ConsensusConfig {
                read_mode: match args.read_mode.unwrap_or(ReadModeArg::Log) {
                    ReadModeArg::Log => ReadMode::Log,
                    ReadModeArg::ReadIndex => ReadMode::ReadIndex,
                    ReadModeArg::Lease => ReadMode::Lease,
                },
                ..ConsensusConfig::default()
            }
        } else {
            ConsensusConfig::default()
        },
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
        durability: match args.durability {
            DurabilityArg::Periodic => Durability::Periodic,
            DurabilityArg::FlushBeforeAck => Durability::FlushBeforeAck,
        },
        client_timeout: parse_duration(&args.timeout)?,
        coordinator: coordinator_policy(args.coordinator),
        check_linearizability: !args.no_check,
        seed: args.seed,
        runtime: runtime(args.runtime, Runtime::Threads),
        attack: args.attack.as_deref().map(str::parse).transpose()?,
        attack_probability: args.attack_probability,
        authenticate_links: args.authenticate_links,
        ..Experiment::default()
    })
    .and_then(|experiment| experiment.validate().map(|()| experiment))
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress_bar(total: Option<u64>, label: &str) -> ProgressBar {
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

pub(crate) fn run_one(experiment: &Experiment, label: &str) -> Result<(ExperimentReport, History)> {
    let bar = progress_bar(experiment.workload.total_ops(), label);
    let result = experiment.run_with_history(&mut |done| bar.set_position(done));
    bar.finish_and_clear();
    result
}

/// Refuses a `--storage` directory that holds data, before anything runs.
pub fn check_storage(args: &WorkloadArgs) -> Result<()> {
    match &args.storage {
        Some(dir) => limits::fresh_storage_dir(dir),
        None => Ok(()),
    }
}

fn run(args: RunArgs, out: &mut Stdout) -> Result<ExitCode> {
    let runtime = runtime(args.workload.runtime, Runtime::Threads);
    if args.check_determinism && runtime != Runtime::Simulated {
        return Err(Error::InvalidConfig(
            "--check-determinism compares two runs of the simulator: add --runtime sim (on \
             threads the operating system's scheduling makes every run different)"
                .into(),
        ));
    }
    if args.check_determinism && args.workload.storage.is_some() {
        return Err(Error::InvalidConfig(
            "--check-determinism runs twice, and the second run would find the first run's \
             data in --storage: leave --storage out"
                .into(),
        ));
    }
    let experiment = mode_experiment(&args.mode, &args.workload, runtime)?;
    check_storage(&args.workload)?;
    let history_file = args
        .history
        .as_deref()
        .map(|path| create_output("--history", path))
        .transpose()?;
    let pictures = crate::pictures::RunPictures::open(&args.pictures)?;

    let (report, history, divergence) = if args.check_determinism {
        let total = experiment.workload.total_ops().map(|n| n * 2);
        let bar = progress_bar(total, "twice");
        let mut base = 0;
        let mut last = 0;
        let check = experiment.check_determinism(&mut |done| {
            if done < last {
                base += last;
            }
            last = done;
            bar.set_position(base + done);
        });
        bar.finish_and_clear();
        let check = check?;
        let verdict = match &check.divergence {
            None => format!(
                "deterministic: two runs of seed {} processed the same {} events and wrote the \
                 same history and report",
                experiment.seed, check.events
            ),
            Some(d) => format!("NOT deterministic: {d}"),
        };
        (
            check.report,
            check.history,
            Some((check.divergence.is_some(), verdict)),
        )
    } else {
        let (report, history, trace) = pictures.run(&experiment)?;
        pictures.write(&experiment, &report, &history, trace)?;
        (report, history, None)
    };
    if let (Some(file), Some(path)) = (history_file, &args.history) {
        history.write_json(std::io::BufWriter::new(file))?;
        eprintln!(
            "history of {} operations written to {}",
            history.len(),
            path.display()
        );
    }
    match args.workload.report {
        ReportFormat::Json => out.line(report.to_json())?,
        ReportFormat::Table => out.line(&report)?,
    }
    match divergence {
        Some((differs, verdict)) => {
            if args.workload.report == ReportFormat::Json {
                eprintln!("{verdict}");
            } else {
                out.line(&verdict)?;
            }
            Ok(if differs {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

fn compare(args: CompareArgs, out: &mut Stdout) -> Result<ExitCode> {
    let experiments = args
        .modes
        .iter()
        .map(|mode| {
            let mut experiment = experiment(&args.workload, parse_mode(mode)?)?;
            // A setting of eventual mode: the other modes of the table run as usual.
            experiment.hybrid_clock &=
                matches!(experiment.consistency, Consistency::Eventual { .. });
            Ok((mode, experiment))
        })
        .collect::<Result<Vec<_>>>()?;
    check_storage(&args.workload)?;
    if args.workload.storage.is_some() && experiments.len() > 1 {
        return Err(Error::InvalidConfig(
            "--storage keeps one cluster's data: compare runs one cluster per mode, so give \
             it one mode, or leave --storage out"
                .into(),
        ));
    }

    let mut reports = Vec::new();
    for (mode, experiment) in &experiments {
        let (report, _) = run_one(experiment, mode)?;
        reports.push(report);
    }
    match args.workload.report {
        ReportFormat::Json => out.line(
            serde_json::to_string_pretty(&reports).map_err(|e| Error::Encode(e.to_string()))?,
        )?,
        ReportFormat::Table => {
            out.line(ExperimentReport::comparison_table(&reports))?;
            if let Some((_, first)) = experiments.first()
                && let Some(note) = nemesis_note(first.nemesis.kind)
            {
                out.line(note)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the nemesis that ran does, and which modes it can hurt.
fn nemesis_note(kind: NemesisKind) -> Option<String> {
    let partition = "the partition nemesis cuts one node off from the other nodes, then heals; \
                     clients still reach every node, so single-copy, which never talks node \
                     to node, does not notice it";
    let crash = "the crash nemesis crashes one node, then restarts it; requests sent to it \
                 time out meanwhile, and single-copy, with one copy per key, cannot serve \
                 that node's keys at all";
    let skew = "the skew nemesis sets one node's clock up to ±5 s off, then back; only the \
                eventual modes read clocks (last-writer-wins), so only they can lose writes \
                to it";
    let pause = "the pause nemesis stalls one node for one interval, then lets it run; its \
                 messages wait meanwhile and nothing is lost, but requests it coordinates \
                 answer late or time out";
    let parts: &[&str] = match kind {
        NemesisKind::None => return None,
        NemesisKind::Partition => &[partition],
        NemesisKind::Crash => &[crash],
        NemesisKind::Skew => &[skew],
        NemesisKind::All => &[partition, crash, skew],
        NemesisKind::Pause => &[pause],
    };
    Some(format!("note: {}.", parts.join(";\n      ")))
}

/// The step cap of `check --budget`: a million steps per second of budget,
/// never below [`Checker::DEFAULT_MAX_STEPS`].
fn check_steps(budget: std::time::Duration) -> u64 {
    let per_second = (budget.as_secs_f64() * 1e6).min(u64::MAX as f64) as u64;
    per_second.max(Checker::DEFAULT_MAX_STEPS)
}

fn check(args: CheckArgs, out: &mut Stdout) -> Result<ExitCode> {
    let budget = parse_duration(&args.budget)?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::InvalidHistory(format!("{}: {e}", args.file.display())))?;
    let history = History::from_json(&text)?;
    let html = args
        .html
        .as_deref()
        .map(|path| create_output("--html", path).map(|file| (path, file)))
        .transpose()?;
    let checker = Checker::new()
        .time_budget(budget)
        .max_steps(check_steps(budget));
    let verdict = match html {
        None => checker.check(&history),
        Some((path, file)) => {
            let (verdict, points) = checker.check_with_points(&history);
            crate::pictures::write_timeline(&history, &verdict, &points, path, file)?;
            verdict
        }
    };
    match verdict {
        CheckResult::Linearizable => {
            out.line(format_args!("linearizable: {} operations", history.len()))?;
            Ok(ExitCode::SUCCESS)
        }
        CheckResult::NotLinearizable(counterexample) => {
            out.line(format_args!("NOT linearizable\n{counterexample}"))?;
            Ok(ExitCode::from(1))
        }
        CheckResult::Unknown { reason } => {
            out.line(format_args!("unknown: {reason}"))?;
            Ok(ExitCode::from(3))
        }
    }
}

fn staleness(args: StalenessArgs, out: &mut Stdout) -> Result<ExitCode> {
    if args.reproduce.reproduce_pbs {
        return crate::pbs_table::reproduce_pbs(&args, out);
    }
    at_most("--n", args.n, limits::MAX_STALENESS_N)?;
    at_least_one("--trials", args.trials)?;
    if let Some(tolerance) = args.tolerance
        && !(tolerance.is_finite() && tolerance >= 0.0)
    {
        return Err(invalid(
            "--tolerance",
            tolerance,
            "must be a number of percentage points, 0 or more",
        ));
    }
    let coordinator = coordinator_policy(args.coordinator);
    let experiment = StalenessExperiment {
        runtime: runtime(Some(args.runtime), Runtime::Threads),
        // A coordinator outside the replicas needs one node more.
        nodes: args.n + usize::from(coordinator == CoordinatorPolicy::NonReplica),
        n: args.n,
        r: args.r,
        w: args.w,
        latency: parse_latency("--latency", &args.latency)?,
        kind_latencies: kind_latencies(&args.kinds)?,
        coordinator,
        read_strategy: read_strategy(args.read_strategy),
        model: match args.model {
            ModelArg::System => WarsVariant::System,
            ModelArg::Paper => WarsVariant::Paper,
        },
        ks: if args.k == [0] {
            Vec::new()
        } else {
            args.k.clone()
        },
        times: args
            .t
            .iter()
            .map(|t| parse_duration(t))
            .collect::<Result<_>>()?,
        trials_per_t: args.trials,
        seed: args.seed,
        ..StalenessExperiment::default()
    };
    experiment.validate()?;
    let csv_file = args
        .csv
        .as_deref()
        .map(|path| create_output("--csv", path))
        .transpose()?;
    if let Some(path) = &args.svg {
        create_output("--svg", path)?;
    }

    let total = args.trials * (experiment.times.len() + experiment.ks.len()) as u64;
    let bar = progress_bar(Some(total), "trials");
    let curve = experiment.run_with_progress(&mut |done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    out.line(format_args!("t-visibility, {}", curve.title))?;
    match args.tolerance {
        None => out.line(&curve)?,
        Some(tolerance) => {
            out.line(curve.report(tolerance))?;
            out.line(format_args!(
                "model comparison: measured {} within ±{tolerance} pp of the {} model's WARS \
                 prediction at every t (largest gap {:.2} pp)",
                if curve.within(tolerance) {
                    "is"
                } else {
                    "is NOT"
                },
                curve.model,
                curve.max_difference_pp()
            ))?;
        }
    }
    if args.trials < 1000 {
        // The binomial 95% interval at p = 0.5 is ±1.96·√(0.25/n).
        let half_width = 196.0 * (0.25 / args.trials as f64).sqrt();
        out.line(format_args!(
            "note: with {} trials per t the measured values are only good to about ±{half_width:.1} \
             percentage points; use --trials 2000 or more to compare them with the prediction \
             to within a few points.",
            args.trials
        ))?;
    }
    if let (Some(mut file), Some(path)) = (csv_file, &args.csv) {
        file.write_all(curve.to_csv().as_bytes())?;
        eprintln!("CSV written to {}", path.display());
    }
    if let Some(path) = &args.svg {
        curve.to_svg(path)?;
        eprintln!("plot written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_check_step_cap_grows_with_the_time_budget() {
        assert_eq!(
            check_steps(Duration::from_secs(1)),
            Checker::DEFAULT_MAX_STEPS
        );
        assert_eq!(check_steps(Duration::from_secs(60)), 60_000_000);
        assert_eq!(check_steps(Duration::MAX), u64::MAX);
    }
}
