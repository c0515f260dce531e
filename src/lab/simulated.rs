//! The lab's workload and nemesis as events on the simulator's virtual time.
//!
//! On threads, each client of a [`Workload`] is a thread that blocks on its
//! answers and the nemesis is a thread that sleeps between faults. On the
//! simulator ([`crate::Runtime::Simulated`]) there is one thread: every
//! client is a small state machine (start an operation, wait for its answer
//! or its deadline, start the next) and the nemesis is a schedule of strikes
//! and heals, all woven into the world's event loop in a fixed order. The
//! operations, keys, values and fault victims are drawn exactly as on
//! threads — the same [`KeyChooser`], the same per-client seeds, the same
//! [`Nemesis`] steps — so a workload means the same thing on both runtimes,
//! and on the simulator it is replayed bit for bit from its seed.

use super::nemesis::{FaultLog, Harm, Nemesis, NemesisKind};
use super::workload::{KeyChooser, RunOutcome, Seen, Workload, draw_op, note_read, read_key};
use crate::client::{Client, Ticket};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::sim::World;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// One simulated client working through its share of the workload, with up
/// to `Workload::in_flight` operations submitted at once.
struct Worker {
    index: usize,
    client: Client,
    rng: ChaCha8Rng,
    /// Operations started so far.
    seq: u64,
    /// Each operation in flight: the key when it is a read.
    reads: BTreeMap<Ticket, Option<Vec<u8>>>,
    /// What this client last read of each key, for its compare-and-sets.
    seen: Seen,
    finished: bool,
}

/// Counts, as [`RunOutcome`] has them.
#[derive(Default)]
struct Tally {
    outcome: RunOutcome,
}

impl Tally {
    fn count(&mut self, read: bool, result: &Result<Option<Vec<u8>>>) {
        let o = &mut self.outcome;
        o.ops += 1;
        if read {
            o.reads += 1;
        } else {
            o.writes += 1;
        }
        match result {
            Ok(_) => o.ok += 1,
            Err(Error::Timeout(_)) => o.timeouts += 1,
            Err(Error::Unavailable(_)) => o.unavailable += 1,
            Err(_) => o.other_errors += 1,
        }
    }
}

/// The nemesis as a schedule: strike at `next_ns`, heal one interval later,
/// strike again one interval after that.
struct Schedule<'a> {
    nemesis: &'a Nemesis,
    rng: ChaCha8Rng,
    step: u64,
    next_ns: u64,
    harm: Option<Harm>,
    /// Whether the next action heals (else it strikes).
    heal_next: bool,
    injected: u64,
    log: FaultLog,
}

impl Schedule<'_> {
    fn interval_ns(&self) -> u64 {
        u64::try_from(self.nemesis.interval.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Strikes or heals, whichever is due.
    fn act(&mut self, cluster: &Cluster, now: u64) -> Result<()> {
        if self.heal_next {
            if let Some(harm) = self.harm.take() {
                self.nemesis.heal(cluster, harm)?;
                self.log.healed(now);
            }
        } else {
            self.harm = self.nemesis.strike(cluster, &mut self.rng, self.step)?;
            self.log.struck(self.harm, now);
            self.step += 1;
            self.injected += u64::from(self.harm.is_some());
        }
        self.heal_next = !self.heal_next;
        self.next_ns = now.saturating_add(self.interval_ns());
        Ok(())
    }
}

/// Runs `workload` under `nemesis` on a simulated `cluster`; returns the
/// outcome and how many faults the nemesis injected, noting each in `log`.
/// Everything heals at the end, as [`Nemesis::run`] does on threads.
pub(crate) fn run_simulated(
    cluster: &Cluster,
    world: &World,
    workload: &Workload,
    nemesis: &Nemesis,
    progress: &mut dyn FnMut(u64),
    log: &mut FaultLog,
) -> Result<(RunOutcome, u64)> {
    workload.validate()?;
    let chooser = KeyChooser::new(workload.keys, workload.zipf)?;
    let started_ns = world.now_ns();
    let end_ns = workload
        .duration
        .map(|d| started_ns.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)));
    let mut workers = Vec::with_capacity(workload.clients);
    for index in 0..workload.clients {
        workers.push(Worker {
            index,
            client: cluster.client()?,
            rng: ChaCha8Rng::seed_from_u64(
                workload.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9),
            ),
            seq: 0,
            reads: BTreeMap::new(),
            seen: Seen::new(),
            finished: false,
        });
    }
    let mut schedule = (nemesis.kind != NemesisKind::None).then(|| Schedule {
        nemesis,
        rng: nemesis.rng(),
        step: 0,
        next_ns: started_ns,
        harm: None,
        heal_next: false,
        injected: 0,
        log: FaultLog::default(),
    });
    let mut tally = Tally::default();
    let mut reported = 0u64;
    loop {
        let now = world.now_ns();
        // Every idle client starts its next operation, in client order.
        for worker in &mut workers {
            start_next(worker, workload, &chooser, end_ns, now, &mut tally);
        }
        if tally.outcome.ops >= reported + 100 {
            reported = tally.outcome.ops;
            progress(reported);
        }
        if workers
            .iter()
            .all(|w| w.finished && w.client.in_flight() == 0)
        {
            break;
        }
        // Run the world until an answer reaches a client, a client's
        // deadline passes, or the nemesis is due.
        let mut wake = workers
            .iter()
            .filter_map(|w| w.client.next_deadline())
            .min()
            .unwrap_or(u64::MAX);
        if let Some(s) = &schedule {
            wake = wake.min(s.next_ns);
        }
        if wake == u64::MAX && world.next_event_ns().is_none() {
            return Err(Error::Protocol(
                "the simulation stalled: clients wait with no deadline and nothing is scheduled"
                    .into(),
            ));
        }
        // Only a *waiting* client's mail can end the wait: a late duplicate
        // of an answer can land in the inbox of a client that is idle or
        // finished, where nobody reads it, and counting it would stop the
        // world at once, every time, with no time passing (a livelock the
        // duplication fault suite found).
        world.run_until(wake, &mut || {
            workers
                .iter()
                .any(|w| w.client.in_flight() > 0 && w.client.has_mail())
        });
        let now = world.now_ns();
        for worker in &mut workers {
            for (ticket, result) in worker.client.take_ready() {
                let key = worker.reads.remove(&ticket).flatten();
                tally.count(key.is_some(), &result);
                note_read(&mut worker.seen, key, &result);
            }
        }
        if let Some(s) = &mut schedule
            && now >= s.next_ns
        {
            s.act(cluster, now)?;
        }
    }
    let injected = match schedule {
        Some(mut s) => {
            if let Some(harm) = s.harm.take() {
                nemesis.heal(cluster, harm)?;
                s.log.healed(world.now_ns());
            }
            *log = std::mem::take(&mut s.log);
            s.injected
        }
        None => 0,
    };
    progress(tally.outcome.ops);
    let mut outcome = tally.outcome;
    outcome.elapsed = Duration::from_nanos(world.now_ns().saturating_sub(started_ns));
    // Idle clients' indices are only used for their values.
    drop(workers);
    Ok((outcome, injected))
}

/// Submits `worker`'s next operations until its window is full or it is
/// done.
fn start_next(
    worker: &mut Worker,
    workload: &Workload,
    chooser: &KeyChooser,
    end_ns: Option<u64>,
    now: u64,
    tally: &mut Tally,
) {
    while worker.client.in_flight() < workload.in_flight && !worker.finished {
        let done = match end_ns {
            Some(end) => now >= end,
            None => worker.seq >= workload.ops_per_client,
        };
        if done {
            worker.finished = true;
            return;
        }
        worker.seq += 1;
        let (op, read) = draw_op(
            workload,
            chooser,
            &mut worker.rng,
            worker.index,
            worker.seq,
            &worker.seen,
        );
        let key = read_key(&op);
        match worker.client.submit(op) {
            Ok(ticket) => {
                worker.reads.insert(ticket, key);
            }
            Err(e) => tally.count(read, &Err(e)),
        }
    }
}
