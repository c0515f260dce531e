//! Deterministic simulation: the same protocols on virtual time, replayed
//! bit for bit from a seed.
//!
//! # Why
//!
//! On threads, a seed fixes a run's *inputs* — fault decisions, latencies,
//! workload — but not its *execution*: the operating system decides which
//! thread runs when, so the same command acknowledges 117 operations once and
//! 120 the next time, and a violation found once may never show again.
//! FoundationDB's simulator, madsim, turmoil and stateright answer this the
//! same way, and so does replikv: run every node, the network and the
//! clients on **one thread**, in a **discrete-event loop** on **virtual
//! time**, with every random choice drawn from the seed in an order fixed by
//! the event sequence. Then a seed is a bug report anyone can replay, a
//! failing run can be shrunk, and a run with 20 ms links does not wait 20 ms
//! of real time per hop: thousands of fault schedules run in a minute.
//!
//! # How
//!
//! - **One node core, two drivers.** A node is a sans-I/O core
//!   (`node::NodeCore`, crate-private): input in, envelopes out, timers as
//!   data. The node thread drives it on the monotonic clock; the simulator
//!   drives the very same core from its event loop. A protocol cannot tell
//!   which one runs it, and there is no `cfg` in protocol code.
//! - **Time is an input.** The cluster [`Clock`](crate::Clock) is real or
//!   virtual ([`crate::Clock::simulated`]); protocols read it only through
//!   their `Context`, per-node skew included.
//! - **One fault model.** [`crate::network::Network::send`] decides each
//!   message's fate (drop, duplicate, latency, partitions, cuts, scope, the
//!   user's hook) the same way for both runtimes; only the transport
//!   differs. Here every message waits in the event queue until its virtual
//!   arrival time.
//! - **Events** are ordered by virtual time, then by the order they were
//!   scheduled in. Everything the world does — deliver a message, fire a
//!   node's timers, wake a paused node — happens on the calling thread, one
//!   event at a time.
//!
//! A simulated cluster is an ordinary [`crate::Cluster`] built with
//! [`Runtime::Simulated`]: crash, restart, pause, partitions, clock skew,
//! `add_node`/`remove_node`, the read cache, hints, anti-entropy and
//! timeouts all work. A blocking [`crate::Client`] on it runs the world until
//! its answer arrives or its timeout passes in virtual time; the lab's
//! workload and nemesis drive many clients at once as events
//! ([`crate::lab::Experiment`] with `runtime: Runtime::Simulated`).
//!
//! Two rules keep virtual time honest:
//!
//! - **Program order is time order.** An operation a client invokes after
//!   another operation returned (on the simulator's one thread, anything
//!   started later *is* later) is invoked at least one nanosecond after that
//!   return, even over instant links. Otherwise both would share a
//!   timestamp, and the linearizability checker and the lost-write oracle,
//!   which read equal times as concurrent, would judge a client's read after
//!   its own write as if it might have come first.
//! - **Nothing runs on real time.** Every periodic activity is an event or
//!   is decided from the cluster clock: the node timers, the nemesis, the
//!   read cache's TTL, and the periodic flush of storage that loses unflushed
//!   writes on a crash ([`crate::ClusterBuilder::lose_unflushed_on_crash`]).
//!   In-memory storage is the default; sled is used when asked for
//!   (`.storage(StorageKind::Temporary)` or a directory), and what it stores
//!   does not depend on its background threads.
//!
//! What the simulator is for, in the lab: a [`crate::lab::Sweep`] runs one
//! configuration under many seeds and prints a one-line replay command for
//! every violation (`replikv sweep`), and
//! [`crate::lab::Experiment::check_determinism`] runs a seed twice and names
//! the first event of the world at which the runs part (`replikv run
//! --runtime sim --check-determinism`).
//!
//! # Stepping by hand: the harness
//!
//! A protocol's unit tests want to choose the order of events themselves:
//! which message arrives next, which is lost or delivered twice, when a
//! timer fires, when a node crashes. [`Harness`] runs a protocol's nodes on
//! the same node core, but holds every peer message until the test
//! delivers ([`Harness::deliver`], [`Harness::deliver_all_where`]), drops
//! ([`Harness::drop_message`]) or duplicates ([`Harness::duplicate`]) it;
//! it fires a node's timer only when asked ([`Harness::fire_timer`]), and
//! shows what the clients were answered and what each node stored. The
//! built-in protocols' state-machine tests use it.
//!
//! ```
//! use replikv::protocol::strong::Strong;
//! use replikv::protocol::{Request, Response};
//! use replikv::sim::Harness;
//! use replikv::NodeId;
//! let mut h = Harness::new(3, 3, |setup| Strong::new(setup.incarnation))?;
//! let put = h.request(NodeId(0), Request::Put { key: b"k".to_vec(), value: b"v".to_vec() })?;
//! // Node 2 hears nothing: every message to or from it is lost.
//! h.deliver_all_where(|m| m.from != NodeId(2) && m.to != NodeId(2))?;
//! assert_eq!(h.response(put), Some(&Response::Done), "a majority is enough");
//! assert_eq!(h.record(NodeId(2), b"k")?, None);
//! // Node 0 crashes and restarts over its storage; a read through node 1
//! // still finds the value on the majority.
//! h.restart(NodeId(0))?;
//! let get = h.request(NodeId(1), Request::Get { key: b"k".to_vec() })?;
//! h.deliver_all()?;
//! assert_eq!(h.response(get), Some(&Response::Value(Some(b"v".to_vec()))));
//! # Ok::<(), replikv::Error>(())
//! ```
//!
//! # When to use which
//!
//! Use the **simulator** to find and replay bugs, to sweep many fault
//! schedules, and for figures that must be reproducible (latency in virtual
//! time is exact). Use **threads** for real concurrency — races in your own
//! code that only a second core exposes, real throughput and the cost of
//! hand-offs between threads. Determinism holds only if protocol code draws
//! randomness from `Context::rng` and iterates ordered collections where
//! iteration order reaches its effects (a `HashMap`'s order differs between
//! runs; a `BTreeMap`'s does not).

mod harness;
pub(crate) mod trace;
mod world;

pub use harness::{Harness, Held, MessageId};
pub(crate) use world::World;

use std::fmt;
use std::str::FromStr;

/// Which driver runs the nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Runtime {
    /// One OS thread per node on the monotonic clock: real concurrency.
    #[default]
    Threads,
    /// One thread, a discrete-event loop on virtual time: replayable from
    /// the seed.
    Simulated,
}

impl fmt::Display for Runtime {
    /// The name the command line and reports use: `threads` or `sim`.
    ///
    /// ```
    /// assert_eq!(replikv::Runtime::Simulated.to_string(), "sim");
    /// assert_eq!("threads".parse::<replikv::Runtime>()?, replikv::Runtime::Threads);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::Threads => "threads",
            Runtime::Simulated => "sim",
        })
    }
}

impl FromStr for Runtime {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "threads" => Ok(Runtime::Threads),
            "sim" | "simulated" => Ok(Runtime::Simulated),
            other => Err(crate::Error::InvalidConfig(format!(
                "unknown runtime {other:?}: expected threads or sim"
            ))),
        }
    }
}
