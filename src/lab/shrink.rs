//! Shrinking a failing schedule (see [`shrink()`]).

use super::experiment::Experiment;
use super::nemesis::NemesisKind;
use super::replay::replay_command;
use super::sweep::run_seed;
use crate::network::Latency;
use std::fmt;
use std::time::Duration;

/// Seeds tried per candidate: the current one and the next.
const SEEDS_PER_CANDIDATE: u64 = 2;

/// The checker's budget per shrinking run, at most. A candidate with many
/// timed-out operations (say, with latency gone but crashes left) can keep
/// the checker busy for its whole budget only to answer "unknown", which
/// shrinking cannot use. Cutting the budget is safe: the search is
/// deterministic, so a counterexample found within it is found by a replay
/// with the command line's longer budget too.
const CHECKER_BUDGET: Duration = Duration::from_secs(1);

/// The smallest failing configuration shrinking found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// It, at its failing seed (every seed set to [`Shrunk::seed`]).
    pub experiment: Experiment,
    /// The seed it fails at.
    pub seed: u64,
    /// What goes wrong.
    pub what: String,
    /// The command that replays it.
    pub replay: String,
    /// The steps taken, in order (e.g. `nemesis none`, `clients 2`).
    pub steps: Vec<String>,
    /// Runs shrinking took.
    pub runs: u32,
}

impl fmt::Display for Shrunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.experiment;
        writeln!(
            f,
            "shrunk in {} runs ({}) to: {} clients × {} ops, {} keys, {} nodes, nemesis {}, \
             drop {}, duplicate {}, latency {} — seed {}: {}",
            self.runs,
            if self.steps.is_empty() {
                "nothing smaller failed".to_string()
            } else {
                self.steps.join(", ")
            },
            e.workload.clients,
            e.workload
                .duration
                .map_or(e.workload.ops_per_client.to_string(), |d| format!(
                    "{d:?} of"
                )),
            e.workload.keys,
            e.nodes,
            e.nemesis.kind,
            e.drop,
            e.duplicate,
            e.latency,
            self.seed,
            self.what
        )?;
        writeln!(f, "  replay: {}", self.replay)
    }
}

/// Smaller configurations to try next, each with the step that makes it.
fn candidates(e: &Experiment) -> Vec<(String, Experiment)> {
    let mut out: Vec<(String, Experiment)> = Vec::new();
    let mut push = |step: String, change: &dyn Fn(&mut Experiment)| {
        let mut next = e.clone();
        change(&mut next);
        if next != *e && out.iter().all(|(_, seen)| *seen != next) {
            out.push((step, next));
        }
    };
    if e.nemesis.kind != NemesisKind::None {
        push("nemesis none".into(), &|n| {
            n.nemesis.kind = NemesisKind::None
        });
    }
    if e.nemesis.kind == NemesisKind::All {
        for kind in [
            NemesisKind::Crash,
            NemesisKind::Partition,
            NemesisKind::Skew,
        ] {
            push(format!("nemesis {kind}"), &|n| n.nemesis.kind = kind);
        }
    }
    for (name, p) in [("drop", e.drop), ("duplicate", e.duplicate)] {
        if p > 0.0 {
            let set = |n: &mut Experiment, v: f64| match name {
                "drop" => n.drop = v,
                _ => n.duplicate = v,
            };
            push(format!("{name} 0"), &|n| set(n, 0.0));
            push(format!("{name} {}", p / 2.0), &|n| set(n, p / 2.0));
        }
    }
    if e.latency != Latency::Zero {
        push("latency zero".into(), &|n| n.latency = Latency::Zero);
    }
    let w = &e.workload;
    for clients in [w.clients / 2, w.clients.saturating_sub(1)] {
        if clients >= 1 {
            push(format!("clients {clients}"), &|n| {
                n.workload.clients = clients
            });
        }
    }
    match w.duration {
        Some(d) => {
            let half = d / 2;
            if !half.is_zero() {
                push(format!("duration {half:?}"), &|n| {
                    n.workload.duration = Some(half)
                });
            }
        }
        None => {
            for ops in [w.ops_per_client / 2, w.ops_per_client * 3 / 4] {
                if ops >= 1 {
                    push(format!("ops {ops}"), &|n| n.workload.ops_per_client = ops);
                }
            }
        }
    }
    for keys in [w.keys / 2, w.keys.saturating_sub(1)] {
        if keys >= 1 {
            push(format!("keys {keys}"), &|n| n.workload.keys = keys);
        }
    }
    if e.nodes > e.replicas {
        push(format!("nodes {}", e.replicas), &|n| n.nodes = n.replicas);
    }
    out
}

/// Shrinks `failing` — a configuration that fails at its seed — in at
/// most `budget` runs, to the smallest configuration it finds that still
/// fails, so the violation is small enough to read; `None` when `failing`
/// does not fail at its seed after all.
///
/// A violation found among 2000 operations under four kinds of fault is a
/// fact; the same violation among 20 operations with one fault is an
/// explanation. As QuickCheck shrinks a failing input, [`shrink()`] tries
/// smaller configurations one step at a time and keeps each that still
/// fails: first it removes faults (the nemesis, or all but one of its
/// kinds; message loss; duplication; latency), then it halves the
/// clients, the operations and the keys, and takes away spare nodes. Each
/// candidate is run at the failing seed and at the next one — a smaller
/// configuration draws its random choices differently, so the same seed
/// need not take the same path — and shrinking stops when no candidate
/// fails or the budget of runs is spent. Greedy, so the result is *a*
/// small failing configuration, not the smallest.
///
/// ```
/// use replikv::lab::{Experiment, Mutant, Workload, shrink};
/// use replikv::network::Latency;
/// use replikv::{CoordinatorPolicy, Runtime};
/// use std::time::Duration;
/// let failing = Experiment {
///     runtime: Runtime::Simulated,
///     workload: Workload { clients: 4, ops_per_client: 60, keys: 2, seed: 3, ..Workload::default() },
///     latency: Latency::Exponential { mean: Duration::from_millis(1) },
///     coordinator: CoordinatorPolicy::Random,
///     seed: 3,
///     ..Experiment::default()
/// }
/// .with_mutant(Mutant::EventualAsLinearizable);
/// let shrunk = shrink(&failing, 30).expect("eventual R=W=1 reads stale values");
/// assert!(shrunk.experiment.workload.ops_per_client <= 60);
/// assert!(shrunk.replay.contains(&format!("--seed {}", shrunk.seed)));
/// ```
pub fn shrink(failing: &Experiment, budget: u32) -> Option<Shrunk> {
    let original_budget = failing.checker_budget;
    let mut failing = failing.clone();
    failing.checker_budget = failing.checker_budget.min(CHECKER_BUDGET);
    let (mut current, first, _) = run_seed(&failing, failing.seed);
    let mut what = first?;
    let (mut steps, mut runs) = (Vec::new(), 1u32);
    'shrinking: loop {
        for (step, candidate) in candidates(&current) {
            for k in 0..SEEDS_PER_CANDIDATE {
                if runs >= budget {
                    break 'shrinking;
                }
                runs += 1;
                let (e, verdict, _) = run_seed(&candidate, current.seed.wrapping_add(k));
                if let Some(w) = verdict {
                    steps.push(step);
                    current = e;
                    what = w;
                    continue 'shrinking;
                }
            }
        }
        break;
    }
    current.checker_budget = original_budget;
    Some(Shrunk {
        seed: current.seed,
        replay: replay_command(&current),
        experiment: current,
        what,
        steps,
        runs,
    })
}
