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
use serde::Serialize;
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
    Isolated(NodeId),
    Crashed(NodeId),
    Skewed(NodeId),
    /// Wakes by itself when its pause (one interval) ends.
    Paused(NodeId),
}

impl Harm {
    fn describe(self) -> (&'static str, NodeId) {
        match self {
            Harm::Isolated(n) => ("partition", n),
            Harm::Crashed(n) => ("crash", n),
            Harm::Skewed(n) => ("skew", n),
            Harm::Paused(n) => ("pause", n),
        }
    }
}

/// One fault the nemesis injected and later healed, on the cluster clock
/// (the clock of the history's `call_ns` and `return_ns`), so that a plot
/// of the run can shade it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultWindow {
    /// `partition` (the node cut off from the others), `crash`, `skew` or
    /// `pause`.
    pub kind: String,
    /// The node it struck.
    pub node: u32,
    /// When it struck, ns since the cluster started.
    pub start_ns: u64,
    /// When it was healed, ns since the cluster started.
    pub end_ns: u64,
}

/// The faults in force and those healed, as the nemesis goes.
#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    /// Healed faults, in order.
    pub windows: Vec<FaultWindow>,
    /// The fault in force, with when it struck.
    open: Option<(Harm, u64)>,
}

impl FaultLog {
    /// The nemesis struck (`harm`, if it harmed anything) at `now_ns`.
    pub(crate) fn struck(&mut self, harm: Option<Harm>, now_ns: u64) {
        self.open = harm.map(|h| (h, now_ns));
    }

    /// The fault in force was healed at `now_ns`.
    pub(crate) fn healed(&mut self, now_ns: u64) {
        if let Some((harm, start_ns)) = self.open.take() {
            let (kind, node) = harm.describe();
            self.windows.push(FaultWindow {
                kind: kind.into(),
                node: node.0,
                start_ns,
                end_ns: now_ns,
            });
        }
    }
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
        self.run_logged(cluster, stop, &mut FaultLog::default())
    }

    /// [`Nemesis::run`], noting in `log` when each fault struck and healed.
    pub(crate) fn run_logged(
        &self,
        cluster: &Cluster,
        stop: &Receiver<()>,
        log: &mut FaultLog,
    ) -> Result<u64> {
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
            log.struck(harm, cluster.clock().now_ns());
            step += 1;
            injected += u64::from(harm.is_some());
            let stop_now = stopped();
            if let Some(harm) = harm {
                self.heal(cluster, harm)?;
                log.healed(cluster.clock().now_ns());
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
                Some(Harm::Isolated(victim))
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
                Some(Harm::Paused(victim))
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
            Harm::Isolated(_) => cluster.network().heal(),
            Harm::Crashed(node) => cluster.restart(node)?,
            Harm::Skewed(node) => cluster.set_clock_skew(node, 0)?,
            Harm::Paused(_) => {}
        }
        Ok(())
    }
}
