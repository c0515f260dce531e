//! A protocol that panics crashes its node, and says so.
//!
//! A panic in a handler used to kill the node's thread silently: the
//! cluster still called the node up, every later request to it timed out,
//! and since a timeout is indeterminate the checker called the history
//! linearizable. These tests run a single-copy protocol with a bug planted
//! where a test chooses (a key's request, `on_start`, a timer, the factory)
//! and check each promise: the node is down, the panic message is in the
//! metrics and their table, `restart` brings up a fresh protocol that
//! serves, and a grader fails the run and names the node.
//!
//! The panic hook still prints each planted panic to stderr: that output is
//! expected here.

#[path = "../examples/primary_backup/protocol.rs"]
#[allow(dead_code)]
mod primary_backup;

use primary_backup::PrimaryBackup;
use replikv::lab::exercises::grade_linearizable;
use replikv::protocol::{Context, NodeSetup, Protocol, ReplyTo, Request, SingleCopy, TimerId};
use replikv::{Client, Cluster, CoordinatorPolicy, Error, NodeId, StorageKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the planted bug is.
#[derive(Clone, Copy, Debug)]
enum Bug {
    /// A request for this key panics, on any node.
    Key(&'static str),
    /// `on_start` panics on the first incarnation of this node.
    Start(NodeId),
    /// A timer set by `on_start` panics when it fires, on the first
    /// incarnation of this node.
    Timer(NodeId),
    /// The `n`-th request handled by the whole cluster panics (counted by
    /// the shared counter).
    NthRequest(u64),
    /// No bug.
    None,
}

/// A protocol (single-copy unless a test says otherwise) with a bug.
struct Buggy<P = SingleCopy> {
    inner: P,
    bug: Bug,
    node: NodeId,
    incarnation: u64,
    handled: Arc<AtomicU64>,
}

fn factory(bug: Bug) -> impl Fn(&NodeSetup) -> Buggy + Send + Sync + 'static {
    factory_of(bug, Arc::new(AtomicU64::new(0)), SingleCopy::new)
}

/// Buggy `P`s sharing one request counter.
fn factory_of<P: Protocol>(
    bug: Bug,
    handled: Arc<AtomicU64>,
    inner: impl Fn() -> P + Send + Sync + 'static,
) -> impl Fn(&NodeSetup) -> Buggy<P> + Send + Sync + 'static {
    move |setup| Buggy {
        inner: inner(),
        bug,
        node: setup.node,
        incarnation: setup.incarnation,
        handled: handled.clone(),
    }
}

impl<P: Protocol> Protocol for Buggy<P> {
    type Message = P::Message;

    fn on_start(&mut self, ctx: &mut Context<P::Message>) -> replikv::Result<()> {
        match self.bug {
            Bug::Start(node) if node == self.node && self.incarnation == 0 => {
                panic!("on_start bug on {node}")
            }
            Bug::Timer(node) if node == self.node && self.incarnation == 0 => {
                ctx.set_timer(Duration::from_millis(1), 7);
            }
            _ => {}
        }
        self.inner.on_start(ctx)
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<P::Message>,
        reply_to: ReplyTo,
        request: Request,
    ) -> replikv::Result<()> {
        let n = self.handled.fetch_add(1, Ordering::Relaxed) + 1;
        match self.bug {
            Bug::Key(key) if request.key() == key.as_bytes() => {
                panic!("request for {key:?} hit the bug")
            }
            Bug::NthRequest(nth) if n == nth => panic!("request {n} hit the bug"),
            _ => self.inner.on_request(ctx, reply_to, request),
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<P::Message>,
        from: NodeId,
        message: P::Message,
    ) -> replikv::Result<()> {
        self.inner.on_message(ctx, from, message)
    }

    fn on_timer(
        &mut self,
        ctx: &mut Context<P::Message>,
        timer: TimerId,
        token: u64,
    ) -> replikv::Result<()> {
        match self.bug {
            Bug::Timer(node) if node == self.node && self.incarnation == 0 && token == 7 => {
                panic!("timer {token} hit the bug")
            }
            _ => self.inner.on_timer(ctx, timer, token),
        }
    }
}

fn cluster(bug: Bug) -> Cluster {
    Cluster::builder()
        .nodes(3)
        .replication(1)
        .storage(StorageKind::Memory)
        .client_timeout(Duration::from_millis(200))
        .protocol(factory(bug))
        .build()
        .unwrap()
}

/// Waits (up to 10 s) until `node` is reported down.
fn wait_until_down(cluster: &Cluster, node: NodeId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.is_up(node).unwrap() {
        assert!(Instant::now() < deadline, "{node} still up after 10 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A key whose only replica is `node`, other than `avoid`.
fn key_on(cluster: &Cluster, node: NodeId, avoid: &str) -> String {
    (0..)
        .map(|i| format!("key-{i}"))
        .find(|k| k != avoid && cluster.placement().replicas(k.as_bytes()) == [node])
        .unwrap()
}

/// A client that sends everything to `node`.
fn client_of(cluster: &Cluster, node: NodeId) -> Client {
    let mut client = cluster.client().unwrap();
    client.set_policy(CoordinatorPolicy::Fixed(node));
    client
}

/// The node is down, the metrics and their table carry the message, and a
/// restart serves again — the checks every kind of bug shares.
fn assert_crashed_then_restarts(cluster: &Cluster, node: NodeId, message: &str) {
    wait_until_down(cluster, node);
    let report = cluster.metrics();
    let load = &report.nodes[node.index()];
    assert!(!load.up);
    assert_eq!(load.panics, 1);
    assert_eq!(load.last_panic.as_deref(), Some(message));
    let line = format!("node {} panicked: {message}", node.0);
    assert_eq!(report.node_panics(), vec![line.clone()]);
    assert!(report.to_string().contains(&line), "{report}");
    // Crashed already: crashing again says so, as for any crashed node.
    assert!(matches!(
        cluster.crash(node),
        Err(Error::NodeAlreadyCrashed(n)) if n == node
    ));
    // Down like a crashed node: its requests go unanswered.
    let owned = key_on(cluster, node, "");
    let mut to_it = client_of(cluster, node);
    assert!(matches!(to_it.put(&owned, "v"), Err(Error::Timeout(_))));
    // Restart: a fresh protocol (the bugs fire on incarnation 0 only, or
    // on a key this does not touch) that serves.
    cluster.restart(node).unwrap();
    assert!(cluster.is_up(node).unwrap());
    to_it.put(&owned, "after restart").unwrap();
    assert_eq!(to_it.get(&owned).unwrap(), Some(b"after restart".to_vec()));
    // The count and the message outlive the restart.
    let load = &cluster.metrics().nodes[node.index()];
    assert!(load.up);
    assert_eq!(load.panics, 1);
    assert_eq!(load.last_panic.as_deref(), Some(message));
}

#[test]
fn a_panicking_request_handler_crashes_its_node_and_says_why() {
    let cluster = cluster(Bug::Key("boom"));
    let node = cluster.placement().replicas(b"boom")[0];
    let others: Vec<NodeId> = cluster.nodes().into_iter().filter(|&n| n != node).collect();
    let mut client = client_of(&cluster, node);
    client.put("boom", "v").unwrap_err();
    wait_until_down(&cluster, node);
    // The other nodes are untouched.
    for &other in &others {
        assert!(cluster.is_up(other).unwrap());
        let key = key_on(&cluster, other, "boom");
        let mut to_other = client_of(&cluster, other);
        to_other.put(&key, "fine").unwrap();
        assert_eq!(to_other.get(&key).unwrap(), Some(b"fine".to_vec()));
        assert_eq!(cluster.metrics().nodes[other.index()].panics, 0);
    }
    assert_crashed_then_restarts(&cluster, node, "request for \"boom\" hit the bug");
    // The bug is still there after the restart: it crashes the new
    // incarnation too, and the count says twice.
    client.put("boom", "v").unwrap_err();
    wait_until_down(&cluster, node);
    let report = cluster.metrics();
    assert_eq!(report.nodes[node.index()].panics, 2);
    assert_eq!(
        report.node_panics(),
        vec![format!(
            "node {} panicked 2 times, last: request for \"boom\" hit the bug",
            node.0
        )]
    );
}

#[test]
fn a_panic_in_on_start_crashes_the_node_the_same_way() {
    let node = NodeId(1);
    let cluster = cluster(Bug::Start(node));
    assert_crashed_then_restarts(&cluster, node, "on_start bug on n1");
}

#[test]
fn a_panic_in_a_timer_handler_crashes_the_node_the_same_way() {
    let node = NodeId(2);
    let cluster = cluster(Bug::Timer(node));
    assert_crashed_then_restarts(&cluster, node, "timer 7 hit the bug");
}

#[test]
fn a_panic_in_the_protocol_factory_crashes_the_node_the_same_way() {
    let node = NodeId(0);
    let cluster = Cluster::builder()
        .nodes(3)
        .replication(1)
        .storage(StorageKind::Memory)
        .client_timeout(Duration::from_millis(200))
        .protocol(move |setup: &NodeSetup| {
            assert!(
                setup.node != node || setup.incarnation > 0,
                "factory bug on {}",
                setup.node
            );
            SingleCopy::new()
        })
        .build()
        .unwrap();
    assert_crashed_then_restarts(&cluster, node, "factory bug on n0");
}

#[test]
fn a_grader_fails_a_protocol_that_panicked_and_names_the_node() {
    // Without the bug, primary-backup passes exercise 3; with a panic on
    // one of the last requests, everything the grader measures still passes
    // (a few timeouts, a linearizable history, no write lost: every
    // acknowledged write is on every replica), so only the panic can fail
    // it.
    let handled = Arc::new(AtomicU64::new(0));
    let control = grade_linearizable(factory_of(
        Bug::None,
        handled.clone(),
        PrimaryBackup::default,
    ));
    assert!(control.passed, "{control}");
    let nth = handled.load(Ordering::Relaxed).saturating_sub(3).max(1);
    let grade = grade_linearizable(factory_of(
        Bug::NthRequest(nth),
        Arc::new(AtomicU64::new(0)),
        PrimaryBackup::default,
    ));
    assert!(!grade.passed, "{grade}");
    assert!(
        grade
            .measured
            .contains(&format!("panicked: request {nth} hit the bug")),
        "{grade}"
    );
    assert!(grade.measured.contains("checker: linearizable"), "{grade}");
    assert!(grade.to_string().starts_with("FAIL"), "{grade}");
}

#[test]
fn a_membership_change_does_not_restart_a_node_that_panicked() {
    let node = NodeId(1);
    let cluster = Cluster::builder()
        .runtime(replikv::Runtime::Simulated)
        .nodes(3)
        .replication(1)
        .client_timeout(Duration::from_millis(200))
        .protocol(factory(Bug::Key("boom")))
        .build()
        .unwrap();
    let key = (0..)
        .map(|i| format!("boom{i}"))
        .find(|k| cluster.placement().replicas(k.as_bytes()) == [node])
        .unwrap();
    let _ = key;
    let mut client = cluster.client().unwrap();
    client.set_policy(CoordinatorPolicy::Fixed(node));
    assert!(client.get("boom").is_err(), "the bug crashed the node");
    // Nobody has looked at the node since it panicked; a membership change
    // stops and restarts every node that was running — not this one.
    cluster.add_node().unwrap();
    assert!(
        !cluster.is_up(node).unwrap(),
        "add_node restarted a node that panicked"
    );
    assert_eq!(cluster.metrics().nodes[1].panics, 1);
}
