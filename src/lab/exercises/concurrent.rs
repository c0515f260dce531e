//! Several clients at once on a simulated cluster, for the graders.
//!
//! On threads a grader would give each client a thread and let the
//! operating system interleave them — a different interleaving every run.
//! On the simulator there is one thread, so each client is a small state
//! machine instead (as in [`crate::lab`]'s simulated workload): it starts an
//! operation, waits for its answer or its deadline in virtual time, and asks
//! its script for the next one. The clients start their operations in index
//! order at each instant and the world runs between, so the interleaving is
//! fixed by the seed and a failing grade replays exactly.

use crate::client::{Client, Op, Ticket};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use std::time::Duration;

/// The outcome of a client's last operation, as a blocking call returns it.
pub(crate) type Outcome = Result<Option<Vec<u8>>>;

/// A client's script: given the client (to change its policy) and the
/// outcome of its previous operation (`None` before the first), the next
/// operation, or `None` when it is done.
pub(crate) type Script<'a> = Box<dyn FnMut(&mut Client, Option<&Outcome>) -> Option<Op> + 'a>;

/// One client working through its script.
struct Actor<'a> {
    client: Client,
    script: Script<'a>,
    waiting: Option<Ticket>,
    last: Option<Outcome>,
    finished: bool,
    /// When it may start its next operation (its think time after the
    /// last one).
    ready_ns: u64,
}

impl Actor<'_> {
    /// Starts operations until one waits for an answer or the script ends
    /// (an operation finished at once — refused, or answered by a cache —
    /// is reported and followed by the next at the same instant).
    fn start(
        &mut self,
        index: usize,
        now: u64,
        think_ns: u64,
        after_op: &mut dyn FnMut(usize, &Outcome) -> Result<()>,
    ) -> Result<()> {
        while self.waiting.is_none() && !self.finished && now >= self.ready_ns {
            match (self.script)(&mut self.client, self.last.as_ref()) {
                None => self.finished = true,
                Some(op) => {
                    let outcome = match self.client.submit(op) {
                        Ok(ticket) => {
                            // Refused by a check, or answered by the cache:
                            // ready at once.
                            match self.client.take_ready().pop() {
                                Some((_, outcome)) => outcome,
                                None => {
                                    self.waiting = Some(ticket);
                                    continue;
                                }
                            }
                        }
                        Err(e) => Err(e),
                    };
                    after_op(index, &outcome)?;
                    self.last = Some(outcome);
                    self.ready_ns = now.saturating_add(think_ns);
                }
            }
        }
        Ok(())
    }
}

/// Runs every client's script to its end, concurrently, on the simulated
/// `cluster`; each client waits `think` of virtual time between the end of
/// one operation and the start of its next. `after_op(client index,
/// outcome)` hears each operation as it finishes, in a fixed order, and may
/// act on the cluster (crash a node).
///
/// Why think time: over links with no latency an operation takes no
/// virtual time at all, so without a pause one client's write and another's
/// read would share an instant — and the history could not say which came
/// first (the staleness oracle and the checker would count them as
/// concurrent). On threads, real time passes between operations anyway.
pub(crate) fn run_clients<'a>(
    cluster: &Cluster,
    clients: Vec<(Client, Script<'a>)>,
    think: Duration,
    after_op: &mut dyn FnMut(usize, &Outcome) -> Result<()>,
) -> Result<()> {
    let Some(world) = cluster.world() else {
        return Err(Error::InvalidConfig(
            "the graders' concurrent clients need a simulated cluster".into(),
        ));
    };
    let mut actors: Vec<Actor<'a>> = clients
        .into_iter()
        .map(|(client, script)| Actor {
            client,
            script,
            waiting: None,
            last: None,
            finished: false,
            ready_ns: 0,
        })
        .collect();
    let think_ns = u64::try_from(think.as_nanos()).unwrap_or(u64::MAX);
    loop {
        let now = world.now_ns();
        for (index, actor) in actors.iter_mut().enumerate() {
            actor.start(index, now, think_ns, after_op)?;
        }
        if actors.iter().all(|a| a.finished) {
            return Ok(());
        }
        // Wake for the first deadline, or the first client done thinking.
        let wake = actors
            .iter()
            .filter_map(|a| match &a.waiting {
                Some(_) => a.client.next_deadline(),
                None if !a.finished => Some(a.ready_ns),
                None => None,
            })
            .min()
            .unwrap_or(u64::MAX);
        // Only a waiting client's mail ends the wait: a finished client may
        // still receive a late answer that no one will read.
        world.run_until(wake, &mut || {
            actors
                .iter()
                .any(|a| a.waiting.is_some() && a.client.has_mail())
        });
        let now = world.now_ns();
        for (index, actor) in actors.iter_mut().enumerate() {
            if actor.waiting.is_none() {
                continue;
            }
            // Answered, or past its deadline (a timeout): one at most, as
            // each client has one operation in flight.
            let Some((_, outcome)) = actor.client.take_ready().pop() else {
                continue;
            };
            actor.waiting = None;
            after_op(index, &outcome)?;
            actor.last = Some(outcome);
            actor.ready_ns = now.saturating_add(think_ns);
        }
    }
}

/// A read of `key`.
pub(crate) fn get(key: impl AsRef<[u8]>) -> Op {
    Op::Get {
        key: key.as_ref().to_vec(),
    }
}

/// A write of `value` to `key`.
pub(crate) fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Op {
    Op::Put {
        key: key.as_ref().to_vec(),
        value: value.as_ref().to_vec(),
    }
}
