//! [`LoseUnflushed`]: an engine wrapper whose crash loses what was not
//! flushed, so that a test can tell [`Durability::FlushBeforeAck`] from
//! [`Durability::Periodic`].
//!
//! # Why it is needed
//!
//! A node crash in replikv stops the node's thread; its engine lives on in
//! the same process. sled keeps every write in its page cache and hands it
//! back after the "crash" whether or not it was flushed; reopening a sled
//! directory in the same process flushes on close. So without help, a test
//! passes the same with or without flushing: it cannot catch a missing flush.
//!
//! `LoseUnflushed` puts a volatile buffer above any engine. Writes land in
//! the buffer; reads see the buffer first, then the engine below. Only
//! [`Storage::flush`] moves the buffer into the inner engine (and flushes
//! that). [`Storage::on_crash`] — which the cluster calls when the node
//! crashes — throws the buffer away: exactly what a power cut does to an OS
//! page cache or to sled's own dirty pages.
//!
//! # The periodic flush
//!
//! A real engine flushes in the background (sled: every 500 ms). Made with
//! [`LoseUnflushed::flushing_every`], the wrapper does the same on a thread
//! of its own, so under [`Durability::Periodic`] a crash loses the writes of
//! at most the last period. Made with [`LoseUnflushed::new`], nothing but an
//! explicit flush persists anything.
//!
//! On the simulator's virtual clock a thread would flush on *real* time,
//! so what a crash loses would change from run to run. There the cluster
//! builds the wrapper with a clocked flush instead (`flushing_on_clock`):
//! every access first performs the flushes whose times have passed on the
//! cluster clock. Since every write is preceded by that check, a write
//! still buffered at a check was made before the flush time it finds due,
//! so the result is exactly that of a flush at every period boundary —
//! decided by virtual time alone.
//!
//! Dropping the wrapper is an orderly close, not a crash: it flushes the
//! buffer (as sled flushes on drop) and stops the flusher thread.
//!
//! [`Durability::FlushBeforeAck`]: super::Durability::FlushBeforeAck
//! [`Durability::Periodic`]: super::Durability::Periodic

use super::Storage;
use crate::clock::Clock;
use crate::error::Result;
use crossbeam_channel::{RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Writes not yet flushed: `Some(value)` for an insert, `None` for a removal.
type Pending = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A [`Storage`] wrapper that keeps writes in a volatile buffer until they
/// are flushed, and loses the buffer on [`Storage::on_crash`].
///
/// ```
/// // A crash loses the write that was not flushed, and keeps the one that was.
/// use replikv::storage::{LoseUnflushed, MemoryStorage, Storage};
///
/// let engine = LoseUnflushed::new(MemoryStorage::new());
/// engine.insert(b"kept", b"1")?;
/// engine.flush()?;
/// engine.insert(b"lost", b"2")?;
/// assert_eq!(engine.get(b"lost")?, Some(b"2".to_vec()));
/// assert_eq!(engine.unflushed(), 1);
/// engine.on_crash();
/// assert_eq!(engine.get(b"kept")?, Some(b"1".to_vec()));
/// assert_eq!(engine.get(b"lost")?, None);
/// # Ok::<(), replikv::Error>(())
/// ```
pub struct LoseUnflushed<E: Storage> {
    shared: Arc<Shared<E>>,
    flusher: Option<Flusher>,
}

/// What the wrapper and its flusher thread share.
struct Shared<E> {
    inner: E,
    /// One lock for the buffer *and* the move into `inner`: a reader never
    /// sees a write that left the buffer but has not reached the engine,
    /// and a crash never lands halfway through a flush.
    pending: Mutex<Pending>,
    /// The flush on the cluster clock, when there is one (the simulator).
    clocked: Option<Clocked>,
}

/// A periodic flush on the cluster clock, performed lazily.
struct Clocked {
    clock: Arc<Clock>,
    period_ns: u64,
    /// The cluster-clock time of the next flush.
    next_ns: AtomicU64,
}

/// The background flusher: dropping `stop` wakes the thread, which ends.
struct Flusher {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl<E: Storage> LoseUnflushed<E> {
    /// Wraps `inner` with no background flush: only [`Storage::flush`] (or
    /// dropping the wrapper) moves writes to `inner`.
    pub fn new(inner: E) -> Self {
        LoseUnflushed {
            shared: Arc::new(Shared {
                inner,
                pending: Mutex::new(Pending::new()),
                clocked: None,
            }),
            flusher: None,
        }
    }

    /// Like [`LoseUnflushed::flushing_every`], with the period measured on
    /// `clock` and no thread: each access first does the flushes that are
    /// due (see the module docs). The simulator's choice.
    pub(crate) fn flushing_on_clock(inner: E, period: Duration, clock: Arc<Clock>) -> Self {
        let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        let next_ns = AtomicU64::new(clock.now_ns().saturating_add(period_ns));
        LoseUnflushed {
            shared: Arc::new(Shared {
                inner,
                pending: Mutex::new(Pending::new()),
                clocked: Some(Clocked {
                    clock,
                    period_ns,
                    next_ns,
                }),
            }),
            flusher: None,
        }
    }

    /// Wraps `inner` and flushes every `period` on a thread of its own, as
    /// sled's background flusher does. [`crate::Error::Io`] if the thread
    /// cannot be started.
    ///
    /// ```
    /// // What the background flush persists survives a crash.
    /// use replikv::storage::{LoseUnflushed, MemoryStorage, Storage};
    /// use std::time::{Duration, Instant};
    ///
    /// let engine = LoseUnflushed::flushing_every(MemoryStorage::new(), Duration::from_millis(5))?;
    /// engine.insert(b"k", b"v")?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while engine.unflushed() > 0 && Instant::now() < deadline {
    ///     std::thread::yield_now();
    /// }
    /// engine.on_crash();
    /// assert_eq!(engine.get(b"k")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn flushing_every(inner: E, period: Duration) -> Result<Self> {
        let mut engine = LoseUnflushed::new(inner);
        let shared = engine.shared.clone();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("replikv-flusher".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    // A failed flush keeps its writes buffered; the next
                    // period tries again, and an explicit flush reports it.
                    let _ = shared.flush();
                }
            })?;
        engine.flusher = Some(Flusher { stop, thread });
        Ok(engine)
    }

    /// How many keys have writes that a crash would lose now.
    pub fn unflushed(&self) -> usize {
        self.shared.pending.lock().len()
    }

    /// The engine below the buffer (it holds only flushed writes).
    pub fn inner(&self) -> &E {
        &self.shared.inner
    }
}

impl<E: Storage> Shared<E> {
    /// Does the clocked flush if its time has come (nothing without one).
    fn catch_up(&self) {
        let Some(c) = &self.clocked else { return };
        let now = c.clock.now_ns();
        if now < c.next_ns.load(Ordering::Acquire) {
            return;
        }
        // A failed flush keeps its writes buffered, as on the thread.
        let _ = self.flush();
        let next = (now / c.period_ns)
            .saturating_add(1)
            .saturating_mul(c.period_ns);
        c.next_ns.store(next, Ordering::Release);
    }

    fn flush(&self) -> Result<()> {
        let mut pending = self.pending.lock();
        while let Some((key, value)) = pending.pop_first() {
            let applied = match &value {
                Some(value) => self.inner.insert(&key, value),
                None => self.inner.remove(&key),
            };
            if let Err(e) = applied {
                pending.insert(key, value);
                return Err(e);
            }
        }
        self.inner.flush()
    }
}

impl<E: Storage> Storage for LoseUnflushed<E> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.shared.catch_up();
        let pending = self.shared.pending.lock();
        match pending.get(key) {
            Some(buffered) => Ok(buffered.clone()),
            None => self.shared.inner.get(key),
        }
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.shared.catch_up();
        let mut pending = self.shared.pending.lock();
        pending.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<()> {
        self.shared.catch_up();
        let mut pending = self.shared.pending.lock();
        pending.insert(key.to_vec(), None);
        Ok(())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.shared.catch_up();
        let pending = self.shared.pending.lock();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            self.shared.inner.scan_prefix(prefix)?.into_iter().collect();
        let buffered = pending
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        for (key, value) in buffered {
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().collect())
    }

    fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    fn on_crash(&self) {
        // The flushes due before the crash happened.
        self.shared.catch_up();
        self.shared.pending.lock().clear();
        self.shared.inner.on_crash();
    }
}

impl<E: Storage> Drop for LoseUnflushed<E> {
    fn drop(&mut self) {
        // An orderly close: nothing to report the error to, and the writes
        // stay buffered only until the buffer itself is dropped.
        let _ = self.shared.flush();
        if let Some(Flusher { stop, thread }) = self.flusher.take() {
            drop(stop);
            // Joined so that the inner engine is closed when drop returns
            // (a sled directory can then be opened again at once).
            let _ = thread.join();
        }
    }
}

impl<E: Storage> std::fmt::Debug for LoseUnflushed<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoseUnflushed")
            .field("unflushed", &self.unflushed())
            .field("background_flush", &self.flusher.is_some())
            .finish_non_exhaustive()
    }
}
