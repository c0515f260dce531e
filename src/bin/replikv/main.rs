//! `replikv`: run distributed-systems experiments from the command line.
//!
//! ```text
//! replikv run --consistency eventual --r 1 --w 1 --latency exp:1ms --nemesis partition
//! replikv compare --drop 0.05
//! replikv check history.json
//! replikv staleness --r 1 --w 1 --latency exp:1ms
//! replikv partitions --nodes 10
//! replikv sweep --protocol abd-without-write-back --latency exp:1ms --keys 2 --seeds 1..51
//! replikv balance --slow 20ms
//! replikv run --nemesis partition --trace trace.json --html history.html --plot run.svg
//! replikv diagram trace.json --svg messages.svg --from 0ms --to 20ms
//! ```
//!
//! Every argument is checked before any work starts ([`limits`] holds the
//! size limits), and output goes through [`output::Stdout`], so a closed pipe
//! ends the output quietly instead of with a panic.

mod args;
mod balance;
mod commands;
mod limits;
mod output;
mod partitions;
mod pbs_table;
mod pictures;
mod sweep;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    match commands::dispatch(cli, &mut output::Stdout::default()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
