//! The cluster: builds everything, owns every thread, and exposes the fault
//! controls (crash, restart, pause, clock skew; network faults through
//! [`Cluster::network`]).

mod builder;
mod config;
mod convergence;
mod membership;

pub use builder::ClusterBuilder;
pub use config::{Consistency, StorageKind};
pub use membership::Rebalance;

use crate::cache::{CacheConfig, ReadCache};
use crate::client::{Client, ClientEnv, Recorder};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::history::History;
use crate::ids::{ClientId, NodeId};
use crate::metrics::{NodeLoad, OpMetrics, Report};
use crate::network::Network;
use crate::node::{Control, NodeCounters, NodeEnv, Spawner};
use crate::partition::Member;
use crate::placement::Placement;
use crate::sim::{Runtime, World};
use crate::storage::{Durability, MemoryStorage, NodeStore};
use builder::{ProtocolChoice, builtin_spawner};
use config::Engines;
use crossbeam_channel::Sender;
use parking_lot::{Mutex, RwLock};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running node incarnation.
enum Running {
    /// Its own thread, which obeys orders on `control`.
    Thread {
        control: Sender<Control>,
        thread: JoinHandle<()>,
    },
    /// A core in the simulated world (see [`crate::sim`]).
    Simulated,
}

/// Everything the cluster keeps about one node.
struct NodeSlot {
    id: NodeId,
    store: NodeStore,
    counters: Arc<NodeCounters>,
    running: Option<Running>,
    incarnation: u64,
}

/// A whole replicated key-value store, running in this process.
///
/// ```
/// use replikv::{Cluster, NodeId};
/// let cluster = Cluster::builder().nodes(3).build()?;
/// let mut client = cluster.client()?;
/// client.put("k", "v")?;
/// // Crash every node, restart them: the data is still there.
/// for n in cluster.nodes() { cluster.crash(n)?; }
/// for n in cluster.nodes() { cluster.restart(n)?; }
/// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
/// # Ok::<(), replikv::Error>(())
/// ```
pub struct Cluster {
    nodes: Mutex<Vec<NodeSlot>>,
    spawner: Box<dyn Spawner>,
    network: Network,
    placement: Arc<Placement>,
    clock: Arc<Clock>,
    recorder: Arc<Recorder>,
    op_metrics: Arc<OpMetrics>,
    /// Requests in flight per node, shared by every client.
    outstanding: Arc<crate::outstanding::Outstanding>,
    next_client: AtomicU64,
    seed: u64,
    client_timeout: Duration,
    coordinator: crate::client::CoordinatorPolicy,
    read_cache: Option<CacheConfig>,
    engines: Engines,
    durability: Durability,
    /// Client operations, crashes and restarts hold it shared; a membership
    /// change holds it exclusively, so no operation straddles two placements
    /// and no node starts while the change copies keys.
    gate: Arc<RwLock<()>>,
    /// The id the next joining node gets: above every id ever used, so an id
    /// is never reused (see `membership`).
    next_node: AtomicU32,
    /// The simulated world, when the cluster runs on the simulator.
    world: Option<Arc<World>>,
    /// The cluster's link key, when node links are authenticated.
    link_key: Option<crate::security::LinkKey>,
    /// The cluster's link epoch, in every sealed header: random on threads
    /// (a new process is a new epoch), from the seed on the simulator (runs
    /// stay reproducible).
    link_epoch: u64,
    /// Client sessions and grants, when access control is on.
    access: Option<Arc<crate::security::AccessControl>>,
    /// Whether live membership changes are refused: consensus mode's Raft
    /// group has no safe reconfiguration yet (see `protocol::consensus`).
    fixed_membership: bool,
    /// Whether nodes handle their inbox in batches with group commit.
    batching: bool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.nodes())
            .field("placement", &self.placement)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A builder with the defaults: 3 nodes, N = 3, single-copy, temporary
    /// sled storage, rendezvous placement, seed 0, 1 s client timeout.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    fn start(builder: ClusterBuilder) -> Result<Cluster> {
        let replication = builder.effective_replication();
        let ids: Vec<NodeId> = (0..builder.nodes as u32).map(NodeId).collect();
        let members: Vec<Member> = ids
            .iter()
            .map(|&node| Member {
                node,
                weight: builder
                    .weights
                    .as_ref()
                    .and_then(|w| w.get(node.index()).copied())
                    .unwrap_or(1.0),
            })
            .collect();
        let partitioner = builder.strategy.build(&members)?;
        let placement = Arc::new(Placement::new(partitioner, replication));
        let (clock, network, world) = match builder.runtime {
            Runtime::Threads => {
                let clock = Arc::new(Clock::new(ids.len()));
                let network = Network::new(ids.len(), builder.seed, clock.clone())?;
                (clock, network, None)
            }
            Runtime::Simulated => {
                let clock = Arc::new(Clock::simulated(ids.len()));
                let (network, outbox) = Network::simulated(ids.len(), builder.seed, clock.clone());
                let world = World::new(clock.clone(), network.clone(), outbox);
                (clock, network, Some(Arc::new(world)))
            }
        };
        network.set_latency(builder.latency)?;
        for &(kind, latency) in &builder.kind_latencies {
            network.set_kind_latency(kind, Some(latency))?;
        }
        network.set_client_latency(builder.client_latency)?;
        let kind = match (builder.runtime, builder.storage_chosen) {
            (Runtime::Simulated, false) => StorageKind::Memory,
            _ => builder.storage.clone(),
        };
        let engines = Engines {
            kind,
            durability: builder.durability,
            lose_unflushed: builder.lose_unflushed,
            data_key: builder.data_key.clone(),
            virtual_clock: clock.is_virtual().then(|| clock.clone()),
        };
        let mut slots = Vec::with_capacity(ids.len());
        for &id in &ids {
            let engine = engines.open(id)?;
            slots.push(NodeSlot {
                id,
                store: NodeStore::new(id, engine, builder.durability),
                counters: Arc::new(NodeCounters::default()),
                running: None,
                incarnation: 0,
            });
        }
        let fixed_membership = matches!(
            builder.protocol,
            ProtocolChoice::Builtin(Consistency::Consensus)
        );
        let spawner = match builder.protocol {
            ProtocolChoice::Builtin(consistency) => builtin_spawner(
                consistency,
                builder.hybrid_clock,
                builder.read_strategy,
                builder.consensus.clone(),
            ),
            ProtocolChoice::Custom(spawner) => spawner,
        };
        let cluster = Cluster {
            nodes: Mutex::new(slots),
            spawner,
            network,
            placement,
            clock,
            recorder: Arc::new(Recorder::new(builder.record_history)),
            op_metrics: Arc::new(OpMetrics::default()),
            outstanding: Arc::default(),
            next_client: AtomicU64::new(0),
            seed: builder.seed,
            client_timeout: builder.client_timeout,
            coordinator: builder.coordinator,
            read_cache: builder.read_cache,
            engines,
            durability: builder.durability,
            gate: Arc::new(RwLock::new(())),
            next_node: AtomicU32::new(builder.nodes as u32),
            world,
            link_key: builder.link_key,
            link_epoch: match builder.runtime {
                Runtime::Threads => rand::random(),
                Runtime::Simulated => u64::from_le_bytes(
                    blake3::derive_key("replikv link epoch v1", &builder.seed.to_le_bytes())[..8]
                        .try_into()
                        .unwrap_or_default(),
                ),
            },
            access: builder
                .access
                .map(|policy| Arc::new(crate::security::AccessControl::new(policy))),
            fixed_membership,
            batching: builder.batching,
        };
        for id in ids {
            cluster.start_node(id)?;
        }
        Ok(cluster)
    }

    fn start_node(&self, id: NodeId) -> Result<()> {
        let mut nodes = self.nodes.lock();
        let slot = self.slot_mut(&mut nodes, id)?;
        if slot.running.is_some() {
            return Err(Error::NodeNotCrashed(id));
        }
        // Read before the inbox is attached: anything sent to this
        // incarnation is stamped no earlier.
        let started_at_ns = self.clock.now_ns();
        let inbox = self.network.attach_node(id)?;
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let env = NodeEnv {
            node: id,
            incarnation: slot.incarnation,
            seed: self.seed,
            store: slot.store.clone(),
            placement: self.placement.clone(),
            clock: self.clock.clone(),
            network: self.network.clone(),
            inbox,
            control: control_rx,
            counters: slot.counters.clone(),
            link_key: self.link_key.clone(),
            link_epoch: self.link_epoch,
            access: self.access.clone(),
            started_at_ns,
            batching: self.batching,
        };
        slot.incarnation += 1;
        let running = match &self.world {
            None => {
                let thread = self.spawner.spawn(env).map_err(Error::Io)?;
                Running::Thread {
                    control: control_tx,
                    thread,
                }
            }
            Some(world) => {
                // The factory runs here, on the simulator's thread: a panic
                // in it crashes the node as a handler's would.
                let made = std::panic::catch_unwind(AssertUnwindSafe(|| self.spawner.core(&env)));
                match made {
                    Ok(core) => {
                        world.start_node(id, env.incarnation, core, env.inbox, env.counters);
                        Running::Simulated
                    }
                    Err(payload) => {
                        slot.counters.record_panic(payload.as_ref());
                        let _ = self.network.detach_node(id);
                        return Ok(());
                    }
                }
            }
        };
        slot.running = Some(running);
        Ok(())
    }

    /// A new client with its own id, timeout and coordinator policy from the
    /// builder.
    pub fn client(&self) -> Result<Client> {
        // A shared cache answers reads without asking a node, so it would
        // bypass the nodes' access check: with access control on, clients
        // get none.
        let cache = match (self.read_cache, &self.access) {
            (Some(config), None) => Some(self.shared_cache(config)?),
            _ => None,
        };
        let id = ClientId(self.next_client.fetch_add(1, Ordering::Relaxed));
        Client::new(
            id,
            ClientEnv {
                network: self.network.clone(),
                placement: self.placement.clone(),
                clock: self.clock.clone(),
                recorder: self.recorder.clone(),
                metrics: self.op_metrics.clone(),
                timeout: self.client_timeout,
                policy: self.coordinator,
                seed: self.seed,
                cache,
                gate: self.gate.clone(),
                world: self.world.clone(),
                outstanding: self.outstanding.clone(),
                access: self.access.clone(),
            },
        )
    }

    /// A client that speaks for `credential`: the cluster checks the secret
    /// against its [`AccessPolicy`](crate::security::AccessPolicy) and binds
    /// the new client's id to it; the nodes then serve it exactly what its
    /// grants allow. A wrong or unknown credential is
    /// [`Error::Unauthenticated`]; a cluster without access control is
    /// [`Error::InvalidConfig`] (a credential there would protect nothing).
    /// Clients of a cluster with access control never get the builder's
    /// shared read cache; one given with [`Client::set_cache`] answers a
    /// client only for keys its grants let it read (any other read goes to
    /// a node, which refuses it). Every request the client sends carries a
    /// tag under its session key (see [`crate::security::AccessPolicy`]).
    ///
    /// ```
    /// use replikv::security::{Access, AccessPolicy, Credential};
    /// use replikv::{Cluster, Error, Runtime};
    /// let bob = Credential::new("bob", "bob's long secret")?;
    /// let policy = AccessPolicy::new().grant(&bob, Access::Read, "")?;
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated).access_control(policy).build()?;
    /// let wrong = Credential::new("bob", "not bob's secret!")?;
    /// assert!(matches!(cluster.client_as(&wrong), Err(Error::Unauthenticated(_))));
    /// assert_eq!(cluster.client_as(&bob)?.get("k")?, None);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn client_as(&self, credential: &crate::security::Credential) -> Result<Client> {
        let Some(access) = self.access.clone() else {
            return Err(Error::InvalidConfig(
                "this cluster has no access control: build it with `access_control`".into(),
            ));
        };
        let mut client = self.client()?;
        let key = access.open_session(client.id(), credential)?;
        client.set_session_key(key);
        Ok(client)
    }

    /// A read cache on this cluster's clock, to share among clients with
    /// [`Client::set_cache`].
    pub fn shared_cache(&self, config: CacheConfig) -> Result<ReadCache> {
        ReadCache::new(config, self.clock.clone())
    }

    /// The node ids, in order.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes.lock().iter().map(|s| s.id).collect()
    }

    /// True when `node` is running: not crashed, and its protocol has not
    /// panicked (see [`Cluster::crash`]).
    pub fn is_up(&self, node: NodeId) -> Result<bool> {
        let mut nodes = self.nodes.lock();
        Ok(self.slot_mut(&mut nodes, node)?.running.is_some())
    }

    /// Crashes `node`: its thread stops, its volatile state and queued
    /// messages are lost, its storage stays. Messages to it are dropped
    /// until [`Cluster::restart`]. Once the thread has stopped, the engine
    /// is told ([`Storage::on_crash`](crate::storage::Storage::on_crash)):
    /// with [`ClusterBuilder::lose_unflushed_on_crash`] every write the node
    /// had not flushed is lost. Waits while a membership change runs.
    ///
    /// A node whose protocol panics — in its factory or in any handler —
    /// crashes by itself in the same way: [`Cluster::is_up`] turns false,
    /// the panic message shows in [`Cluster::metrics`] (and in lab reports
    /// and exercise grades), and [`Cluster::restart`] starts a fresh
    /// protocol. Crashing it again is [`Error::NodeAlreadyCrashed`].
    ///
    /// ```
    /// use replikv::protocol::{Context, Protocol, ReplyTo, Request, SingleCopy};
    /// use replikv::{Cluster, NodeId, StorageKind};
    /// # use std::time::{Duration, Instant};
    ///
    /// /// Single-copy, except that a request for `bug` panics.
    /// struct Buggy(SingleCopy);
    /// impl Protocol for Buggy {
    ///     type Message = <SingleCopy as Protocol>::Message;
    ///     fn on_request(&mut self, ctx: &mut Context<Self::Message>, to: ReplyTo, req: Request) -> replikv::Result<()> {
    ///         assert!(req.key() != b"bug", "unexpected key");
    ///         self.0.on_request(ctx, to, req)
    ///     }
    ///     fn on_message(&mut self, ctx: &mut Context<Self::Message>, from: NodeId, m: Self::Message) -> replikv::Result<()> {
    ///         self.0.on_message(ctx, from, m)
    ///     }
    /// }
    ///
    /// let cluster = Cluster::builder().nodes(1).storage(StorageKind::Memory)
    ///     .client_timeout(Duration::from_millis(100))
    ///     .protocol(|_| Buggy(SingleCopy::new())).build()?;
    /// let mut client = cluster.client()?;
    /// assert!(client.get("bug").is_err()); // the node panicked: a timeout
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while cluster.is_up(NodeId(0))? && Instant::now() < deadline { std::thread::yield_now(); }
    /// assert!(!cluster.is_up(NodeId(0))?);
    /// assert_eq!(cluster.metrics().nodes[0].last_panic.as_deref(), Some("unexpected key"));
    /// cluster.restart(NodeId(0))?;
    /// client.put("k", "v")?;
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn crash(&self, node: NodeId) -> Result<()> {
        let _gate = self.gate.read();
        let (running, engine) = {
            let mut nodes = self.nodes.lock();
            let slot = self.slot_mut(&mut nodes, node)?;
            let running = slot.running.take().ok_or(Error::NodeAlreadyCrashed(node))?;
            let mut roles = slot.counters.roles.lock();
            if let Some(last) = roles.last().copied() {
                // A node that announced roles loses its role with its life.
                roles.push(crate::leadership::RoleChange {
                    at_ns: self.clock.now_ns(),
                    role: crate::leadership::Role::Down,
                    ..last
                });
            }
            drop(roles);
            (running, slot.store.engine().clone())
        };
        self.network.detach_node(node)?;
        self.stop(node, running);
        engine.on_crash();
        Ok(())
    }

    /// Restarts a crashed node with a fresh protocol built from its storage.
    ///
    /// With [`StorageKind::Directory`] the node's database is closed and
    /// opened again from disk, so a restart exercises recovery as a process
    /// restart would (keep no [`NodeStore`] handle from [`Cluster::store`]
    /// across a restart: it would hold the database open). Temporary and
    /// in-memory storage cannot be reopened; they are kept as they are, and
    /// so is a [`StorageKind::Custom`] engine.
    ///
    /// Waits while a membership change runs (it restarts the nodes itself).
    pub fn restart(&self, node: NodeId) -> Result<()> {
        let _gate = self.gate.read();
        self.restart_node(node)
    }

    /// [`Cluster::restart`] without the gate, for a membership change.
    fn restart_node(&self, node: NodeId) -> Result<()> {
        if let StorageKind::Directory(_) = &self.engines.kind {
            let mut nodes = self.nodes.lock();
            let slot = self.slot_mut(&mut nodes, node)?;
            if slot.running.is_some() {
                return Err(Error::NodeNotCrashed(node));
            }
            // Close our handle first so sled releases its lock, then reopen.
            let closed = NodeStore::new(node, Arc::new(MemoryStorage::new()), self.durability);
            drop(std::mem::replace(&mut slot.store, closed));
            let engine = self.engines.open(node)?;
            slot.store = NodeStore::new(node, engine, self.durability);
        }
        self.start_node(node)
    }

    /// Makes `node` stop processing for `duration` (a slow or stalled node);
    /// its messages queue up and are handled afterwards. Any duration is
    /// accepted, up to [`Duration::MAX`] (a node stalled for good, until it
    /// is crashed).
    pub fn pause(&self, node: NodeId, duration: Duration) -> Result<()> {
        let mut nodes = self.nodes.lock();
        let slot = self.slot_mut(&mut nodes, node)?;
        let running = slot
            .running
            .as_ref()
            .ok_or(Error::NodeAlreadyCrashed(node))?;
        let paused = match (running, &self.world) {
            (Running::Thread { control, .. }, _) => control.send(Control::Pause(duration)).is_ok(),
            (Running::Simulated, Some(world)) => world.pause(node, duration),
            (Running::Simulated, None) => false,
        };
        if paused {
            Ok(())
        } else {
            Err(Error::NodeAlreadyCrashed(node))
        }
    }

    /// Sets `node`'s clock `offset_ns` nanoseconds ahead of the cluster clock
    /// (negative: behind). Protocols that timestamp writes with their node's
    /// clock (eventual mode) then order writes wrongly.
    pub fn set_clock_skew(&self, node: NodeId, offset_ns: i64) -> Result<()> {
        let mut nodes = self.nodes.lock();
        self.slot_mut(&mut nodes, node)?;
        self.clock.set_skew(node, offset_ns);
        Ok(())
    }

    /// The simulated network, with its fault knobs.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The placement in force (partitioner and N).
    pub fn placement(&self) -> &Arc<Placement> {
        &self.placement
    }

    /// The cluster's clock.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// When its nodes' writes become durable
    /// ([`ClusterBuilder::durability`]).
    ///
    /// ```
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, Runtime};
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .durability(Durability::FlushBeforeAck).build()?;
    /// assert_eq!(cluster.durability(), Durability::FlushBeforeAck);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// `node`'s storage, for inspection (convergence checks, tests).
    pub fn store(&self, node: NodeId) -> Result<NodeStore> {
        let mut nodes = self.nodes.lock();
        Ok(self.slot_mut(&mut nodes, node)?.store.clone())
    }

    /// Every operation recorded so far, in invocation order.
    pub fn history(&self) -> History {
        History::new(self.recorder.snapshot())
    }

    /// Forgets the recorded operations.
    pub fn clear_history(&self) {
        self.recorder.clear();
    }

    /// Every role the nodes announced so far, and every crash of a node
    /// that had announced one, in time order (see [`crate::leadership`]).
    /// Empty for protocols without leaders.
    ///
    /// ```
    /// use replikv::leadership::Role;
    /// use replikv::{Cluster, Consistency, Runtime};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder()
    ///     .runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus)
    ///     .build()?;
    /// cluster.run_for(Duration::from_secs(1));
    /// let leaders = cluster.leadership().iter().filter(|c| c.role == Role::Leader).count();
    /// assert_eq!(leaders, 1);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn leadership(&self) -> Vec<crate::leadership::RoleChange> {
        let mut all: Vec<_> = self
            .nodes
            .lock()
            .iter()
            .flat_map(|slot| slot.counters.roles.lock().clone())
            .collect();
        all.sort_by_key(|c| c.at_ns);
        all
    }

    /// Measurements so far.
    pub fn metrics(&self) -> Report {
        let mut slots = self.nodes.lock();
        let nodes = slots
            .iter_mut()
            .map(|slot| {
                self.reap(slot);
                NodeLoad {
                    node: slot.id,
                    requests: slot.counters.requests.load(Ordering::Relaxed),
                    peer_messages: slot.counters.peer_messages.load(Ordering::Relaxed),
                    handler_errors: slot.counters.handler_errors.load(Ordering::Relaxed),
                    garbled_messages: slot.counters.garbled_messages.load(Ordering::Relaxed),
                    unauthentic_messages: slot
                        .counters
                        .unauthentic_messages
                        .load(Ordering::Relaxed),
                    replayed_messages: slot.counters.replayed_messages.load(Ordering::Relaxed),
                    refused_requests: slot.counters.refused_requests.load(Ordering::Relaxed),
                    forged_requests: slot.counters.forged_requests.load(Ordering::Relaxed),
                    duplicate_requests: slot.counters.duplicate_requests.load(Ordering::Relaxed),
                    batches: slot.counters.batches.load(Ordering::Relaxed),
                    batched_envelopes: slot.counters.batched_envelopes.load(Ordering::Relaxed),
                    panics: slot.counters.panics.load(Ordering::Acquire),
                    last_panic: slot.counters.last_panic.lock().clone(),
                    up: slot.running.is_some(),
                }
            })
            .collect();
        drop(slots);
        let mut report = Report::new(&self.op_metrics, self.network.stats(), nodes);
        report.leadership =
            crate::leadership::LeadershipSummary::of(&self.leadership(), self.clock.now_ns());
        report
    }

    /// The seed the cluster was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Stops every node thread and the network's delay thread, and waits for
    /// them. Called by `Drop`; calling it earlier is fine. Clients still
    /// alive afterwards get [`Error::Timeout`].
    pub fn shutdown(&self) {
        self.stop_all_nodes();
        self.network.shutdown();
        if let Some(world) = &self.world {
            world.clear();
        }
    }

    /// Crashes every running node at once and waits for their threads;
    /// returns the nodes that were running.
    fn stop_all_nodes(&self) -> Vec<NodeId> {
        let running: Vec<(NodeId, Running)> = self
            .nodes
            .lock()
            .iter_mut()
            .filter_map(|slot| {
                // A node whose protocol panicked is crashed, not running:
                // finish its crash first, so nobody restarts it by mistake.
                self.reap(slot);
                slot.running.take().map(|r| (slot.id, r))
            })
            .collect();
        // Tell every thread first, then wait: they stop in parallel.
        for (id, r) in &running {
            let _ = self.network.detach_node(*id);
            if let Running::Thread { control, .. } = r {
                let _ = control.send(Control::Crash);
            }
        }
        running
            .into_iter()
            .map(|(id, r)| {
                self.stop(id, r);
                id
            })
            .collect()
    }

    /// Ends a running incarnation (already detached from the network): asks
    /// its thread to stop and waits for it, or takes its core out of the
    /// simulated world.
    fn stop(&self, node: NodeId, running: Running) {
        match running {
            Running::Thread { control, thread } => {
                let _ = control.send(Control::Crash);
                let _ = thread.join();
            }
            Running::Simulated => {
                if let Some(world) = &self.world {
                    world.stop_node(node);
                }
            }
        }
    }

    /// The simulated world, when the cluster runs on the simulator.
    pub(crate) fn world(&self) -> Option<&World> {
        self.world.as_deref()
    }

    /// Which driver runs the nodes.
    pub fn runtime(&self) -> Runtime {
        if self.world.is_some() {
            Runtime::Simulated
        } else {
            Runtime::Threads
        }
    }

    /// Lets `duration` pass: on the simulator, runs every event due within
    /// it on this thread and moves virtual time to its end; on threads,
    /// sleeps (the nodes run meanwhile).
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, Runtime};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Eventual { r: 1, w: 1 }).build()?;
    /// cluster.run_for(Duration::from_secs(3600)); // an hour of ticks, at once
    /// assert_eq!(cluster.clock().now_ns(), 3_600_000_000_000);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn run_for(&self, duration: Duration) {
        match &self.world {
            Some(world) => {
                let until = world
                    .now_ns()
                    .saturating_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
                world.run_until(until, &mut || false);
            }
            None => std::thread::sleep(duration),
        }
    }

    /// On the simulator, runs events until nothing is left to happen but
    /// timers (no message in flight), or until `limit` of virtual time has
    /// passed; returns whether the network went quiet. Protocols with
    /// periodic timers (eventual mode's tick) never run out of events, which
    /// is why this stops at messages. On threads, polls the network's
    /// in-flight count until it is zero or `limit` of real time passed.
    pub fn run_until_quiet(&self, limit: Duration) -> bool {
        let limit_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        let quiet = || self.network.stats().in_flight() == 0;
        match &self.world {
            Some(world) => {
                let until = world.now_ns().saturating_add(limit_ns);
                world.run_until(until, &mut || quiet())
            }
            None => {
                let until = crate::clock::deadline_after(std::time::Instant::now(), limit);
                while !quiet() {
                    if std::time::Instant::now() >= until {
                        return false;
                    }
                    std::thread::yield_now();
                }
                true
            }
        }
    }

    /// Flushes every node's storage.
    pub fn flush(&self) -> Result<()> {
        for slot in self.nodes.lock().iter() {
            slot.store.flush()?;
        }
        Ok(())
    }
}

impl Cluster {
    /// `id`'s slot, reaped first (see [`Cluster::reap`]).
    fn slot_mut<'a>(&self, nodes: &'a mut [NodeSlot], id: NodeId) -> Result<&'a mut NodeSlot> {
        let slot = nodes
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(Error::UnknownNode(id))?;
        self.reap(slot);
        Ok(slot)
    }

    /// Notices a node whose thread ended on its own — its protocol panicked
    /// (the thread recorded the message in its counters before it ended) —
    /// and finishes the crash as [`Cluster::crash`] would: out of the
    /// running set, detached from the network, thread joined. The thread
    /// already dropped its inbox, so messages to it were being dropped in
    /// the meantime, as they are for a crashed node.
    fn reap(&self, slot: &mut NodeSlot) {
        let ended = match (&slot.running, &self.world) {
            (Some(Running::Thread { thread, .. }), _) => thread.is_finished(),
            (Some(Running::Simulated), Some(world)) => !world.is_running(slot.id),
            _ => false,
        };
        if !ended {
            return;
        }
        if let Some(running) = slot.running.take() {
            let _ = self.network.detach_node(slot.id);
            self.stop(slot.id, running);
            // A panic is a crash: what the node had not flushed is gone.
            slot.store.engine().on_crash();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}
