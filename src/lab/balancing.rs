//! Load balancing with one slow node: how each coordinator policy copes.
//!
//! A cluster is only as fast as the node its clients wait for. Here one node
//! is slow — every message *to* it takes `slow_latency` instead of the
//! ordinary link latency, as a node with a long GC pause, a failing disk or
//! a noisy neighbour would be — and closed-loop clients (each waits for its
//! answer, then sends the next request) run a read-mostly eventual workload
//! with R = W = 1, so that an operation's latency is essentially its
//! coordinator's. Each [`CoordinatorPolicy`] then shows its tail latency and
//! how it spread requests over the nodes:
//!
//! * `First` sends a key's requests to its primary whatever happens: every
//!   key the slow node is primary for is slow;
//! * `Random` and `RoundRobin` spread requests evenly — including onto the
//!   slow node, which gets a full share and makes a full share of requests
//!   slow;
//! * `LeastOutstanding` sees that the slow node's requests pile up (its
//!   answers come late) and sends it fewer;
//! * `PowerOfTwoChoices` compares two random replicas: nearly as good, with
//!   two counts per choice instead of N.
//!
//! The run is on the deterministic simulator ([`Runtime::Simulated`]), so a
//! seed gives the same figures on every machine, and durations are virtual.
//! `replikv balance` prints the table; the lesson's *Load balancing* section
//! quotes it.

use super::simulated::run_simulated;
use super::{Nemesis, Workload};
use crate::client::CoordinatorPolicy;
use crate::cluster::{Cluster, Consistency, StorageKind};
use crate::error::{Error, Result};
use crate::ids::{Endpoint, NodeId};
use crate::metrics::LatencySummary;
use crate::network::{EnvelopeInfo, Latency, Verdict};
use crate::sim::Runtime;
use std::time::Duration;

/// The setting of a slow-node measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct SlowNode {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Replication factor N (the replicas a policy chooses among).
    pub replicas: usize,
    /// Concurrent closed-loop clients.
    pub clients: usize,
    /// Operations per client.
    pub ops_per_client: u64,
    /// Keys (uniform popularity unless `zipf`).
    pub keys: u64,
    /// Zipf exponent of key popularity.
    pub zipf: Option<f64>,
    /// Fraction of reads.
    pub read_ratio: f64,
    /// Latency of every ordinary link.
    pub latency: Latency,
    /// The slow node.
    pub slow_node: NodeId,
    /// The delay of every message to the slow node.
    pub slow_latency: Duration,
    /// Seed of the cluster and the workload.
    pub seed: u64,
}

impl Default for SlowNode {
    /// 5 nodes, N = 3, 16 clients of 200 operations over 1,000 keys, 90 %
    /// reads, exponential 1 ms links, node 0 taking 20 ms.
    fn default() -> Self {
        SlowNode {
            nodes: 5,
            replicas: 3,
            clients: 16,
            ops_per_client: 200,
            keys: 1000,
            zipf: None,
            read_ratio: 0.9,
            latency: Latency::Exponential {
                mean: Duration::from_millis(1),
            },
            slow_node: NodeId(0),
            slow_latency: Duration::from_millis(20),
            seed: 1,
        }
    }
}

/// What one policy did with the slow node.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyOutcome {
    /// The policy.
    pub policy: CoordinatorPolicy,
    /// Latency of the successful operations.
    pub latency: LatencySummary,
    /// Operations that failed (timeouts included).
    pub failed: u64,
    /// Client requests each node coordinated, by node id.
    pub requests: Vec<(NodeId, u64)>,
    /// The slow node's share of all requests (a fair share is 1/nodes).
    pub slow_share: f64,
    /// Virtual time the run took.
    pub duration: Duration,
}

/// The policies compared by [`compare_policies`]' callers by default.
pub const POLICIES: [CoordinatorPolicy; 5] = [
    CoordinatorPolicy::First,
    CoordinatorPolicy::Random,
    CoordinatorPolicy::RoundRobin,
    CoordinatorPolicy::LeastOutstanding,
    CoordinatorPolicy::PowerOfTwoChoices,
];

impl SlowNode {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.replicas == 0 || self.replicas > self.nodes {
            return Err(Error::InvalidConfig(format!(
                "replicas must be 1 to the node count ({}), got {}",
                self.nodes, self.replicas
            )));
        }
        if self.slow_node.0 as usize >= self.nodes {
            return Err(Error::InvalidConfig(format!(
                "the slow node {} is not one of the {} nodes",
                self.slow_node, self.nodes
            )));
        }
        self.latency.validate()?;
        self.workload().validate()
    }

    fn workload(&self) -> Workload {
        Workload {
            clients: self.clients,
            ops_per_client: self.ops_per_client,
            keys: self.keys,
            zipf: self.zipf,
            read_ratio: self.read_ratio,
            seed: self.seed,
            ..Workload::default()
        }
    }

    /// Runs the workload under `policy` on a fresh simulated cluster.
    ///
    /// ```
    /// use replikv::lab::balancing::SlowNode;
    /// use replikv::CoordinatorPolicy;
    /// let trial = SlowNode { clients: 4, ops_per_client: 40, ..SlowNode::default() };
    /// let first = trial.run(CoordinatorPolicy::First)?;
    /// let least = trial.run(CoordinatorPolicy::LeastOutstanding)?;
    /// // The load-aware policy sends the slow node less than its share.
    /// assert!(least.slow_share < first.slow_share, "{least:?} {first:?}");
    /// // Same seed, same run: the simulator is deterministic.
    /// assert_eq!(trial.run(CoordinatorPolicy::LeastOutstanding)?, least);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn run(&self, policy: CoordinatorPolicy) -> Result<PolicyOutcome> {
        self.validate()?;
        let cluster = Cluster::builder()
            .nodes(self.nodes)
            .replication(self.replicas)
            .consistency(Consistency::Eventual { r: 1, w: 1 })
            .storage(StorageKind::Memory)
            .runtime(Runtime::Simulated)
            .coordinator(policy)
            .latency(self.latency)
            .client_timeout(
                self.slow_latency
                    .saturating_mul(10)
                    .max(Duration::from_secs(1)),
            )
            .seed(self.seed)
            .build()?;
        let slow = Endpoint::Node(self.slow_node);
        let delay = self.slow_latency;
        cluster.network().set_fault_hook(move |e: &EnvelopeInfo| {
            (e.to == slow).then_some(Verdict::Deliver(delay))
        });
        let world = cluster
            .world()
            .ok_or_else(|| Error::Protocol("a simulated cluster has a world to run".into()))?;
        let (outcome, _) = run_simulated(
            &cluster,
            world,
            &self.workload(),
            &Nemesis::default(),
            &mut |_| {},
            &mut super::nemesis::FaultLog::default(),
        )?;
        let report = cluster.metrics();
        cluster.shutdown();
        let requests: Vec<(NodeId, u64)> =
            report.nodes.iter().map(|n| (n.node, n.requests)).collect();
        let total: u64 = requests.iter().map(|(_, r)| r).sum();
        let slow_requests = requests
            .iter()
            .find(|(n, _)| *n == self.slow_node)
            .map_or(0, |(_, r)| *r);
        Ok(PolicyOutcome {
            policy,
            latency: report.latency,
            failed: report.timeouts + report.unavailable + report.other_errors,
            requests,
            slow_share: if total == 0 {
                0.0
            } else {
                slow_requests as f64 / total as f64
            },
            duration: outcome.elapsed,
        })
    }
}

/// Runs `trial` under each of `policies`.
///
/// ```no_run
/// use replikv::lab::balancing::{POLICIES, SlowNode, compare_policies};
/// for outcome in compare_policies(&SlowNode::default(), &POLICIES)? {
///     println!("{:?}: p99 {} µs", outcome.policy, outcome.latency.p99_us);
/// }
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn compare_policies(
    trial: &SlowNode,
    policies: &[CoordinatorPolicy],
) -> Result<Vec<PolicyOutcome>> {
    policies.iter().map(|&p| trial.run(p)).collect()
}
