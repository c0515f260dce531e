//! Extreme values at the public API: an error or a result, never a panic.
//!
//! Durations up to `Duration::MAX`, zero, and floats that are NaN, infinite
//! or negative, given to the builder, the latency models, client timeouts,
//! pauses, convergence waits and the built-in protocols' timings. Each site
//! that used to panic has a test of its own; a property test then throws
//! every combination at a small cluster, does an operation or two, and
//! drops it.
//!
//! The property test runs 32 cases by default (a few seconds in a debug
//! build); set `REPLIKV_EXTREME_CASES` for more.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use replikv::cache::CacheConfig;
use replikv::network::{Latency, parse_duration};
use replikv::protocol::{Eventual, EventualConfig, Strong, StrongConfig};
use replikv::{Cluster, Consistency, CoordinatorPolicy, Error, NodeId, StorageKind};
use std::time::{Duration, Instant};

/// What an operation may wait for when its answer may never come.
const SHORT: Duration = Duration::from_millis(50);

#[test]
fn a_client_timeout_of_duration_max_waits_instead_of_panicking() {
    let cluster = Cluster::builder()
        .storage(StorageKind::Memory)
        .client_timeout(Duration::MAX)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
    client.set_timeout(Duration::MAX);
    client.delete("k").unwrap();
    assert_eq!(client.get("k").unwrap(), None);
}

#[test]
fn a_fixed_latency_of_duration_max_holds_messages_until_shutdown() {
    let cluster = Cluster::builder()
        .storage(StorageKind::Memory)
        .client_timeout(SHORT)
        .latency(Latency::Fixed(Duration::MAX))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    assert!(matches!(client.put("k", "v"), Err(Error::Timeout(_))));
    assert_eq!(cluster.network().delayed(), 1, "the request waits in line");
    // The network still works once the latency is sane again.
    cluster.network().set_latency(Latency::Zero).unwrap();
    client.put("k", "v").unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
    // Shutting down drops the message that would have waited forever.
    cluster.shutdown();
    assert_eq!(cluster.network().delayed(), 0);
}

#[test]
fn huge_pareto_and_uniform_latencies_neither_panic_nor_wait_past_an_hour() {
    let cluster = Cluster::builder()
        .storage(StorageKind::Memory)
        .client_timeout(SHORT)
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    for latency in [
        Latency::Pareto {
            scale: Duration::MAX,
            shape: 2.0,
        },
        Latency::Pareto {
            scale: Duration::MAX,
            shape: f64::MIN_POSITIVE,
        },
        Latency::Uniform {
            min: Duration::from_secs(1),
            max: Duration::MAX,
        },
        Latency::Exponential {
            mean: Duration::MAX,
        },
    ] {
        assert!(latency.mean().is_none_or(|mean| mean <= Duration::MAX));
        cluster.network().set_latency(latency).unwrap();
        assert!(
            matches!(client.put("k", "v"), Err(Error::Timeout(_))),
            "{latency}"
        );
    }
}

#[test]
fn waiting_duration_max_for_convergence_returns_at_once_when_converged() {
    let cluster = Cluster::builder()
        .storage(StorageKind::Memory)
        .consistency(Consistency::Eventual { r: 3, w: 3 })
        .build()
        .unwrap();
    cluster.client().unwrap().put("k", "v").unwrap();
    let started = Instant::now();
    assert!(cluster.wait_for_convergence(Duration::MAX).unwrap());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn protocol_timers_of_duration_max_never_fire_and_never_panic() {
    // Strong retransmits and gives up on timers; with both at
    // `Duration::MAX` neither ever fires, and the node still serves.
    let config = StrongConfig::new(Duration::MAX, Duration::MAX).unwrap();
    let cluster = Cluster::builder()
        .storage(StorageKind::Memory)
        .protocol(move |setup| Strong::with_config(setup.incarnation, config))
        .build()
        .unwrap();
    let mut client = cluster.client().unwrap();
    client.put("k", "v").unwrap();
    assert_eq!(client.get("k").unwrap(), Some(b"v".to_vec()));
    assert!(cluster.metrics().node_panics().is_empty());
    assert!(cluster.nodes().iter().all(|&n| cluster.is_up(n).unwrap()));
}

#[test]
fn a_timer_period_shorter_than_its_handler_does_not_starve_the_node() {
    // A 1 ns tick is always due again by the time its handler returns. The
    // node must still read its inbox and obey a crash; the scenario runs on
    // a thread of its own so that a starved node fails the test instead of
    // hanging it.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let config = EventualConfig {
            tick: Duration::from_nanos(1),
            anti_entropy: Some(Duration::from_nanos(1)),
            handoff: Duration::from_nanos(1),
            ..EventualConfig::new(2, 2)
        };
        let cluster = Cluster::builder()
            .storage(StorageKind::Memory)
            .protocol(move |_| Eventual::with_config(config.clone()))
            .build()
            .unwrap();
        let mut client = cluster.client().unwrap();
        let served = client.put("k", "v").is_ok() && client.get("k").is_ok();
        cluster.crash(NodeId(0)).unwrap();
        let _ = done_tx.send(served);
    });
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(served) => assert!(served, "a put or get failed"),
        Err(_) => panic!("the cluster did not serve and crash a node within 60 s"),
    }
}

#[test]
fn a_pause_of_duration_max_still_obeys_a_crash() {
    let cluster = Cluster::builder()
        .storage(StorageKind::Memory)
        .build()
        .unwrap();
    cluster.pause(NodeId(1), Duration::MAX).unwrap();
    cluster.crash(NodeId(1)).unwrap();
    cluster.restart(NodeId(1)).unwrap();
    let mut client = cluster.client().unwrap();
    client.set_policy(CoordinatorPolicy::Fixed(NodeId(1)));
    client.put("k", "v").unwrap();
}

// ---- the property test ----

fn cases() -> u32 {
    std::env::var("REPLIKV_EXTREME_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

// Strategies are boxed: the nested types a tuple of unboxed strategies
// makes overflow a test thread's stack in a debug build.

fn duration() -> BoxedStrategy<Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::from_nanos(u64::MAX)),
        (0u64..5_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
    ]
    .boxed()
}

fn float() -> BoxedStrategy<f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-1.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        0.0..10.0f64,
        any::<f64>(),
    ]
    .boxed()
}

/// A latency the builder accepts, with extreme durations and shapes.
fn valid_latency() -> BoxedStrategy<Latency> {
    let shape = prop_oneof![
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(1.0),
        0.01..100.0f64
    ];
    prop_oneof![
        Just(Latency::Zero),
        duration().prop_map(Latency::Fixed),
        (duration(), duration()).prop_map(|(a, b)| Latency::Uniform {
            min: a.min(b),
            max: a.max(b)
        }),
        duration().prop_map(|mean| Latency::Exponential { mean }),
        (duration(), shape).prop_map(|(scale, shape)| Latency::Pareto { scale, shape }),
    ]
    .boxed()
}

/// Any latency, valid or not.
fn latency() -> BoxedStrategy<Latency> {
    prop_oneof![
        Just(Latency::Zero),
        duration().prop_map(Latency::Fixed),
        (duration(), duration()).prop_map(|(min, max)| Latency::Uniform { min, max }),
        duration().prop_map(|mean| Latency::Exponential { mean }),
        (duration(), float()).prop_map(|(scale, shape)| Latency::Pareto { scale, shape }),
    ]
    .boxed()
}

/// Which protocol the cluster runs.
#[derive(Clone, Debug)]
enum Pick {
    Builtin(Consistency),
    /// Strong with its retransmission interval and deadline.
    Strong(Duration, Duration),
    /// Eventual (R = W = 1) with its tick, hint delay, deadline,
    /// anti-entropy and hand-off periods.
    Eventual([Duration; 5]),
}

fn pick() -> BoxedStrategy<Pick> {
    prop_oneof![
        Just(Pick::Builtin(Consistency::SingleCopy)),
        Just(Pick::Builtin(Consistency::Strong)),
        // Mostly quorums every cluster accepts, sometimes any.
        prop_oneof![3 => Just((1, 1)), 1 => (0usize..4, 0usize..4)]
            .prop_map(|(r, w)| Pick::Builtin(Consistency::Eventual { r, w })),
        (duration(), duration()).prop_map(|(a, b)| Pick::Strong(a, b)),
        proptest::array::uniform5(duration()).prop_map(Pick::Eventual),
    ]
    .boxed()
}

fn policy() -> BoxedStrategy<CoordinatorPolicy> {
    prop_oneof![
        Just(CoordinatorPolicy::First),
        Just(CoordinatorPolicy::Random),
        Just(CoordinatorPolicy::RoundRobin),
        (0u32..6).prop_map(|n| CoordinatorPolicy::Fixed(NodeId(n))),
    ]
    .boxed()
}

/// Everything the builder takes, and what the test then does.
#[derive(Clone, Debug)]
struct Input {
    nodes: usize,
    replication: Option<usize>,
    pick: Pick,
    hybrid_clock: bool,
    client_timeout: Duration,
    latency: Latency,
    policy: CoordinatorPolicy,
    weights: Option<Vec<f64>>,
    cache: Option<(usize, Duration)>,
    seed: u64,
    /// Set on the client after the first operation.
    timeout: Duration,
    pause: Duration,
    /// Set on the network after the first operation.
    later_latency: Latency,
    drop: f64,
    duplicate: f64,
    converge: Duration,
    text: String,
}

/// `Some` one time in `1 + rarely`: settings that are usually invalid
/// (weights, replication, a hybrid clock) are left out most of the time, so
/// most cases build a cluster.
fn sometimes<T: std::fmt::Debug + Clone + 'static>(
    rarely: u32,
    value: BoxedStrategy<T>,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![rarely => Just(None), 1 => value.prop_map(Some)].boxed()
}

fn input() -> impl Strategy<Value = Input> {
    (
        (
            prop_oneof![1 => Just(0usize), 15 => 1usize..5].boxed(),
            sometimes(8, (0usize..6).boxed()),
            pick(),
            sometimes(8, Just(true).boxed()).prop_map(|on| on.is_some()),
            duration(),
            prop_oneof![3 => valid_latency(), 1 => latency()].boxed(),
            policy(),
            sometimes(8, proptest::collection::vec(float(), 0..5).boxed()),
            sometimes(
                1,
                (prop_oneof![1 => Just(0usize), 4 => 1usize..3], duration()).boxed(),
            ),
            any::<u64>(),
        )
            .boxed(),
        (
            duration(),
            duration(),
            latency(),
            float(),
            float(),
            duration(),
            "[0-9.]{0,24}(ns|us|µs|ms|s|x)?",
        )
            .boxed(),
    )
        .prop_map(
            |(
                (
                    nodes,
                    replication,
                    pick,
                    hybrid_clock,
                    client_timeout,
                    latency,
                    policy,
                    weights,
                    cache,
                    seed,
                ),
                (timeout, pause, later_latency, drop, duplicate, converge, text),
            )| Input {
                nodes,
                replication,
                pick,
                hybrid_clock,
                client_timeout,
                latency,
                policy,
                weights,
                cache,
                seed,
                timeout,
                pause,
                later_latency,
                drop,
                duplicate,
                converge,
                text,
            },
        )
}

fn build(input: &Input) -> replikv::Result<Cluster> {
    let mut builder = Cluster::builder()
        .nodes(input.nodes)
        .storage(StorageKind::Memory)
        .hybrid_clock(input.hybrid_clock)
        .client_timeout(input.client_timeout)
        .latency(input.latency)
        .coordinator(input.policy)
        .seed(input.seed);
    if let Some(n) = input.replication {
        builder = builder.replication(n);
    }
    if let Some(weights) = &input.weights {
        builder = builder.weights(weights);
    }
    if let Some((capacity, ttl)) = input.cache {
        builder = builder.read_cache(CacheConfig::new(capacity, ttl));
    }
    builder = match input.pick.clone() {
        Pick::Builtin(consistency) => builder.consistency(consistency),
        Pick::Strong(retransmit, deadline) => match StrongConfig::new(retransmit, deadline) {
            Ok(config) => {
                builder.protocol(move |setup| Strong::with_config(setup.incarnation, config))
            }
            Err(Error::InvalidConfig(_)) => builder.consistency(Consistency::Strong),
            Err(other) => panic!("StrongConfig::new: expected InvalidConfig, got {other:?}"),
        },
        Pick::Eventual([tick, hint_after, op_deadline, anti_entropy, handoff]) => {
            let config = EventualConfig {
                tick,
                hint_after,
                op_deadline,
                anti_entropy: Some(anti_entropy),
                handoff,
                ..EventualConfig::new(1, 1)
            };
            builder.protocol(move |_| Eventual::with_config(config.clone()))
        }
    };
    builder.build()
}

/// Nothing in `input` makes anything panic.
fn exercise(input: &Input) {
    // The latency model on its own.
    let mut rng = ChaCha8Rng::seed_from_u64(input.seed);
    for latency in [input.latency, input.later_latency] {
        let _ = latency.validate();
        let _ = latency.mean();
        let _ = latency.sample(&mut rng);
        let _ = latency.to_string().parse::<Latency>();
    }
    let _ = parse_duration(&input.text);

    let cluster = match build(input) {
        Ok(cluster) => cluster,
        // A refusal must be a refusal of the configuration.
        Err(Error::InvalidConfig(_)) => return,
        Err(other) => panic!("build: expected a cluster or InvalidConfig, got {other:?}"),
    };
    // Empty, so converged at the first look; the deadline is computed
    // before that look, so any duration reaches the arithmetic, and none can
    // hang the test.
    assert!(cluster.wait_for_convergence(input.converge).unwrap());
    let mut client = cluster.client().unwrap();
    // The builder's timeout is used as it is when every answer comes at
    // once (no latency, a coordinator that exists); otherwise the client
    // waits `SHORT` at most, so a huge latency cannot hang the test.
    let prompt = input.latency == Latency::Zero
        && !matches!(input.policy, CoordinatorPolicy::Fixed(n) if n.index() >= input.nodes);
    if !prompt {
        client.set_timeout(input.client_timeout.min(SHORT));
    }
    let _ = client.put("k", "v");
    let _ = client.get("k");

    let victim = cluster.nodes()[0];
    cluster.pause(victim, input.pause).unwrap();
    cluster.crash(victim).unwrap();
    cluster.restart(victim).unwrap();

    let network = cluster.network();
    let _ = network.set_latency(input.later_latency);
    let _ = network.set_drop_probability(input.drop);
    let _ = network.set_duplicate_probability(input.duplicate);
    client.set_timeout(input.timeout.min(SHORT));
    let _ = client.put("k", "w");
    let _ = client.get("k");
    client.set_timeout(input.timeout);

    let _ = cluster.metrics().to_string();
    // None of the built-in protocols panicked on any of it.
    assert_eq!(cluster.metrics().node_panics(), Vec::<String>::new());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn no_builder_latency_or_timeout_input_panics(input in input()) {
        exercise(&input);
    }
}
