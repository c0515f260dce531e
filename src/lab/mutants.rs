//! Known-bad variants of the built-in modes (see [`Mutant`]).

use crate::cluster::{Cluster, ClusterBuilder, Consistency};
use crate::error::{Error, Result};
use crate::protocol::mutants::{AbdWithoutWriteBack, SingleCopyUnfilteredForwards};
use std::fmt;
use std::str::FromStr;

/// A known-bad variant an experiment can run instead of a built-in mode,
/// so that the tools that hunt for bugs can be shown to find them.
///
/// Each mutant removes one rule the lesson explains, and each claims
/// what its correct twin claims, so a [`Sweep`](super::Sweep) judges it by
/// the same standard and must catch it. `tests/mutants.rs` runs a default
/// sweep on each — and on the correct modes, which must pass the very same
/// sweep — and replays every printed seed: mutation tests for the checker,
/// the nemesis and the simulator together.
///
/// | name | what is wrong | what catches it |
/// |---|---|---|
/// | `abd-without-write-back` | strong reads skip phase 2 | the linearizability checker (new/old inversion) |
/// | `single-unfiltered-forwards` | single-copy owners run duplicated forwards | the checker (an old put overwrites a newer one) |
/// | `strong-amnesiac-restart` | a message sent before a restart reaches the new incarnation, whose duplicate memory is empty | the checker (a late request runs twice) |
/// | `eventual-as-linearizable` | eventual R = W = 1 promised as linearizable | the checker (stale reads) |
///
/// The first two are protocols ([`crate::protocol::mutants`]); the third is
/// the built-in strong protocol on a network whose connections survive a
/// restart ([`crate::network::Network::set_connections_survive_restart`]),
/// the hole issue "Every claim true" closed; the last is a correct
/// protocol held to a promise it never made.
///
/// ```
/// use replikv::lab::{Experiment, Mutant};
/// use replikv::Runtime;
/// let mutant: Mutant = "abd-without-write-back".parse()?;
/// assert_eq!(mutant, Mutant::AbdWithoutWriteBack);
/// // An experiment runs it in place of its correct twin.
/// let experiment = Experiment { runtime: Runtime::Simulated, ..Experiment::default() }.with_mutant(mutant);
/// assert_eq!(experiment.consistency, mutant.consistency());
/// assert!(experiment.validate().is_ok());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// Strong mode whose reads answer after the query phase
    /// ([`crate::protocol::mutants::AbdWithoutWriteBack`]).
    AbdWithoutWriteBack,
    /// Single-copy that runs duplicated forwarded requests
    /// ([`crate::protocol::mutants::SingleCopyUnfilteredForwards`]).
    SingleCopyUnfilteredForwards,
    /// Strong mode on a runtime whose duplicate-request memory is lost on
    /// restart while messages sent before the restart still arrive
    /// ([`crate::network::Network::set_connections_survive_restart`]).
    StrongAmnesiacRestart,
    /// Eventual R = W = 1, judged by the linearizability checker.
    EventualAsLinearizable,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 4] = [
        Mutant::AbdWithoutWriteBack,
        Mutant::SingleCopyUnfilteredForwards,
        Mutant::StrongAmnesiacRestart,
        Mutant::EventualAsLinearizable,
    ];

    /// The name the command line uses (`--protocol NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Mutant::AbdWithoutWriteBack => "abd-without-write-back",
            Mutant::SingleCopyUnfilteredForwards => "single-unfiltered-forwards",
            Mutant::StrongAmnesiacRestart => "strong-amnesiac-restart",
            Mutant::EventualAsLinearizable => "eventual-as-linearizable",
        }
    }

    /// The mode it imitates: what an experiment reports and how it judges
    /// convergence.
    pub fn consistency(self) -> Consistency {
        match self {
            Mutant::AbdWithoutWriteBack | Mutant::StrongAmnesiacRestart => Consistency::Strong,
            Mutant::SingleCopyUnfilteredForwards => Consistency::SingleCopy,
            Mutant::EventualAsLinearizable => Consistency::Eventual { r: 1, w: 1 },
        }
    }

    /// One line: what is wrong with it.
    pub fn flaw(self) -> &'static str {
        match self {
            Mutant::AbdWithoutWriteBack => {
                "strong reads return after the query phase, no write-back"
            }
            Mutant::SingleCopyUnfilteredForwards => {
                "single-copy owners run every forwarded request, duplicates too"
            }
            Mutant::StrongAmnesiacRestart => {
                "messages sent before a restart reach the new incarnation, which forgot the requests it ran"
            }
            Mutant::EventualAsLinearizable => "eventual R=W=1 held to linearizability",
        }
    }

    /// The builder, with the mutant's protocol in place of the built-in one.
    pub(crate) fn apply(self, builder: ClusterBuilder) -> ClusterBuilder {
        match self {
            Mutant::AbdWithoutWriteBack => builder.protocol(AbdWithoutWriteBack::for_node),
            Mutant::SingleCopyUnfilteredForwards => {
                builder.protocol(|_| SingleCopyUnfilteredForwards::new())
            }
            Mutant::StrongAmnesiacRestart | Mutant::EventualAsLinearizable => builder,
        }
    }

    /// What the mutant changes in a built cluster.
    pub(crate) fn after_build(self, cluster: &Cluster) {
        if self == Mutant::StrongAmnesiacRestart {
            cluster.network().set_connections_survive_restart(true);
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mutant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
                Error::InvalidConfig(format!(
                    "unknown protocol {s:?}: expected one of {}",
                    names.join(", ")
                ))
            })
    }
}
