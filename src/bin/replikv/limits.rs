//! How big a run the command accepts, and the checks that refuse the rest
//! before any work starts.
//!
//! Every node of `run`, `compare` and `staleness` is an OS thread with a sled
//! database, every client a thread, and `partitions` places every sampled key
//! under every strategy. Without limits a typo (`--nodes 100000`) starts
//! thousands of threads and runs for minutes before anything is printed. The
//! limits are far above what the lesson needs and low enough that the largest
//! accepted run still starts within seconds on the 2-core machine the project
//! is built for; each constant says what was measured. Library users who
//! want more call [`replikv::Cluster::builder`] directly.

use replikv::{Error, Result};
use std::path::Path;

/// Most nodes `run` and `compare` start. 1024 nodes start, run 20 operations
/// and stop in about 1 s using about 300 MB (debug build, 2 cores); the cost
/// grows linearly, so 100 000 would take minutes and tens of GB.
pub const MAX_NODES: usize = 1024;

/// Most client threads `run` and `compare` start (1024 clients of 5
/// operations each take about 10 s in a debug build).
pub const MAX_CLIENTS: usize = 1024;

/// Largest replication factor `staleness` accepts. Its WARS model draws N
/// delays per model trial and its calibration grows with N: N = 64 takes
/// about 10 s in a debug build, N = 256 over 30 s.
pub const MAX_STALENESS_N: usize = 64;

/// Most nodes `partitions` places keys on (before one is added).
pub const MAX_PARTITION_NODES: u32 = 1024;

/// Most keys `partitions` samples: 1 000 000 keys on 10 nodes take about
/// 6 s in a debug build.
pub const MAX_PARTITION_KEYS: u64 = 1_000_000;

/// Most key placements `partitions` scores per strategy, keys × nodes,
/// because rendezvous hashing scores every node for every key. At the limit
/// (10⁸: 1000 nodes × 100 000 keys, or 100 nodes × 1 000 000 keys) a run
/// takes 15 to 20 s of CPU in a debug build, a few seconds in release.
pub const MAX_PARTITION_WORK: u64 = 100_000_000;

/// Most virtual nodes per node on the consistent-hash ring: the ring holds
/// nodes × vnodes points.
pub const MAX_VNODES: u32 = 4096;

/// An `InvalidConfig` error naming the option and the value.
pub fn invalid(option: &str, value: impl std::fmt::Display, why: &str) -> Error {
    Error::InvalidConfig(format!("{option} {value}: {why}"))
}

/// Refuses `value` above `max` for `option`.
pub fn at_most<T: PartialOrd + std::fmt::Display>(option: &str, value: T, max: T) -> Result<()> {
    if value > max {
        return Err(invalid(
            option,
            value,
            &format!("over the limit of {max} (see `replikv --help`)"),
        ));
    }
    Ok(())
}

/// Refuses zero for `option`.
pub fn at_least_one(option: &str, value: u64) -> Result<()> {
    if value == 0 {
        return Err(invalid(option, value, "must be at least 1"));
    }
    Ok(())
}

/// Creates (or truncates) the file an option names, so that a path that
/// cannot be written is reported before the work starts, naming the option
/// and the path.
pub fn create_output(option: &str, path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{option} {}: {e}", path.display()),
        ))
    })
}

/// Refuses a `--storage` directory that already holds data. A second run on
/// it would read the first run's values, which its own history does not
/// contain, and the checker would call the run not linearizable.
pub fn fresh_storage_dir(dir: &Path) -> Result<()> {
    let refuse = |reason: String| Error::StorageDirectory {
        path: dir.to_path_buf(),
        reason,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(refuse(
                    "--storage needs an empty or new directory: this one holds data (a \
                     previous run's?) that this run's history would not contain, so the \
                     checker would judge reads of it as errors"
                        .into(),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(refuse(format!("--storage cannot be read: {e}"))),
    }
}

/// The limits in one paragraph, for `replikv --help`.
pub fn summary() -> String {
    format!(
        "Limits, checked before any work starts: --nodes and --clients at most \
         {MAX_NODES} and {MAX_CLIENTS}; staleness --n at most {MAX_STALENESS_N}; partitions \
         --nodes at most {MAX_PARTITION_NODES}, --keys at most {MAX_PARTITION_KEYS}, keys × \
         nodes at most {MAX_PARTITION_WORK}; ring vnodes at most {MAX_VNODES}, and vnodes × \
         nodes at most {} points.",
        replikv::partition::MAX_RING_POINTS
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::CommandFactory;

    fn help(subcommand: &str) -> String {
        let mut cli = Cli::command();
        cli.find_subcommand_mut(subcommand)
            .expect("the subcommand exists")
            .render_long_help()
            .to_string()
    }

    /// The option help states the limits by number: they must be the
    /// numbers enforced.
    #[test]
    fn option_help_states_the_enforced_limits() {
        for (subcommand, limits) in [
            (
                "run",
                vec![MAX_NODES as u64, MAX_CLIENTS as u64, MAX_VNODES.into()],
            ),
            ("staleness", vec![MAX_STALENESS_N as u64]),
            (
                "partitions",
                vec![
                    MAX_PARTITION_NODES.into(),
                    MAX_PARTITION_KEYS,
                    MAX_PARTITION_WORK,
                    MAX_VNODES.into(),
                ],
            ),
        ] {
            let text = help(subcommand);
            for limit in limits {
                assert!(
                    text.contains(&format!("at most {limit}")),
                    "`replikv {subcommand} --help` does not state the limit {limit}:\n{text}"
                );
            }
        }
        assert!(
            Cli::command()
                .render_long_help()
                .to_string()
                .contains(&summary())
        );
    }
}
