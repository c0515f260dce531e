//! The blocking client: `put`, `get`, `delete`, and typed helpers.
//!
//! A client picks a *coordinator* for each operation from the key's
//! preference list — this choice is the lesson's load balancing — sends the
//! request through the simulated network and waits for the answer, up to its
//! timeout. It never retries on its own: a retry after a timeout could apply a
//! write twice or hide that its first attempt's outcome is unknown. A timeout
//! is reported as [`Error::Timeout`] and recorded in the history as
//! indeterminate.

use crate::cache::{Lookup, ReadCache};
use crate::clock::Clock;
use crate::codec;
use crate::error::{Error, Result};
use crate::hand_off;
use crate::history::{OpKind, Operation};
use crate::ids::{ClientId, Endpoint, NodeId};
use crate::metrics::{OpMetrics, Outcome};
use crate::network::{Envelope, Network, Payload};
use crate::placement::Placement;
use crate::protocol::{Cas, Request, Response};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::{Mutex, RwLock};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a client chooses the coordinator of an operation among the key's N
/// replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoordinatorPolicy {
    /// Always the key's primary (the head of its preference list).
    #[default]
    First,
    /// A replica chosen at random for each operation.
    Random,
    /// The replicas in turn.
    RoundRobin,
    /// Always this node, whether or not it is one of the key's replicas
    /// (every built-in protocol can coordinate any key). Handy to make a
    /// particular node — say, one with a skewed clock — do the work.
    Fixed(NodeId),
}

/// Where every client's completed operations go.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    enabled: bool,
    ops: Mutex<Vec<Operation>>,
}

impl Recorder {
    pub(crate) fn new(enabled: bool) -> Self {
        Recorder {
            enabled,
            ops: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn record(&self, op: Operation) {
        if self.enabled {
            self.ops.lock().push(op);
        }
    }

    /// The operations so far, in invocation order.
    pub(crate) fn snapshot(&self) -> Vec<Operation> {
        let mut ops = self.ops.lock().clone();
        ops.sort_by_key(|op| (op.call_ns, op.client));
        ops
    }

    pub(crate) fn clear(&self) {
        self.ops.lock().clear();
    }
}

/// What a client shares with its cluster.
#[derive(Clone, Debug)]
pub(crate) struct ClientEnv {
    pub network: Network,
    pub placement: Arc<Placement>,
    pub clock: Arc<Clock>,
    pub recorder: Arc<Recorder>,
    pub metrics: Arc<OpMetrics>,
    pub timeout: Duration,
    pub policy: CoordinatorPolicy,
    pub seed: u64,
    pub cache: Option<ReadCache>,
    /// Held shared for the length of each operation (see `Cluster::add_node`).
    pub gate: Arc<RwLock<()>>,
    /// The simulated world, when the cluster runs on the simulator.
    pub world: Option<Arc<crate::sim::World>>,
}

/// A blocking client of the cluster. Make one per thread with
/// [`crate::Cluster::client`].
///
/// ```
/// use replikv::Cluster;
/// let cluster = Cluster::builder().nodes(3).build()?;
/// let mut client = cluster.client()?;
/// client.put("colour", "blue")?;
/// assert_eq!(client.get("colour")?, Some(b"blue".to_vec()));
/// client.delete("colour")?;
/// assert_eq!(client.get("colour")?, None);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    id: ClientId,
    inbox: Receiver<Envelope>,
    env: ClientEnv,
    rng: ChaCha8Rng,
    round_robin: usize,
    next_request: u64,
}

impl Client {
    pub(crate) fn new(id: ClientId, env: ClientEnv) -> Result<Self> {
        let inbox = env.network.attach_client(id)?;
        let rng = ChaCha8Rng::seed_from_u64(env.seed ^ id.0.wrapping_mul(0xA24B_AED4_963E_E407));
        Ok(Client {
            id,
            inbox,
            env,
            rng,
            round_robin: 0,
            next_request: 0,
        })
    }

    /// This client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// How long an operation may take before it is reported as a timeout.
    pub fn timeout(&self) -> Duration {
        self.env.timeout
    }

    /// Changes the per-operation timeout. Any duration is accepted: zero
    /// times out at once (unless the answer is already there), and anything
    /// over a century, up to [`Duration::MAX`], waits for ever.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.env.timeout = timeout;
    }

    /// Puts a read cache in front of this client (`None`: no cache). Pass a
    /// clone of one [`ReadCache`] to several clients to share it: a write by
    /// any of them invalidates the entry for all.
    pub fn set_cache(&mut self, cache: Option<ReadCache>) {
        self.env.cache = cache;
    }

    /// This client's read cache, if it has one.
    pub fn cache(&self) -> Option<&ReadCache> {
        self.env.cache.as_ref()
    }

    /// Changes how coordinators are chosen.
    pub fn set_policy(&mut self, policy: CoordinatorPolicy) {
        self.env.policy = policy;
    }

    /// Stores `value` under `key`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let op = Op::Put {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        };
        self.run(op).map(|_| ())
    }

    /// Reads `key`: `None` when it is missing or deleted.
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.run(Op::Get {
            key: key.as_ref().to_vec(),
        })
    }

    /// Removes `key` (a tombstone: no error when it was missing).
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        self.run(Op::Delete {
            key: key.as_ref().to_vec(),
        })
        .map(|_| ())
    }

    /// Compare-and-set: replaces the value of `key` with `new` if and only
    /// if it is `expected` now, atomically, and says whether it did. `None`
    /// means absent on either side (`expected: None` swaps only when the key
    /// is missing; `new: None` deletes it).
    ///
    /// Only [`Consistency::Consensus`](crate::Consistency::Consensus) offers
    /// it; every other mode answers [`Error::Unsupported`] naming the mode,
    /// rather than run a compare-and-set that is not atomic. `Ok(false)` is
    /// an answer, not an error: the current value differed and nothing
    /// changed. A timeout leaves the outcome unknown, as for any write.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, Error, Runtime};
    /// let cluster = Cluster::builder()
    ///     .runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .build()?;
    /// let mut client = cluster.client()?;
    /// assert!(client.compare_and_set("lock", None, Some(b"alice"))?);
    /// assert!(!client.compare_and_set("lock", None, Some(b"bob"))?, "alice holds it");
    /// assert!(client.compare_and_set("lock", Some(b"alice"), None)?);
    /// assert_eq!(client.get("lock")?, None);
    ///
    /// let strong = Cluster::builder().consistency(Consistency::Strong).build()?;
    /// let refused = strong.client()?.compare_and_set("lock", None, Some(b"x"));
    /// assert!(matches!(refused, Err(Error::Unsupported(why)) if why.contains("strong")));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn compare_and_set(
        &mut self,
        key: impl AsRef<[u8]>,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        let op = Op::Cas {
            key: key.as_ref().to_vec(),
            expected: expected.map(<[u8]>::to_vec),
            new: new.map(<[u8]>::to_vec),
        };
        match self.run(op)? {
            Some(answer) => Ok(answer == SWAPPED),
            None => Err(Error::Protocol(
                "a compare-and-set finished without an answer".into(),
            )),
        }
    }

    /// One whole operation: start it, wait for its answer (on the monotonic
    /// clock, or by running the simulated world), finish it.
    fn run(&mut self, op: Op) -> Result<Option<Vec<u8>>> {
        let gate = self.env.gate.clone();
        let _operation = gate.read();
        match self.start(op) {
            Started::Finished(result) => result,
            Started::Sent(sent) => {
                let response = self.wait_for(&sent);
                self.finish(sent, response)
            }
        }
    }

    /// Starts an operation: checks it, answers it from the cache when it
    /// can, or sends it to a coordinator and records when it was invoked.
    pub(crate) fn start(&mut self, op: Op) -> Started {
        match self.try_start(op) {
            Ok(started) => started,
            Err(e) => Started::Finished(Err(e)),
        }
    }

    /// Starts a compare-and-set (see [`Client::try_start`]).
    fn start_cas(
        &mut self,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<Started> {
        validate_key(&key)?;
        for value in [&expected, &new].into_iter().flatten() {
            validate_value(value)?;
        }
        self.invalidate(&key);
        let started_ns = self.env.clock.now_ns();
        let coordinator = self.coordinator(&key)?;
        let cas = Cas {
            key: key.clone(),
            expected: expected.clone(),
            new: new.clone(),
        };
        let what = Recorded {
            kind: OpKind::Cas,
            key,
            value: new,
            expected,
        };
        Ok(self.send(
            Payload::Cas { id: 0, cas },
            what,
            coordinator,
            After::Write { started_ns },
        ))
    }

    fn try_start(&mut self, op: Op) -> Result<Started> {
        let (request, after) = match op {
            Op::Cas { key, expected, new } => return self.start_cas(key, expected, new),
            Op::Get { key } => {
                validate_key(&key)?;
                let fill = match self.env.cache.as_ref().map(|cache| cache.lookup(&key)) {
                    Some(Lookup::Hit { value, at_ns }) => {
                        let value = self.record_cache_hit(&key, value, at_ns);
                        return Ok(Started::Finished(Ok(value)));
                    }
                    Some(Lookup::Miss { epoch, at_ns }) => {
                        self.env.metrics.record_cache_miss();
                        Some((epoch, at_ns))
                    }
                    None => None,
                };
                (Request::Get { key }, After::Read { fill })
            }
            Op::Put { key, value } => {
                validate_key(&key)?;
                validate_value(&value)?;
                self.invalidate(&key);
                let started_ns = self.env.clock.now_ns();
                (Request::Put { key, value }, After::Write { started_ns })
            }
            Op::Delete { key } => {
                validate_key(&key)?;
                self.invalidate(&key);
                let started_ns = self.env.clock.now_ns();
                (Request::Delete { key }, After::Write { started_ns })
            }
        };
        let coordinator = self.coordinator(request.key())?;
        let (kind, key, value) = match &request {
            Request::Get { key } => (OpKind::Get, key.clone(), None),
            Request::Put { key, value } => (OpKind::Put, key.clone(), Some(value.clone())),
            Request::Delete { key } => (OpKind::Delete, key.clone(), None),
        };
        let what = Recorded {
            kind,
            key,
            value,
            expected: None,
        };
        Ok(self.send(
            Payload::Request { id: 0, request },
            what,
            coordinator,
            after,
        ))
    }

    /// Numbers `payload` (its `id` is filled in here), sends it to
    /// `coordinator` and records when it was invoked.
    fn send(
        &mut self,
        mut payload: Payload,
        Recorded {
            kind,
            key,
            value,
            expected,
        }: Recorded,
        coordinator: NodeId,
        after: After,
    ) -> Started {
        self.next_request += 1;
        let id = self.next_request;
        if let Payload::Request { id: slot, .. } | Payload::Cas { id: slot, .. } = &mut payload {
            *slot = id;
        }
        let call_ns = self.env.clock.now_ns();
        let timeout_ns = u64::try_from(self.env.timeout.as_nanos()).unwrap_or(u64::MAX);
        self.env.network.send(Envelope {
            from: Endpoint::Client(self.id),
            to: Endpoint::Node(coordinator),
            payload,
        });
        Started::Sent(Sent {
            id,
            kind,
            key,
            value,
            expected,
            coordinator,
            call_ns,
            deadline_ns: call_ns.saturating_add(timeout_ns),
            after,
        })
    }

    /// The answer to `sent` if it has arrived (answers to earlier requests
    /// and duplicates are thrown away).
    pub(crate) fn answer_for(&self, sent: &Sent) -> Option<Response> {
        while let Ok(envelope) = self.inbox.try_recv() {
            if let Payload::Response { id, response } = envelope.payload
                && id == sent.id
            {
                return Some(response);
            }
        }
        None
    }

    /// True when something waits in this client's inbox.
    pub(crate) fn has_mail(&self) -> bool {
        !self.inbox.is_empty()
    }

    /// Finishes an operation with its answer (or `Err(Timeout)`): maps it
    /// to the caller's result, keeps the cache honest, records the
    /// operation in the history and the metrics.
    pub(crate) fn finish(
        &mut self,
        sent: Sent,
        response: Result<Response>,
    ) -> Result<Option<Vec<u8>>> {
        let return_ns = self.env.clock.now_ns();
        let Sent {
            kind,
            key,
            value,
            expected,
            coordinator,
            call_ns,
            after,
            ..
        } = sent;
        let result = match (kind, response) {
            (OpKind::Get, Ok(Response::Value(v))) => Ok(v),
            (OpKind::Put | OpKind::Delete, Ok(Response::Done)) => Ok(None),
            (OpKind::Cas, Ok(Response::Swapped(swapped))) => {
                Ok(Some(if swapped { SWAPPED } else { NOT_SWAPPED }.to_vec()))
            }
            (_, Ok(Response::Unavailable(why))) => Err(Error::Unavailable(why)),
            (_, Ok(Response::Unsupported(why))) => Err(Error::Unsupported(why)),
            (_, Ok(Response::Failed(why))) => Err(Error::Protocol(why)),
            (_, Ok(Response::Corrupt { node, key, reason })) => {
                Err(Error::Corrupt { node, key, reason })
            }
            (_, Ok(other)) => Err(Error::Protocol(format!(
                "coordinator {coordinator} answered a {kind:?} with {other:?}"
            ))),
            (_, Err(e)) => Err(e),
        };
        let (outcome, ok, recorded_return) = match &result {
            Ok(_) => (Outcome::Ok, true, Some(return_ns)),
            // Refused before any replica applied it: definitely no effect.
            Err(Error::Unavailable(_)) => (Outcome::Unavailable, false, Some(return_ns)),
            // Refused by a mode that cannot do it: no effect either.
            Err(Error::Unsupported(_)) => (Outcome::OtherError, false, Some(return_ns)),
            Err(Error::Timeout(_)) => (Outcome::Timeout, false, None),
            // Anything else may have half-happened: unknown.
            Err(_) => (Outcome::OtherError, false, None),
        };
        let latency = Duration::from_nanos(return_ns.saturating_sub(call_ns));
        self.env.metrics.record(kind, outcome, latency);
        let output = match &result {
            Ok(v) if kind == OpKind::Get => v.clone(),
            _ => None,
        };
        let swapped = match &result {
            Ok(answer) if kind == OpKind::Cas => Some(answer.as_deref() == Some(SWAPPED)),
            _ => None,
        };
        match after {
            After::Read { fill } => {
                if let (Some(cache), Some((epoch, at_ns)), Ok(value)) =
                    (&self.env.cache, fill, &result)
                {
                    let evicted = cache.fill(&key, value.clone(), epoch, at_ns);
                    self.env.metrics.record_cache_evictions(evicted);
                }
            }
            // A compare-and-set that did not swap wrote nothing, but its
            // client does not learn the current value: drop the entry.
            After::Write { .. } if swapped == Some(false) => self.invalidate(&key),
            After::Write { started_ns } => {
                self.after_write(&key, result.is_ok(), value.as_deref(), started_ns);
            }
        }
        self.env.recorder.record(Operation {
            client: self.id,
            key,
            kind,
            value,
            output,
            expected,
            swapped,
            ok,
            call_ns,
            return_ns: recorded_return,
            cached: false,
        });
        result
    }

    /// Keeps the cache honest after a write: the written value once it is
    /// acknowledged, nothing when its outcome is unknown.
    fn after_write(&self, key: &[u8], acknowledged: bool, value: Option<&[u8]>, started_ns: u64) {
        let Some(cache) = &self.env.cache else { return };
        if acknowledged {
            let evicted = cache.write_through(key, value.map(<[u8]>::to_vec), started_ns);
            self.env.metrics.record_cache_evictions(evicted);
        } else {
            cache.invalidate(key);
        }
    }

    fn invalidate(&self, key: &[u8]) {
        if let Some(cache) = &self.env.cache {
            cache.invalidate(key);
        }
    }

    /// Records a read the cache answered: it is in the history like any
    /// other read, marked `cached`.
    fn record_cache_hit(
        &self,
        key: &[u8],
        value: Option<Vec<u8>>,
        call_ns: u64,
    ) -> Option<Vec<u8>> {
        self.env.metrics.record_cache_hit();
        self.env
            .metrics
            .record(OpKind::Get, Outcome::Ok, Duration::ZERO);
        self.env.recorder.record(Operation {
            client: self.id,
            key: key.to_vec(),
            kind: OpKind::Get,
            value: None,
            output: value.clone(),
            expected: None,
            swapped: None,
            ok: true,
            call_ns,
            return_ns: Some(self.env.clock.now_ns()),
            cached: true,
        });
        value
    }

    /// Stores any serde value, encoded with bincode.
    ///
    /// ```
    /// # let cluster = replikv::Cluster::builder().nodes(1).build()?;
    /// # let mut client = cluster.client()?;
    /// client.put_typed("point", &(3i32, 4i32))?;
    /// assert_eq!(client.get_typed::<(i32, i32)>("point")?, Some((3, 4)));
    /// assert!(matches!(client.get_typed::<String>("point"), Err(replikv::Error::Decode(_))));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn put_typed<T: Serialize>(&mut self, key: impl AsRef<[u8]>, value: &T) -> Result<()> {
        let bytes = codec::encode(value).map_err(Error::Encode)?;
        self.put(key, bytes)
    }

    /// Reads a value stored with [`Client::put_typed`]; [`Error::Decode`] when
    /// the stored bytes are not a `T`.
    pub fn get_typed<T: DeserializeOwned>(&mut self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => codec::decode(&bytes).map(Some).map_err(Error::Decode),
        }
    }

    fn coordinator(&mut self, key: &[u8]) -> Result<NodeId> {
        let replicas = self.env.placement.replicas(key);
        if replicas.is_empty() {
            return Err(Error::Unavailable("the cluster has no nodes".into()));
        }
        let index = match self.env.policy {
            CoordinatorPolicy::Fixed(node) => return Ok(node),
            CoordinatorPolicy::First => 0,
            CoordinatorPolicy::Random => self.rng.random_range(0..replicas.len()),
            CoordinatorPolicy::RoundRobin => {
                self.round_robin = self.round_robin.wrapping_add(1);
                self.round_robin % replicas.len()
            }
        };
        Ok(replicas[index])
    }

    /// Waits for the answer to `sent` until its deadline.
    fn wait_for(&self, sent: &Sent) -> Result<Response> {
        if let Some(world) = &self.env.world {
            // Simulated: run the world until the answer arrives or the
            // deadline passes in virtual time.
            loop {
                world.run_until(sent.deadline_ns, &mut || self.has_mail());
                if let Some(response) = self.answer_for(sent) {
                    return Ok(response);
                }
                if self.env.clock.now_ns() >= sent.deadline_ns {
                    return Err(Error::Timeout(self.env.timeout));
                }
            }
        }
        let wait = Duration::from_nanos(sent.deadline_ns.saturating_sub(self.env.clock.now_ns()));
        let deadline = crate::clock::deadline_after(Instant::now(), wait);
        loop {
            // Poll briefly first: the answer usually comes within
            // microseconds, and sleeping costs more than that (see
            // `hand_off`).
            let received = match hand_off::poll_briefly(&self.inbox, |now| now >= deadline) {
                Some(envelope) => Ok(envelope),
                None => self.inbox.recv_deadline(deadline),
            };
            match received {
                Ok(Envelope {
                    payload:
                        Payload::Response {
                            id: answered,
                            response,
                        },
                    ..
                }) if answered == sent.id => return Ok(response),
                // A late answer to an earlier, timed-out request, or a duplicate.
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => return Err(Error::Timeout(self.env.timeout)),
                Err(RecvTimeoutError::Disconnected) => return Err(Error::Shutdown),
            }
        }
    }
}

/// One client operation, before it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Get {
        key: Vec<u8>,
    },
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    Cas {
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    },
}

/// How [`Client::finish`] hands a compare-and-set's answer through the
/// `Option<Vec<u8>>` every operation returns (internal only).
const SWAPPED: &[u8] = b"swapped";
const NOT_SWAPPED: &[u8] = b"not swapped";

/// What the history will record of an operation's input.
struct Recorded {
    kind: OpKind,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    expected: Option<Vec<u8>>,
}

/// What starting an operation did.
#[derive(Debug)]
pub(crate) enum Started {
    /// It needed no answer: checked and refused, or answered by the cache.
    Finished(Result<Option<Vec<u8>>>),
    /// It was sent; finish it with its answer or a timeout.
    Sent(Sent),
}

/// An operation sent and not yet finished.
#[derive(Debug)]
pub(crate) struct Sent {
    id: u64,
    kind: OpKind,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    expected: Option<Vec<u8>>,
    coordinator: NodeId,
    call_ns: u64,
    /// When it times out, on the cluster clock.
    pub(crate) deadline_ns: u64,
    after: After,
}

impl Sent {
    /// True for a read.
    pub(crate) fn is_read(&self) -> bool {
        self.kind == OpKind::Get
    }
}

/// What finishing an operation must do besides recording it.
#[derive(Debug)]
enum After {
    /// Fill the cache with the value read, if the lookup missed.
    Read { fill: Option<(u64, u64)> },
    /// Write through (acknowledged) or invalidate (unknown).
    Write { started_ns: u64 },
}

impl Drop for Client {
    fn drop(&mut self) {
        self.env.network.detach_client(self.id);
    }
}

/// Checks a key against the documented limits.
pub fn validate_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if key.len() > crate::MAX_KEY_LEN {
        return Err(Error::KeyTooLong {
            len: key.len(),
            max: crate::MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// Checks a value against the documented limit.
pub fn validate_value(value: &[u8]) -> Result<()> {
    if value.len() > crate::MAX_VALUE_LEN {
        return Err(Error::ValueTooLong {
            len: value.len(),
            max: crate::MAX_VALUE_LEN,
        });
    }
    Ok(())
}
