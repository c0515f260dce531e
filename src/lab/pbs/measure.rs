//! Measuring t-visibility and k-staleness on a running replikv cluster.
//!
//! Every t-visibility trial writes a fresh, unique value under a key of its
//! own, waits `t` from the moment the client saw the write acknowledged,
//! reads the key once, and records whether the read returned the value. A
//! fresh key per trial means no earlier trial can interfere, and one read
//! per key means read repair never changes what a *measured* read returns
//! (it can only repair replicas for reads that never come). A k-staleness
//! trial writes k values one after another to a fresh key, each after the
//! previous one committed, and reads at once after the k-th.
//!
//! On threads, trials run from several client threads at once, each on its
//! own keys, and the probe of each trial (which `t`, or which `k`) is drawn
//! from a shuffled schedule, so any drift over the run (a busy machine, a
//! growing store) touches every probe alike. On the simulator one client
//! runs the same shuffled schedule trial after trial on virtual time: a
//! trial's stragglers (the copies still travelling after its read) go on
//! under the next trial, as they would on threads, on other keys.

use super::{KPoint, StalenessExperiment, k_staleness_closed_form};
use crate::client::Client;
use crate::cluster::{Cluster, StorageKind};
use crate::error::{Error, Result};
use crate::network::{Latency, MessageKind};
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

/// The tick on the simulator, where a long one costs nothing: an hour, so
/// that not even the seconds-long tails of the PBS paper's production fits
/// ever meet a retransmission.
const SIMULATED_QUIET_TICK: Duration = Duration::from_secs(3600);

/// How many simulated trials between two progress reports.
const SIMULATED_PROGRESS_EVERY: u64 = 200;

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

/// What one trial probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// t-visibility at `times[i]`.
    Visibility(usize),
    /// k-staleness at `ks[i]`.
    Versions(usize),
}

/// Per-probe tallies shared by the client threads.
#[derive(Default)]
struct Tally {
    trials: AtomicU64,
    fresh: AtomicU64,
    errors: AtomicU64,
    lag_ns: AtomicU64,
}

/// Builds the cluster the experiment describes: the eventual protocol with
/// anti-entropy off, a quiet tick and the experiment's read strategy,
/// in-memory storage, no history, instant client links, and the latencies
/// on node-to-node links by message kind.
fn build_cluster(exp: &StalenessExperiment) -> Result<Cluster> {
    let tick = match exp.runtime {
        Runtime::Threads => QUIET_TICK,
        Runtime::Simulated => SIMULATED_QUIET_TICK,
    };
    let config = EventualConfig {
        anti_entropy: None,
        tick,
        hint_after: tick * 10,
        op_deadline: tick * 5,
        handoff: tick,
        read_strategy: exp.read_strategy,
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
        .client_timeout(tick * 10)
        .protocol(move |_| Eventual::with_config(config.clone()))
        .build()?;
    let network = cluster.network();
    // Node-to-node messages get the experiment's latencies by kind; the
    // global latency stays zero, so client links are instant.
    let latencies = exp.latencies();
    for (kind, latency) in [
        (MessageKind::WriteRequest, latencies.write),
        (MessageKind::WriteAck, latencies.ack),
        (MessageKind::ReadRequest, latencies.read),
        (MessageKind::ReadResponse, latencies.response),
        (MessageKind::Other, exp.latency),
    ] {
        network.set_kind_latency(kind, Some(latency))?;
    }
    // Explicitly, in case a default ever changes: clients are one hop of
    // nothing from every node.
    network.set_client_latency(Some(Latency::Zero))?;
    Ok(cluster)
}

/// The shuffled schedule: entry `i` is the probe of trial `i`.
fn schedule(exp: &StalenessExperiment) -> Vec<Probe> {
    let per = exp.trials_per_t as usize;
    let mut schedule: Vec<Probe> = (0..exp.times.len())
        .map(Probe::Visibility)
        .chain((0..exp.ks.len()).map(Probe::Versions))
        .flat_map(|p| std::iter::repeat_n(p, per))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(exp.seed ^ SCHEDULE_SALT);
    for i in (1..schedule.len()).rev() {
        let j = rng.random_range(0..=i);
        schedule.swap(i, j);
    }
    schedule
}

/// What one trial found.
enum Outcome {
    /// The read returned the trial's (or one of its k) values, or not;
    /// with the read's lateness.
    Read { fresh: bool, lag: Duration },
    /// A write or the read failed.
    Error,
}

/// Runs trial `i` on `client`: writes (once, or k times), lets `t` pass
/// with `wait` (which returns how late it came back), reads.
fn trial(
    client: &mut Client,
    exp: &StalenessExperiment,
    probe: Probe,
    i: u64,
    wait: &mut dyn FnMut(Duration) -> Duration,
) -> Outcome {
    let key = format!("pbs-{}-{i}", exp.seed);
    let (t, writes) = match probe {
        Probe::Visibility(at) => (exp.times[at], 1),
        Probe::Versions(at) => (Duration::ZERO, exp.ks[at]),
    };
    let values: Vec<String> = (0..writes).map(|v| format!("value-{i}-{v}")).collect();
    for value in &values {
        if client.put(&key, value).is_err() {
            return Outcome::Error;
        }
    }
    let lag = wait(t);
    match client.get(&key) {
        Ok(got) => Outcome::Read {
            fresh: got
                .as_deref()
                .is_some_and(|got| values.iter().any(|v| v.as_bytes() == got)),
            lag,
        },
        Err(_) => Outcome::Error,
    }
}

impl Tally {
    fn count(&self, outcome: Outcome) {
        match outcome {
            Outcome::Read { fresh, lag } => {
                self.trials.fetch_add(1, Ordering::Relaxed);
                let lag = u64::try_from(lag.as_nanos()).unwrap_or(u64::MAX);
                self.lag_ns.fetch_add(lag, Ordering::Relaxed);
                if fresh {
                    self.fresh.fetch_add(1, Ordering::Relaxed);
                }
            }
            Outcome::Error => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn done(&self) -> u64 {
        self.trials.load(Ordering::Relaxed) + self.errors.load(Ordering::Relaxed)
    }
}

/// Runs the measurement half of `exp`; `progress(done, total)` is called
/// now and then from the calling thread.
pub(super) fn measure(
    exp: &StalenessExperiment,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Vec<Measurement>, Vec<KPoint>)> {
    exp.validate()?;
    let cluster = build_cluster(exp)?;
    let schedule = schedule(exp);
    let tallies: Vec<Tally> = (0..exp.times.len() + exp.ks.len())
        .map(|_| Tally::default())
        .collect();
    let tally_of = |probe: Probe| match probe {
        Probe::Visibility(at) => &tallies[at],
        Probe::Versions(at) => &tallies[exp.times.len() + at],
    };
    match exp.runtime {
        Runtime::Threads => measure_threads(exp, &cluster, &schedule, &tally_of, progress)?,
        Runtime::Simulated => measure_simulated(exp, &cluster, &schedule, &tally_of, progress)?,
    }
    let measurements = exp
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
        .collect();
    let k = exp
        .ks
        .iter()
        .zip(&tallies[exp.times.len()..])
        .map(|(&k, tally)| KPoint {
            k,
            trials: tally.trials.load(Ordering::Relaxed),
            within: tally.fresh.load(Ordering::Relaxed),
            errors: tally.errors.load(Ordering::Relaxed),
            closed_form: k_staleness_closed_form(exp.n, exp.r, exp.w, k),
        })
        .collect();
    Ok((measurements, k))
}

/// The simulator: one client, trial after trial, on virtual time. The wait
/// is exact (`Cluster::run_for` moves virtual time by `t`), so the lag is 0.
fn measure_simulated<'a>(
    exp: &StalenessExperiment,
    cluster: &Cluster,
    schedule: &[Probe],
    tally_of: &dyn Fn(Probe) -> &'a Tally,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let total = schedule.len() as u64;
    let mut client = cluster.client()?;
    let mut wait = |t: Duration| {
        cluster.run_for(t);
        Duration::ZERO
    };
    for (i, &probe) in schedule.iter().enumerate() {
        let outcome = trial(&mut client, exp, probe, i as u64, &mut wait);
        tally_of(probe).count(outcome);
        if (i as u64).is_multiple_of(SIMULATED_PROGRESS_EVERY) {
            progress(i as u64, total);
        }
    }
    progress(total, total);
    Ok(())
}

/// Threads: `exp.clients` client threads take trials from the schedule.
fn measure_threads<'a>(
    exp: &StalenessExperiment,
    cluster: &Cluster,
    schedule: &[Probe],
    tally_of: &(dyn Fn(Probe) -> &'a Tally + Sync),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let total = schedule.len() as u64;
    let next = AtomicU64::new(0);
    let clients = (0..exp.clients)
        .map(|_| cluster.client())
        .collect::<Result<Vec<_>>>()?;
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for mut client in clients {
            let next = &next;
            handles.push(s.spawn(move || {
                let mut wait = |t: Duration| {
                    let due = crate::clock::deadline_after(Instant::now(), t);
                    wait_until(due);
                    due.elapsed()
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&probe) = schedule.get(i as usize) else {
                        break;
                    };
                    let outcome = trial(&mut client, exp, probe, i, &mut wait);
                    tally_of(probe).count(outcome);
                }
            }));
        }
        let done = || schedule_done(schedule, tally_of);
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

/// Trials finished so far, over every probe of the schedule (each tally
/// counted once).
fn schedule_done<'a>(schedule: &[Probe], tally_of: &dyn Fn(Probe) -> &'a Tally) -> u64 {
    let mut seen: Vec<Probe> = schedule.to_vec();
    seen.sort_unstable_by_key(|p| match *p {
        Probe::Visibility(i) => (0, i),
        Probe::Versions(i) => (1, i),
    });
    seen.dedup();
    seen.into_iter().map(|p| tally_of(p).done()).sum()
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
