//! A lease-based lock with fencing tokens, built on compare-and-set — and
//! the GC pause that breaks it without the tokens.
//!
//! # The lock
//!
//! A lock is one key. Its value names the holder, a *fencing token*, and
//! when the lease ends (on the cluster clock): `holder,token,expires_ns`.
//! [`acquire`] reads the key; if it is absent or its lease has ended, it
//! swaps in a grant of its own with the next token, by
//! [`Client::compare_and_set`] against exactly what it read. So two
//! clients racing for one expired lease cannot both win (one swap finds
//! the value changed), and each grant's token is one more than the grant
//! it replaced: tokens only ever grow. [`release`] ends the lease early and
//! keeps the token, so the next grant still counts on from it.
//!
//! # Why a lease is not enough
//!
//! A lease keeps a crashed holder from blocking everyone for ever — and it
//! lets the lock move on while a holder that is merely *slow* still thinks
//! it holds it. A process stopped by a long garbage-collection pause (or a
//! swapped-out VM, or a stalled disk) cannot notice its lease running out:
//! it checked the lock, then stopped, and when it wakes it carries on from
//! the next instruction — the write. By then another client holds the
//! lock. Kleppmann ("How to do distributed locking", 2016; *Designing
//! Data-Intensive Applications*, ch. 8) and Chubby's sequencers (Burrows,
//! OSDI 2006, §2.4) give the fix: the storage, not the lock holder, checks.
//! Every write carries the token of the grant it was made under, and the
//! storage refuses a token lower than one it has already seen.
//!
//! # The storage
//!
//! The protected resource here is a counter in the same replicated store,
//! stored as `token,value`. [`write`] with [`Fencing::On`] reads it and
//! swaps in the new value only if the write's token is at least the stored
//! one (a compare-and-set again, so the check and the write are one atomic
//! step); with [`Fencing::Off`] it overwrites blindly, as storage that
//! knows nothing of locks would.
//!
//! # The scenario
//!
//! [`run_scenario`] plays rounds on a simulated 3-node consensus cluster
//! (exact, replayable from the seed). Each round, client A takes the lock,
//! reads the counter, and pauses for a random time between half a lease
//! and two leases. If A's lease ran out meanwhile, client B takes the lock
//! (the next token), reads the counter, writes it plus one, and releases.
//! Then A wakes and writes *its* counter plus one, under its old token.
//! The invariant: the counter equals the increments the clients were told
//! succeeded. Without fencing every pause past the lease loses B's
//! increment (A overwrites it with the same number); with fencing A's
//! write is refused and nothing is lost. [`LockReport`] counts both.
//!
//! ```
//! use replikv::lab::lock::{Fencing, LockScenario, run_scenario};
//! let unfenced = run_scenario(&LockScenario { fencing: Fencing::Off, ..LockScenario::default() })?;
//! assert!(unfenced.lost_increments > 0);
//! assert_eq!(unfenced.lost_increments, unfenced.stale_writes_accepted);
//! let fenced = run_scenario(&LockScenario { fencing: Fencing::On, ..LockScenario::default() })?;
//! assert_eq!(fenced.lost_increments, 0);
//! assert_eq!(fenced.stale_writes_refused, fenced.stale_writes);
//! # Ok::<(), replikv::Error>(())
//! ```

use crate::client::Client;
use crate::clock::Clock;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::{Error, Result};
use crate::network::Latency;
use crate::sim::Runtime;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A lease on a lock, with its fencing token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The lock's key.
    pub lock: String,
    /// Who holds it (any number the caller chooses, e.g. a client id).
    pub holder: u64,
    /// The fencing token: one more than the grant before it.
    pub token: u64,
    /// When the lease ends, in nanoseconds on the cluster clock.
    pub expires_ns: u64,
}

impl Grant {
    fn encode(&self) -> Vec<u8> {
        format!("{},{},{}", self.holder, self.token, self.expires_ns).into_bytes()
    }

    fn decode(lock: &str, bytes: &[u8]) -> Result<Grant> {
        let bad = || Error::Decode(format!("lock {lock:?} holds {bytes:?}, not a grant"));
        let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.split(',').map(|p| p.parse::<u64>().map_err(|_| bad()));
        let (Some(holder), Some(token), Some(expires_ns), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Grant {
            lock: lock.to_string(),
            holder: holder?,
            token: token?,
            expires_ns: expires_ns?,
        })
    }

    /// Whether the lease is still running at `now_ns`.
    pub fn is_live(&self, now_ns: u64) -> bool {
        now_ns < self.expires_ns
    }
}

/// Takes `lock` for `holder` for `lease`, if it is free or its lease has
/// ended (judged by `clock`); `None` when someone else holds it, or won a
/// race for it. Needs a mode with compare-and-set (consensus).
pub fn acquire(
    client: &mut Client,
    clock: &Clock,
    lock: &str,
    holder: u64,
    lease: Duration,
) -> Result<Option<Grant>> {
    let current = client.get(lock)?;
    let now = clock.now_ns();
    let token = match &current {
        None => 1,
        Some(bytes) => {
            let held = Grant::decode(lock, bytes)?;
            if held.is_live(now) {
                return Ok(None);
            }
            held.token + 1
        }
    };
    let grant = Grant {
        lock: lock.to_string(),
        holder,
        token,
        expires_ns: now.saturating_add(u64::try_from(lease.as_nanos()).unwrap_or(u64::MAX)),
    };
    let swapped = client.compare_and_set(lock, current.as_deref(), Some(&grant.encode()))?;
    Ok(swapped.then_some(grant))
}

/// Ends `grant`'s lease now, keeping its token for the next grant to count
/// on from; false when the lock had already moved on to another grant.
pub fn release(client: &mut Client, grant: &Grant) -> Result<bool> {
    let released = Grant {
        expires_ns: 0,
        ..grant.clone()
    };
    client.compare_and_set(&grant.lock, Some(&grant.encode()), Some(&released.encode()))
}

/// Whether the storage checks fencing tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Fencing {
    /// Writes overwrite, whatever token they carry.
    Off,
    /// A write whose token is lower than the stored one is refused.
    On,
}

impl fmt::Display for Fencing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Fencing::Off => "without fencing",
            Fencing::On => "with fencing",
        })
    }
}

/// What the storage did with a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Stored.
    Accepted,
    /// Refused: the storage had already seen the token `newer`.
    Refused {
        /// The higher token the storage holds.
        newer: u64,
    },
}

/// Reads a fenced value: its token (0 when absent) and the value.
pub fn read(client: &mut Client, key: &str) -> Result<(u64, Option<Vec<u8>>)> {
    match client.get(key)? {
        None => Ok((0, None)),
        Some(bytes) => split(key, &bytes),
    }
}

fn split(key: &str, bytes: &[u8]) -> Result<(u64, Option<Vec<u8>>)> {
    let bad = || Error::Decode(format!("{key:?} holds {bytes:?}, not token,value"));
    let comma = bytes.iter().position(|&b| b == b',').ok_or_else(bad)?;
    let token = std::str::from_utf8(&bytes[..comma])
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(bad)?;
    Ok((token, Some(bytes[comma + 1..].to_vec())))
}

/// How many times [`write`] retries a swap that lost a race before it
/// gives up with [`Error::Unavailable`].
const MAX_SWAPS: usize = 16;

/// Writes `value` to `key` under fencing `token`.
pub fn write(
    client: &mut Client,
    key: &str,
    token: u64,
    value: &[u8],
    fencing: Fencing,
) -> Result<Written> {
    let mut stored = format!("{token},").into_bytes();
    stored.extend_from_slice(value);
    if fencing == Fencing::Off {
        client.put(key, &stored)?;
        return Ok(Written::Accepted);
    }
    for _ in 0..MAX_SWAPS {
        let current = client.get(key)?;
        if let Some(bytes) = &current {
            let (newer, _) = split(key, bytes)?;
            if newer > token {
                return Ok(Written::Refused { newer });
            }
        }
        if client.compare_and_set(key, current.as_deref(), Some(&stored))? {
            return Ok(Written::Accepted);
        }
    }
    Err(Error::Unavailable(format!(
        "{key:?} changed under {MAX_SWAPS} fenced writes in a row"
    )))
}

/// The GC-pause scenario's settings (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockScenario {
    /// Rounds played.
    pub rounds: usize,
    /// How long a grant lasts.
    pub lease: Duration,
    /// Whether the storage checks tokens.
    pub fencing: Fencing,
    /// Seed of the cluster and of the pauses.
    pub seed: u64,
}

impl Default for LockScenario {
    fn default() -> Self {
        LockScenario {
            rounds: 20,
            lease: Duration::from_millis(100),
            fencing: Fencing::Off,
            seed: 1,
        }
    }
}

/// What [`run_scenario`] counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LockReport {
    /// Rounds played.
    pub rounds: usize,
    /// Grants made (A's every round, plus B's after each pause past the lease).
    pub grants: u64,
    /// Every grant's token, in order: they must only grow.
    pub tokens: Vec<u64>,
    /// Writes made by a client whose lock had been granted to another
    /// meanwhile (one per pause past the lease).
    pub stale_writes: u64,
    /// Stale writes the storage accepted.
    pub stale_writes_accepted: u64,
    /// Stale writes the storage refused.
    pub stale_writes_refused: u64,
    /// Increments the clients were told succeeded.
    pub increments_acknowledged: u64,
    /// The counter at the end.
    pub counter: u64,
    /// Acknowledged increments missing from the counter (the invariant
    /// `counter == increments_acknowledged` broken this many times over).
    pub lost_increments: u64,
}

impl LockReport {
    /// Whether every grant's token was higher than the one before.
    pub fn tokens_increase(&self) -> bool {
        self.tokens.windows(2).all(|w| w[0] < w[1])
    }
}

/// The counter's key.
const COUNTER: &str = "counter";
/// The lock's key.
const LOCK: &str = "lock";

/// Plays `scenario` on a fresh simulated 3-node consensus cluster.
pub fn run_scenario(scenario: &LockScenario) -> Result<LockReport> {
    if scenario.lease.is_zero() {
        return Err(Error::InvalidConfig(
            "the lease must be longer than 0".into(),
        ));
    }
    let cluster = Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .storage(StorageKind::Memory)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .seed(scenario.seed)
        .build()?;
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
    let mut clients = [cluster.client()?, cluster.client()?];
    let clock = cluster.clock().clone();
    let lease_ns = u64::try_from(scenario.lease.as_nanos()).unwrap_or(u64::MAX);
    let mut report = LockReport {
        rounds: scenario.rounds,
        ..LockReport::default()
    };
    let count = |(_, value): (u64, Option<Vec<u8>>)| -> u64 {
        value
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    for round in 0..scenario.rounds {
        let (a, b) = (round % 2, 1 - round % 2);
        let grant_a = loop {
            if let Some(grant) = acquire(&mut clients[a], &clock, LOCK, a as u64, scenario.lease)? {
                break grant;
            }
            cluster.run_for(scenario.lease); // held: wait for the lease to end
        };
        report.grants += 1;
        report.tokens.push(grant_a.token);
        let seen_by_a = count(read(&mut clients[a], COUNTER)?);
        // The pause: A is stopped, time goes on.
        let pause_ns = rng.random_range(lease_ns / 2..lease_ns.saturating_mul(2));
        cluster.run_for(Duration::from_nanos(pause_ns));
        let grant_b = acquire(&mut clients[b], &clock, LOCK, b as u64, scenario.lease)?;
        if let Some(grant_b) = &grant_b {
            report.grants += 1;
            report.tokens.push(grant_b.token);
            let seen = count(read(&mut clients[b], COUNTER)?);
            let next = (seen + 1).to_string();
            let written = write(
                &mut clients[b],
                COUNTER,
                grant_b.token,
                next.as_bytes(),
                scenario.fencing,
            )?;
            if written == Written::Accepted {
                report.increments_acknowledged += 1;
            }
            release(&mut clients[b], grant_b)?;
        }
        // A wakes and carries on, sure it holds the lock.
        let next = (seen_by_a + 1).to_string();
        let written = write(
            &mut clients[a],
            COUNTER,
            grant_a.token,
            next.as_bytes(),
            scenario.fencing,
        )?;
        if written == Written::Accepted {
            report.increments_acknowledged += 1;
        }
        if grant_b.is_some() {
            report.stale_writes += 1;
            match written {
                Written::Accepted => report.stale_writes_accepted += 1,
                Written::Refused { .. } => report.stale_writes_refused += 1,
            }
        }
        release(&mut clients[a], &grant_a)?;
    }
    report.counter = count(read(&mut clients[0], COUNTER)?);
    report.lost_increments = report
        .increments_acknowledged
        .saturating_sub(report.counter);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consensus() -> Cluster {
        Cluster::builder()
            .runtime(Runtime::Simulated)
            .consistency(Consistency::Consensus)
            .storage(StorageKind::Memory)
            .build()
            .unwrap()
    }

    #[test]
    fn a_live_lease_keeps_the_lock_and_an_ended_one_hands_it_on_with_the_next_token() {
        let cluster = consensus();
        let (mut a, mut b) = (cluster.client().unwrap(), cluster.client().unwrap());
        let clock = cluster.clock().clone();
        let lease = Duration::from_millis(100);
        let first = acquire(&mut a, &clock, "l", 1, lease).unwrap().unwrap();
        assert_eq!(first.token, 1);
        assert_eq!(acquire(&mut b, &clock, "l", 2, lease).unwrap(), None);
        cluster.run_for(lease);
        let second = acquire(&mut b, &clock, "l", 2, lease).unwrap().unwrap();
        assert_eq!(second.token, 2);
        assert!(!release(&mut a, &first).unwrap(), "a's grant has moved on");
        assert!(release(&mut b, &second).unwrap());
        let third = acquire(&mut a, &clock, "l", 1, lease).unwrap().unwrap();
        assert_eq!(third.token, 3, "a release keeps the token");
    }

    #[test]
    fn a_fenced_write_under_an_older_token_is_refused_and_an_unfenced_one_is_not() {
        let cluster = consensus();
        let mut c = cluster.client().unwrap();
        assert_eq!(
            write(&mut c, "k", 2, b"new", Fencing::On).unwrap(),
            Written::Accepted
        );
        assert_eq!(
            write(&mut c, "k", 1, b"old", Fencing::On).unwrap(),
            Written::Refused { newer: 2 }
        );
        assert_eq!(read(&mut c, "k").unwrap(), (2, Some(b"new".to_vec())));
        assert_eq!(
            write(&mut c, "k", 1, b"old", Fencing::Off).unwrap(),
            Written::Accepted
        );
        assert_eq!(read(&mut c, "k").unwrap(), (1, Some(b"old".to_vec())));
    }

    #[test]
    fn garbage_in_the_lock_or_the_storage_is_a_decode_error() {
        let cluster = consensus();
        let mut c = cluster.client().unwrap();
        let clock = cluster.clock().clone();
        for garbage in ["x", "1,2", "1,2,3,4", "1,a,3"] {
            c.put("l", garbage).unwrap();
            let got = acquire(&mut c, &clock, "l", 1, Duration::from_millis(1));
            assert!(matches!(got, Err(Error::Decode(_))), "{garbage}: {got:?}");
        }
        c.put("k", "nocomma").unwrap();
        assert!(matches!(
            write(&mut c, "k", 1, b"v", Fencing::On),
            Err(Error::Decode(_))
        ));
    }

    #[test]
    fn the_lock_needs_compare_and_set() {
        let cluster = Cluster::builder()
            .runtime(Runtime::Simulated)
            .consistency(Consistency::Strong)
            .build()
            .unwrap();
        let mut c = cluster.client().unwrap();
        let got = acquire(&mut c, cluster.clock(), "l", 1, Duration::from_millis(1));
        assert!(matches!(got, Err(Error::Unsupported(_))), "{got:?}");
    }

    #[test]
    fn a_zero_lease_is_refused() {
        let got = run_scenario(&LockScenario {
            lease: Duration::ZERO,
            ..LockScenario::default()
        });
        assert!(matches!(got, Err(Error::InvalidConfig(_))), "{got:?}");
    }
}
