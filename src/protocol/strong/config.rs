//! The strong protocol's timing knobs.

use crate::error::{Error, Result};
use std::time::Duration;

/// How often a coordinator retransmits, and how long it keeps trying.
///
/// The defaults suit the simulated network's millisecond latencies and the
/// client's default 1 s timeout:
///
/// - **retransmit every 25 ms** (the default [`StrongConfig::retransmit`]):
///   long enough that a healthy round trip (well under 1 ms without injected
///   latency, a few ms with it) answers first, short enough that a dropped
///   message costs little. Retransmission is what makes the protocol live
///   over a lossy network; it is safe because replicas are idempotent.
/// - **give up after 500 ms** (the default [`StrongConfig::deadline`]):
///   half the client's default timeout, so that on the minority side of a
///   partition a client hears `Unavailable` (a definite "no effect") rather
///   than timing out (an indeterminate outcome). A client whose timeout is
///   *shorter* than the deadline times out first: it then records its
///   operation as indeterminate, which is still correct, only less precise.
///
/// The deadline is counted in retransmission ticks, so it is rounded up to
/// a whole number of intervals and an operation is abandoned up to one
/// interval after it.
///
/// ```
/// use replikv::protocol::strong::StrongConfig;
/// use std::time::Duration;
///
/// let config = StrongConfig::new(Duration::from_millis(10), Duration::from_millis(200))?;
/// assert_eq!(config.deadline_ticks(), 20);
/// assert!(StrongConfig::new(Duration::ZERO, Duration::from_millis(200)).is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrongConfig {
    retransmit: Duration,
    deadline: Duration,
}

impl Default for StrongConfig {
    fn default() -> Self {
        StrongConfig {
            retransmit: Duration::from_millis(25),
            deadline: Duration::from_millis(500),
        }
    }
}

impl StrongConfig {
    /// A configuration; [`Error::InvalidConfig`] unless
    /// `0 < retransmit <= deadline`.
    pub fn new(retransmit: Duration, deadline: Duration) -> Result<Self> {
        if retransmit.is_zero() {
            return Err(Error::InvalidConfig(
                "strong: the retransmission interval must be positive".into(),
            ));
        }
        if deadline < retransmit {
            return Err(Error::InvalidConfig(format!(
                "strong: the operation deadline {deadline:?} is shorter than the \
                 retransmission interval {retransmit:?}"
            )));
        }
        Ok(StrongConfig {
            retransmit,
            deadline,
        })
    }

    /// How often unanswered requests are sent again.
    pub fn retransmit(&self) -> Duration {
        self.retransmit
    }

    /// How long an operation is tried before it is abandoned.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The deadline in retransmission ticks, rounded up.
    pub fn deadline_ticks(&self) -> u64 {
        let ticks = self
            .deadline
            .as_nanos()
            .div_ceil(self.retransmit.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }
}
