//! `replikv sweep`: one configuration, many seeds, on the simulator. The
//! work is `replikv::lab::Sweep`'s; this checks the arguments and prints.

use crate::args::{ReportFormat, RuntimeArg, SweepArgs};
use crate::commands::{check_storage, mode_experiment, progress_bar};
use crate::output::Stdout;
use replikv::lab::{Claim, Sweep};
use replikv::{Error, Result, Runtime};
use std::ops::Range;
use std::process::ExitCode;

/// `A..B`, B excluded and above A.
fn parse_seeds(text: &str) -> Result<Range<u64>> {
    let bad = |why: &str| Error::InvalidConfig(format!("--seeds {text}: {why}"));
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| bad("write a range A..B, e.g. 1..101"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| bad("not a range of numbers"))
    };
    let (a, b) = (number(a)?, number(b)?);
    if a >= b {
        return Err(bad("the range is empty (B is excluded)"));
    }
    Ok(a..b)
}

pub fn sweep(args: SweepArgs, out: &mut Stdout) -> Result<ExitCode> {
    if args.workload.runtime == Some(RuntimeArg::Threads) {
        return Err(Error::InvalidConfig(
            "a sweep runs on the simulator, where a seed replays its run: leave --runtime out \
             (or say sim)"
                .into(),
        ));
    }
    if args.workload.storage.is_some() {
        return Err(Error::InvalidConfig(
            "a sweep keeps data in memory: --storage would carry one seed's data into the next"
                .into(),
        ));
    }
    if args.workload.report == ReportFormat::Json {
        return Err(Error::InvalidConfig(
            "a sweep prints a summary and one replay line per violation: --report json is for \
             run and compare"
                .into(),
        ));
    }
    check_storage(&args.workload)?;
    let seeds = parse_seeds(&args.seeds)?;
    let experiment = mode_experiment(&args.mode, &args.workload, Runtime::Simulated)?;
    if args.workload.no_check && Claim::of(&experiment) == Claim::Linearizable {
        return Err(Error::InvalidConfig(
            "--no-check would leave a sweep of a linearizable mode nothing to judge".into(),
        ));
    }
    let sweep = Sweep {
        experiment,
        seeds: seeds.clone(),
        shrink: !args.no_shrink,
        shrink_budget: args.shrink_budget,
        check_determinism: args.check_determinism,
    };
    let bar = progress_bar(Some(seeds.end - seeds.start), "seeds");
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>14} [{elapsed_precise}] {wide_bar} {pos}/{len} seeds",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = sweep.run(&mut |done, _| bar.set_position(done));
    bar.finish_and_clear();
    let report = report?;
    out.line(&report)?;
    Ok(if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seed_ranges_are_read_and_empty_ones_refused() {
        assert_eq!(parse_seeds("1..101").ok(), Some(1..101));
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("7").is_err());
        assert!(parse_seeds("a..b").is_err());
    }
}
