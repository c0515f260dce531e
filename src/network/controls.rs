//! The fault knobs of [`Network`]: loss, duplication, latency, partitions,
//! cuts, the fault hook and their scope. Each change takes effect for the
//! next message sent.

use super::faults::Faults;
use super::{FaultHook, FaultScope, Latency, MessageKind, Network};
use crate::error::{Error, Result};
use crate::ids::{Endpoint, NodeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Network {
    pub(super) fn update(&self, change: impl FnOnce(&mut Faults)) {
        let mut faults = self.shared.faults.write();
        let recorder = self.recorder();
        let cut_before = recorder.map(|_| faults.cut.clone());
        change(&mut faults);
        if let (Some(recorder), Some(before)) = (recorder, cut_before)
            && before != faults.cut
        {
            recorder.partition(&faults.cut, self.shared.clock.now_ns());
        }
        self.shared
            .quiet
            .store(faults.is_quiet(), Ordering::Release);
    }

    /// Each message is lost with probability `p` (0 to 1).
    pub fn set_drop_probability(&self, p: f64) -> Result<()> {
        check_probability("drop", p)?;
        self.update(|f| f.drop = p);
        Ok(())
    }

    /// Each message is delivered twice with probability `p` (0 to 1).
    pub fn set_duplicate_probability(&self, p: f64) -> Result<()> {
        check_probability("duplicate", p)?;
        self.update(|f| f.duplicate = p);
        Ok(())
    }

    /// Sets the latency of every link without a link-specific setting.
    pub fn set_latency(&self, latency: Latency) -> Result<()> {
        latency.validate()?;
        self.update(|f| f.latency = latency);
        Ok(())
    }

    /// Sets the latency of the directed link `from → to`.
    pub fn set_link_latency(&self, from: Endpoint, to: Endpoint, latency: Latency) -> Result<()> {
        latency.validate()?;
        for end in [from, to] {
            if let Endpoint::Node(n) = end {
                self.check_node(n)?;
            }
        }
        self.update(|f| {
            f.link_latency.insert((from, to), latency);
        });
        Ok(())
    }

    /// Sets the latency of node-to-node messages of one kind (`None`: back
    /// to the latency of every link). A link-specific latency still wins.
    /// This is how the PBS paper's four WARS legs get their own
    /// distributions: W ([`MessageKind::WriteRequest`]), A
    /// ([`MessageKind::WriteAck`]), R ([`MessageKind::ReadRequest`]) and S
    /// ([`MessageKind::ReadResponse`]).
    ///
    /// ```
    /// # use replikv::{Cluster, Consistency, Runtime};
    /// use replikv::network::{Latency, MessageKind};
    /// use std::time::Duration;
    /// let cluster = Cluster::builder().runtime(Runtime::Simulated)
    ///     .consistency(Consistency::Eventual { r: 1, w: 3 }).build()?;
    /// // Acknowledgements take 5 ms, everything else is instant.
    /// let ack = Latency::Fixed(Duration::from_millis(5));
    /// cluster.network().set_kind_latency(MessageKind::WriteAck, Some(ack))?;
    /// let mut client = cluster.client()?;
    /// let before = cluster.clock().now_ns();
    /// client.put("k", "v")?; // W = 3: waits for two remote acks
    /// assert_eq!(cluster.clock().now_ns() - before, 5_000_000);
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn set_kind_latency(&self, kind: MessageKind, latency: Option<Latency>) -> Result<()> {
        if let Some(latency) = &latency {
            latency.validate()?;
        }
        self.update(|f| f.kind_latency[kind.index()] = latency);
        Ok(())
    }

    /// Sets the latency of every link with a client at one end (`None`:
    /// back to the latency of every link). It applies under
    /// [`FaultScope::NodeLinks`] too (like a link-specific latency, unlike
    /// the global one), and a link-specific latency still wins.
    pub fn set_client_latency(&self, latency: Option<Latency>) -> Result<()> {
        if let Some(latency) = &latency {
            latency.validate()?;
        }
        self.update(|f| f.client_latency = latency);
        Ok(())
    }

    /// Chooses which links drop, duplicate and the global latency act on.
    ///
    /// ```
    /// # use replikv::{Cluster, StorageKind};
    /// use replikv::network::FaultScope;
    /// let cluster = Cluster::builder().nodes(1).storage(StorageKind::Memory).build()?;
    /// cluster.network().set_fault_scope(FaultScope::NodeLinks);
    /// cluster.network().set_drop_probability(1.0)?; // every node-to-node message is lost…
    /// let mut client = cluster.client()?;
    /// client.put("k", "v")?; // …but clients still reach the (single) node
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn set_fault_scope(&self, scope: FaultScope) {
        self.update(|f| f.scope = scope);
    }

    /// Removes every link-specific latency.
    pub fn clear_link_latencies(&self) {
        self.update(|f| f.link_latency.clear());
    }

    /// Splits the nodes into groups that cannot talk to each other (in either
    /// direction). Nodes named in no group are cut off from everyone. Replaces
    /// any earlier partition or cut. Clients still reach every node.
    ///
    /// ```
    /// # use replikv::{Cluster, NodeId};
    /// let cluster = Cluster::builder().nodes(3).build()?;
    /// cluster.network().partition(&[&[NodeId(0), NodeId(1)], &[NodeId(2)]])?;
    /// assert!(cluster.network().is_cut(NodeId(0), NodeId(2)));
    /// cluster.network().heal();
    /// assert!(!cluster.network().is_cut(NodeId(0), NodeId(2)));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn partition(&self, groups: &[&[NodeId]]) -> Result<()> {
        let mut group_of = HashMap::new();
        for (g, members) in groups.iter().enumerate() {
            for &node in members.iter() {
                self.check_node(node)?;
                if group_of.insert(node, g).is_some() {
                    return Err(Error::InvalidConfig(format!(
                        "node {node} is named in two partition groups"
                    )));
                }
            }
        }
        let all = self.node_ids();
        self.update(|f| {
            f.cut.clear();
            for &a in &all {
                for &b in &all {
                    if a != b
                        && (!group_of.contains_key(&a) || group_of.get(&a) != group_of.get(&b))
                    {
                        f.cut.insert((a, b));
                    }
                }
            }
        });
        Ok(())
    }

    /// Cuts the one-way link `from → to` (messages the other way still pass).
    pub fn cut(&self, from: NodeId, to: NodeId) -> Result<()> {
        self.check_node(from)?;
        self.check_node(to)?;
        self.update(|f| {
            f.cut.insert((from, to));
        });
        Ok(())
    }

    /// Cuts both directions between `node` and every other node.
    pub fn isolate(&self, node: NodeId) -> Result<()> {
        self.check_node(node)?;
        let all = self.node_ids();
        self.update(|f| {
            for &other in all.iter().filter(|&&o| o != node) {
                f.cut.insert((node, other));
                f.cut.insert((other, node));
            }
        });
        Ok(())
    }

    /// Restores every cut link and partition.
    pub fn heal(&self) {
        self.update(|f| f.cut.clear());
    }

    /// True when messages from `from` to `to` are being dropped by a cut.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.shared.faults.read().cut.contains(&(from, to))
    }

    /// Installs a hook that may decide each envelope's fate.
    ///
    /// ```
    /// # use replikv::{Cluster, Endpoint, NodeId};
    /// use replikv::network::{EnvelopeInfo, Verdict};
    /// let cluster = Cluster::builder().nodes(3).build()?;
    /// // Lose everything node 2 sends; leave the rest to the other knobs.
    /// cluster.network().set_fault_hook(|e: &EnvelopeInfo| {
    ///     (e.from == Endpoint::Node(NodeId(2))).then_some(Verdict::Drop)
    /// });
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn set_fault_hook(&self, hook: impl FaultHook + 'static) {
        let hook: Arc<dyn FaultHook> = Arc::new(hook);
        self.update(|f| f.hook = Some(hook));
    }

    /// Removes the fault hook.
    pub fn clear_fault_hook(&self) {
        self.update(|f| f.hook = None);
    }

    /// Turns every fault off: no drops, duplicates, latency, cuts or hook.
    pub fn clear_faults(&self) {
        self.update(|f| *f = Faults::default());
    }
}

fn check_probability(name: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "{name} probability must be between 0 and 1, got {p}"
        )))
    }
}
