//! The partitioning strategies: placement rules, consistency on membership
//! changes, the balance and movement goals, weights, errors, and the frozen
//! placement that must never change.
//!
//! Key counts are kept small (20,000–50,000) so the whole file runs in a few
//! seconds in debug builds; each tolerance says what noise it allows for. The
//! `partitioning` bench measures the same goals over 1,000,000 keys.

use proptest::prelude::*;
// Explicit import: proptest's prelude also exports a `Strategy` (a trait),
// which replikv's `Strategy` (a name for a placement) shadows here.
use proptest::strategy::Strategy as _;
use replikv::partition::analysis::{
    Change, balance, expected_list_changed, expected_owner_moved, movement, sample_keys,
};
use replikv::partition::{
    Jump, Member, Modulo, Partitioner, Rendezvous, Ring, Strategy, jump_hash, key_hash,
};
use replikv::{Error, NodeId};

fn nodes(count: u32) -> Vec<Member> {
    (0..count).map(|i| Member::new(NodeId(i))).collect()
}

fn build(strategy: Strategy, members: &[Member]) -> Box<dyn Partitioner> {
    match strategy.build(members) {
        Ok(p) => p,
        Err(e) => panic!("{strategy} over {members:?}: {e}"),
    }
}

fn ids(list: &[NodeId]) -> Vec<u32> {
    list.iter().map(|n| n.0).collect()
}

const CONSISTENT: [Strategy; 3] = [
    Strategy::Ring { vnodes: 256 },
    Strategy::Jump,
    Strategy::Rendezvous,
];

const MULTIPROBE: Strategy = Strategy::MultiProbe { probes: 21 };
const MAGLEV: Strategy = Strategy::Maglev { table_size: 65_537 };
const BOUNDED: Strategy = Strategy::BoundedLoad {
    epsilon_permille: 250,
};

// ---------------------------------------------------------------------------
// Stable hashes and the frozen placement table
// ---------------------------------------------------------------------------

/// XXH3 is a specified algorithm: these are its published outputs, so the
/// key hash is the same on every platform and in every release.
#[test]
fn key_hash_matches_xxh3_vectors() {
    use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};
    assert_eq!(xxh3_64_with_seed(b"user:42", 0), 0x9fc1_e605_fa71_74aa);
    assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
    assert_eq!(key_hash(b"user:42"), 0x9fc1_e605_fa71_74aa);
    assert_eq!(key_hash(b""), 0x2d06_8005_38d3_94c2);
}

/// The reference vectors shared by the ports of Lamping & Veach's code.
#[test]
fn jump_hash_matches_reference_vectors() {
    for (key, buckets, bucket) in [
        (1, 1, 0),
        (42, 57, 43),
        (0xDEAD_10CC, 1, 0),
        (0xDEAD_10CC, 666, 361),
        (256, 1024, 520),
    ] {
        assert_eq!(jump_hash(key, buckets), Some(bucket), "{key} in {buckets}");
    }
    assert_eq!(jump_hash(5, 0), None);
}

const FROZEN_KEYS: [&str; 7] = [
    "user:42",
    "apple",
    "key-0",
    "key-1",
    "",
    "\u{1F600}",
    "a-much-longer-key-that-spans-more-than-sixteen-bytes",
];

/// Preference lists of 3 over nodes 0..5, one per key of `FROZEN_KEYS`.
///
/// THIS TABLE PINS PLACEMENT ACROSS RELEASES. A stored cluster keeps each key
/// on the nodes listed here; if a change to a hash, a strategy or its replica
/// rule alters any entry, every existing data directory would silently
/// disagree with the new build about where keys live. Never "update" the
/// table to make it pass: a deliberate placement change needs a new strategy
/// name (or version) so old clusters keep the old one.
const FROZEN_UNIT: [(&str, [[u32; 3]; 7]); 7] = [
    (
        "modulo",
        [
            [1, 2, 3],
            [4, 0, 1],
            [0, 1, 2],
            [2, 3, 4],
            [3, 4, 0],
            [3, 4, 0],
            [1, 2, 3],
        ],
    ),
    (
        "ring:256",
        [
            [2, 0, 3],
            [4, 3, 1],
            [2, 0, 3],
            [4, 0, 1],
            [4, 0, 1],
            [3, 4, 1],
            [2, 1, 0],
        ],
    ),
    (
        "jump",
        [
            [1, 0, 3],
            [2, 0, 4],
            [1, 3, 0],
            [1, 3, 4],
            [0, 3, 2],
            [2, 1, 3],
            [4, 3, 0],
        ],
    ),
    (
        "rendezvous",
        [
            [1, 2, 4],
            [0, 1, 2],
            [1, 0, 3],
            [3, 2, 4],
            [2, 0, 3],
            [2, 0, 1],
            [3, 2, 1],
        ],
    ),
    (
        "maglev:65537",
        [
            [0, 4, 3],
            [0, 3, 2],
            [4, 0, 2],
            [0, 1, 3],
            [0, 2, 3],
            [0, 1, 2],
            [4, 0, 2],
        ],
    ),
    (
        "multiprobe:21",
        [
            [1, 4, 3],
            [2, 1, 4],
            [4, 3, 0],
            [3, 0, 2],
            [3, 0, 2],
            [2, 1, 4],
            [1, 4, 3],
        ],
    ),
    (
        "bounded:0.25",
        [
            [2, 0, 1],
            [3, 4, 2],
            [2, 4, 3],
            [2, 0, 4],
            [4, 0, 3],
            [4, 2, 1],
            [1, 3, 0],
        ],
    ),
];

/// The same, with weights 1, 2, 1, 0.5, 1.5 (the weighted code paths).
const FROZEN_WEIGHTS: [f64; 5] = [1.0, 2.0, 1.0, 0.5, 1.5];
const FROZEN_WEIGHTED: [(&str, [[u32; 3]; 7]); 4] = [
    (
        "ring:256",
        [
            [4, 2, 0],
            [1, 4, 3],
            [1, 2, 0],
            [1, 4, 0],
            [1, 4, 0],
            [4, 1, 0],
            [2, 4, 1],
        ],
    ),
    (
        "rendezvous",
        [
            [1, 4, 2],
            [0, 1, 2],
            [1, 0, 4],
            [1, 4, 2],
            [2, 0, 1],
            [2, 0, 1],
            [3, 1, 2],
        ],
    ),
    (
        "maglev:65537",
        [
            [0, 4, 3],
            [4, 3, 2],
            [4, 0, 2],
            [0, 1, 3],
            [1, 2, 3],
            [0, 1, 2],
            [4, 0, 2],
        ],
    ),
    (
        "bounded:0.25",
        [
            [2, 1, 4],
            [1, 3, 4],
            [2, 4, 3],
            [2, 0, 4],
            [4, 0, 1],
            [4, 2, 1],
            [1, 0, 2],
        ],
    ),
];

fn check_frozen(members: &[Member], table: &[(&str, [[u32; 3]; 7])]) {
    for (name, lists) in table {
        let strategy: Strategy = match name.parse() {
            Ok(s) => s,
            Err(e) => panic!("{name}: {e}"),
        };
        let p = build(strategy, members);
        for (key, expected) in FROZEN_KEYS.iter().zip(lists) {
            assert_eq!(
                ids(&p.preference_list(key.as_bytes(), 3)),
                expected,
                "placement of {key:?} under {name} changed: see FROZEN_UNIT's warning"
            );
        }
    }
}

#[test]
fn frozen_placement_never_changes() {
    check_frozen(&nodes(5), &FROZEN_UNIT);
    let weighted: Vec<Member> = FROZEN_WEIGHTS
        .iter()
        .enumerate()
        .map(|(i, &weight)| Member {
            node: NodeId(i as u32),
            weight,
        })
        .collect();
    check_frozen(&weighted, &FROZEN_WEIGHTED);
}

// ---------------------------------------------------------------------------
// Preference lists: N distinct members, for every strategy and member set
// ---------------------------------------------------------------------------

/// A strategy and a member set it accepts: distinct ids in any order;
/// weights only for the strategies that support them; few vnodes to keep
/// each case cheap (the rule does not depend on the count).
fn strategy_and_members()
-> impl proptest::strategy::Strategy<Value = (replikv::partition::Strategy, Vec<Member>)> {
    use replikv::partition::Strategy as S;
    let strategy = prop_oneof![
        Just(S::Modulo),
        (1u32..=32).prop_map(|vnodes| S::Ring { vnodes }),
        Just(S::Jump),
        Just(S::Rendezvous),
        prop::sample::select(vec![13u32, 251, 65_537])
            .prop_map(|table_size| S::Maglev { table_size }),
        (1u32..=32).prop_map(|probes| S::MultiProbe { probes }),
        (1u32..=2000).prop_map(|epsilon_permille| S::BoundedLoad { epsilon_permille }),
    ];
    (
        strategy,
        proptest::collection::btree_set(0u32..1000, 1..=12),
        any::<u64>(),
    )
        .prop_map(|(strategy, ids, seed)| {
            let weighted = strategy.is_weighted();
            let members = ids
                .into_iter()
                .enumerate()
                .map(|(i, id)| Member {
                    node: NodeId(id),
                    // Weights 0.25..=2.5 from the seed's bits, when allowed.
                    weight: if weighted {
                        0.25 * f64::from(((seed >> (i * 4)) & 0x7) as u32 + 1)
                    } else {
                        1.0
                    },
                })
                .collect();
            (strategy, members)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn preference_lists_hold_min_n_m_distinct_members(
        (strategy, members) in strategy_and_members(),
        n in 0usize..16,
        key in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let p = build(strategy, &members);
        let list = p.preference_list(&key, n);
        prop_assert_eq!(list.len(), n.min(members.len()));
        for (i, node) in list.iter().enumerate() {
            prop_assert!(p.contains(*node), "{} is not a member", node);
            prop_assert!(!list[..i].contains(node), "{} twice in {:?}", node, list);
        }
        if n > 0 {
            prop_assert_eq!(p.owner(&key), list[0]);
        }
    }
}

// ---------------------------------------------------------------------------
// Consistency: only the keys of the joining or leaving node move
// ---------------------------------------------------------------------------

/// Checks, key by key, the consistency rule between a placement without
/// `changed` (`small`) and with it (`large`):
/// * an owner differs only when `changed` owns the key in `large`;
/// * a replica set differs only when `changed` is in it in `large`;
/// * for ring and rendezvous, stronger: the `large` list with `changed`
///   taken out is a prefix of the `small` list (the node is inserted, the
///   rest keep their order). Jump's probes satisfy only the weaker rules
///   (see the `Jump` docs), and so does multi-probe, whose replicas follow
///   the winning point, which the newcomer can change.
fn assert_consistent(small: &dyn Partitioner, large: &dyn Partitioner, changed: NodeId, n: usize) {
    let strict = !large.name().starts_with("jump") && !large.name().starts_with("multiprobe");
    for key in sample_keys(300) {
        let before = small.preference_list(&key, n);
        let after = large.preference_list(&key, n);
        if before[0] != after[0] {
            assert_eq!(after[0], changed, "{}: owner of {key:?}", large.name());
        }
        let rest: Vec<NodeId> = after.iter().copied().filter(|&x| x != changed).collect();
        if rest.len() == after.len() {
            assert_eq!(before, after, "{}: list of {key:?}", large.name());
        } else if strict {
            assert_eq!(
                rest[..],
                before[..rest.len()],
                "{}: list of {key:?}",
                large.name()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn consistent_strategies_move_only_the_changed_nodes_keys(
        which in 0usize..4,
        vnodes in 1u32..=64,
        count in 1u32..=10,
        n in 1usize..=4,
        victim in any::<prop::sample::Index>(),
    ) {
        let strategy = match CONSISTENT.get(which).copied().unwrap_or(MULTIPROBE) {
            Strategy::Ring { .. } => Strategy::Ring { vnodes },
            Strategy::MultiProbe { .. } => Strategy::MultiProbe { probes: vnodes },
            other => other,
        };
        let p = build(strategy, &nodes(count));
        // Add a node.
        let added = NodeId(count);
        let grown = p.with_node(Member::new(added)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_consistent(p.as_ref(), grown.as_ref(), added, n);
        // Remove one: any node for ring and rendezvous, the last for jump.
        if count > 1 {
            let removed = match strategy {
                Strategy::Jump => NodeId(count - 1),
                _ => NodeId(victim.index(count as usize) as u32),
            };
            let shrunk = p.without_node(removed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            assert_consistent(shrunk.as_ref(), p.as_ref(), removed, n);
        }
    }
}

/// Modulo, by contrast, moves about m/(m+1) of the keys. Over 20,000 keys
/// the sampling error of a fraction near 0.9 is about 0.002, so ±0.02 is
/// ten standard errors; the scheme being wrong would miss by far more.
#[test]
fn modulo_moves_most_keys() {
    let keys: Vec<Vec<u8>> = sample_keys(20_000).collect();
    for m in [4u32, 10] {
        let p = build(Strategy::Modulo, &nodes(m));
        let grown = p.with_node(Member::new(NodeId(m))).expect("modulo adds");
        let moved = movement(p.as_ref(), grown.as_ref(), 3, &keys);
        let expected = expected_owner_moved(Strategy::Modulo, m as usize, Change::Add);
        assert!((expected - f64::from(m) / f64::from(m + 1)).abs() < 1e-12);
        assert!(
            (moved.owner_moved_fraction - expected).abs() < 0.02,
            "{m} nodes: {moved:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The goals: balance and movement over a fixed key set
// ---------------------------------------------------------------------------

/// Goal: a ring of 256 virtual nodes on 10 nodes has max/mean ≤ 1.15. The
/// ring's own spread (about 1/√256 = 6 % per node) is fixed by its points;
/// over 50,000 keys sampling adds about 1.4 % per node, and the bench
/// measures 1.12 over 1,000,000 keys.
#[test]
fn ring_256_on_10_nodes_is_balanced() {
    let p = build(Strategy::Ring { vnodes: 256 }, &nodes(10));
    let b = balance(p.as_ref(), sample_keys(50_000));
    assert_eq!(b.per_node.len(), 10);
    assert!(b.max_over_mean <= 1.15, "{b:?}");
    assert!(b.coefficient_of_variation < 0.1, "{b:?}");
}

/// Jump and rendezvous balance as well as the hash does: over 50,000 keys
/// on 10 nodes each share has a sampling error of 1.3 %, so 1.06 is over
/// four standard errors for the busiest node.
#[test]
fn jump_and_rendezvous_are_balanced() {
    for strategy in [Strategy::Jump, Strategy::Rendezvous, Strategy::Modulo] {
        let b = balance(build(strategy, &nodes(10)).as_ref(), sample_keys(50_000));
        assert!(b.max_over_mean <= 1.06, "{strategy}: {b:?}");
    }
}

/// Goal: adding a node or removing the last moves 0.9–1.1 × the expected
/// fraction of owners for ring, jump and rendezvous. Checked on 5 and 10
/// nodes over 50,000 keys, where a fraction's sampling error is 1–1.5 % of
/// itself; the bench checks 50 nodes over 1,000,000 keys, where fewer keys
/// would leave ±10 % only three standard errors wide.
///
/// Replica sets (n = 3) are checked too. Jump and rendezvous pick a uniformly
/// random set of 3, so the joining (leaving) node is in exactly the expected
/// fraction of sets, up to sampling: ±10 %. A ring node's share of replica
/// sets spreads like its share of owners, about 1/√256 ≈ 6 % per node, so
/// the ring gets ±20 % (three deviations).
#[test]
fn consistent_movement_meets_the_goal() {
    let keys: Vec<Vec<u8>> = sample_keys(50_000).collect();
    for m in [5u32, 10] {
        for strategy in CONSISTENT {
            let p = build(strategy, &nodes(m));
            let changes = [
                (Change::Add, p.with_node(Member::new(NodeId(m)))),
                (Change::RemoveLast, p.without_node(NodeId(m - 1))),
            ];
            for (change, after) in changes {
                let after = after.expect("consistent strategies add and remove the last node");
                let moved = movement(p.as_ref(), after.as_ref(), 3, &keys);
                let context = format!("{strategy} {m} {change:?}: {moved:?}");
                let owner =
                    moved.owner_moved_fraction / expected_owner_moved(strategy, m as usize, change);
                assert!((0.9..=1.1).contains(&owner), "owners, {context}");
                let list = moved.list_changed_fraction
                    / expected_list_changed(strategy, m as usize, 3, change)
                        .expect("consistent strategies have an expected list change");
                let slack = if strategy == Strategy::Jump || strategy == Strategy::Rendezvous {
                    0.1
                } else {
                    0.2
                };
                assert!((list - 1.0).abs() <= slack, "lists, {context}");
            }
        }
    }
}

/// On add, a consistent strategy should copy each changed key to the new
/// node only: 1/(m+1) of all replica placements. Rendezvous and the ring do
/// exactly that (a list gains the new node and drops its last); the ring's
/// share of changed lists spreads by about 6 % per node (see above), so it
/// gets ±20 %. Jump's replica probes sometimes swap a second, old node (see
/// the `Jump` docs); the extra is a few percent, bounded here at +15 %.
#[test]
fn replica_copies_on_add() {
    let keys: Vec<Vec<u8>> = sample_keys(20_000).collect();
    for m in [5u32, 10] {
        let expected = expected_owner_moved(Strategy::Rendezvous, m as usize, Change::Add);
        for strategy in CONSISTENT {
            let p = build(strategy, &nodes(m));
            let grown = p.with_node(Member::new(NodeId(m))).expect("adds");
            let moved = movement(p.as_ref(), grown.as_ref(), 3, &keys);
            // Exact rule: every changed list gained exactly one node...
            if strategy != Strategy::Jump {
                assert_eq!(moved.replicas_moved, moved.lists_changed, "{strategy}");
            }
            // ... and in proportion: sampling error about 2 % at 20,000 keys.
            let ratio = moved.replica_moved_fraction / expected;
            let range = match strategy {
                Strategy::Jump => 0.9..=1.15,
                Strategy::Rendezvous => 0.9..=1.1,
                _ => 0.8..=1.2,
            };
            assert!(range.contains(&ratio), "{strategy} {m}: {moved:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Weights
// ---------------------------------------------------------------------------

/// A node of weight 2 gets about twice the keys of a node of weight 1.
/// Maglev's table is exact to an entry; bounded loads' ring points and
/// capacities are both proportional to weight, and its balance bound is
/// its capacity, 1 + ε = 1.25 × the weighted share (plus 3 % sampling).
/// Tolerance ±10 %: rendezvous has only sampling error (under 2 % for the
/// ratio over 50,000 keys); the ring is built with 1,024 virtual nodes so its
/// own spread (about 1/√2048 for the heavy node, 1/√(4·1024) for the mean of
/// the four others, 2.7 % together) leaves ±10 % beyond three deviations.
#[test]
fn weight_two_gets_twice_the_keys() {
    let mut members = nodes(5);
    members[2].weight = 2.0;
    for strategy in [
        Strategy::Ring { vnodes: 1024 },
        Strategy::Rendezvous,
        MAGLEV,
        BOUNDED,
    ] {
        let p = build(strategy, &members);
        let b = balance(p.as_ref(), sample_keys(50_000));
        let heavy = b.per_node[&NodeId(2)] as f64;
        let others: f64 = [0, 1, 3, 4]
            .iter()
            .map(|&i| b.per_node[&NodeId(i)] as f64)
            .sum::<f64>()
            / 4.0;
        let ratio = heavy / others;
        assert!(
            (1.8..=2.2).contains(&ratio),
            "{strategy}: ratio {ratio}, {b:?}"
        );
        // Balance measures against weighted fair shares, so this is balanced.
        let limit = if strategy == BOUNDED { 1.28 } else { 1.1 };
        assert!(b.max_over_mean < limit, "{strategy}: {b:?}");
    }
}

#[test]
fn ring_gives_weighted_nodes_proportional_points() {
    let members = [
        Member::new(NodeId(0)),
        Member {
            node: NodeId(1),
            weight: 2.0,
        },
        Member {
            node: NodeId(2),
            weight: 0.001,
        },
    ];
    let ring = Ring::new(&members, 100).expect("valid ring");
    // 100 + 200 + max(1, round(0.1)).
    assert_eq!(ring.point_count(), 301);
}

#[test]
fn unweighted_strategies_refuse_weights() {
    let heavy = Member {
        node: NodeId(9),
        weight: 2.0,
    };
    for strategy in [Strategy::Modulo, Strategy::Jump, MULTIPROBE] {
        let p = build(strategy, &nodes(3));
        let err = p.with_node(heavy).expect_err("weight 2 refused");
        assert!(
            matches!(&err, Error::InvalidConfig(m) if m.contains("cannot weight")),
            "{err}"
        );
        assert!(strategy.build(&[heavy]).is_err());
    }
    assert!(Modulo::new(&[heavy]).is_err());
    assert!(Jump::new(&[heavy]).is_err());
}

// ---------------------------------------------------------------------------
// Membership errors
// ---------------------------------------------------------------------------

#[test]
fn jump_removes_only_the_last_node() {
    let p = Jump::new(&nodes(5)).expect("valid");
    let err = p.without_node(NodeId(2)).expect_err("middle node refused");
    match &err {
        Error::InvalidConfig(m) => {
            assert!(
                m.contains("last-added node (n4)") && m.contains("n2"),
                "{m}"
            )
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let shrunk = p.without_node(NodeId(4)).expect("last node removable");
    assert_eq!(shrunk.members(), &nodes(4)[..]);
    assert!(matches!(
        p.without_node(NodeId(7)),
        Err(Error::UnknownNode(NodeId(7)))
    ));
}

#[test]
fn bad_member_lists_are_invalid_config() {
    let dup = [Member::new(NodeId(1)), Member::new(NodeId(1))];
    let bad_weights = [0.0, -1.0, f64::NAN, f64::INFINITY];
    for strategy in Strategy::ALL {
        assert!(
            matches!(strategy.build(&[]), Err(Error::InvalidConfig(_))),
            "{strategy}"
        );
        assert!(
            matches!(strategy.build(&dup), Err(Error::InvalidConfig(_))),
            "{strategy}"
        );
        for weight in bad_weights {
            let m = [Member {
                node: NodeId(0),
                weight,
            }];
            assert!(
                matches!(strategy.build(&m), Err(Error::InvalidConfig(_))),
                "{strategy} {weight}"
            );
        }
        let p = build(strategy, &nodes(2));
        assert!(matches!(
            p.with_node(Member::new(NodeId(1))),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            p.without_node(NodeId(5)),
            Err(Error::UnknownNode(_))
        ));
        let single = build(strategy, &nodes(1));
        assert!(
            matches!(single.without_node(NodeId(0)), Err(Error::InvalidConfig(_))),
            "{strategy}"
        );
    }
}

/// A mistyped vnodes or weight must be an error, not gigabytes of points.
#[test]
fn oversized_rings_are_refused() {
    let err = Ring::new(&nodes(2), u32::MAX).expect_err("too many points");
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("limit")),
        "{err}"
    );
    let huge = [Member {
        node: NodeId(0),
        weight: 1e300,
    }];
    assert!(Ring::new(&huge, 256).is_err());
    assert!(Ring::new(&nodes(2), 0).is_err());
}

// ---------------------------------------------------------------------------
// Strategy names
// ---------------------------------------------------------------------------

#[test]
fn strategy_names_parse_and_print() {
    for (text, strategy) in [
        ("modulo", Strategy::Modulo),
        ("ring", Strategy::Ring { vnodes: 256 }),
        ("ring:256", Strategy::Ring { vnodes: 256 }),
        ("ring:7", Strategy::Ring { vnodes: 7 }),
        ("jump", Strategy::Jump),
        ("rendezvous", Strategy::Rendezvous),
        ("maglev", MAGLEV),
        ("maglev:251", Strategy::Maglev { table_size: 251 }),
        ("multiprobe", MULTIPROBE),
        ("multiprobe:5", Strategy::MultiProbe { probes: 5 }),
        ("bounded", BOUNDED),
        (
            "bounded:1.5",
            Strategy::BoundedLoad {
                epsilon_permille: 1500,
            },
        ),
    ] {
        assert_eq!(text.parse::<Strategy>().ok(), Some(strategy), "{text}");
    }
    for bad in [
        "",
        "ring:",
        "ring:0",
        "ring:-1",
        "ring:x",
        "Ring",
        "consistent",
        "ring:4294967296",
        "maglev:65536",
        "maglev:1",
        "maglev:x",
        "maglev:4294967291",
        "multiprobe:0",
        "multiprobe:1025",
        "bounded:0",
        "bounded:-1",
        "bounded:NaN",
        "bounded:11",
        "bounded:x",
    ] {
        assert!(
            matches!(bad.parse::<Strategy>(), Err(Error::InvalidConfig(_))),
            "{bad:?}"
        );
    }
    assert_eq!(Strategy::default(), Strategy::Rendezvous);
    assert!(matches!(
        Strategy::Ring { vnodes: 0 }.build(&nodes(2)),
        Err(Error::InvalidConfig(_))
    ));
}

proptest! {
    #[test]
    fn new_strategy_texts_round_trip(
        permille in 1u32..=10_000,
        probes in 1u32..=1024,
        table in prop::sample::select(vec![2u32, 13, 251, 65_537, 16_777_213]),
    ) {
        for strategy in [
            Strategy::BoundedLoad { epsilon_permille: permille },
            Strategy::MultiProbe { probes },
            Strategy::Maglev { table_size: table },
        ] {
            prop_assert_eq!(strategy.to_string().parse::<Strategy>().ok(), Some(strategy));
        }
    }

    #[test]
    fn strategy_text_round_trips(vnodes in 1u32.., which in 0usize..4) {
        let strategy = match Strategy::ALL[which] {
            Strategy::Ring { .. } => Strategy::Ring { vnodes },
            other => other,
        };
        prop_assert_eq!(strategy.to_string().parse::<Strategy>().ok(), Some(strategy));
    }
}

/// A partitioner's name is the strategy text that builds it.
#[test]
fn partitioner_names_are_strategy_texts() {
    for strategy in Strategy::ALL {
        assert_eq!(build(strategy, &nodes(3)).name(), strategy.to_string());
    }
    let r = Rendezvous::new(&nodes(1)).expect("valid");
    assert_eq!(r.name(), "rendezvous");
}

// ---------------------------------------------------------------------------
// Analysis edge cases
// ---------------------------------------------------------------------------

#[test]
fn analysis_of_no_keys_is_neutral() {
    let p = build(Strategy::Rendezvous, &nodes(3));
    let b = balance(p.as_ref(), std::iter::empty::<&[u8]>());
    assert_eq!(
        (b.keys, b.max_over_mean, b.coefficient_of_variation),
        (0, 1.0, 0.0)
    );
    assert_eq!(b.per_node.values().sum::<u64>(), 0);
    let m = movement(p.as_ref(), p.as_ref(), 3, std::iter::empty::<&[u8]>());
    assert_eq!(
        (m.keys, m.owner_moved_fraction, m.list_changed_fraction),
        (0, 0.0, 0.0)
    );
}

#[test]
fn movement_counts_list_changes_as_sets() {
    let p = build(Strategy::Rendezvous, &nodes(4));
    let same = movement(p.as_ref(), p.as_ref(), 3, sample_keys(100));
    assert_eq!(
        (same.owners_moved, same.lists_changed, same.replicas_moved),
        (0, 0, 0)
    );
    // Modulo 4 → 5 and back: with n = 5 every list is all nodes, so only
    // owners and order change, never the set (beyond the added node).
    let m4 = build(Strategy::Modulo, &nodes(4));
    let m5 = build(Strategy::Modulo, &nodes(5));
    let m = movement(m5.as_ref(), m4.as_ref(), 5, sample_keys(1000));
    // Every list loses node 4: a change of set for every key, no copies.
    assert_eq!(m.lists_changed, 1000);
    assert_eq!(m.replicas_moved, 0);
}

#[test]
fn expected_fractions() {
    assert_eq!(expected_owner_moved(Strategy::Jump, 4, Change::Add), 0.2);
    assert_eq!(expected_owner_moved(Strategy::Modulo, 4, Change::Add), 0.8);
    assert_eq!(
        expected_owner_moved(Strategy::Modulo, 4, Change::RemoveLast),
        0.75
    );
    assert_eq!(
        expected_owner_moved(Strategy::Rendezvous, 4, Change::RemoveLast),
        0.25
    );
    assert_eq!(
        expected_owner_moved(Strategy::Rendezvous, 1, Change::RemoveLast),
        1.0
    );
    assert_eq!(
        expected_list_changed(Strategy::Jump, 4, 3, Change::Add),
        Some(0.6)
    );
    assert_eq!(
        expected_list_changed(Strategy::Jump, 2, 3, Change::Add),
        Some(1.0)
    );
    assert_eq!(
        expected_list_changed(Strategy::Jump, 4, 3, Change::RemoveLast),
        Some(0.75)
    );
}

/// A node joining a ring takes exactly its fair share — so exactly
/// `1/(m+1)` of the keys move — on 5, 10 and 50 nodes, and removing it again
/// restores the ring it joined.
#[test]
fn a_joining_ring_node_takes_its_fair_share_and_leaving_restores_the_ring() {
    let keys: Vec<Vec<u8>> = sample_keys(40_000).collect();
    for m in [5u32, 10, 50] {
        let members: Vec<Member> = (0..m).map(|i| Member::new(NodeId(i))).collect();
        let before = Strategy::Ring { vnodes: 256 }
            .build(&members)
            .expect("ring builds");
        let after = before.with_node(Member::new(NodeId(m))).expect("joins");
        let moved = movement(before.as_ref(), after.as_ref(), 3, keys.iter()).owner_moved_fraction;
        let fair = 1.0 / f64::from(m + 1);
        // Only sampling noise is left: 40,000 keys give a standard error of
        // about √(fair/40000), well under 5 % of fair for these m.
        assert!(
            (moved / fair - 1.0).abs() < 0.05,
            "{m} nodes: moved {moved:.4}, fair {fair:.4}"
        );
        // Replica sets: the newcomer enters about N/(m+1) of them, like any node.
        let lists = movement(before.as_ref(), after.as_ref(), 3, keys.iter()).list_changed_fraction;
        let expected = 3.0 / f64::from(m + 1);
        assert!(
            (lists / expected - 1.0).abs() < 0.15,
            "{m} nodes: lists changed {lists:.4}, expected {expected:.4}"
        );
        let back = after.without_node(NodeId(m)).expect("leaves");
        for key in keys.iter().take(2000) {
            assert_eq!(back.preference_list(key, 3), before.preference_list(key, 3));
        }
    }
}

#[test]
fn a_heavier_joining_ring_node_takes_a_proportional_share() {
    let keys: Vec<Vec<u8>> = sample_keys(40_000).collect();
    let members: Vec<Member> = (0..8).map(|i| Member::new(NodeId(i))).collect();
    let before = Strategy::Ring { vnodes: 128 }
        .build(&members)
        .expect("ring builds");
    let after = before
        .with_node(Member {
            node: NodeId(8),
            weight: 2.0,
        })
        .expect("joins");
    let share =
        balance(after.as_ref(), keys.iter()).per_node[&NodeId(8)] as f64 / keys.len() as f64;
    assert!(
        (share - 0.2).abs() < 0.01,
        "weight 2 of 10: share {share:.4}"
    );
}

// ---------------------------------------------------------------------------
// Maglev, multi-probe and bounded loads
// ---------------------------------------------------------------------------

/// A Maglev table must be prime and hold an entry per node; the errors say
/// so rather than building a table that skips entries.
#[test]
fn maglev_refuses_bad_tables() {
    use replikv::partition::Maglev;
    let err = Maglev::new(&nodes(3), 1000).expect_err("not prime");
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("prime")),
        "{err}"
    );
    let err = Maglev::new(&nodes(20), 13).expect_err("too small");
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("entry")),
        "{err}"
    );
    // Growing past the table is refused too, not a panic.
    let small = Maglev::new(&nodes(13), 13).expect("13 nodes fit 13 entries");
    assert!(small.with_node(Member::new(NodeId(13))).is_err());
}

/// Maglev's disruption grows as its table gets coarse (src/partition/maglev.rs
/// module docs): at 1,000 nodes the default table (65 entries per node)
/// moves several times the ideal share when a node joins, and a table of
/// 1,000,003 entries (1,000 per node) moves clearly less — though still
/// above the ideal, as the paper's Fig. 11 also shows for its sizes.
#[test]
fn maglev_disrupts_less_with_a_finer_table_at_a_thousand_nodes() {
    use replikv::partition::analysis::{Candidate, ScalingConfig, scaling_table};
    let config = ScalingConfig {
        node_counts: vec![1000],
        keys: 100_000,
        ..ScalingConfig::default()
    };
    let ratio = |table_size| {
        let rows = scaling_table(
            &[Candidate::Strategy(Strategy::Maglev { table_size })],
            &config,
        )
        .expect("builds");
        rows[0].add_over_ideal
    };
    let coarse = ratio(replikv::partition::DEFAULT_MAGLEV_TABLE);
    let fine = ratio(1_000_003);
    assert!(
        coarse > 4.0,
        "65,537 entries at 1,000 nodes: {coarse:.2} × ideal"
    );
    assert!(
        fine < coarse * 0.7 && fine > 1.5,
        "1,000,003 entries: {fine:.2} × ideal, against {coarse:.2} with 65,537"
    );
}

/// Maglev is balanced to about one entry of its table and — its documented
/// trade — moves a little more than the minimum when a node joins or
/// leaves: some entries pass between surviving nodes.
#[test]
fn maglev_balances_and_disrupts_within_its_documented_bound() {
    let keys: Vec<Vec<u8>> = sample_keys(40_000).collect();
    for m in [5u32, 10, 30] {
        let p = build(MAGLEV, &nodes(m));
        // Sampling noise alone is ~1.6 % per node at 10 nodes (40,000 keys).
        let b = balance(p.as_ref(), &keys);
        assert!(b.max_over_mean <= 1.1, "{m}: {b:?}");
        let grown = p.with_node(Member::new(NodeId(m))).expect("adds");
        let moved = movement(p.as_ref(), grown.as_ref(), 1, &keys);
        let ratio = moved.owner_moved_fraction * f64::from(m + 1);
        assert!(
            (0.9..=replikv::partition::MAGLEV_MOVEMENT_BOUND).contains(&ratio),
            "{m}: moved {ratio:.2} × ideal"
        );
        // Removing node 1 (not the last): keys that node 1 did not own may
        // move too, but only a few of them.
        let shrunk = p.without_node(NodeId(1)).expect("any node leaves");
        let (mut others, mut others_moved) = (0u64, 0u64);
        for key in &keys {
            let before = p.owner(key);
            if before != NodeId(1) {
                others += 1;
                others_moved += u64::from(shrunk.owner(key) != before);
            }
        }
        assert!(
            (others_moved as f64) < 0.1 * others as f64,
            "{m}: {others_moved} of {others} keys of surviving nodes moved"
        );
    }
}

/// Multi-probe with 21 probes balances about as well as a ring of 256
/// virtual nodes (the paper: peak-to-mean 1.05) with one point per node,
/// and much better than a ring with one point per node.
#[test]
fn multi_probe_balances_with_one_point_per_node() {
    let keys: Vec<Vec<u8>> = sample_keys(50_000).collect();
    let m = nodes(10);
    let multi = balance(build(MULTIPROBE, &m).as_ref(), &keys);
    let single = balance(
        build(Strategy::MultiProbe { probes: 1 }, &m).as_ref(),
        &keys,
    );
    let ring_1 = balance(build(Strategy::Ring { vnodes: 1 }, &m).as_ref(), &keys);
    assert!(multi.max_over_mean <= 1.15, "{multi:?}");
    assert!(
        single.max_over_mean > 1.4,
        "one probe is a plain ring: {single:?}"
    );
    assert!(ring_1.max_over_mean > 1.4, "{ring_1:?}");
    assert!(
        build(MULTIPROBE, &m).memory_bytes()
            < build(Strategy::Ring { vnodes: 256 }, &m).memory_bytes() / 50
    );
}

/// The headline of bounded loads: under Zipf 0.99 over 20,000 keys on 10
/// nodes, placing the keys by their loads keeps the busiest node within
/// 1 + ε = 1.25 of the mean request load, where ring and jump — which
/// balance *keys*, not requests — put 1.6 and 1.8 × the mean on one node
/// (measured; asserted > 1.4). The hottest key alone is 9 % of requests,
/// under the 12.5 % capacity, so the bound is reachable.
#[test]
fn bounded_loads_hold_zipf_099_where_ring_and_jump_do_not() {
    use replikv::partition::analysis::{Candidate, load, zipf_loads};
    let members = nodes(10);
    let loads = zipf_loads(20_000, 0.99);
    let bounded = Candidate::BoundedOverKeys {
        epsilon_permille: 250,
    }
    .build(&members, &loads)
    .expect("builds");
    let of = |p: &dyn Partitioner| load(p, loads.iter().map(|(k, w)| (k, *w)));
    let b = of(bounded.as_ref());
    assert!(b.hottest_key_share < 0.125, "{b:?}");
    assert!(b.max_over_mean <= 1.25 + 1e-9, "bounded: {b:?}");
    for strategy in [Strategy::Ring { vnodes: 256 }, Strategy::Jump] {
        let l = of(build(strategy, &members).as_ref());
        assert!(l.max_over_mean > 1.4, "{strategy}: {l:?}");
    }
    // The slot variant balances keys, not requests: it cannot see the hot
    // keys, so it is no better than the ring here.
    let slots = of(build(BOUNDED, &members).as_ref());
    assert!(slots.max_over_mean > 1.4, "{slots:?}");
}

/// Bounded loads over slots hold every node's keys within the capacity
/// (plus the keys-per-slot sampling noise), where the same ring without
/// the bound (one walk, no capacity) would not; and the listed loads add
/// up to the slot count.
#[test]
fn bounded_slots_balance_keys_within_one_plus_epsilon() {
    use replikv::partition::{BOUNDED_SLOTS, BoundedLoad};
    let keys: Vec<Vec<u8>> = sample_keys(100_000).collect();
    for (m, epsilon) in [(10u32, 0.25), (30, 0.1)] {
        let p = BoundedLoad::new(&nodes(m), epsilon).expect("builds");
        let loads = p.loads();
        assert_eq!(
            loads.iter().map(|l| l.load).sum::<f64>(),
            f64::from(BOUNDED_SLOTS)
        );
        assert!(loads.iter().all(|l| l.load <= l.capacity), "{loads:?}");
        assert_eq!(p.overflowed(), 0);
        // Keys: each slot holds ~1.5–5 of these keys, so allow 5 % noise.
        let b = balance(&p, &keys);
        assert!(b.max_over_mean <= 1.0 + epsilon + 0.05, "{m}: {b:?}");
    }
}

/// Keys listed with loads are found again by the same placement; a
/// rebuilt placement over the same keys, loads and members is identical
/// (the store's requirement); an unlisted key still gets a full list.
#[test]
fn bounded_over_keys_is_a_pure_function_of_keys_loads_and_members() {
    use replikv::partition::BoundedLoad;
    use replikv::partition::analysis::zipf_loads;
    let loads = zipf_loads(2000, 0.99);
    let a = BoundedLoad::with_loads(&nodes(7), 0.25, loads.clone()).expect("builds");
    let b = BoundedLoad::with_loads(&nodes(7), 0.25, loads.clone()).expect("builds");
    for (key, _) in &loads {
        assert_eq!(a.preference_list(key, 3), b.preference_list(key, 3));
    }
    assert_eq!(a.preference_list(b"unlisted", 3).len(), 3);
    assert_eq!(a.name(), "bounded:0.25/keys");
    // Bad loads are refused.
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(BoundedLoad::with_loads(&nodes(2), 0.25, [(b"k".to_vec(), bad)]).is_err());
    }
    let twice = [(b"k".to_vec(), 1.0), (b"k".to_vec(), 2.0)];
    assert!(BoundedLoad::with_loads(&nodes(2), 0.25, twice).is_err());
    for bad in [0.0, -0.5, 10.5, f64::NAN] {
        assert!(BoundedLoad::new(&nodes(2), bad).is_err(), "{bad}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Bounded loads never exceed a capacity: over slots always, and over
    /// weighted keys whenever every key weighs at most ε·L/(m−1) (the
    /// module's guarantee) — checked by recounting each node's load from
    /// the placement itself against capacities computed here.
    #[test]
    fn bounded_loads_never_exceed_capacity(
        count in 1u32..=12,
        permille in 50u32..=1000,
        seed in any::<u64>(),
        key_count in 200usize..400,
    ) {
        use replikv::partition::BoundedLoad;
        let epsilon = f64::from(permille) / 1000.0;
        let members: Vec<Member> = (0..count)
            .map(|i| Member {
                node: NodeId(i * 7),
                weight: 0.5 + f64::from(((seed >> (i * 3)) & 3) as u32) * 0.5,
            })
            .collect();
        let slots = BoundedLoad::new(&members, epsilon).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(slots.loads().iter().all(|l| l.load <= l.capacity));
        prop_assert_eq!(slots.overflowed(), 0);

        // Loads 1..=8 over 200+ keys: the guarantee's condition (every key
        // at most ε·L/(m−1)) almost always holds; the rare case where it
        // does not is not what this property is about.
        let keyed: Vec<(Vec<u8>, f64)> = (0..key_count)
            .map(|i| {
                let w = f64::from(((seed.rotate_left(i as u32 % 64) >> 5) % 8) as u32 + 1);
                (format!("k{i}").into_bytes(), w)
            })
            .collect();
        let total: f64 = keyed.iter().map(|(_, w)| w).sum();
        let heaviest = keyed.iter().map(|(_, w)| *w).fold(0.0, f64::max);
        let keyed_epsilon = f64::from(permille.max(200)) / 1000.0;
        prop_assume!(count == 1 || heaviest <= keyed_epsilon * total / f64::from(count - 1));
        let epsilon = keyed_epsilon;
        let p = BoundedLoad::with_loads(&members, epsilon, keyed.clone())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(p.overflowed(), 0);
        let total_weight: f64 = members.iter().map(|m| m.weight).sum();
        let mut placed = std::collections::BTreeMap::new();
        for (key, w) in &keyed {
            *placed.entry(p.owner(key)).or_insert(0.0) += w;
        }
        for m in &members {
            let capacity = (1.0 + epsilon) * total * m.weight / total_weight;
            let got = placed.get(&m.node).copied().unwrap_or(0.0);
            prop_assert!(got <= capacity * (1.0 + 1e-9), "{}: {} > {}", m.node, got, capacity);
        }
    }

    /// Movement on add stays within each strategy's documented bound, key
    /// by key where the bound is exact:
    /// * ring, jump, rendezvous, multi-probe: a key's owner changes only to
    ///   the new node (consistency);
    /// * modulo: the owner of a key with hash h stays exactly when
    ///   h mod m = h mod (m+1);
    /// * Maglev: at most `MAGLEV_MOVEMENT_BOUND` × the ideal 1/(m+1) of the
    ///   owners (default table);
    /// * bounded loads (ε = 0.25): at most 3 × the ideal (measured 0.9–1.2;
    ///   the paper's bound is O(1/ε²)).
    #[test]
    fn movement_on_add_is_within_the_documented_bound(
        which in 0usize..7,
        count in 1u32..=30,
    ) {
        let strategy = Strategy::ALL[which];
        let p = build(strategy, &nodes(count));
        let added = NodeId(count);
        let grown = p.with_node(Member::new(added)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let keys: Vec<Vec<u8>> = sample_keys(3000).collect();
        let mut moved = 0u32;
        for key in &keys {
            let (before, after) = (p.owner(key), grown.owner(key));
            if before != after {
                moved += 1;
            }
            match strategy {
                Strategy::Modulo => {
                    let h = replikv::partition::key_hash(key);
                    let stays = h % u64::from(count) == h % u64::from(count + 1);
                    prop_assert_eq!(before == after, stays);
                }
                s if s.is_consistent() => {
                    prop_assert!(before == after || after == added, "{}: {:?}", s, key);
                }
                _ => {}
            }
        }
        let ratio = f64::from(moved) / keys.len() as f64 * f64::from(count + 1);
        // 3,000 keys: at 31 nodes the ideal is ~97 keys, sampling ±10 %.
        match strategy {
            Strategy::Maglev { .. } => prop_assert!(ratio <= replikv::partition::MAGLEV_MOVEMENT_BOUND * 1.1, "maglev {}", ratio),
            Strategy::BoundedLoad { .. } => prop_assert!(ratio <= 3.0, "bounded {}", ratio),
            _ => {}
        }
    }
}

/// The scaling chart draws every value of every strategy but modulo's
/// movement inside its axes (the review found Maglev's 5.9 × at 1,000 nodes
/// drawn at 4 and multi-probe's 0.81 × drawn at 0.9), and names modulo as
/// off the chart.
#[test]
fn the_scaling_chart_axes_hold_every_value_but_modulos_movement() {
    use replikv::partition::analysis::{
        Candidate, ScalingConfig, ScalingRow, axis_range, scaling_table,
    };
    let config = ScalingConfig {
        node_counts: vec![10, 300],
        keys: 20_000,
        ..ScalingConfig::default()
    };
    let rows = scaling_table(&Candidate::all(), &config).expect("every candidate builds");
    let metrics: [fn(&ScalingRow) -> f64; 2] = [|r| r.key_max_over_mean, |r| r.add_over_ideal];
    for metric in metrics {
        let (lo, hi) = axis_range(&rows, metric);
        for r in rows.iter().filter(|r| r.candidate != "modulo") {
            assert!(
                (lo..=hi).contains(&metric(r)),
                "{} at {} nodes: {} outside [{lo}, {hi}]",
                r.candidate,
                r.nodes,
                metric(r)
            );
        }
    }
    // Bounded loads over a Zipf key set moves more than the ideal but stays
    // under 3 × (src/partition/bounded_load.rs module docs).
    for r in rows.iter().filter(|r| r.candidate == "bounded:0.25/keys") {
        assert!(
            (1.0..3.0).contains(&r.add_over_ideal),
            "bounded over keys at {} nodes: {:.2} × ideal",
            r.nodes,
            r.add_over_ideal
        );
    }
    // The movement axis grows past the ideal to hold the strategies above it.
    let (_, hi) = axis_range(&rows, |r| r.add_over_ideal);
    assert!(hi > 1.5, "{hi}");
    #[cfg(feature = "plot")]
    {
        let svg = replikv::partition::analysis::scaling_svg(&rows).expect("draws");
        assert!(
            svg.contains("modulo (off the chart, up to"),
            "modulo's legend says so"
        );
    }
}
