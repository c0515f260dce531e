//! The settings of the consensus protocol, and its read modes.

use crate::error::Result;
use std::time::Duration;

/// Settings of the consensus protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusConfig {
    /// The shortest election timeout; each is drawn uniformly from
    /// `election_timeout_min..election_timeout_max` with the node's seeded
    /// RNG, so that candidates rarely collide (§5.2).
    pub election_timeout_min: Duration,
    /// The longest election timeout (exclusive).
    pub election_timeout_max: Duration,
    /// How often a leader sends AppendEntries when it has nothing new,
    /// well under the election timeout.
    pub heartbeat: Duration,
    /// The most entries in one AppendEntries message.
    pub max_batch: usize,
    /// Compact the log once it holds this many applied entries: the
    /// records stand for them (a snapshot, §7) and they are deleted.
    /// 0 never compacts.
    pub snapshot_threshold: u64,
    /// How a get is made linearizable (default: through the log).
    pub read_mode: ReadMode,
    /// How long a leader's lease lasts after a majority answered a probe,
    /// counted from when the probe was sent, on the leader's clock
    /// ([`ReadMode::Lease`]). Must stay below `election_timeout_min` by
    /// the clock drift one is ready to bound.
    pub lease: Duration,
    /// How long a node holds a client request while it knows no leader;
    /// then it answers `Unavailable` (nothing was appended anywhere), so a
    /// client never waits on a node that cannot help it.
    pub hold_timeout: Duration,
    /// Deliberate bugs, for tests that show the checks catch them. All off
    /// by default; never turn them on outside a test.
    #[doc(hidden)]
    pub mutations: Mutations,
}

/// Deliberate bugs (see [`ConsensusConfig::mutations`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutations {
    /// Keep the vote in memory only: a restarted node forgets it.
    pub forget_vote: bool,
    /// A leader that hears of a higher term adopts it but keeps leading.
    pub leader_keeps_leading: bool,
    /// A leader that ignores any higher term (keeps its own term and leads).
    pub leader_ignores_higher_term: bool,
    /// Commit any entry stored on a majority, whatever its term (Figure 8).
    pub commit_old_terms: bool,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat: Duration::from_millis(50),
            max_batch: 64,
            snapshot_threshold: 1_000,
            read_mode: ReadMode::Log,
            lease: Duration::from_millis(100),
            hold_timeout: Duration::from_millis(600),
            mutations: Mutations::default(),
        }
    }
}

/// How a leader serves a get (thesis §6.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReadMode {
    /// Append the get to the log like a write and answer when it is
    /// applied: linearizable, at the price of a replication round and a
    /// disk write per read.
    #[default]
    Log,
    /// ReadIndex: note the commit index, confirm leadership with one round
    /// of probes to a majority, wait until the commit index is applied,
    /// then read locally. Linearizable; no disk write; one round trip.
    ReadIndex,
    /// Leader lease: read locally, with no round trip, while a lease won by
    /// a majority's answer to a probe lasts by the leader's clock. Correct
    /// only while clocks are: a leader whose clock runs behind, or stops
    /// while it is paused, serves stale reads.
    Lease,
}

impl std::fmt::Display for ReadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadMode::Log => "log",
            ReadMode::ReadIndex => "read-index",
            ReadMode::Lease => "lease",
        })
    }
}

impl std::str::FromStr for ReadMode {
    type Err = crate::error::Error;

    /// `log`, `read-index` or `lease`.
    ///
    /// ```
    /// use replikv::protocol::consensus::ReadMode;
    /// assert_eq!("read-index".parse::<ReadMode>()?, ReadMode::ReadIndex);
    /// assert!("quorum".parse::<ReadMode>().is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<ReadMode> {
        match s {
            "log" => Ok(ReadMode::Log),
            "read-index" => Ok(ReadMode::ReadIndex),
            "lease" => Ok(ReadMode::Lease),
            other => Err(crate::error::Error::InvalidConfig(format!(
                "unknown read mode {other:?}: expected log, read-index or lease"
            ))),
        }
    }
}

impl ConsensusConfig {
    /// Checks the settings fit together.
    ///
    /// ```
    /// use replikv::protocol::ConsensusConfig;
    /// use std::time::Duration;
    /// assert!(ConsensusConfig::default().validate().is_ok());
    /// let long_lease = ConsensusConfig { lease: Duration::from_secs(1), ..ConsensusConfig::default() };
    /// assert!(long_lease.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(crate::error::Error::InvalidConfig(why));
        if self.election_timeout_min.is_zero()
            || self.election_timeout_max < self.election_timeout_min
        {
            return bad(format!(
                "election timeouts must satisfy 0 < min <= max, got {:?}..{:?}",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat.is_zero() || self.heartbeat >= self.election_timeout_min {
            return bad(format!(
                "the heartbeat ({:?}) must be positive and under the election timeout ({:?})",
                self.heartbeat, self.election_timeout_min
            ));
        }
        if self.lease >= self.election_timeout_min {
            return bad(format!(
                "the lease ({:?}) must be shorter than the minimum election timeout ({:?}): \
                 followers promise not to elect anyone else only for that long",
                self.lease, self.election_timeout_min
            ));
        }
        if self.hold_timeout.is_zero() {
            return bad("the hold timeout must be positive".into());
        }
        Ok(())
    }
}
