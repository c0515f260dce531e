//! What a queue did: counters, end-to-end latency, depth over time.
//!
//! Every [`Queue`](super::Queue) handle records into a [`QueueMetrics`];
//! handles opened with [`Queue::with_metrics`](super::Queue::with_metrics)
//! share one, so a run with many producers and consumers adds up in one
//! place. The counters are what the handles *saw*: a send whose answer was
//! lost (a timeout) is not counted as sent, though it may have been.

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::Arc;

/// Shared, thread-safe counters of one or more queue handles (a cheap
/// clone: every clone records into the same place).
#[derive(Clone, Debug, Default)]
pub struct QueueMetrics {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    counts: QueueCounts,
    latency: Option<Histogram<u64>>,
    depth: Vec<DepthSample>,
}

/// The counters of a [`QueueMetrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    /// Sends acknowledged.
    pub sent: u64,
    /// Messages handed to a consumer, first deliveries and redeliveries.
    pub deliveries: u64,
    /// Deliveries of a message delivered before (its visibility timeout
    /// expired without an acknowledgement).
    pub redeliveries: u64,
    /// Acknowledgements accepted.
    pub acked: u64,
    /// Acknowledgements refused because the message had been delivered again
    /// (or dead-lettered) since: the consumer was too slow.
    pub stale_acks: u64,
    /// Messages moved to the dead-letter queue.
    pub dead_lettered: u64,
    /// Messages that could not be handed out because their record, with
    /// the delivery bookkeeping, would exceed [`crate::MAX_VALUE_LEN`]
    /// (only records stored without `send`'s check): moved to the
    /// dead-letter queue (also counted in `dead_lettered`), or, in a
    /// dead-letter queue, set aside as dead.
    pub undeliverable: u64,
}

/// The number of messages in a queue at one moment (see
/// [`Queue::depth`](super::Queue::depth)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DepthSample {
    /// When, on the cluster clock, in nanoseconds.
    pub at_ns: u64,
    /// Messages waiting to be delivered (visible now).
    pub visible: u64,
    /// Messages delivered and not yet acknowledged (hidden by their
    /// visibility timeout).
    pub in_flight: u64,
}

/// End-to-end latency percentiles, send to acknowledgement, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// Acknowledged messages measured.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Largest.
    pub max_ns: u64,
}

impl QueueMetrics {
    /// Fresh, empty metrics.
    pub fn new() -> Self {
        QueueMetrics::default()
    }

    /// The counters so far.
    pub fn counts(&self) -> QueueCounts {
        self.inner.lock().counts
    }

    /// Send-to-acknowledgement latency so far.
    ///
    /// ```
    /// let metrics = replikv::queue::QueueMetrics::new();
    /// assert_eq!(metrics.latency().count, 0);
    /// ```
    pub fn latency(&self) -> LatencySummary {
        let inner = self.inner.lock();
        match &inner.latency {
            None => LatencySummary::default(),
            Some(h) => LatencySummary {
                count: h.len(),
                p50_ns: h.value_at_quantile(0.5),
                p99_ns: h.value_at_quantile(0.99),
                max_ns: h.max(),
            },
        }
    }

    /// The depth samples recorded so far (by [`Queue::depth`](super::Queue::depth)), in order.
    pub fn depth_samples(&self) -> Vec<DepthSample> {
        self.inner.lock().depth.clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut QueueCounts)) {
        f(&mut self.inner.lock().counts);
    }

    pub(crate) fn record_latency(&self, ns: u64) {
        let mut inner = self.inner.lock();
        if inner.latency.is_none() {
            // 1 ns to an hour, three significant digits: valid bounds, so
            // this succeeds; longer latencies are recorded as an hour.
            inner.latency = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).ok();
        }
        if let Some(histogram) = &mut inner.latency {
            histogram.saturating_record(ns.max(1));
        }
    }

    pub(crate) fn record_depth(&self, sample: DepthSample) {
        self.inner.lock().depth.push(sample);
    }
}
