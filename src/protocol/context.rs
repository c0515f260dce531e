//! The context a protocol handler runs in: its inputs (node id, clock,
//! storage, placement, random numbers) and its outbox of effects.

use super::message::{ReplyTo, Response};
use crate::clock::Clock;
use crate::ids::NodeId;
use crate::leadership::Role;
use crate::partition::Member;
use crate::placement::Placement;
use crate::storage::NodeStore;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;

/// Names a timer so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// Something a handler asked the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect<M> {
    /// Send `message` to node `to`.
    Send {
        /// Destination.
        to: NodeId,
        /// The message.
        message: M,
    },
    /// Answer a client.
    Reply {
        /// Where the answer goes.
        to: ReplyTo,
        /// The answer.
        response: Response,
    },
    /// Call [`super::Protocol::on_timer`] with `token` after `after`.
    SetTimer {
        /// The timer's id.
        id: TimerId,
        /// Delay.
        after: Duration,
        /// Passed back to the handler.
        token: u64,
    },
    /// Cancel a timer (no effect if it already fired).
    CancelTimer(TimerId),
}

/// A handler's view of its node, and its outbox.
///
/// The runtime keeps one context per node incarnation and drains its effects
/// after every handler call. Tests can build one with [`Context::new`] and
/// inspect [`Context::take_effects`]:
///
/// ```
/// use replikv::protocol::{Context, Effect, Protocol, ReplyTo, Request, Response, SingleCopy};
/// use replikv::{ClientId, NodeId};
///
/// let mut ctx = Context::<<SingleCopy as Protocol>::Message>::for_test(NodeId(0), 1, 7);
/// let mut proto = SingleCopy::new();
/// let to = ReplyTo { client: ClientId(1), request: 1 };
/// proto.on_request(&mut ctx, to, Request::Put { key: b"k".to_vec(), value: b"v".to_vec() })?;
/// assert_eq!(ctx.take_effects(), vec![Effect::Reply { to, response: Response::Done }]);
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug)]
pub struct Context<M> {
    node: NodeId,
    store: NodeStore,
    placement: Arc<Placement>,
    clock: Arc<Clock>,
    rng: ChaCha8Rng,
    effects: Vec<Effect<M>>,
    next_timer: u64,
    /// Roles announced and not yet taken by the node (see
    /// [`crate::leadership`]).
    roles: Vec<(u64, Role)>,
}

impl<M> Context<M> {
    /// A context for `node`, drawing random numbers from `seed`.
    pub fn new(
        node: NodeId,
        store: NodeStore,
        placement: Arc<Placement>,
        clock: Arc<Clock>,
        seed: u64,
    ) -> Self {
        Context {
            node,
            store,
            placement,
            clock,
            rng: ChaCha8Rng::seed_from_u64(seed),
            effects: Vec::new(),
            next_timer: 0,
            roles: Vec::new(),
        }
    }

    /// A context for unit tests: `nodes` nodes placed by rendezvous hashing
    /// with N = `nodes`, in-memory storage, a fresh clock.
    pub fn for_test(node: NodeId, nodes: u32, seed: u64) -> Self {
        use crate::partition::{Partitioner, Rendezvous};
        use crate::storage::{Durability, MemoryStorage};
        let members: Vec<Member> = (0..nodes.max(1)).map(|i| Member::new(NodeId(i))).collect();
        let partitioner: Box<dyn Partitioner> = match Rendezvous::new(&members) {
            Ok(p) => Box::new(p),
            Err(e) => unreachable!("members are distinct with weight 1: {e}"),
        };
        let store = NodeStore::new(node, Arc::new(MemoryStorage::new()), Durability::Periodic);
        Context::new(
            node,
            store,
            Arc::new(Placement::new(partitioner, members.len())),
            Arc::new(Clock::new(members.len())),
            seed,
        )
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// This node's clock in nanoseconds: the cluster clock plus this node's
    /// skew. Use it for timestamps; it is *not* comparable across nodes.
    pub fn now_ns(&self) -> u64 {
        self.clock.node_now_ns(self.node)
    }

    /// This node's storage.
    pub fn store(&self) -> &NodeStore {
        &self.store
    }

    /// The node's seeded random number generator, a
    /// [`rand::rngs::ChaCha8Rng`](crate::rand::rngs::ChaCha8Rng). Draw from
    /// it through the [`rand`](crate::rand) that replikv re-exports, so that
    /// your crate needs no `rand` of its own:
    ///
    /// ```
    /// use replikv::NodeId;
    /// use replikv::protocol::Context;
    /// use replikv::rand::RngExt;
    /// let mut ctx = Context::<()>::for_test(NodeId(0), 3, 7);
    /// let delay_ms: u64 = ctx.rng().random_range(10..20);
    /// assert!((10..20).contains(&delay_ms));
    /// ```
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The replication factor N.
    pub fn replication(&self) -> usize {
        self.placement.replication()
    }

    /// The key's N replicas, primary first.
    pub fn replicas(&self, key: &[u8]) -> Vec<NodeId> {
        self.placement.replicas(key)
    }

    /// The first `n` nodes of the key's preference list (for sloppy quorums).
    pub fn preference_list(&self, key: &[u8], n: usize) -> Vec<NodeId> {
        self.placement.preference_list(key, n)
    }

    /// The nodes in the cluster now.
    pub fn members(&self) -> Vec<NodeId> {
        self.placement.members().iter().map(|m| m.node).collect()
    }

    /// Sends `message` to `to` (to itself too: it comes back through the network).
    pub fn send(&mut self, to: NodeId, message: M) {
        self.effects.push(Effect::Send { to, message });
    }

    /// Answers a client.
    pub fn reply(&mut self, to: ReplyTo, response: Response) {
        self.effects.push(Effect::Reply { to, response });
    }

    /// Calls `on_timer(token)` after `after`; returns an id to cancel it. A
    /// timer more than a century ahead (up to [`Duration::MAX`]) never fires.
    pub fn set_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.next_timer += 1;
        let id = TimerId(self.next_timer);
        self.effects.push(Effect::SetTimer { id, after, token });
        id
    }

    /// Cancels a timer.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.effects.push(Effect::CancelTimer(id));
    }

    /// Announces that this node leads `term` — the hook that reports,
    /// the lab and exercise 10 observe leadership through (see
    /// [`crate::leadership`]). Call it once per term won; it changes
    /// nothing in the protocol's run.
    ///
    /// ```
    /// use replikv::NodeId;
    /// use replikv::leadership::Role;
    /// use replikv::protocol::Context;
    /// let mut ctx = Context::<()>::for_test(NodeId(0), 3, 7);
    /// ctx.stood_for_election(4);
    /// ctx.became_leader(4);
    /// assert_eq!(ctx.take_roles(), vec![(4, Role::Candidate), (4, Role::Leader)]);
    /// ```
    pub fn became_leader(&mut self, term: u64) {
        self.roles.push((term, Role::Leader));
    }

    /// Announces that this node stands for election in `term`.
    pub fn stood_for_election(&mut self, term: u64) {
        self.roles.push((term, Role::Candidate));
    }

    /// Announces that this node, a leader or a candidate until now,
    /// follows in `term`.
    pub fn stepped_down(&mut self, term: u64) {
        self.roles.push((term, Role::Follower));
    }

    /// Takes the roles announced so far, oldest first.
    pub fn take_roles(&mut self) -> Vec<(u64, Role)> {
        std::mem::take(&mut self.roles)
    }

    /// Takes the effects written so far.
    pub fn take_effects(&mut self) -> Vec<Effect<M>> {
        std::mem::take(&mut self.effects)
    }

    /// Moves the effects written so far into `out` (reusing its allocation).
    pub(crate) fn drain_effects_into(&mut self, out: &mut Vec<Effect<M>>) {
        out.append(&mut self.effects);
    }
}
