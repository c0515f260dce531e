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
//! - **a queue between the services**: the orders worker asks for a
//!   refund by sending it on the queue `payments.refunds`, stored in the
//!   payments cluster, and moves on; a payments worker takes the refunds
//!   at its own pace. Orders need not wait for payments to be up: once
//!   the send is acknowledged the refund will happen, at least once — so
//!   the refund handler must be idempotent;
//! - **request/response with a timeout** ([`Link::call`]): the orders
//!   worker asks payments to charge and waits for the answer. A timeout
//!   does not say whether the request was carried out — the request or
//!   the response may be what was lost, or the request may still arrive
//!   late, after the caller gave up ([`Link::deliver_late`]) — so the
//!   caller **retries with exponential backoff and jitter**, and the
//!   handlers must be **idempotent** (keyed by order id) for the retry to
//!   be harmless; a refund *closes* the account, so that a charge arriving
//!   after it is refused.
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

/// What can go wrong on a [`Link`]: each probability within `0..=1`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkFaults {
    /// Chance that a request, or a response, is lost.
    pub drop: f64,
    /// Chance that a response is slow: it arrives `slow_by` late.
    pub slow: f64,
    /// How late a slow response is.
    pub slow_by: Duration,
    /// Chance that a request is late: it reaches the callee `late_by`
    /// after it would have — after the caller gave up, if that is longer
    /// than the timeout — and is handled then.
    pub late: f64,
    /// How late a late request is.
    pub late_by: Duration,
}

impl LinkFaults {
    fn validate(&self) -> Result<()> {
        for (name, p) in [
            ("drop", self.drop),
            ("slow", self.slow),
            ("late", self.late),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidConfig(format!(
                    "a link's {name} probability must be within 0..=1, not {p}"
                )));
            }
        }
        Ok(())
    }
}

/// The network between two services: latency, loss, slow responses and
/// late requests, decided from a seed. A request is a value of type `Q`,
/// so that one arriving late can be handled after its caller gave up
/// ([`Link::deliver_late`]).
#[derive(Debug)]
pub struct Link<Q = ()> {
    rng: ChaCha8Rng,
    latency: Duration,
    faults: LinkFaults,
    calls: u64,
    timeouts: u64,
    late: u64,
    /// Late requests on their way: (arrival on the callee's clock, request).
    in_transit: Vec<(u64, Q)>,
}

impl<Q> Link<Q> {
    /// A link with `latency` each way and no faults.
    pub fn new(seed: u64, latency: Duration) -> Link<Q> {
        Link {
            rng: ChaCha8Rng::seed_from_u64(seed),
            latency,
            faults: LinkFaults::default(),
            calls: 0,
            timeouts: 0,
            late: 0,
            in_transit: Vec::new(),
        }
    }

    /// Sets the faults from now on; a probability outside `0..=1` (or not
    /// a number) is [`Error::InvalidConfig`] and changes nothing.
    ///
    /// ```
    /// use replikv::services::{Link, LinkFaults};
    /// use replikv::Error;
    /// use std::time::Duration;
    /// let mut link: Link = Link::new(1, Duration::from_millis(10));
    /// let bad = LinkFaults { drop: 1.5, ..LinkFaults::default() };
    /// assert!(matches!(link.set_faults(bad), Err(Error::InvalidConfig(_))));
    /// let nan = LinkFaults { late: f64::NAN, ..LinkFaults::default() };
    /// assert!(matches!(link.set_faults(nan), Err(Error::InvalidConfig(_))));
    /// assert_eq!(link.faults(), LinkFaults::default());
    /// ```
    pub fn set_faults(&mut self, faults: LinkFaults) -> Result<()> {
        faults.validate()?;
        self.faults = faults;
        Ok(())
    }

    /// The faults in force.
    pub fn faults(&self) -> LinkFaults {
        self.faults
    }

    /// Calls made.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Calls that timed out.
    pub fn timeouts(&self) -> u64 {
        self.timeouts
    }

    /// Requests that were late (handled after their caller gave up, or
    /// still on their way).
    pub fn late_requests(&self) -> u64 {
        self.late
    }

    /// Late requests not yet handled.
    pub fn in_transit(&self) -> usize {
        self.in_transit.len()
    }

    /// One request from a service on `caller` to a handler on `callee`,
    /// with `timeout` on the caller's clock. `handler` runs on the callee
    /// (its errors — say, its cluster is unavailable — mean no response).
    /// [`Error::Timeout`] when no response came in time: the handler may or
    /// may not have run, or may run later (a late request, kept until
    /// [`Link::deliver_late`] hands it over).
    ///
    /// ```
    /// use replikv::services::{Link, LinkFaults, align};
    /// use replikv::{Cluster, Error, Runtime};
    /// use std::time::Duration;
    /// let a = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let b = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let mut link = Link::new(1, Duration::from_millis(10));
    /// let answer = link.call(&a, &b, Duration::from_secs(1), 41, |n| Ok(n + 1))?;
    /// assert_eq!(answer, 42);
    /// assert_eq!(a.clock().now_ns(), 20_000_000, "two hops of 10 ms");
    /// link.set_faults(LinkFaults { slow: 1.0, slow_by: Duration::from_secs(5), ..LinkFaults::default() })?;
    /// let late = link.call(&a, &b, Duration::from_secs(1), 42, |n| Ok(n + 1));
    /// assert!(matches!(late, Err(Error::Timeout(_))), "ran, but answered too late");
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn call<T>(
        &mut self,
        caller: &Cluster,
        callee: &Cluster,
        timeout: Duration,
        request: Q,
        handler: impl FnOnce(Q) -> Result<T>,
    ) -> Result<T> {
        self.calls += 1;
        let start = caller.clock().now_ns();
        let deadline = start.saturating_add(nanos(timeout));
        let lost_request = self.rng.random_bool(self.faults.drop);
        let lost_response = self.rng.random_bool(self.faults.drop);
        let slow = self.rng.random_bool(self.faults.slow);
        let late = self.rng.random_bool(self.faults.late);
        let mut arrival = start.saturating_add(nanos(self.latency));
        if late {
            arrival = arrival.saturating_add(nanos(self.faults.late_by));
        }
        let answer = if lost_request {
            None
        } else if arrival.saturating_add(nanos(self.latency)) > deadline {
            // It arrives after the caller gave up: handled then, unanswered.
            self.late += 1;
            self.in_transit.push((arrival, request));
            None
        } else {
            align(callee, arrival);
            let result = handler(request);
            let mut delay = nanos(self.latency);
            if slow {
                delay = delay.saturating_add(nanos(self.faults.slow_by));
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

    /// Hands the late requests that have arrived by `now_ns` to `handler`
    /// on `callee`, in arrival order (its clock brought to each arrival);
    /// nobody waits for their answers. Returns the answers, in that order.
    ///
    /// ```
    /// use replikv::services::{Link, LinkFaults};
    /// use replikv::{Cluster, Error, Runtime};
    /// use std::time::Duration;
    /// let a = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let b = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let mut link = Link::new(1, Duration::from_millis(10));
    /// link.set_faults(LinkFaults { late: 1.0, late_by: Duration::from_secs(5), ..LinkFaults::default() })?;
    /// let mut ran = Vec::new();
    /// let call = link.call(&a, &b, Duration::from_secs(1), "charge", |r| { ran.push(r); Ok(()) });
    /// assert!(matches!(call, Err(Error::Timeout(_))));
    /// assert!(ran.is_empty(), "not yet arrived");
    /// assert_eq!(link.deliver_late(&b, a.clock().now_ns(), |r| Ok(r)).len(), 0);
    /// a.run_for(Duration::from_secs(5));
    /// let answers = link.deliver_late(&b, a.clock().now_ns(), |r| Ok(r));
    /// assert_eq!(answers.len(), 1);
    /// assert_eq!(link.in_transit(), 0);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn deliver_late<T>(
        &mut self,
        callee: &Cluster,
        now_ns: u64,
        mut handler: impl FnMut(Q) -> Result<T>,
    ) -> Vec<Result<T>> {
        self.in_transit.sort_by_key(|(arrival, _)| *arrival);
        let due = self
            .in_transit
            .iter()
            .take_while(|(arrival, _)| *arrival <= now_ns)
            .count();
        self.in_transit
            .drain(..due)
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(arrival, request)| {
                align(callee, arrival);
                handler(request)
            })
            .collect()
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
