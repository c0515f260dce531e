//! The delay line: one thread holding delayed envelopes in a timer heap and
//! releasing each when it is due. One thread for the whole network (not one
//! per message or per link) keeps the thread count flat on a 2-core machine.

use super::{Envelope, Shared};
use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

enum Command {
    /// Due time, envelope, connection, trace number.
    Schedule(Instant, Envelope, Option<u64>, Option<u64>),
    Shutdown,
}

struct Due {
    at: Instant,
    seq: u64,
    envelope: Envelope,
    /// The receiver's connection when the message was sent (see
    /// `Shared::deliver`).
    connection: Option<u64>,
    /// The message's number in the trace, if one is recorded.
    trace: Option<u64>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed, so the max-heap pops the earliest first (ties: send order).
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Handle on the delay thread.
pub(crate) struct DelayLine {
    commands: Sender<Command>,
    pending: Arc<AtomicUsize>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl DelayLine {
    pub(crate) fn start(shared: Arc<Shared>) -> Result<Self> {
        let (commands, inbox) = crossbeam_channel::unbounded();
        let pending = Arc::new(AtomicUsize::new(0));
        let counter = pending.clone();
        let thread = std::thread::Builder::new()
            .name("replikv-delay".into())
            .spawn(move || run(inbox, shared, counter))
            .map_err(|e| Error::Io(std::io::Error::other(format!("spawn delay thread: {e}"))))?;
        Ok(DelayLine {
            commands,
            pending,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(crate) fn schedule(
        &self,
        envelope: Envelope,
        connection: Option<u64>,
        delay: Duration,
        trace: Option<u64>,
    ) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        // A delay of more than a century (`Latency::Fixed(Duration::MAX)`,
        // a fault hook's choice) holds the message until shutdown.
        let at = crate::clock::deadline_after(Instant::now(), delay);
        if self
            .commands
            .send(Command::Schedule(at, envelope, connection, trace))
            .is_err()
        {
            // The line is shut down: the message is lost like any other
            // message sent into a cluster that is going away.
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn shutdown(&self) {
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            let _ = self.commands.send(Command::Shutdown);
            let _ = thread.join();
        }
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(inbox: Receiver<Command>, shared: Arc<Shared>, pending: Arc<AtomicUsize>) {
    let mut heap: BinaryHeap<Due> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|due| due.at <= now) {
            if let Some(due) = heap.pop() {
                pending.fetch_sub(1, Ordering::Relaxed);
                shared.deliver(due.envelope, due.connection, due.trace);
            }
        }
        let first = match heap.peek() {
            Some(next) => match inbox.recv_timeout(next.at.saturating_duration_since(now)) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => Command::Shutdown,
            },
            None => inbox.recv().unwrap_or(Command::Shutdown),
        };
        // Take in everything already sent before releasing anything: when
        // this thread was kept off the CPU, messages that are all due by now
        // must still leave in the order of their due times, not one by one
        // in the order they were sent.
        for command in std::iter::once(first).chain(inbox.try_iter()) {
            match command {
                Command::Schedule(at, envelope, connection, trace) => {
                    seq += 1;
                    heap.push(Due {
                        at,
                        seq,
                        envelope,
                        connection,
                        trace,
                    });
                }
                Command::Shutdown => {
                    // Whatever is still waiting, here or in the channel, is lost.
                    let queued = inbox
                        .try_iter()
                        .filter(|c| matches!(c, Command::Schedule(..)))
                        .count();
                    let lost = heap.len() + queued;
                    shared.count_dropped(lost as u64);
                    pending.fetch_sub(lost, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}
