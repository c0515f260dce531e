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
use crate::outstanding::{InFlight, Outstanding};
use crate::placement::Placement;
use crate::protocol::{Cas, Request, Response};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::{Mutex, RwLock};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a client chooses the coordinator of an operation: one of the key's N
/// replicas (most policies), a node outside them, or a fixed node.
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
    /// A node that is *not* one of the key's N replicas, chosen at random
    /// for each operation: the coordinator holds no copy, so every replica
    /// is reached over the network, as in the PBS paper's WARS model
    /// ([`crate::lab::pbs`]) and in a Cassandra cluster much larger than N.
    /// Needs more nodes than N: the builder refuses it otherwise, and an
    /// operation on a key with no such node (after nodes left) fails with
    /// [`Error::InvalidConfig`].
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, CoordinatorPolicy, Runtime};
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated).nodes(4).replication(3)
    ///     .consistency(Consistency::Eventual { r: 1, w: 1 })
    ///     .coordinator(CoordinatorPolicy::NonReplica).build()?;
    /// let mut client = cluster.client()?;
    /// client.put("k", "v")?;
    /// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    /// let too_few = Cluster::builder().nodes(3).replication(3)
    ///     .coordinator(CoordinatorPolicy::NonReplica).build();
    /// assert!(too_few.is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    NonReplica,
    /// The replica with the fewest requests in flight from all of the
    /// cluster's clients (ties broken at random): a slow or overloaded node
    /// keeps its requests longer, so it is sent fewer. What Envoy and
    /// Finagle call "least requests"; it needs the counts of every replica
    /// at every choice.
    LeastOutstanding,
    /// Two distinct replicas drawn at random; the one with fewer requests
    /// in flight (ties: the first drawn). Mitzenmacher, "The Power of Two
    /// Choices in Randomized Load Balancing" (IEEE TPDS, 2001): looking at
    /// just two instead of one cuts the busiest server's excess
    /// exponentially (from `ln n/ln ln n` to `ln ln n`), and needs only two
    /// counts per choice, which scales to many balancers with stale views.
    PowerOfTwoChoices,
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
    /// Requests in flight per node, shared by every client of the cluster
    /// (for the load-aware policies).
    pub outstanding: Arc<Outstanding>,
    /// The cluster's access control, when on: a cache hit is served only
    /// when the client may read the key.
    pub access: Option<Arc<crate::security::AccessControl>>,
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
    /// Operations submitted and not yet waited for, by request number
    /// (see [`Client::submit`]).
    submitted: BTreeMap<u64, Submitted>,
    /// Numbers for tickets of operations that needed no request.
    next_local: u64,
    /// The session key of a client made with `Cluster::client_as`: every
    /// request carries a tag under it.
    session_key: Option<[u8; 32]>,
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
            submitted: BTreeMap::new(),
            next_local: 0,
            session_key: None,
        })
    }

    /// Signs every request from now on with `key` (see `Cluster::client_as`).
    pub(crate) fn set_session_key(&mut self, key: [u8; 32]) {
        self.session_key = Some(key);
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
    /// any of them invalidates the entry for all. On a cluster with access
    /// control, the cache answers this client only for keys it may read;
    /// other reads go to a node, which refuses them.
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

    /// One whole operation, blocking: what [`Client::get`], [`Client::put`]
    /// and [`Client::delete`] do. Returns the value read (`None` for writes).
    pub fn call(&mut self, op: Op) -> Result<Option<Vec<u8>>> {
        self.run(op)
    }

    /// One whole operation: submit it, wait for its answer (on the
    /// monotonic clock, or by running the simulated world), finish it.
    fn run(&mut self, op: Op) -> Result<Option<Vec<u8>>> {
        let gate = self.env.gate.clone();
        let _operation = gate.read();
        let ticket = self.submit(op)?;
        self.wait(ticket)
    }

    /// Starts an operation: checks it, answers it from the cache when it
    /// can, or sends it to a coordinator and records when it was invoked.
    pub(crate) fn start(&mut self, op: Op) -> Started {
        match self.try_start(op) {
            Ok(started) => started,
            Err(e) => Started::Finished(Err(e)),
        }
    }

    fn try_start(&mut self, op: Op) -> Result<Started> {
        if let Some(world) = &self.env.world {
            // After every return the program has seen (see the method).
            world.step_past_returns();
        }
        let (request, after) = match op {
            Op::Cas { key, expected, new } => return self.start_cas(key, expected, new),
            Op::Get { key } => {
                validate_key(&key)?;
                // A shared cache holds what other clients read: serve it only
                // when this client may read the key (else the node refuses).
                let readable = self.env.access.as_ref().is_none_or(|access| {
                    access
                        .check(self.id, crate::security::Access::Read, &key)
                        .is_ok()
                });
                let cache = self.env.cache.as_ref().filter(|_| readable);
                let fill = match cache.map(|cache| cache.lookup(&key)) {
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
        if let Some(key) = &self.session_key
            && let Some(tag) = crate::security::request_tag(key, self.id, &payload)
        {
            payload = Payload::Authenticated {
                tag: *tag.as_bytes(),
                payload: Box::new(payload),
            };
        }
        let call_ns = self.env.clock.now_ns();
        let timeout_ns = u64::try_from(self.env.timeout.as_nanos()).unwrap_or(u64::MAX);
        let in_flight = self.env.outstanding.begin(coordinator);
        self.env.network.send(Envelope::new(
            Endpoint::Client(self.id),
            Endpoint::Node(coordinator),
            payload,
        ));
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
            _in_flight: in_flight,
        })
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
        let now = self.env.clock.now_ns();
        self.finish_at(sent, response, now)
    }

    /// [`Client::finish`] for an answer that arrived at `return_ns`.
    fn finish_at(
        &mut self,
        sent: Sent,
        response: Result<Response>,
        return_ns: u64,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(world) = &self.env.world {
            world.note_return(return_ns);
        }
        let Sent {
            kind,
            key,
            value,
            expected,
            coordinator,
            call_ns,
            after,
            _in_flight,
            ..
        } = sent;
        // The coordinator has answered (or the wait is over): it no longer
        // counts this request.
        drop(_in_flight);
        let result = match (kind, response) {
            (OpKind::Get, Ok(Response::Value(v))) => Ok(v),
            (OpKind::Put | OpKind::Delete, Ok(Response::Done)) => Ok(None),
            (OpKind::Cas, Ok(Response::Swapped(swapped))) => {
                Ok(Some(if swapped { SWAPPED } else { NOT_SWAPPED }.to_vec()))
            }
            (_, Ok(Response::Unavailable(why))) => Err(Error::Unavailable(why)),
            (_, Ok(Response::Unsupported(why))) => Err(Error::Unsupported(why)),
            (_, Ok(Response::Unauthenticated(why))) => Err(Error::Unauthenticated(why)),
            (_, Ok(Response::PermissionDenied(why))) => Err(Error::PermissionDenied(why)),
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
            // Refused by the node's access check before any replica was
            // asked: certain, no effect (recorded as refused).
            Err(Error::Unauthenticated(_) | Error::PermissionDenied(_)) => {
                (Outcome::OtherError, false, Some(return_ns))
            }
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
        let return_ns = self.env.clock.now_ns();
        if let Some(world) = &self.env.world {
            world.note_return(return_ns);
        }
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
            return_ns: Some(return_ns),
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
            CoordinatorPolicy::NonReplica => {
                let everyone = self.env.placement.members().len();
                let outside = self
                    .env
                    .placement
                    .preference_list(key, everyone)
                    .split_off(replicas.len().min(everyone));
                if outside.is_empty() {
                    return Err(Error::InvalidConfig(format!(
                        "coordinator policy NonReplica needs a node outside the key's {} \
                         replicas, and the cluster has {everyone} nodes",
                        replicas.len()
                    )));
                }
                return Ok(outside[self.rng.random_range(0..outside.len())]);
            }
            CoordinatorPolicy::First => 0,
            CoordinatorPolicy::Random => self.rng.random_range(0..replicas.len()),
            CoordinatorPolicy::RoundRobin => {
                self.round_robin = self.round_robin.wrapping_add(1);
                self.round_robin % replicas.len()
            }
            CoordinatorPolicy::LeastOutstanding => {
                // Scan from a random replica so that ties go to a random
                // one, not always to the primary.
                let start = self.rng.random_range(0..replicas.len());
                (0..replicas.len())
                    .map(|i| (start + i) % replicas.len())
                    .min_by_key(|&i| self.env.outstanding.of(replicas[i]))
                    .unwrap_or(0)
            }
            CoordinatorPolicy::PowerOfTwoChoices => {
                let first = self.rng.random_range(0..replicas.len());
                if replicas.len() == 1 {
                    first
                } else {
                    // A second, distinct replica.
                    let second =
                        (first + self.rng.random_range(1..replicas.len())) % replicas.len();
                    let load = |i: usize| self.env.outstanding.of(replicas[i]);
                    if load(second) < load(first) {
                        second
                    } else {
                        first
                    }
                }
            }
        };
        Ok(replicas[index])
    }
}

/// One client operation, for [`Client::submit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read `key`.
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// Store `value` under `key`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Replace the value of `key` with `new` if it is `expected` now
    /// ([`Client::compare_and_set`]; `None` means absent).
    Cas {
        /// The key.
        key: Vec<u8>,
        /// The value it must hold now.
        expected: Option<Vec<u8>>,
        /// The value it gets.
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

impl Op {
    /// A read of `key`.
    pub fn get(key: impl AsRef<[u8]>) -> Op {
        Op::Get {
            key: key.as_ref().to_vec(),
        }
    }

    /// A write of `value` under `key`.
    pub fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Op {
        Op::Put {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        }
    }

    /// A delete of `key`.
    pub fn delete(key: impl AsRef<[u8]>) -> Op {
        Op::Delete {
            key: key.as_ref().to_vec(),
        }
    }
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
    /// Counts the request as outstanding at its coordinator until finished
    /// or dropped.
    _in_flight: InFlight,
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

/// A handle on an operation submitted with [`Client::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

/// A submitted operation: in flight, answered and not yet finished, or
/// finished without a request (refused by a check, answered by the cache).
#[derive(Debug)]
enum Submitted {
    InFlight(Sent),
    Answered(Sent, Response, u64),
    Done(Result<Option<Vec<u8>>>),
}

/// Pipelining: many operations in flight from one client.
///
/// A blocking call has one operation in flight, so a client waits a whole
/// round trip per operation. Real clients keep several going at once — the
/// network and the nodes work on all of them — and collect the answers as
/// they come. [`Client::submit`] sends an operation and returns at once;
/// [`Client::wait`] and [`Client::wait_any`] collect answers. Each
/// operation is recorded in the history exactly as a blocking one: invoked
/// when submitted, returned when the client sees its answer, indeterminate
/// when it timed out. While the client waits (for any of its operations),
/// it sees each answer as it arrives; an answer that arrives while the
/// program does something else is seen at its next wait, which can only
/// lengthen the recorded interval — never make a history look wrong. Operations in flight at
/// once are concurrent: their order is whatever the cluster makes of it.
/// Up to [`crate::protocol::REQUEST_WINDOW`] may be in flight.
impl Client {
    /// Sends `op` and returns a ticket to wait on.
    ///
    /// ```
    /// use replikv::{Cluster, Runtime};
    /// use replikv::client::Op;
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated).build()?;
    /// let mut client = cluster.client()?;
    /// let tickets: Vec<_> = (0..8)
    ///     .map(|i| client.submit(Op::put(format!("k{i}"), "v")))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(client.in_flight(), 8);
    /// for ticket in tickets {
    ///     client.wait(ticket)?;
    /// }
    /// assert_eq!(client.get("k7")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn submit(&mut self, op: Op) -> Result<Ticket> {
        if self.in_flight() as u64 >= crate::protocol::REQUEST_WINDOW {
            return Err(Error::InvalidConfig(format!(
                "a client may have at most {} operations in flight",
                crate::protocol::REQUEST_WINDOW
            )));
        }
        let (number, submitted) = match self.start(op) {
            Started::Sent(sent) => (sent.id, Submitted::InFlight(sent)),
            Started::Finished(result) => {
                // Numbered apart from requests (which count up from 1), so
                // the two never collide.
                self.next_local += 1;
                (u64::MAX - self.next_local, Submitted::Done(result))
            }
        };
        self.submitted.insert(number, submitted);
        Ok(Ticket(number))
    }

    /// Operations submitted and not yet collected.
    pub fn in_flight(&self) -> usize {
        self.submitted.len()
    }

    /// Waits for the operation of `ticket` and finishes it: its answer, or
    /// [`Error::Timeout`] once its deadline passed. Answers to other
    /// operations that arrive meanwhile are kept for them.
    pub fn wait(&mut self, ticket: Ticket) -> Result<Option<Vec<u8>>> {
        loop {
            self.collect_mail();
            let deadline = match self.submitted.get(&ticket.0) {
                None => {
                    return Err(Error::InvalidConfig(format!(
                        "{ticket:?} was already collected, or is not this client's"
                    )));
                }
                Some(Submitted::InFlight(sent)) => sent.deadline_ns,
                Some(_) => return self.collect(ticket.0),
            };
            if self.env.clock.now_ns() >= deadline {
                return self.collect(ticket.0);
            }
            if !self.await_mail(deadline)? {
                return self.collect(ticket.0);
            }
        }
    }

    /// Waits for whichever submitted operation completes first (answered,
    /// refused or timed out) and finishes it; `None` when nothing is in
    /// flight.
    pub fn wait_any(&mut self) -> Option<(Ticket, Result<Option<Vec<u8>>>)> {
        loop {
            self.collect_mail();
            let now = self.env.clock.now_ns();
            let ready = self.submitted.iter().find_map(|(&n, s)| match s {
                Submitted::InFlight(sent) if sent.deadline_ns > now => None,
                _ => Some(n),
            });
            if let Some(n) = ready {
                return Some((Ticket(n), self.collect(n)));
            }
            let deadline = self.submitted.values().filter_map(|s| match s {
                Submitted::InFlight(sent) => Some(sent.deadline_ns),
                _ => None,
            });
            let deadline = deadline.min()?;
            if let Err(e) = self.await_mail(deadline) {
                let n = *self.submitted.keys().next()?;
                self.submitted.remove(&n);
                return Some((Ticket(n), Err(e)));
            }
        }
    }

    /// Finishes every submitted operation that is ready now — answered,
    /// refused, or past its deadline — without waiting; in ticket order.
    /// (The simulator's workload waits by running the world itself.)
    pub(crate) fn take_ready(&mut self) -> Vec<(Ticket, Result<Option<Vec<u8>>>)> {
        self.collect_mail();
        let now = self.env.clock.now_ns();
        let ready: Vec<u64> = self
            .submitted
            .iter()
            .filter(|(_, s)| !matches!(s, Submitted::InFlight(sent) if sent.deadline_ns > now))
            .map(|(&n, _)| n)
            .collect();
        ready
            .into_iter()
            .map(|n| (Ticket(n), self.collect(n)))
            .collect()
    }

    /// The earliest deadline among operations still in flight.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.submitted
            .values()
            .filter_map(|s| match s {
                Submitted::InFlight(sent) => Some(sent.deadline_ns),
                _ => None,
            })
            .min()
    }

    /// Finishes submitted operation `n`: with its answer, as a timeout when
    /// still in flight, or with the result it already had.
    fn collect(&mut self, n: u64) -> Result<Option<Vec<u8>>> {
        match self.submitted.remove(&n) {
            Some(Submitted::InFlight(sent)) => {
                let timeout = Error::Timeout(self.env.timeout);
                self.finish(sent, Err(timeout))
            }
            Some(Submitted::Answered(sent, response, at)) => self.finish_at(sent, Ok(response), at),
            Some(Submitted::Done(result)) => result,
            None => Err(Error::InvalidConfig(format!(
                "request {n} was already collected"
            ))),
        }
    }

    /// Moves every answer waiting in the inbox to its operation, stamped
    /// with the time it is seen; late and duplicate answers are dropped.
    fn collect_mail(&mut self) {
        while let Ok(envelope) = self.inbox.try_recv() {
            self.file(envelope);
        }
    }

    /// Files one envelope from the inbox with its operation.
    fn file(&mut self, envelope: Envelope) {
        let Payload::Response { id, response } = envelope.payload else {
            return;
        };
        // Only the first answer counts; a duplicate, or an answer to an
        // operation already collected, is dropped.
        if !matches!(self.submitted.get(&id), Some(Submitted::InFlight(_))) {
            return;
        }
        let now = self.env.clock.now_ns();
        if let Some(Submitted::InFlight(sent)) = self.submitted.remove(&id) {
            self.submitted
                .insert(id, Submitted::Answered(sent, response, now));
        }
    }

    /// Waits until something arrives in the inbox or `deadline_ns` (cluster
    /// clock) passes; true when something arrived (and was filed). On the
    /// simulator, runs the world meanwhile.
    fn await_mail(&mut self, deadline_ns: u64) -> Result<bool> {
        if let Some(world) = self.env.world.clone() {
            let inbox = &self.inbox;
            return Ok(world.run_until(deadline_ns, &mut || !inbox.is_empty()));
        }
        let wait = Duration::from_nanos(deadline_ns.saturating_sub(self.env.clock.now_ns()));
        let deadline = crate::clock::deadline_after(Instant::now(), wait);
        // Poll briefly first: the answer usually comes within microseconds,
        // and sleeping costs more than that (see `hand_off`).
        let received = match hand_off::poll_briefly(&self.inbox, |now| now >= deadline) {
            Some(envelope) => Ok(envelope),
            None => self.inbox.recv_deadline(deadline),
        };
        match received {
            Ok(envelope) => {
                self.file(envelope);
                Ok(true)
            }
            Err(RecvTimeoutError::Timeout) => Ok(false),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Shutdown),
        }
    }
}
