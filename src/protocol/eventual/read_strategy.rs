//! Which replicas a read asks: exactly R, or all N.

use crate::error::{Error, Result};
use std::fmt;

/// Which replicas an eventual-mode read asks for the key. Either way the
/// read answers with the newest of the first R answers and repairs the
/// replicas it saw behind.
///
/// The choice changes how stale reads are, not just how many messages they
/// cost: asking only R, the answers used are fixed before anyone answers;
/// asking all N, the R *fastest* are used, and a replica the write reached
/// early tends to answer early too. The PBS paper's WARS model (and
/// [`crate::lab::pbs`]) reads from all N.
///
/// ```
/// use replikv::protocol::eventual::{EventualConfig, ReadStrategy};
/// let paper = EventualConfig { read_strategy: ReadStrategy::AskAll, ..EventualConfig::new(1, 1) };
/// assert_eq!("all".parse::<ReadStrategy>()?, ReadStrategy::AskAll);
/// assert_eq!(ReadStrategy::default().to_string(), "r");
/// assert!("some".parse::<ReadStrategy>().is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReadStrategy {
    /// Ask exactly R replicas — the coordinator's own copy first when it is
    /// one, then the preference list in order — and answer when all R have.
    /// Fewest messages (R − 1 or R per read); a silent replica among them
    /// holds the read until the next tick asks everyone.
    #[default]
    AskR,
    /// Ask all N replicas and answer after the first R answers: Dynamo's
    /// and the PBS paper's reads. N − 1 or N messages per read; the read
    /// waits for the R fastest, so one slow replica does not slow it, and
    /// the later answers still feed read repair.
    AskAll,
}

impl fmt::Display for ReadStrategy {
    /// `r` or `all`: what the command line's `--read-strategy` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadStrategy::AskR => "r",
            ReadStrategy::AskAll => "all",
        })
    }
}

impl std::str::FromStr for ReadStrategy {
    type Err = Error;

    /// `r` (ask exactly R) or `all` (ask all N, answer after R).
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "r" | "ask-r" => Ok(ReadStrategy::AskR),
            "all" | "n" | "ask-all" => Ok(ReadStrategy::AskAll),
            _ => Err(Error::InvalidConfig(format!(
                "unknown read strategy {text:?}: expected r (ask exactly R replicas) or all \
                 (ask all N, answer after the first R)"
            ))),
        }
    }
}
