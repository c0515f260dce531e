//! Two services that survive each other's failures: an orders service and
//! a payments service, each its own replikv cluster, in one process.
//!
//! # What it shows
//!
//! A microservice owns its data (here: its own Raft cluster) and talks to
//! the others only by messages, so each can fail on its own — *partial
//! failure*, the defining trouble of distributed systems. The example
//! ([`shop::Shop`]) uses the two ways services talk:
//!
//! - **a queue** ([`crate::queue`]): shoppers place orders on the queue
//!   `orders.placed`, stored in the orders cluster; an orders worker takes
//!   them at its own pace, and a worker that crashes mid-order gets the
//!   order again (at-least-once);
//! - **request/response with a timeout** ([`Link::call`]): the orders
//!   worker asks payments to charge and to refund. A timeout does not say
//!   whether the request was carried out — the response may be what was
//!   lost, or merely late — so the caller **retries with exponential
//!   backoff and jitter**, and the handlers must be **idempotent** (keyed
//!   by order id) for the retry to be harmless.
//!
//! Placing an order is a **saga** (Garcia-Molina & Salem, "Sagas", SIGMOD
//! 1987): a sequence of local steps — accept, charge, ship, confirm — each
//! committed in its own service, with a **compensating** step — refund —
//! that undoes the charge when a later step fails. There is no transaction
//! across the two clusters; the saga's state is kept in the order record
//! so that a redelivered order resumes where it stopped.
//!
//! [`shop::check`] judges a run from both services' final state: no order
//! charged twice, no charge kept without a confirmed order, every accepted
//! order finally confirmed and charged once, or cancelled and charged
//! nothing. With idempotency or compensation switched off
//! ([`shop::Defences`]) it fails under faults; with both on it holds
//! (`tests/services.rs`).
//!
//! # Two clusters, one virtual time
//!
//! On the simulator each cluster has its own virtual clock, moved only when
//! its own clients wait. [`Link::call`] keeps the two consistent: before
//! the callee handles a request its clock is brought up to the caller's
//! send time plus the link latency ([`align`]), and the caller's clock is
//! moved to the arrival of the response or to its timeout. Time only ever
//! moves forward, and a response never arrives before its request was
//! handled.
//!
//! # Retries: backon
//!
//! The backoff policy is the `backon` crate's [`ExponentialBuilder`]: an
//! iterator of delays, doubling up to a cap, with jitter drawn from a
//! *seeded* generator (`with_jitter_seed`), so a run replays exactly. The
//! services take the delays from that iterator ([`backoff`]) and wait each
//! one out on the cluster's clock ([`crate::Cluster::run_for`]): virtual
//! time on the simulator, real time on threads — backon's own retry
//! wrappers would sleep on a real timer. (`backoff`, the older crate, is
//! unmaintained since 2021 and sleeps on the wall clock.) Jitter spreads
//! the retries of many callers that failed together, so that they do not
//! come back together (Brooker, "Exponential Backoff and Jitter", AWS
//! Architecture Blog, 2015).

pub mod shop;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use backon::ExponentialBuilder;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

/// Lets `cluster`'s clock catch up with `ns` (on the simulator, runs its
/// events until then); nothing if it is there already.
pub fn align(cluster: &Cluster, ns: u64) {
    let now = cluster.clock().now_ns();
    if ns > now {
        cluster.run_for(Duration::from_nanos(ns - now));
    }
}

/// The network between two services: latency, loss and slow responses,
/// decided from a seed.
#[derive(Debug)]
pub struct Link {
    rng: ChaCha8Rng,
    /// One-way latency of a request or a response.
    pub latency: Duration,
    /// Chance that a request, or a response, is lost.
    pub drop: f64,
    /// Chance that a response is slow: it arrives [`Link::slow_by`] late.
    pub slow: f64,
    /// How late a slow response is.
    pub slow_by: Duration,
    /// Calls made, and calls that timed out.
    pub calls: u64,
    /// Calls that timed out.
    pub timeouts: u64,
}

impl Link {
    /// A link with `latency` each way and no faults.
    pub fn new(seed: u64, latency: Duration) -> Link {
        Link {
            rng: ChaCha8Rng::seed_from_u64(seed),
            latency,
            drop: 0.0,
            slow: 0.0,
            slow_by: Duration::ZERO,
            calls: 0,
            timeouts: 0,
        }
    }

    /// One request from a service on `caller` to a handler on `callee`,
    /// with `timeout` on the caller's clock. `handler` runs on the callee
    /// (its errors — say, its cluster is unavailable — mean no response).
    /// [`Error::Timeout`] when no response came in time: the handler may or
    /// may not have run.
    ///
    /// ```
    /// use replikv::services::{Link, align};
    /// use replikv::{Cluster, Error, Runtime};
    /// use std::time::Duration;
    /// let a = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let b = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let mut link = Link::new(1, Duration::from_millis(10));
    /// let answer = link.call(&a, &b, Duration::from_secs(1), || Ok(42))?;
    /// assert_eq!(answer, 42);
    /// assert_eq!(a.clock().now_ns(), 20_000_000, "two hops of 10 ms");
    /// link.slow = 1.0;
    /// link.slow_by = Duration::from_secs(5);
    /// let late = link.call(&a, &b, Duration::from_secs(1), || Ok(43));
    /// assert!(matches!(late, Err(Error::Timeout(_))), "ran, but answered too late");
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn call<T>(
        &mut self,
        caller: &Cluster,
        callee: &Cluster,
        timeout: Duration,
        handler: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.calls += 1;
        let start = caller.clock().now_ns();
        let deadline = start.saturating_add(nanos(timeout));
        let lost_request = self.rng.random_bool(self.drop);
        let lost_response = self.rng.random_bool(self.drop);
        let slow = self.rng.random_bool(self.slow);
        let answer = if lost_request {
            None
        } else {
            align(callee, start.saturating_add(nanos(self.latency)));
            let result = handler();
            let mut delay = nanos(self.latency);
            if slow {
                delay = delay.saturating_add(nanos(self.slow_by));
            }
            let arrival = callee.clock().now_ns().saturating_add(delay);
            match result {
                Ok(value) if !lost_response && arrival <= deadline => Some((value, arrival)),
                _ => None,
            }
        };
        match answer {
            Some((value, arrival)) => {
                align(caller, arrival);
                Ok(value)
            }
            None => {
                align(caller, deadline);
                self.timeouts += 1;
                Err(Error::Timeout(timeout))
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The retry policy of the services: exponential backoff from `first` up to
/// `cap`, full jitter (each delay is stretched by a random fraction of
/// itself), at most `retries` retries, seeded.
///
/// ```
/// let delays: Vec<_> = replikv::services::backoff(7, 3).collect();
/// assert_eq!(delays.len(), 3);
/// assert_eq!(delays, replikv::services::backoff(7, 3).collect::<Vec<_>>(), "seeded: replays");
/// assert!(delays[2] > delays[0]);
/// ```
pub fn backoff(seed: u64, retries: usize) -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(retries)
        .with_jitter()
        .with_jitter_seed(seed)
        .build()
}
