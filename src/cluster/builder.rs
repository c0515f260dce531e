//! The cluster builder: every setting in one place, validated before any
//! thread starts.

use super::Cluster;
use super::config::{Consistency, StorageKind};
use crate::cache::CacheConfig;
use crate::client::CoordinatorPolicy;
use crate::error::{Error, Result};
use crate::network::{Latency, MessageKind};
use crate::node::{Spawner, spawner};
use crate::partition::Strategy;
use crate::protocol::eventual::ReadStrategy;
use crate::protocol::{
    Consensus, ConsensusConfig, Eventual, EventualConfig, NodeSetup, Protocol, SingleCopy, Strong,
};
use crate::security::LinkKey;
use crate::sim::Runtime;
use crate::storage::Durability;
use std::time::Duration;

/// Builds a [`Cluster`]. Start from [`Cluster::builder`].
///
/// ```
/// use replikv::{Cluster, CoordinatorPolicy, StorageKind};
/// use std::time::Duration;
/// let cluster = Cluster::builder()
///     .nodes(5)
///     .replication(3)
///     .storage(StorageKind::Memory)
///     .coordinator(CoordinatorPolicy::RoundRobin)
///     .client_timeout(Duration::from_millis(500))
///     .seed(7)
///     .build()?;
/// assert_eq!(cluster.nodes().len(), 5);
/// # Ok::<(), replikv::Error>(())
/// ```
pub struct ClusterBuilder {
    pub(super) nodes: usize,
    pub(super) replication: Option<usize>,
    pub(super) strategy: Strategy,
    pub(super) storage: StorageKind,
    /// Whether [`ClusterBuilder::storage`] was called (the simulator's
    /// default storage is in memory, the threads' temporary sled).
    pub(super) storage_chosen: bool,
    pub(super) runtime: Runtime,
    pub(super) durability: Durability,
    pub(super) lose_unflushed: bool,
    pub(super) seed: u64,
    pub(super) client_timeout: Duration,
    pub(super) coordinator: CoordinatorPolicy,
    pub(super) latency: Latency,
    /// Node-to-node latency per message kind (later entries win).
    pub(super) kind_latencies: Vec<(MessageKind, Latency)>,
    pub(super) client_latency: Option<Latency>,
    pub(super) record_history: bool,
    pub(super) read_cache: Option<CacheConfig>,
    pub(super) weights: Option<Vec<f64>>,
    pub(super) hybrid_clock: bool,
    pub(super) read_strategy: ReadStrategy,
    pub(super) consensus: ConsensusConfig,
    pub(super) protocol: ProtocolChoice,
    pub(super) link_key: Option<LinkKey>,
    pub(super) data_key: Option<crate::security::DataKey>,
    pub(super) access: Option<crate::security::AccessPolicy>,
    pub(super) batching: bool,
}

pub(super) enum ProtocolChoice {
    Builtin(Consistency),
    Custom(Box<dyn Spawner>),
}

impl std::fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field("nodes", &self.nodes)
            .field("replication", &self.replication)
            .field("strategy", &self.strategy)
            .field("storage", &self.storage)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            nodes: 3,
            replication: None,
            strategy: Strategy::default(),
            storage: StorageKind::default(),
            storage_chosen: false,
            runtime: Runtime::default(),
            durability: Durability::default(),
            lose_unflushed: false,
            seed: 0,
            client_timeout: Duration::from_secs(1),
            coordinator: CoordinatorPolicy::default(),
            latency: Latency::Zero,
            kind_latencies: Vec::new(),
            client_latency: None,
            record_history: true,
            read_cache: None,
            weights: None,
            hybrid_clock: false,
            read_strategy: ReadStrategy::default(),
            consensus: ConsensusConfig::default(),
            protocol: ProtocolChoice::Builtin(Consistency::default()),
            link_key: None,
            data_key: None,
            access: None,
            batching: true,
        }
    }
}

impl ClusterBuilder {
    /// Number of nodes (default 3).
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// Replication factor N: copies of each key (default: 3, or the node
    /// count when smaller).
    pub fn replication(mut self, n: usize) -> Self {
        self.replication = Some(n);
        self
    }

    /// Placement strategy (default rendezvous).
    pub fn partitioning(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// A built-in consistency mode (default single-copy).
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.protocol = ProtocolChoice::Builtin(consistency);
        self
    }

    /// Gives the built-in eventual mode a hybrid logical clock: every record
    /// a node receives moves its write clock past the record's version
    /// ([`EventualConfig::hybrid_clock`](crate::protocol::EventualConfig::hybrid_clock);
    /// default off). Building fails with [`Error::InvalidConfig`] when the
    /// mode is not [`Consistency::Eventual`]; a protocol of your own sets it
    /// in its own configuration.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, Error};
    /// let eventual = Cluster::builder()
    ///     .consistency(Consistency::Eventual { r: 1, w: 1 })
    ///     .hybrid_clock(true)
    ///     .build();
    /// assert!(eventual.is_ok());
    /// let strong = Cluster::builder().consistency(Consistency::Strong).hybrid_clock(true).build();
    /// assert!(matches!(strong, Err(Error::InvalidConfig(_))));
    /// ```
    pub fn hybrid_clock(mut self, on: bool) -> Self {
        self.hybrid_clock = on;
        self
    }

    /// Which replicas the built-in eventual mode's reads ask: exactly R
    /// (the default) or all N, answering after the first R
    /// ([`ReadStrategy`]). Building fails with [`Error::InvalidConfig`] when
    /// [`ReadStrategy::AskAll`] is asked of another mode.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, Error};
    /// use replikv::protocol::eventual::ReadStrategy;
    /// let dynamo = Cluster::builder()
    ///     .consistency(Consistency::Eventual { r: 1, w: 1 })
    ///     .read_strategy(ReadStrategy::AskAll)
    ///     .build();
    /// assert!(dynamo.is_ok());
    /// let strong = Cluster::builder().consistency(Consistency::Strong)
    ///     .read_strategy(ReadStrategy::AskAll).build();
    /// assert!(matches!(strong, Err(Error::InvalidConfig(_))));
    /// ```
    pub fn read_strategy(mut self, strategy: ReadStrategy) -> Self {
        self.read_strategy = strategy;
        self
    }

    /// Settings of the built-in consensus mode: read mode (log, ReadIndex
    /// or lease), snapshot threshold, timeouts ([`ConsensusConfig`];
    /// default [`ConsensusConfig::default`]). Refused for other modes.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, Error, Runtime};
    /// use replikv::protocol::ConsensusConfig;
    /// use replikv::protocol::consensus::ReadMode;
    /// let config = ConsensusConfig { read_mode: ReadMode::ReadIndex, ..ConsensusConfig::default() };
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Consensus).consensus(config.clone()).build()?;
    /// let mut client = cluster.client()?;
    /// client.put("k", "v")?;
    /// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    /// let strong = Cluster::builder().consistency(Consistency::Strong).consensus(config).build();
    /// assert!(matches!(strong, Err(Error::InvalidConfig(_))));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn consensus(mut self, config: ConsensusConfig) -> Self {
        self.consensus = config;
        self
    }

    /// A protocol of your own: `factory` builds one per node at start and at
    /// every restart.
    pub fn protocol<P, F>(mut self, factory: F) -> Self
    where
        P: Protocol,
        F: Fn(&NodeSetup) -> P + Send + Sync + 'static,
    {
        self.protocol = ProtocolChoice::Custom(spawner(factory));
        self
    }

    /// Where nodes keep their data (default: temporary sled databases).
    pub fn storage(mut self, storage: StorageKind) -> Self {
        self.storage = storage;
        self.storage_chosen = true;
        self
    }

    /// When writes become durable (default: sled's periodic flush).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Whether a node handles everything waiting in its inbox as one batch
    /// (default on): the batch's storage writes are applied as one engine
    /// batch and, under [`Durability::FlushBeforeAck`], flushed once — a
    /// *group commit* — before any of its replies and messages leave, and
    /// the messages to each peer leave together. Off, a node handles one
    /// message at a time and flushes after every write, as a comparison
    /// (`benches/pipeline.rs` measures both). Semantics do not change:
    /// nothing is acknowledged before its write is applied, and flushed
    /// when the durability setting asks for it. The simulator hands a node
    /// one message per step either way (see `src/node/core.rs`).
    ///
    /// ```
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, StorageKind};
    ///
    /// let cluster = Cluster::builder()
    ///     .storage(StorageKind::Memory)
    ///     .durability(Durability::FlushBeforeAck)
    ///     .batching(false)
    ///     .build()?;
    /// let mut client = cluster.client()?;
    /// client.put("k", "v")?;
    /// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn batching(mut self, on: bool) -> Self {
        self.batching = on;
        self
    }

    /// Makes a node crash lose every write the node had not flushed
    /// (default off: the engine outlives the crashed thread and loses
    /// nothing). Each node's engine is wrapped in
    /// [`LoseUnflushed`](crate::storage::LoseUnflushed), which
    /// under [`Durability::Periodic`] flushes every 500 ms as sled does, and
    /// under [`Durability::FlushBeforeAck`] flushes on every write. Works
    /// with every [`StorageKind`]. This is what makes the durability
    /// setting visible in a test: see `tests/durability.rs`.
    ///
    /// ```
    /// // Flushed before it is acknowledged, a write survives a crash of its
    /// // only replica. (With Durability::Periodic it would be lost unless the
    /// // background flush ran first.)
    /// use replikv::storage::Durability;
    /// use replikv::{Cluster, NodeId, StorageKind};
    ///
    /// let cluster = Cluster::builder()
    ///     .nodes(1)
    ///     .storage(StorageKind::Memory)
    ///     .durability(Durability::FlushBeforeAck)
    ///     .lose_unflushed_on_crash(true)
    ///     .build()?;
    /// let mut client = cluster.client()?;
    /// client.put("k", "v")?;
    /// cluster.crash(NodeId(0))?;
    /// cluster.restart(NodeId(0))?;
    /// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn lose_unflushed_on_crash(mut self, on: bool) -> Self {
        self.lose_unflushed = on;
        self
    }

    /// Which driver runs the nodes (default: [`Runtime::Threads`]).
    ///
    /// [`Runtime::Simulated`] runs the whole cluster on the calling thread
    /// on virtual time, replayed bit for bit from the seed (see
    /// [`crate::sim`]); its storage is in memory unless
    /// [`ClusterBuilder::storage`] says otherwise.
    ///
    /// ```
    /// use replikv::{Cluster, Consistency, Runtime};
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    ///
    /// let cluster = Cluster::builder()
    ///     .runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Strong)
    ///     .latency(Latency::Fixed(Duration::from_millis(20)))
    ///     .build()?;
    /// let mut client = cluster.client()?;
    /// // To the coordinator, a query round trip and a store round trip to
    /// // the replicas, and back: 6 hops of 20 ms, with no real waiting.
    /// client.put("k", "v")?;
    /// assert_eq!(cluster.clock().now_ns(), 120_000_000);
    /// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Seed for every random choice (faults, latencies, coordinators).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Per-operation client timeout (default 1 s). Must be positive; anything
    /// over a century, up to [`Duration::MAX`], means "wait for ever".
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = timeout;
        self
    }

    /// How clients pick a coordinator (default: the key's primary).
    pub fn coordinator(mut self, policy: CoordinatorPolicy) -> Self {
        self.coordinator = policy;
        self
    }

    /// Initial latency of node-to-node messages of `kind` (default: the
    /// latency of every link); see
    /// [`Network::set_kind_latency`](crate::network::Network::set_kind_latency).
    pub fn kind_latency(mut self, kind: MessageKind, latency: Latency) -> Self {
        self.kind_latencies.push((kind, latency));
        self
    }

    /// Initial latency of the links between clients and nodes (default:
    /// the latency of every link); see
    /// [`Network::set_client_latency`](crate::network::Network::set_client_latency).
    pub fn client_latency(mut self, latency: Latency) -> Self {
        self.client_latency = Some(latency);
        self
    }

    /// Initial latency of every link (default zero).
    pub fn latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// Whether clients record every operation in the history (default on).
    pub fn record_history(mut self, on: bool) -> Self {
        self.record_history = on;
        self
    }

    /// Relative capacities of the nodes, one per node (default: all 1).
    /// Strategies that support weights (ring, rendezvous) give a node a
    /// share of keys in proportion — vertical scaling: a bigger machine
    /// takes more keys. Modulo and jump hash refuse weights other than 1.
    ///
    /// ```
    /// use replikv::partition::Strategy;
    /// use replikv::{Cluster, NodeId, StorageKind};
    /// let cluster = Cluster::builder()
    ///     .nodes(3)
    ///     .replication(1)
    ///     .weights(&[1.0, 1.0, 2.0])
    ///     .partitioning(Strategy::Rendezvous)
    ///     .storage(StorageKind::Memory)
    ///     .build()?;
    /// let p = cluster.placement().partitioner();
    /// let on_big = (0..4000).filter(|i| p.owner(format!("k{i}").as_bytes()) == NodeId(2)).count();
    /// assert!((1800..2200).contains(&on_big), "about half the keys: {on_big}");
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn weights(mut self, weights: &[f64]) -> Self {
        self.weights = Some(weights.to_vec());
        self
    }

    /// Gives every client made by [`Cluster::client`] its own read cache.
    /// See [`crate::cache`] for what that does to consistency.
    pub fn read_cache(mut self, config: CacheConfig) -> Self {
        self.read_cache = Some(config);
        self
    }

    /// Authenticates every node-to-node message under `key` (default off):
    /// each carries a keyed-BLAKE3 tag over its link, its sender's
    /// incarnation and a per-link sequence number, and a node refuses —
    /// and counts in [`NodeLoad`](crate::metrics::NodeLoad) — every message
    /// that is forged, altered or replayed before its protocol sees it. Works
    /// with every protocol and both runtimes: the protocol's messages do not
    /// change. See [`crate::security`] for what it does and does not cover.
    ///
    /// ```
    /// use replikv::security::LinkKey;
    /// use replikv::{Cluster, Consistency, Runtime};
    /// let cluster = Cluster::builder()
    ///     .runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Strong)
    ///     .authenticate_links(LinkKey::from_hex(&"5e".repeat(32))?)
    ///     .build()?;
    /// let mut client = cluster.client()?;
    /// client.put("k", "v")?;
    /// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn authenticate_links(mut self, key: LinkKey) -> Self {
        self.link_key = Some(key);
        self
    }

    /// Encrypts every value each node stores under `key` (default off):
    /// XChaCha20-Poly1305, bound to the key it is stored under, so the
    /// database files hold no plaintext value, an entry altered on disk
    /// that reaches replikv reads as [`Error::Corrupt`] naming the node and
    /// the key, and (with [`StorageKind::Directory`]) records sled drops
    /// from a damaged log make the node refuse to open with
    /// [`Error::Corrupt`] naming it. Rollback to an older entry is not
    /// detected. Keys stay in the clear. See [`crate::security::Encrypted`].
    ///
    /// ```
    /// use replikv::security::DataKey;
    /// use replikv::{Cluster, Runtime, StorageKind};
    /// let cluster = Cluster::builder()
    ///     .runtime(Runtime::Simulated)
    ///     .storage(StorageKind::Memory)
    ///     .encrypt_at_rest(DataKey::from_hex(&"3d".repeat(32))?)
    ///     .build()?;
    /// let mut client = cluster.client()?;
    /// client.put("k", "secret value")?;
    /// assert_eq!(client.get("k")?, Some(b"secret value".to_vec()));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn encrypt_at_rest(mut self, key: crate::security::DataKey) -> Self {
        self.data_key = Some(key);
        self
    }

    /// Turns on client authentication and authorization (default off):
    /// only clients made with [`Cluster::client_as`](crate::Cluster::client_as)
    /// and a credential of `policy` are served, each only for the
    /// operations and key prefixes `policy` grants it. The nodes check every
    /// request; a refusal is [`Error::Unauthenticated`] or
    /// [`Error::PermissionDenied`], certain (nothing happened), and recorded
    /// in the history as refused. See [`crate::security::AccessPolicy`].
    ///
    /// ```
    /// use replikv::security::{Access, AccessPolicy, Credential};
    /// use replikv::{Cluster, Error, Runtime};
    /// let alice = Credential::new("alice", "correct horse battery staple")?;
    /// let policy = AccessPolicy::new()
    ///     .grant(&alice, Access::ReadWrite, "users/alice/")?
    ///     .grant(&alice, Access::Read, "public/")?;
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated).access_control(policy).build()?;
    /// let mut client = cluster.client_as(&alice)?;
    /// client.put("users/alice/name", "Alice")?;
    /// assert!(matches!(client.put("public/motd", "hi"), Err(Error::PermissionDenied(_))));
    /// assert!(matches!(cluster.client()?.get("public/motd"), Err(Error::Unauthenticated(_))));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn access_control(mut self, policy: crate::security::AccessPolicy) -> Self {
        self.access = Some(policy);
        self
    }

    /// The replication factor this builder will use.
    pub(super) fn effective_replication(&self) -> usize {
        self.replication.unwrap_or(self.nodes.min(3))
    }

    /// Checks every setting; the error names the bad one.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.nodes == 0 {
            return Err(Error::InvalidConfig(
                "a cluster needs at least one node".into(),
            ));
        }
        if self.nodes > u32::MAX as usize / 2 {
            return Err(Error::InvalidConfig(format!(
                "{} nodes is too many",
                self.nodes
            )));
        }
        let n = self.effective_replication();
        if n == 0 {
            return Err(Error::InvalidConfig(
                "replication factor N must be at least 1".into(),
            ));
        }
        if n > self.nodes {
            return Err(Error::InvalidConfig(format!(
                "replication factor N = {n} is larger than the {} nodes",
                self.nodes
            )));
        }
        if self.client_timeout.is_zero() {
            return Err(Error::InvalidConfig(
                "client timeout must be positive".into(),
            ));
        }
        self.latency.validate()?;
        for (_, latency) in &self.kind_latencies {
            latency.validate()?;
        }
        if let Some(latency) = &self.client_latency {
            latency.validate()?;
        }
        if self.coordinator == CoordinatorPolicy::NonReplica && self.nodes <= n {
            return Err(Error::InvalidConfig(format!(
                "coordinator policy NonReplica needs a node outside each key's N = {n} \
                 replicas: build at least {} nodes",
                n + 1
            )));
        }
        if let Some(weights) = &self.weights
            && weights.len() != self.nodes
        {
            return Err(Error::InvalidConfig(format!(
                "{} weights given for {} nodes: give one per node",
                weights.len(),
                self.nodes
            )));
        }
        if let ProtocolChoice::Builtin(Consistency::Eventual { r, w }) = self.protocol {
            for (name, quorum) in [("read quorum R", r), ("write quorum W", w)] {
                if quorum == 0 || quorum > n {
                    return Err(Error::InvalidConfig(format!(
                        "eventual {name} = {quorum} must be between 1 and the replication factor N = {n}"
                    )));
                }
            }
        }
        if self.hybrid_clock
            && !matches!(
                self.protocol,
                ProtocolChoice::Builtin(Consistency::Eventual { .. })
            )
        {
            return Err(Error::InvalidConfig(
                "a hybrid clock is a setting of the built-in eventual mode: \
                 choose Consistency::Eventual (a protocol of your own configures its own clock)"
                    .into(),
            ));
        }
        if self.read_strategy != ReadStrategy::default()
            && !matches!(
                self.protocol,
                ProtocolChoice::Builtin(Consistency::Eventual { .. })
            )
        {
            return Err(Error::InvalidConfig(format!(
                "read strategy {} is a setting of the built-in eventual mode: choose \
                 Consistency::Eventual (a protocol of your own configures its own reads)",
                self.read_strategy
            )));
        }
        if self.consensus != ConsensusConfig::default() {
            if !matches!(
                self.protocol,
                ProtocolChoice::Builtin(Consistency::Consensus)
            ) {
                return Err(Error::InvalidConfig(
                    "consensus settings apply to the built-in consensus mode: choose \
                     Consistency::Consensus"
                        .into(),
                ));
            }
            self.consensus.validate()?;
        }
        if self.read_cache.is_some_and(|c| c.capacity == 0) {
            return Err(Error::InvalidConfig(
                "cache capacity must be at least 1 entry".into(),
            ));
        }
        Ok(())
    }

    /// Validates the settings and starts the cluster.
    pub fn build(self) -> Result<Cluster> {
        self.validate()?;
        Cluster::start(self)
    }
}

/// The spawner for a built-in mode (`hybrid_clock` and `read_strategy`
/// apply to eventual, `consensus` to consensus).
pub(super) fn builtin_spawner(
    consistency: Consistency,
    hybrid_clock: bool,
    read_strategy: ReadStrategy,
    consensus: ConsensusConfig,
) -> Box<dyn Spawner> {
    match consistency {
        Consistency::SingleCopy => spawner(|_: &NodeSetup| SingleCopy::new()),
        Consistency::Strong => spawner(|setup: &NodeSetup| Strong::new(setup.incarnation)),
        Consistency::Consensus => {
            spawner(move |_: &NodeSetup| Consensus::with_config(consensus.clone()))
        }
        Consistency::Eventual { r, w } => {
            let config = EventualConfig {
                hybrid_clock,
                read_strategy,
                ..EventualConfig::new(r, w)
            };
            spawner(move |_: &NodeSetup| Eventual::with_config(config.clone()))
        }
    }
}
