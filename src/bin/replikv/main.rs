//! `replikv`: run distributed-systems experiments from the command line.
//!
//! ```text
//! replikv run --consistency eventual --r 1 --w 1 --latency exp:1ms --nemesis partition
//! replikv compare --drop 0.05
//! replikv check history.json
//! replikv staleness --r 1 --w 1 --latency exp:1ms
//! replikv partitions --nodes 10
//! ```

mod args;
mod commands;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
