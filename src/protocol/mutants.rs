//! Teaching mutants: the built-in protocols with one safety rule removed.
//!
//! A checker that never fails proves nothing, and neither does a sweep of
//! thousands of fault schedules that finds nothing: perhaps there is nothing
//! to find, perhaps the faults never hit the right spot. So replikv keeps
//! protocols that are *known* to be wrong, each missing exactly one rule its
//! module docs explain, and its tests check that a default
//! [`Sweep`](crate::lab::Sweep) finds every one of them and that the seed it
//! prints replays the violation (`tests/mutants.rs`). Mutation testing turned
//! on the test tools themselves.
//!
//! - [`AbdWithoutWriteBack`]: strong mode whose reads answer after the query
//!   phase, with no write-back — the new/old inversion of the
//!   [`strong`](super::strong) docs.
//! - [`SingleCopyUnfilteredForwards`]: single-copy whose owner runs every
//!   forwarded request, a duplicated or late one too — the forward is a peer
//!   message, which the runtime does not deduplicate
//!   ([`RequestFilter`](super::RequestFilter)).
//!
//! Two more mutants are not protocols, and live in [`crate::lab::Mutant`]:
//! the runtime whose duplicate memory is lost on restart while old
//! connections survive ([`crate::network::Network::set_connections_survive_restart`]),
//! and eventual R = W = 1 judged by the linearizability checker.
//!
//! Use them to see a violation happen, to check a test of your own can fail,
//! or as the starting point of an exercise: never as a protocol.

use super::single_copy::Forward;
use super::strong::{StrongConfig, StrongMessage};
use super::{Context, NodeSetup, Protocol, ReplyTo, Request, SingleCopy, Strong, TimerId};
use crate::error::Result;
use crate::ids::NodeId;

/// A mutant is its inner protocol with one rule broken inside it: every
/// handler, and the label of each message (so per-kind latencies treat the
/// mutant exactly as the protocol it imitates), goes to the inner one.
macro_rules! delegate_protocol {
    ($mutant:ty, $message:ty, $inner:ty) => {
        impl Protocol for $mutant {
            type Message = $message;

            fn on_start(&mut self, ctx: &mut Context<$message>) -> Result<()> {
                self.0.on_start(ctx)
            }

            fn on_request(
                &mut self,
                ctx: &mut Context<$message>,
                reply_to: ReplyTo,
                request: Request,
            ) -> Result<()> {
                self.0.on_request(ctx, reply_to, request)
            }

            fn on_message(
                &mut self,
                ctx: &mut Context<$message>,
                from: NodeId,
                message: $message,
            ) -> Result<()> {
                self.0.on_message(ctx, from, message)
            }

            fn on_timer(
                &mut self,
                ctx: &mut Context<$message>,
                timer: TimerId,
                token: u64,
            ) -> Result<()> {
                self.0.on_timer(ctx, timer, token)
            }

            fn message_kind(message: &$message) -> crate::network::MessageKind {
                <$inner as Protocol>::message_kind(message)
            }
        }
    };
}

/// ABD whose reads skip phase 2: a read answers the newest record its query
/// majority returned without first writing it back to a majority.
///
/// Writes are untouched. A read can then see a write in progress that has
/// reached one replica and return it, and a later read whose majority
/// misses that replica returns the older value: new, then old — not
/// linearizable. Found by a sweep with latency, a few keys and random
/// coordinators ([`crate::lab::Mutant::AbdWithoutWriteBack`]).
///
/// ```
/// use replikv::protocol::mutants::AbdWithoutWriteBack;
/// use replikv::{Cluster, Runtime};
/// let cluster = Cluster::builder()
///     .runtime(Runtime::Simulated)
///     .protocol(AbdWithoutWriteBack::for_node)
///     .build()?;
/// let mut client = cluster.client()?;
/// client.put("k", "v")?; // without concurrent writes it looks fine
/// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug)]
pub struct AbdWithoutWriteBack(Strong);

impl AbdWithoutWriteBack {
    /// The mutant for a node's `incarnation`, with the given timings.
    pub fn with_config(incarnation: u64, config: StrongConfig) -> Self {
        AbdWithoutWriteBack(Strong::without_write_back(incarnation, config))
    }

    /// A protocol factory for [`crate::ClusterBuilder::protocol`], with the
    /// default [`StrongConfig`].
    pub fn for_node(setup: &NodeSetup) -> Self {
        AbdWithoutWriteBack::with_config(setup.incarnation, StrongConfig::default())
    }
}

delegate_protocol!(AbdWithoutWriteBack, StrongMessage, Strong);

/// Single-copy whose key owners run every forwarded request they receive,
/// with no [`RequestFilter`](super::RequestFilter).
///
/// The runtime runs a client's request at most once at the node it was sent
/// to, but a request that node hands on to the key's owner travels as a
/// peer message, which the network may duplicate and delay. Run a second
/// time, late, an old put writes its value again with a newer version —
/// over a value a later, acknowledged put wrote: not linearizable. Found by
/// a sweep with duplication and latency
/// ([`crate::lab::Mutant::SingleCopyUnfilteredForwards`]).
///
/// ```
/// use replikv::protocol::mutants::SingleCopyUnfilteredForwards;
/// use replikv::{Cluster, Runtime};
/// let cluster = Cluster::builder()
///     .runtime(Runtime::Simulated)
///     .nodes(3)
///     .replication(1)
///     .protocol(|_| SingleCopyUnfilteredForwards::new())
///     .build()?;
/// let mut client = cluster.client()?;
/// client.put("k", "v")?; // without duplicates it looks fine
/// assert_eq!(client.get("k")?, Some(b"v".to_vec()));
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Debug)]
pub struct SingleCopyUnfilteredForwards(SingleCopy);

impl SingleCopyUnfilteredForwards {
    /// The mutant.
    pub fn new() -> Self {
        SingleCopyUnfilteredForwards(SingleCopy::unfiltered())
    }
}

impl Default for SingleCopyUnfilteredForwards {
    fn default() -> Self {
        SingleCopyUnfilteredForwards::new()
    }
}

delegate_protocol!(SingleCopyUnfilteredForwards, Forward, SingleCopy);
