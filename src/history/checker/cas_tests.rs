//! The checker on compare-and-set: hand-made histories whose verdict is
//! known, and a generated single-key CAS register with many indeterminate
//! operations (the shape of other systems' test histories) that must stay
//! fast.

use super::{CheckResult, Checker};
use crate::ClientId;
use crate::history::{History, OpKind, Operation};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::time::{Duration, Instant};

fn op(client: u64, kind: OpKind, call: u64, ret: Option<u64>) -> Operation {
    Operation {
        client: ClientId(client),
        key: b"r".to_vec(),
        kind,
        value: None,
        output: None,
        expected: None,
        swapped: None,
        ok: ret.is_some(),
        call_ns: call,
        return_ns: ret,
        cached: false,
    }
}

fn put(v: &str, call: u64, ret: u64) -> Operation {
    Operation {
        value: Some(v.into()),
        ..op(1, OpKind::Put, call, Some(ret))
    }
}

fn get(v: Option<&str>, call: u64, ret: u64) -> Operation {
    Operation {
        output: v.map(Into::into),
        ..op(2, OpKind::Get, call, Some(ret))
    }
}

/// A compare-and-set; `swapped: None` with `ret: None` is indeterminate.
fn cas(
    from: Option<&str>,
    to: Option<&str>,
    swapped: Option<bool>,
    call: u64,
    ret: Option<u64>,
) -> Operation {
    Operation {
        expected: from.map(Into::into),
        value: to.map(Into::into),
        swapped,
        ..op(3, OpKind::Cas, call, ret)
    }
}

fn linearizable(ops: Vec<Operation>) -> bool {
    let history = History::new(ops);
    history.validate().unwrap();
    match Checker::new().check(&history) {
        CheckResult::Linearizable => true,
        CheckResult::NotLinearizable(_) => false,
        CheckResult::Unknown { reason } => panic!("{reason}"),
    }
}

#[test]
fn a_swap_needs_the_expected_value_and_leaves_the_new_one() {
    let base = || {
        vec![
            put("a", 0, 10),
            cas(Some("a"), Some("b"), Some(true), 20, Some(30)),
        ]
    };
    assert!(linearizable(
        [base(), vec![get(Some("b"), 40, 50)]].concat()
    ));
    assert!(
        !linearizable([base(), vec![get(Some("a"), 40, 50)]].concat()),
        "stale after the swap"
    );
    // Expecting a value nobody wrote cannot swap.
    assert!(!linearizable(vec![cas(
        Some("z"),
        Some("b"),
        Some(true),
        0,
        Some(5)
    )]));
    // Expecting absent on a fresh key swaps; a CAS to absent deletes.
    assert!(linearizable(vec![
        cas(None, Some("a"), Some(true), 0, Some(5)),
        cas(Some("a"), None, Some(true), 10, Some(15)),
        get(None, 20, 25),
    ]));
}

#[test]
fn a_refused_swap_needs_another_value() {
    assert!(!linearizable(vec![
        put("a", 0, 10),
        cas(Some("a"), Some("b"), Some(false), 20, Some(30))
    ]));
    assert!(linearizable(vec![
        put("a", 0, 10),
        cas(Some("x"), Some("b"), Some(false), 20, Some(30))
    ]));
    // Concurrent with the put: it may have run before it, on absent.
    assert!(linearizable(vec![
        put("a", 0, 10),
        cas(Some("a"), Some("b"), Some(false), 5, Some(30))
    ]));
    // A refused swap changes nothing.
    assert!(!linearizable(vec![
        put("a", 0, 10),
        cas(Some("x"), Some("b"), Some(false), 20, Some(30)),
        get(Some("b"), 40, 50),
    ]));
}

#[test]
fn an_indeterminate_swap_may_or_may_not_have_happened() {
    let base = || vec![put("a", 0, 10), cas(Some("a"), Some("b"), None, 20, None)];
    assert!(linearizable(
        [base(), vec![get(Some("b"), 40, 50)]].concat()
    ));
    assert!(linearizable(
        [base(), vec![get(Some("a"), 40, 50)]].concat()
    ));
    // But not both ways round.
    assert!(!linearizable(
        [base(), vec![get(Some("b"), 40, 50), get(Some("a"), 60, 70)]].concat()
    ));
    // And only when it found its expected value.
    assert!(!linearizable(vec![
        put("x", 0, 10),
        cas(Some("a"), Some("b"), None, 20, None),
        get(Some("b"), 40, 50),
    ]));
    // A failed one (Unavailable) never happened.
    let mut failed = cas(Some("a"), Some("b"), None, 20, Some(25));
    failed.ok = false;
    assert!(!linearizable(vec![
        put("a", 0, 10),
        failed,
        get(Some("b"), 40, 50)
    ]));
}

/// A CAS register on one key in the manner of Jepsen/Knossos tests:
/// `values` values, `clients` clients, reads, writes and compare-and-sets,
/// a quarter of the writes and compare-and-sets indeterminate (half of
/// those took effect). Played against a real register, so it is
/// linearizable.
fn cas_register_of(seed: u64, n: usize, clients: usize, values: u32) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut clock = vec![0u64; clients];
    let mut planned = Vec::with_capacity(n);
    for i in 0..n {
        let c = rng.random_range(0..clients);
        let call = clock[c] + rng.random_range(0..50);
        let point = call + rng.random_range(1..100);
        let ret = point + rng.random_range(1..100);
        clock[c] = ret;
        let value =
            |rng: &mut ChaCha8Rng| Some(rng.random_range(0..values).to_string().into_bytes());
        let kind = match rng.random_range(0..10) {
            0..4 => OpKind::Get,
            4..6 => OpKind::Put,
            _ => OpKind::Cas,
        };
        let indeterminate = kind != OpKind::Get && rng.random_bool(0.25);
        let applied = !indeterminate || rng.random_bool(0.5);
        let mut o = op(c as u64, kind, call, (!indeterminate).then_some(ret));
        o.value = (kind != OpKind::Get).then(|| value(&mut rng)).flatten();
        // One compare-and-set in six expects the register empty.
        o.expected = (kind == OpKind::Cas && rng.random_range(0..6) > 0)
            .then(|| value(&mut rng))
            .flatten();
        planned.push((point, i, o, applied));
    }
    planned.sort_by_key(|(point, i, ..)| (*point, *i));
    let mut state: Option<Vec<u8>> = None;
    for (_, _, o, applied) in &mut planned {
        match o.kind {
            OpKind::Get => o.output = state.clone(),
            OpKind::Put if *applied => state = o.value.clone(),
            OpKind::Cas => {
                let swapped = o.expected == state;
                if swapped && *applied {
                    state = o.value.clone();
                }
                if o.return_ns.is_some() {
                    o.swapped = Some(swapped);
                }
            }
            _ => {}
        }
    }
    let mut ops: Vec<Operation> = planned.into_iter().map(|(_, _, o, _)| o).collect();
    ops.sort_by_key(|o| (o.call_ns, o.client));
    History::new(ops)
}

/// [`cas_register_of`] with five clients and five values.
fn cas_register(seed: u64, n: usize) -> History {
    cas_register_of(seed, n, 5, 5)
}

/// Makes `history` non-linearizable in a way only the search can show,
/// around operation `at`: two new clients add a put of a value nobody else
/// writes just before a completed put `w` is invoked, and a get of that
/// value just after `w` returned. `w` separates them in every order.
fn with_a_stale_read(history: &History, at: usize) -> History {
    let mut broken = history.clone();
    let w = (broken.ops.iter().skip(at))
        .find(|o| o.kind == OpKind::Put && o.return_ns.is_some())
        .expect("a completed put")
        .clone();
    let returned = w.return_ns.expect("completed");
    let mut early = put("early", w.call_ns - 2, w.call_ns - 1);
    early.client = ClientId(98);
    let mut stale = get(Some("early"), returned + 1, returned + 2);
    stale.client = ClientId(99);
    broken.ops.extend([early, stale]);
    broken.ops.sort_by_key(|o| (o.call_ns, o.client));
    broken
}

/// The reviewer's shape: 1,000 operations, five clients, fifty values, over
/// a hundred indeterminate. Values are many, so a compare-and-set that did
/// not swap must not count as a reader of every value (see `prune.rs`).
#[test]
fn a_cas_register_with_fifty_values_checks_fast_and_a_stale_read_is_found() {
    for seed in 0..9 {
        let history = cas_register_of(seed, 1_000, 5, 50);
        history.validate().unwrap();
        let unknown = history.ops.iter().filter(|o| o.return_ns.is_none()).count();
        assert!(unknown > 100, "seed {seed}: {unknown} indeterminate");
        let started = Instant::now();
        let verdict = Checker::new().check(&history);
        let took = started.elapsed();
        assert_eq!(verdict, CheckResult::Linearizable, "seed {seed}");
        assert!(took < Duration::from_secs(5), "seed {seed}: {took:?}");

        let broken = with_a_stale_read(&history, 100);
        broken.validate().unwrap();
        let started = Instant::now();
        let verdict = Checker::new().check(&broken);
        let took = started.elapsed();
        assert!(
            matches!(verdict, CheckResult::NotLinearizable(_)),
            "seed {seed}: {verdict}"
        );
        assert!(took < Duration::from_secs(5), "seed {seed}: {took:?}");
    }
}

#[test]
fn a_thousand_operation_cas_register_with_indeterminate_operations_checks_fast() {
    for seed in 0..5 {
        let history = cas_register(seed, 1_000);
        history.validate().unwrap();
        let unknown = history.ops.iter().filter(|o| o.return_ns.is_none()).count();
        assert!(unknown > 100, "seed {seed}: {unknown} indeterminate");
        let started = Instant::now();
        let verdict = Checker::new().check(&history);
        let took = started.elapsed();
        assert_eq!(verdict, CheckResult::Linearizable, "seed {seed}");
        assert!(took < Duration::from_secs(5), "seed {seed}: {took:?}");

        // One read changed to a value the register did not hold then:
        // found, and quickly too.
        let mut broken = history.clone();
        let read = (broken.ops.iter())
            .rposition(|o| o.kind == OpKind::Get && o.output.is_some())
            .unwrap();
        broken.ops[read].output = Some(b"never".to_vec());
        let started = Instant::now();
        assert!(matches!(
            Checker::new().check(&broken),
            CheckResult::NotLinearizable(_)
        ));
        assert!(started.elapsed() < Duration::from_secs(5), "seed {seed}");
    }
}
