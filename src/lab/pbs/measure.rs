//! Measuring t-visibility on a running replikv cluster.
//!
//! Every trial writes a fresh, unique value under a key of its own, waits
//! `t` from the moment the client saw the write acknowledged, reads the key
//! once, and records whether the read returned the value. A fresh key per
//! trial means no earlier trial can interfere, and one read per key means
//! read repair never changes what a *measured* read returns (it can only
//! repair replicas for reads that never come).
//!
//! Trials run from several client threads at once, each on its own keys,
//! and the `t` of each trial is drawn from a shuffled schedule, so any drift
//! over the run (a busy machine, a growing store) touches every `t` alike.
//!
//! On the simulator ([`Runtime::Simulated`]) one client runs the trials one
//! after another on virtual time: a trial costs no real time however long
//! its `t`, the read starts exactly `t` after the acknowledgement (no
//! wake-up lag), and no message pays more than its drawn delay, so the
//! measurement meets the pure WARS model with no calibration, and the same
//! seed gives the same curve.

use super::StalenessExperiment;
use crate::cluster::{Cluster, StorageKind};
use crate::error::{Error, Result};
use crate::ids::Endpoint;
use crate::protocol::{Eventual, EventualConfig};
use crate::sim::Runtime;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long before the read is due the waiting thread stops sleeping and
/// starts yielding: `thread::sleep` overshoots by some 50–100 µs on Linux
/// (timer slack), a tenth of a 1 ms mean delay. Yielding, not spinning hard,
/// leaves the CPU to the node threads on a 2-core machine.
const SPIN_BEFORE: Duration = Duration::from_micros(200);

/// The eventual protocol's timer period during a measurement. The default
/// 20 ms tick retransmits writes to replicas that have not acknowledged yet
/// and widens reads that have not been answered to all N replicas: both
/// would make some operations faster than the WARS model says. A 1 s tick
/// leaves every operation of a millisecond-scale trial alone.
const QUIET_TICK: Duration = Duration::from_secs(1);

/// Mixed into the seed for the trial schedule, so its random stream is not
/// the cluster's (which is seeded with the experiment's seed as is).
const SCHEDULE_SALT: u64 = 0x5EED_5C4E_D01E_0001;

/// What was measured at one `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Time from the write's acknowledgement to the read, as scheduled.
    pub t: Duration,
    /// Trials that completed (write acknowledged, read answered).
    pub trials: u64,
    /// Of those, reads that returned the trial's value.
    pub fresh: u64,
    /// Trials lost to a client error (timeout, unavailable): not counted in
    /// `trials`.
    pub errors: u64,
    /// Mean time by which reads started later than scheduled (thread
    /// wake-up and yield latency).
    pub lag: Duration,
}

impl Measurement {
    /// The fraction of fresh reads (0 when no trial completed).
    pub fn probability(&self) -> f64 {
        if self.trials == 0 {
            0.0
        } else {
            self.fresh as f64 / self.trials as f64
        }
    }
}

/// Per-`t` tallies shared by the client threads.
#[derive(Default)]
struct Tally {
    trials: AtomicU64,
    fresh: AtomicU64,
    errors: AtomicU64,
    lag_ns: AtomicU64,
}

/// Builds the cluster the experiment describes: the eventual protocol with
/// anti-entropy off and a quiet tick, in-memory storage, no history, latency
/// on node-to-node links only.
fn build_cluster(exp: &StalenessExperiment) -> Result<Cluster> {
    let config = EventualConfig {
        anti_entropy: None,
        tick: QUIET_TICK,
        hint_after: QUIET_TICK * 10,
        op_deadline: QUIET_TICK * 5,
        handoff: QUIET_TICK,
        ..EventualConfig::new(exp.r, exp.w)
    };
    let cluster = Cluster::builder()
        .nodes(exp.nodes)
        .replication(exp.n)
        .storage(StorageKind::Memory)
        .runtime(exp.runtime)
        .coordinator(exp.coordinator)
        .seed(exp.seed)
        .record_history(false)
        .client_timeout(QUIET_TICK * 10)
        .protocol(move |_| Eventual::with_config(config.clone()))
        .build()?;
    let nodes = cluster.nodes();
    for &a in &nodes {
        for &b in nodes.iter().filter(|&&b| b != a) {
            cluster.network().set_link_latency(
                Endpoint::Node(a),
                Endpoint::Node(b),
                exp.latency,
            )?;
        }
    }
    Ok(cluster)
}

/// Runs the measurement half of `exp`; `progress(done, total)` is called
/// now and then from the calling thread.
pub(super) fn measure(
    exp: &StalenessExperiment,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<Measurement>> {
    exp.validate()?;
    let cluster = build_cluster(exp)?;
    // The schedule: trial i measures times[schedule[i]], shuffled.
    let mut schedule: Vec<u32> = (0..exp.times.len() as u32)
        .flat_map(|t| std::iter::repeat_n(t, exp.trials_per_t as usize))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(exp.seed ^ SCHEDULE_SALT);
    for i in (1..schedule.len()).rev() {
        let j = rng.random_range(0..=i);
        schedule.swap(i, j);
    }
    let tallies: Vec<Tally> = exp.times.iter().map(|_| Tally::default()).collect();
    match exp.runtime {
        Runtime::Threads => measure_threads(exp, &cluster, &schedule, &tallies, progress)?,
        Runtime::Simulated => measure_simulated(exp, &cluster, &schedule, &tallies, progress)?,
    }
    Ok(exp
        .times
        .iter()
        .zip(&tallies)
        .map(|(&t, tally)| {
            let trials = tally.trials.load(Ordering::Relaxed);
            Measurement {
                t,
                trials,
                fresh: tally.fresh.load(Ordering::Relaxed),
                errors: tally.errors.load(Ordering::Relaxed),
                lag: Duration::from_nanos(tally.lag_ns.load(Ordering::Relaxed) / trials.max(1)),
            }
        })
        .collect())
}

/// One trial on the simulator: put, let exactly `t` of virtual time pass,
/// get.
fn measure_simulated(
    exp: &StalenessExperiment,
    cluster: &Cluster,
    schedule: &[u32],
    tallies: &[Tally],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let mut client = cluster.client()?;
    let total = schedule.len() as u64;
    for (i, &which) in schedule.iter().enumerate() {
        let (t, tally) = (exp.times[which as usize], &tallies[which as usize]);
        let key = format!("pbs-{}-{i}", exp.seed);
        let value = format!("value-{i}");
        if i % 1000 == 0 {
            progress(i as u64, total);
        }
        if client.put(&key, &value).is_err() {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        cluster.run_for(t);
        match client.get(&key) {
            Ok(got) => {
                tally.trials.fetch_add(1, Ordering::Relaxed);
                if got.as_deref() == Some(value.as_bytes()) {
                    tally.fresh.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    progress(total, total);
    Ok(())
}

/// The trials on client threads, on the real clock.
fn measure_threads(
    exp: &StalenessExperiment,
    cluster: &Cluster,
    schedule: &[u32],
    tallies: &[Tally],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let total = schedule.len() as u64;
    let next = AtomicU64::new(0);
    let clients = (0..exp.clients)
        .map(|_| cluster.client())
        .collect::<Result<Vec<_>>>()?;
    let run = exp.seed;
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for mut client in clients {
            let (next, times) = (&next, &exp.times);
            handles.push(s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&which) = schedule.get(i as usize) else {
                        break;
                    };
                    let (t, tally) = (times[which as usize], &tallies[which as usize]);
                    let key = format!("pbs-{run}-{i}");
                    let value = format!("value-{i}");
                    if client.put(&key, &value).is_err() {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let due = crate::clock::deadline_after(Instant::now(), t);
                    wait_until(due);
                    let lag = due.elapsed();
                    match client.get(&key) {
                        Ok(got) => {
                            tally.trials.fetch_add(1, Ordering::Relaxed);
                            let lag = u64::try_from(lag.as_nanos()).unwrap_or(u64::MAX);
                            tally.lag_ns.fetch_add(lag, Ordering::Relaxed);
                            if got.as_deref() == Some(value.as_bytes()) {
                                tally.fresh.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        let done = || {
            tallies
                .iter()
                .map(|t| t.trials.load(Ordering::Relaxed) + t.errors.load(Ordering::Relaxed))
                .sum::<u64>()
        };
        while handles.iter().any(|h| !h.is_finished()) {
            progress(done(), total);
            std::thread::sleep(Duration::from_millis(100));
        }
        progress(done(), total);
        if handles.into_iter().any(|h| h.join().is_err()) {
            return Err(Error::Protocol("a measuring client thread panicked".into()));
        }
        Ok(())
    })
}

/// Waits until `due`: sleeps most of the way, then yields until it is time.
fn wait_until(due: Instant) {
    let now = Instant::now();
    if due <= now {
        return;
    }
    let left = due - now;
    if left > SPIN_BEFORE {
        std::thread::sleep(left - SPIN_BEFORE);
    }
    while Instant::now() < due {
        std::thread::yield_now();
    }
}
