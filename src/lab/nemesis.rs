//! The nemesis (after Jepsen's): a thread that injects faults on a schedule
//! while a workload runs, and heals everything when told to stop.
//!
//! It only ever harms a *minority* of nodes at a time — one node crashed,
//! paused, or cut off — so that a majority-quorum protocol can always make
//! progress and any failure it shows is a real bug, not an impossible demand.

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which faults the nemesis injects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NemesisKind {
    /// No faults.
    #[default]
    None,
    /// Cut one node off from the others, then heal; repeat.
    Partition,
    /// Crash one node, then restart it; repeat.
    Crash,
    /// Set one node's clock up to ±5 s off, then back; repeat.
    Skew,
    /// Each of partition, crash and skew in turn (pause is left out, so
    /// that a schedule named `all` keeps the meaning it always had).
    All,
    /// Stall one node for one interval (a long GC pause, a swapped-out
    /// process): its messages queue up and are handled when it wakes, and
    /// its timers fire late. Nothing is lost, unlike a crash; repeat.
    Pause,
}

impl fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NemesisKind::None => "none",
            NemesisKind::Partition => "partition",
            NemesisKind::Crash => "crash",
            NemesisKind::Skew => "skew",
            NemesisKind::All => "all",
            NemesisKind::Pause => "pause",
        })
    }
}

impl FromStr for NemesisKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => NemesisKind::None,
            "partition" => NemesisKind::Partition,
            "crash" => NemesisKind::Crash,
            "skew" => NemesisKind::Skew,
            "all" => NemesisKind::All,
            "pause" => NemesisKind::Pause,
            other => {
                return Err(Error::InvalidConfig(format!(
                    "unknown nemesis {other:?}: expected none, partition, crash, skew, all or pause"
                )));
            }
        })
    }
}

/// A fault schedule: which faults, how often, from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nemesis {
    /// The faults.
    pub kind: NemesisKind,
    /// Time between one fault starting and the next step (heal or next fault).
    pub interval: Duration,
    /// Seed for the choice of victims.
    pub seed: u64,
}

impl Default for Nemesis {
    fn default() -> Self {
        Nemesis {
            kind: NemesisKind::None,
            interval: Duration::from_millis(200),
            seed: 0,
        }
    }
}

/// What the nemesis did, so that it can undo it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Harm {
    Isolated,
    Crashed(NodeId),
    Skewed(NodeId),
    /// Wakes by itself when its pause (one interval) ends.
    Paused,
}

impl Nemesis {
    /// Runs until `stop` fires (or disconnects), then heals everything:
    /// network faults cleared, crashed nodes restarted, clocks reset.
    /// Returns how many faults it injected. `stop` is the receiving end of a
    /// [`crossbeam_channel`](crate::crossbeam_channel) channel, which replikv
    /// re-exports:
    ///
    /// ```
    /// use replikv::crossbeam_channel::bounded;
    /// use replikv::lab::{Nemesis, NemesisKind};
    /// use replikv::{Cluster, StorageKind};
    /// use std::time::Duration;
    ///
    /// let cluster = Cluster::builder().nodes(3).storage(StorageKind::Memory).build()?;
    /// let nemesis = Nemesis { kind: NemesisKind::Partition, interval: Duration::from_millis(5), seed: 1 };
    /// let (stop, stopped) = bounded::<()>(1);
    /// drop(stop); // stop at once: it injects its first fault, heals, and returns
    /// assert_eq!(nemesis.run(&cluster, &stopped)?, 1);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn run(&self, cluster: &Cluster, stop: &Receiver<()>) -> Result<u64> {
        if self.kind == NemesisKind::None {
            let _ = stop.recv();
            return Ok(0);
        }
        let mut rng = self.rng();
        let mut injected = 0;
        let mut step = 0u64;
        let stopped = || {
            !matches!(
                stop.recv_timeout(self.interval),
                Err(RecvTimeoutError::Timeout)
            )
        };
        loop {
            let harm = self.strike(cluster, &mut rng, step)?;
            step += 1;
            injected += u64::from(harm.is_some());
            let stop_now = stopped();
            if let Some(harm) = harm {
                self.heal(cluster, harm)?;
            }
            if stop_now || stopped() {
                return Ok(injected);
            }
        }
    }

    /// The generator the victims and skews are drawn from.
    pub(crate) fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ 0x4E45_4D45_5349_5321)
    }

    /// Step `step` of the schedule: harms one node (or, with too few nodes
    /// for a minority, nothing). The threaded loop above and the simulator
    /// (`lab::simulated`) both strike through here.
    pub(crate) fn strike(
        &self,
        cluster: &Cluster,
        rng: &mut ChaCha8Rng,
        step: u64,
    ) -> Result<Option<Harm>> {
        let nodes = cluster.nodes();
        if nodes.is_empty() {
            return Ok(None);
        }
        let victim = nodes[rng.random_range(0..nodes.len())];
        let kind = match self.kind {
            NemesisKind::All => [
                NemesisKind::Partition,
                NemesisKind::Crash,
                NemesisKind::Skew,
            ][(step % 3) as usize],
            k => k,
        };
        Ok(match kind {
            NemesisKind::Partition if nodes.len() > 2 => {
                cluster.network().isolate(victim)?;
                Some(Harm::Isolated)
            }
            // A node that is down already (its protocol panicked) is left
            // alone: the report shows why it is down.
            NemesisKind::Crash if nodes.len() > 2 && cluster.is_up(victim)? => {
                cluster.crash(victim)?;
                Some(Harm::Crashed(victim))
            }
            // A pause lasts one interval, the time until the next step: on
            // threads and on the simulator alike the node wakes by itself.
            NemesisKind::Pause if nodes.len() > 2 && cluster.is_up(victim)? => {
                cluster.pause(victim, self.interval)?;
                Some(Harm::Paused)
            }
            NemesisKind::Skew => {
                let skew = rng.random_range(-5_000_000_000i64..=5_000_000_000);
                cluster.set_clock_skew(victim, skew)?;
                Some(Harm::Skewed(victim))
            }
            _ => None,
        })
    }

    /// Undoes what [`Nemesis::strike`] did.
    pub(crate) fn heal(&self, cluster: &Cluster, harm: Harm) -> Result<()> {
        match harm {
            Harm::Isolated => cluster.network().heal(),
            Harm::Crashed(node) => cluster.restart(node)?,
            Harm::Skewed(node) => cluster.set_clock_skew(node, 0)?,
            Harm::Paused => {}
        }
        Ok(())
    }
}
