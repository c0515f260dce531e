//! Workloads: many clients, a key space, a read/write mix, uniform or Zipf
//! key popularity, all from one seed.

use crate::client::Op;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the clients do.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Concurrent clients, one thread each.
    pub clients: usize,
    /// Operations per client (when `duration` is `None`).
    pub ops_per_client: u64,
    /// Run for this long instead of a fixed number of operations.
    pub duration: Option<Duration>,
    /// Size of the key space (keys are `key-0` … `key-{keys-1}`).
    pub keys: u64,
    /// Fraction of operations that are reads (0 to 1); the rest are puts
    /// and compare-and-sets.
    pub read_ratio: f64,
    /// Fraction of operations that are compare-and-sets (0 to 1, at most
    /// `1 - read_ratio`; default 0). A client's compare-and-set on a key
    /// expects the value its last read of that key returned (absent if it
    /// has not read it) and writes a unique value. Only
    /// [`Consistency::Consensus`](crate::Consistency::Consensus) offers
    /// compare-and-set; elsewhere these count as errors.
    pub cas_ratio: f64,
    /// Zipf exponent for key popularity (`None`: uniform).
    pub zipf: Option<f64>,
    /// Bytes per value (values are unique: client, sequence, then padding).
    pub value_size: usize,
    /// Operations each client keeps in flight at once (default 1: a
    /// blocking client). Above 1 the client pipelines
    /// ([`crate::Client::submit`]): its operations overlap one another.
    pub in_flight: usize,
    /// Seed for every choice the clients make.
    pub seed: u64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: 4,
            ops_per_client: 1000,
            duration: None,
            keys: 10,
            read_ratio: 0.5,
            cas_ratio: 0.0,
            zipf: None,
            value_size: 16,
            in_flight: 1,
            seed: 0,
        }
    }
}

impl Workload {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.clients == 0 {
            return bad("a workload needs at least one client".into());
        }
        if self.keys == 0 {
            return bad("a workload needs at least one key".into());
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return bad(format!(
                "read ratio must be within 0..=1, got {}",
                self.read_ratio
            ));
        }
        if !(0.0..=1.0 - self.read_ratio).contains(&self.cas_ratio) {
            return bad(format!(
                "compare-and-set ratio must be within 0..={} (1 - read ratio), got {}",
                1.0 - self.read_ratio,
                self.cas_ratio
            ));
        }
        if let Some(s) = self.zipf
            && !(s.is_finite() && s >= 0.0)
        {
            return bad(format!("zipf exponent must be ≥ 0, got {s}"));
        }
        if self.in_flight == 0 || self.in_flight as u64 > crate::protocol::REQUEST_WINDOW {
            return bad(format!(
                "operations in flight per client must be within 1..={}, got {}",
                crate::protocol::REQUEST_WINDOW,
                self.in_flight
            ));
        }
        if self.value_size > crate::MAX_VALUE_LEN {
            return bad(format!("value size {} is over the limit", self.value_size));
        }
        Ok(())
    }

    /// Draws the next operation's kind. Draws nothing extra when
    /// `cas_ratio` is 0, so older seeds replay the same operations.
    pub(crate) fn draw(&self, rng: &mut ChaCha8Rng) -> Draw {
        if rng.random_bool(self.read_ratio) {
            return Draw::Read;
        }
        let writes = 1.0 - self.read_ratio;
        if self.cas_ratio > 0.0 && rng.random_bool((self.cas_ratio / writes).min(1.0)) {
            Draw::Cas
        } else {
            Draw::Put
        }
    }

    /// Total operations when run by count.
    pub fn total_ops(&self) -> Option<u64> {
        self.duration
            .is_none()
            .then_some(self.ops_per_client * self.clients as u64)
    }
}

/// Picks keys: uniformly or by Zipf rank (key-0 the most popular).
#[derive(Clone, Debug)]
pub struct KeyChooser {
    keys: u64,
    zipf: Option<Zipf<f64>>,
}

impl KeyChooser {
    /// A chooser over `keys` keys, Zipf with exponent `s` if given.
    pub fn new(keys: u64, zipf: Option<f64>) -> Result<Self> {
        let zipf = match zipf {
            Some(s) if s > 0.0 => Some(
                Zipf::new(keys as f64, s)
                    .map_err(|e| Error::InvalidConfig(format!("zipf: {e}")))?,
            ),
            _ => None,
        };
        Ok(KeyChooser { keys, zipf })
    }

    /// The index of the next key.
    pub fn next_index(&self, rng: &mut ChaCha8Rng) -> u64 {
        match &self.zipf {
            Some(z) => (z.sample(rng) as u64).clamp(1, self.keys) - 1,
            None => rng.random_range(0..self.keys),
        }
    }

    /// The name of key `i`.
    pub fn key(i: u64) -> String {
        format!("key-{i}")
    }
}

/// How a workload run went, as counted by its clients.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunOutcome {
    /// Wall time from the first operation to the last.
    pub elapsed: Duration,
    /// Operations attempted.
    pub ops: u64,
    /// Reads attempted.
    pub reads: u64,
    /// Writes attempted.
    pub writes: u64,
    /// Successful operations.
    pub ok: u64,
    /// Timeouts (indeterminate).
    pub timeouts: u64,
    /// Refusals (`Unavailable`).
    pub unavailable: u64,
    /// Other errors.
    pub other_errors: u64,
}

/// Draws client `index`'s `seq`-th operation: a key by popularity, a read
/// or a write of a value unique to the client and the sequence number.
/// Both runtimes' workloads draw through here, so a workload means the same
/// operations on either. Returns the operation and whether it is a read.
///
/// A compare-and-set expects what this client last read of the key
/// (`seen`; absent when it never read it).
pub(crate) fn draw_op(
    workload: &Workload,
    chooser: &KeyChooser,
    rng: &mut ChaCha8Rng,
    index: usize,
    seq: u64,
    seen: &Seen,
) -> (Op, bool) {
    let key = KeyChooser::key(chooser.next_index(rng)).into_bytes();
    let draw = workload.draw(rng);
    if draw == Draw::Read {
        return (Op::Get { key }, true);
    }
    let mut value = format!("c{index}-{seq}").into_bytes();
    value.resize(workload.value_size.max(value.len()), b'.');
    let op = match draw {
        Draw::Cas => Op::Cas {
            expected: seen.get(&key).cloned().flatten(),
            key,
            new: Some(value),
        },
        _ => Op::Put { key, value },
    };
    (op, false)
}

/// What one client last read of each key.
pub(crate) type Seen = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Notes what a finished read returned, for the client's next
/// compare-and-set of the key.
pub(crate) fn note_read(
    seen: &mut Seen,
    op_key: Option<Vec<u8>>,
    result: &Result<Option<Vec<u8>>>,
) {
    if let (Some(key), Ok(value)) = (op_key, result) {
        seen.insert(key, value.clone());
    }
}

/// The key of a read (`None` for anything else).
pub(crate) fn read_key(op: &Op) -> Option<Vec<u8>> {
    match op {
        Op::Get { key } => Some(key.clone()),
        _ => None,
    }
}

#[derive(Default)]
struct Tally {
    ops: AtomicU64,
    reads: AtomicU64,
    writes: AtomicU64,
    ok: AtomicU64,
    timeouts: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
}

impl Tally {
    fn count<T>(&self, read: bool, result: &Result<T>) {
        let kind = if read { &self.reads } else { &self.writes };
        kind.fetch_add(1, Ordering::Relaxed);
        self.ops.fetch_add(1, Ordering::Relaxed);
        let counter = match result {
            Ok(_) => &self.ok,
            Err(Error::Timeout(_)) => &self.timeouts,
            Err(Error::Unavailable(_)) => &self.unavailable,
            Err(_) => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What kind of operation a client does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Draw {
    Read,
    Put,
    Cas,
}

/// Runs `workload` on `cluster` from `clients` threads; `progress` is called
/// now and then (from the calling thread) with operations done so far.
/// Client errors are counted, never fatal: faults are the point.
pub fn run_workload(
    cluster: &Cluster,
    workload: &Workload,
    progress: &mut dyn FnMut(u64),
) -> Result<RunOutcome> {
    workload.validate()?;
    let chooser = KeyChooser::new(workload.keys, workload.zipf)?;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients = (0..workload.clients)
        .map(|_| cluster.client())
        .collect::<Result<Vec<_>>>()?;
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (c, mut client) in clients.into_iter().enumerate() {
            let (tally, stop, chooser) = (tally.clone(), stop.clone(), chooser.clone());
            let workload = workload.clone();
            handles.push(s.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    workload.seed ^ (c as u64 + 1).wrapping_mul(0x9E37_79B9),
                );
                let mut seq = 0u64;
                let more = |seq: u64| match workload.duration {
                    Some(d) => started.elapsed() < d,
                    None => seq < workload.ops_per_client,
                };
                // Each operation in flight: the key when it is a read.
                let mut reads = BTreeMap::new();
                let mut seen = Seen::new();
                loop {
                    while client.in_flight() < workload.in_flight
                        && more(seq)
                        && !stop.load(Ordering::Relaxed)
                    {
                        seq += 1;
                        let (op, read) = draw_op(&workload, &chooser, &mut rng, c, seq, &seen);
                        let key = read_key(&op);
                        if workload.in_flight == 1 {
                            // Blocking, as a plain client call.
                            let result = client.call(op);
                            tally.count(read, &result);
                            note_read(&mut seen, key, &result);
                            continue;
                        }
                        match client.submit(op) {
                            Ok(ticket) => {
                                reads.insert(ticket, key);
                            }
                            Err(e) => tally.count::<()>(read, &Err(e)),
                        }
                    }
                    match client.wait_any() {
                        Some((ticket, result)) => {
                            let key = reads.remove(&ticket).flatten();
                            tally.count(key.is_some(), &result);
                            note_read(&mut seen, key, &result);
                        }
                        None => break,
                    }
                }
            }));
        }
        while handles.iter().any(|h| !h.is_finished()) {
            progress(tally.ops.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(50));
        }
        progress(tally.ops.load(Ordering::Relaxed));
        for h in handles {
            if h.join().is_err() {
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(RunOutcome {
        elapsed: started.elapsed(),
        ops: load(&tally.ops),
        reads: load(&tally.reads),
        writes: load(&tally.writes),
        ok: load(&tally.ok),
        timeouts: load(&tally.timeouts),
        unavailable: load(&tally.unavailable),
        other_errors: load(&tally.other),
    })
}
