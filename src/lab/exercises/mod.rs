//! Graded exercises for the introductory lesson on distributed systems.
//!
//! Each exercise is an example program (`examples/exercise_NN_*.rs`) with one
//! function marked `// YOUR ANSWER`: a configuration to choose, a protocol to
//! write, or an analysis to implement. Its `main` hands the answer to a
//! *grader* from this module, which builds a cluster, runs a workload under
//! faults, and measures the outcome with the global observer's tools — the
//! linearizability [`Checker`](crate::history::Checker), the
//! [`StalenessReport`](crate::history::StalenessReport), the convergence
//! check, [`lost_writes`](crate::history::lost_writes), per-node load. The
//! verdict is a [`Grade`]: passed or not, what was measured, why that
//! matters, and a hint.
//!
//! | exercise | grader | topic |
//! |---|---|---|
//! | 1 | [`grade_quorums`] | replication: quorums R + W > N |
//! | 2 | [`grade_partitioning`] | partitioning: consistent hashing |
//! | 3 | [`grade_linearizable`] | strong consistency: a linearizable protocol that survives a crash |
//! | 4 | [`grade_converges`] | eventual consistency: converge despite message loss |
//! | 5 | [`grade_load_balance`] | load balancing under a skewed workload |
//! | 6 | [`grade_cache`] | caching and what it costs in consistency |
//! | 7 | [`grade_survives_two_crashes`] | fault tolerance: independent failures |
//! | 8 | [`grade_bank_balance`] | CAP: consistency or availability under a partition |
//! | 9 | [`grade_lost_writes`] | no global clock: skew loses writes |
//! | 10 | [`grade_election`] | coordination: elect one leader per term, again after a crash |
//! | 11 | [`grade_tamper_proof`] | security: tamper-proof node messages |
//! | 12 | [`grade_exactly_once`] | message queues: exactly-once effects over at-least-once delivery |
//!
//! # Why graders measure instead of comparing with an answer key
//!
//! A grader never checks the answer against a stored solution: it runs the
//! answer and judges the *behaviour*, exactly as the lesson's claims are
//! judged elsewhere in the crate. Any answer that behaves correctly passes
//! (there are several right quorum choices, several right strategies,
//! many right protocols), and a wrong answer fails with the number that
//! shows it wrong — a stale read count, a counterexample, a load ratio.
//!
//! # On the simulator, replayable from a seed
//!
//! Every grader that runs a cluster runs it on the deterministic simulator
//! ([`Runtime::Simulated`](crate::Runtime::Simulated)): the nodes, the
//! network and the clients on one thread, on virtual time. So a grade is a
//! function of the answer and the seed alone — the same answer gets the
//! same verdict and the same numbers on every machine, however loaded —
//! and a grader's 10–30 ms links and second-long timeouts cost no real
//! time: all the graders together take a few seconds in a debug build.
//! Each grader has its own seed (printed in its `measured` text, with
//! `simulated`), and a `_with_seed` variant; every exercise's `main` reads
//! an optional `--seed N` ([`seed_from_args`]), and a failed grade prints
//! the command that replays it:
//!
//! ```text
//!   replay:   cargo run --release --example exercise_03_linearizable -- --seed 3 (simulated: …)
//! ```
//!
//! Run the same command after a fix and the very same schedule — the same
//! delays, the same choices, the same crash at the same moment — shows
//! whether the fix works; other seeds show whether it holds in general.
//!
//! Threads would add nothing the graders need: none measures real
//! throughput or wall-clock latency, and a race that only a second core
//! exposes is not what the exercises teach. (Exercise 2's grader runs no
//! cluster at all: it computes placements, which are deterministic.)
//! Clients that run concurrently are state machines on the event loop
//! (`concurrent.rs`), as the lab's simulated workload is.
//!
//! One thing differs from threads: over a link with no latency an
//! operation takes no virtual time at all. Where the outcome depends on
//! one operation coming *after* another (a read after a write, a write
//! after the winning write), the graders leave 1 ms of virtual time between
//! operations, so that the history orders them; otherwise the staleness
//! oracle and the checker would rightly count them as concurrent.
//! `tests/exercises.rs` proves every grader fails the shipped starter
//! answer (a frozen copy of it: learners edit the examples in place) and
//! passes a reference solution.
//!
//! # Hints follow what the grader saw
//!
//! A grade's hint is chosen from what was measured, not fixed per exercise:
//! exercise 3's names the requirement that failed (an order, a lost write,
//! unanswered requests), and exercise 4's grader, on a failure, loses one
//! copy of a probe write on purpose and watches whether the protocol sends
//! it again and whether replicas answer — so an answer that already
//! acknowledges and resends is pointed at what it does with a late copy
//! instead.
//!
//!
//! # A panic fails the grade
//!
//! A protocol handler that panics crashes its node (see
//! [`Cluster::crash`]): the node stops answering, and every request it
//! swallowed times out. A timeout is indeterminate — the operation may or
//! may not have happened — so the checker and the staleness oracle accept
//! it, and a protocol that panicked on every request would look perfectly
//! linearizable. Every grader that runs a cluster therefore fails the
//! answer when any node panicked, and says which node and what the panic
//! said, whatever else it measured.

mod cache;
mod cap;
mod concurrent;
mod convergence;
mod effects;
mod election;
mod fault_tolerance;
mod ledger;
mod linearizable;
mod load;
mod lost;
mod partitioning;
mod quorums;
mod tamper;
mod watch;

pub use cache::{CacheChoice, grade_cache, grade_cache_with_seed};
pub use cap::{grade_bank_balance, grade_bank_balance_with_seed};
pub use convergence::{grade_converges, grade_converges_with_seed};
pub use effects::{grade_exactly_once, grade_exactly_once_with_seed};
pub use election::{ELECTION_BOUND, grade_election, grade_election_with_seed};
pub use fault_tolerance::{
    ReplicationChoice, grade_survives_two_crashes, grade_survives_two_crashes_with_seed,
};
pub use ledger::{ACCOUNT_PREFIX, Account, Deposit, Ledger};
pub use linearizable::{
    LINEARIZABLE_CLIENT_LINK, LINEARIZABLE_NODE_LINK, grade_linearizable,
    grade_linearizable_with_seed,
};
pub use load::{LOAD_IMBALANCE_LIMIT, grade_load_balance, grade_load_balance_with_seed};
pub use lost::{grade_lost_writes, grade_lost_writes_with_seed};
pub use partitioning::grade_partitioning;
pub use quorums::{QUORUM_REPLICAS, grade_quorums, grade_quorums_with_seed};
pub use tamper::{OpenFn, SealFn, grade_tamper_proof, grade_tamper_proof_with_seed};

use crate::cluster::Cluster;
use crate::error::Error;
use crate::history::{Checker, History, html};
use crate::ids::{Endpoint, NodeId};
use crate::network::Latency;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A grader's verdict on one answer.
///
/// ```
/// use replikv::lab::exercises::grade_partitioning;
/// use replikv::partition::Strategy;
/// let grade = grade_partitioning(Strategy::Modulo);
/// assert!(!grade.passed);
/// println!("{grade}"); // FAIL, what was measured, why, and a hint
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grade {
    /// Which exercise, e.g. `"exercise 1: quorums"`.
    pub exercise: &'static str,
    /// Whether the answer passed.
    pub passed: bool,
    /// What the grader measured, with the numbers.
    pub measured: String,
    /// Why that passes or fails: the idea from the lesson behind it.
    pub explanation: String,
    /// What to try next (shown on a failure).
    pub hint: String,
    /// The command that runs this grade again with the same seed (shown on
    /// a failure), when the grader ran a simulated cluster: the run then
    /// replays exactly. `None` for graders that need no cluster or run on
    /// threads, and for answers the grader could not run.
    pub replay: Option<String>,
    /// The history of the run the grader judged, when it recorded one, so
    /// the run can be looked at instead of read: [`Grade::timeline`] draws
    /// it, and an exercise run with `-- --html fail.html` writes that page.
    pub history: Option<History>,
}

impl Grade {
    /// A grade for an answer the grader could not even run (an invalid
    /// configuration, a cluster that refused to start): a failure that says
    /// what went wrong.
    pub(crate) fn could_not_run(exercise: &'static str, error: &Error, hint: &str) -> Grade {
        Grade {
            exercise,
            passed: false,
            measured: format!("the grader could not run your answer: {error}"),
            explanation: "an answer must at least be a valid configuration".into(),
            hint: hint.into(),
            replay: None,
            history: None,
        }
    }

    /// This grade, carrying the `history` of the run it judged.
    pub(crate) fn with_history(self, history: History) -> Grade {
        Grade {
            history: Some(history),
            ..self
        }
    }

    /// The graded run's history as an HTML timeline (see
    /// [`history::html::timeline`](crate::history::html::timeline)): a lane
    /// per client, a bar per operation, and — when the history is not
    /// linearizable — the checker's counterexample outlined, with its
    /// explanation beside it. `None` when the grader recorded no history
    /// (it judged no cluster run, or could not run the answer).
    ///
    /// ```
    /// use replikv::lab::exercises::grade_linearizable;
    /// use replikv::protocol::SingleCopy;
    /// // One copy of each key, no replication: linearizable (it fails the
    /// // exercise because it loses writes with the crashed node).
    /// let grade = grade_linearizable(|_| SingleCopy::new());
    /// let page = grade.timeline().unwrap().expect("the grader recorded a history");
    /// assert!(page.starts_with("<!DOCTYPE html>"));
    /// ```
    pub fn timeline(&self) -> crate::Result<Option<String>> {
        let Some(history) = &self.history else {
            return Ok(None);
        };
        let verdict = Checker::new().check(history);
        html::timeline(history, &verdict).map(Some)
    }

    /// Writes [`Grade::timeline`] to `path`. Fails with
    /// [`Error::InvalidConfig`] when the grader recorded no history, and
    /// with [`Error::Io`] when the file cannot be written.
    pub fn write_timeline(&self, path: &Path) -> crate::Result<()> {
        let page = self.timeline()?.ok_or_else(|| {
            Error::InvalidConfig(format!(
                "{} judged no recorded run, so there is no timeline to draw",
                self.exercise
            ))
        })?;
        fs::write(path, page).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot write {}: {e}", path.display()),
            ))
        })
    }

    /// This grade, unless a node panicked during the run (`panics` is
    /// [`Report::node_panics`](crate::metrics::Report::node_panics) of the
    /// cluster graded): then a failure that names each node and its panic
    /// message. A panicking
    /// handler crashes its node, and the requests it swallowed time out;
    /// timeouts are indeterminate, so the measurements would otherwise
    /// excuse the bug (a protocol that panics on every request is trivially
    /// linearizable).
    pub(crate) fn unless_panicked(self, panics: &[String]) -> Grade {
        if panics.is_empty() {
            return self;
        }
        Grade {
            passed: false,
            measured: format!("{}; {}", panics.join("; "), self.measured),
            explanation: "a panic in a protocol handler crashes its node, so the run measured \
                          a cluster with a node down and requests that never got an answer — \
                          nothing it found counts"
                .into(),
            hint: "find the panic above (its message and location were printed when it \
                   happened); a handler must return an Err or answer the client, never panic"
                .into(),
            ..self
        }
    }

    /// Prints the grade and turns it into the process exit code: success on
    /// PASS, failure on FAIL — what an exercise's `main` returns. When the
    /// exercise was run with `--html FILE` ([`ExerciseArgs`]), it also
    /// writes the graded run's timeline there ([`Grade::write_timeline`]).
    pub fn report(&self) -> ExitCode {
        println!("{self}");
        if let Ok(ExerciseArgs {
            html: Some(path), ..
        }) = ExerciseArgs::parse(std::env::args().skip(1))
        {
            match self.write_timeline(&path) {
                Ok(()) => println!("  picture:  {} (open it in a browser)", path.display()),
                Err(e) => eprintln!("no picture: {e}"),
            }
        }
        if self.passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        writeln!(f, "{verdict} — {}", self.exercise)?;
        writeln!(f, "  measured: {}", self.measured)?;
        write!(f, "  why:      {}", self.explanation)?;
        if !self.passed {
            write!(f, "\n  hint:     {}", self.hint)?;
            if let Some(replay) = &self.replay {
                write!(f, "\n  replay:   {replay}")?;
            }
        }
        Ok(())
    }
}

/// The command that re-runs exercise `example` (`exercise_03_linearizable`)
/// with `seed`. On the simulator the same seed is the same run, event for
/// event, so a failure replays exactly — with a fixed answer, the same
/// schedule shows whether the fix works.
fn replay_command(example: &str, seed: u64) -> String {
    format!(
        "cargo run --release --example {example} -- --seed {seed} \
         (simulated: the same seed replays this run exactly)"
    )
}

/// What an exercise's command line may say: `--seed N` (or `--seed=N`) to
/// replay a schedule, and `--html FILE` (or `--html=FILE`) to draw the
/// graded run as a timeline ([`Grade::write_timeline`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExerciseArgs {
    /// The seed to grade with; `None` uses the exercise's own.
    pub seed: Option<u64>,
    /// Where to write the graded run's HTML timeline, if anywhere.
    pub html: Option<PathBuf>,
}

impl ExerciseArgs {
    /// Parses `args` (the program name left out). Anything but `--seed N`
    /// and `--html FILE` is an [`Error::InvalidConfig`] saying what is wrong.
    ///
    /// ```
    /// use replikv::lab::exercises::ExerciseArgs;
    /// let args = ExerciseArgs::parse(["--seed", "3", "--html", "fail.html"].map(String::from))?;
    /// assert_eq!(args.seed, Some(3));
    /// assert!(ExerciseArgs::parse(["--fast".to_string()]).is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> crate::Result<ExerciseArgs> {
        let mut parsed = ExerciseArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            let mut value = |example: &str| {
                inline.clone().or_else(|| args.next()).ok_or_else(|| {
                    Error::InvalidConfig(format!("{flag} needs a value: {flag} {example}"))
                })
            };
            match flag.as_str() {
                "--seed" => {
                    let value = value("3")?;
                    parsed.seed = Some(value.parse::<u64>().map_err(|_| {
                        Error::InvalidConfig(format!(
                            "--seed needs a whole number ≥ 0, got {value:?}"
                        ))
                    })?);
                }
                "--html" => parsed.html = Some(PathBuf::from(value("fail.html")?)),
                _ => {
                    return Err(Error::InvalidConfig(format!(
                        "unexpected argument {arg:?}: an exercise takes only --seed N and --html FILE"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

/// The seed given on an exercise's command line as `--seed N` (or
/// `--seed=N`), or `None` when there is none — then the grader uses the
/// exercise's own seed. Every exercise's `main` passes it on, so the
/// command a failed grade prints (`cargo run --release --example
/// exercise_03_linearizable -- --seed 3`) replays the failure. The command
/// line may also say `--html FILE` ([`ExerciseArgs`]), which
/// [`Grade::report`] acts on.
///
/// Meant for an example's `main`, like a command-line parser: on anything
/// else on the command line, or a seed that is not a number, it prints
/// what is wrong and exits with status 2.
pub fn seed_from_args() -> Option<u64> {
    match ExerciseArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args.seed,
        Err(e) => {
            eprintln!(
                "{e}\nusage: cargo run --release --example exercise_NN_name [-- --seed N] [--html FILE]"
            );
            std::process::exit(2);
        }
    }
}

/// Sets `latency` on every node → node link (clients still reach nodes at
/// once), so that replication lags while a client's own round trip does not.
fn set_node_link_latency(cluster: &Cluster, latency: Latency) -> crate::Result<()> {
    let nodes = cluster.nodes();
    for &a in &nodes {
        for &b in nodes.iter().filter(|&&b| b != a) {
            cluster
                .network()
                .set_link_latency(Endpoint::Node(a), Endpoint::Node(b), latency)?;
        }
    }
    Ok(())
}

/// `numerator / denominator`, 0 when the denominator is 0.
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

/// Node ids as text: `n0, n3`.
fn node_list(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Grade {
        Grade {
            exercise: "exercise 0: test",
            passed: true,
            measured: "all good".into(),
            explanation: "it works".into(),
            hint: String::new(),
            replay: None,
            history: None,
        }
    }

    fn args(args: &[&str]) -> crate::Result<Option<u64>> {
        ExerciseArgs::parse(args.iter().map(|a| a.to_string())).map(|a| a.seed)
    }

    #[test]
    fn an_exercise_takes_an_optional_seed_and_refuses_anything_else() {
        assert_eq!(args(&[]).unwrap(), None);
        assert_eq!(args(&["--seed", "7"]).unwrap(), Some(7));
        assert_eq!(args(&["--seed=8"]).unwrap(), Some(8));
        for bad in [
            &["--seed"][..],
            &["--seed", "x"],
            &["--seed=-1"],
            &["--fast"],
            &["--html"],
            &["--seed", "1", "extra"],
        ] {
            assert!(
                matches!(args(bad), Err(Error::InvalidConfig(_))),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn a_failed_grade_shows_the_command_that_replays_it() {
        let failed = Grade {
            passed: false,
            replay: Some(replay_command("exercise_01_quorums", 5)),
            ..passing()
        };
        let shown = failed.to_string();
        assert!(
            shown.contains(
                "\n  replay:   cargo run --release --example exercise_01_quorums -- --seed 5"
            ),
            "{shown}"
        );
        let passed = Grade {
            replay: Some(replay_command("exercise_01_quorums", 5)),
            ..passing()
        };
        assert!(!passed.to_string().contains("replay"), "{passed}");
    }

    #[test]
    fn a_node_panic_turns_a_passing_grade_into_a_failure_that_names_it() {
        assert_eq!(passing().unless_panicked(&[]), passing());
        let grade = passing().unless_panicked(&[
            "node 1 panicked: boom".to_string(),
            "node 2 panicked 3 times, last: bang".to_string(),
        ]);
        assert!(!grade.passed);
        assert!(
            grade
                .measured
                .starts_with("node 1 panicked: boom; node 2 panicked 3 times, last: bang; "),
            "{grade}"
        );
        assert!(grade.measured.ends_with("all good"), "{grade}");
        let shown = grade.to_string();
        assert!(shown.starts_with("FAIL"), "{shown}");
        assert!(shown.contains("panic"), "{shown}");
    }
}
