//! The pictures of issue 26, checked by structure: the HTML timeline of a
//! history, the message trace and its SVG sequence diagram, the linearization
//! points behind the timeline, and bad input to each. (The plots of a run
//! are checked in `tests/pictures_plot.rs`, which needs the `plot`
//! feature; the headless-browser check is `tests/browser.rs`.)

use replikv::history::{
    CheckResult, Checker, History, OpKind, Operation, html, random_plan, simulate,
};
use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::trace::{DiagramOptions, MessageKind, Trace, TraceEvent};
use replikv::{ClientId, Consistency, Runtime};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

fn op(client: u64, kind: OpKind, v: &str, call_ns: u64, return_ns: Option<u64>) -> Operation {
    Operation {
        client: ClientId(client),
        key: b"x".to_vec(),
        kind,
        value: (kind == OpKind::Put).then(|| v.as_bytes().to_vec()),
        output: (kind == OpKind::Get).then(|| v.as_bytes().to_vec()),
        expected: None,
        swapped: None,
        ok: true,
        call_ns,
        return_ns,
        cached: false,
    }
}

/// c1 writes a then b; later c2 reads a (stale); plus unrelated operations
/// on another key and a timed-out write.
fn stale_history() -> History {
    let mut ops = vec![
        op(1, OpKind::Put, "a", 0, Some(10)),
        op(1, OpKind::Put, "b", 20, Some(30)),
        op(2, OpKind::Get, "a", 40, Some(50)),
        op(3, OpKind::Put, "c", 45, None),
    ];
    let mut other = op(3, OpKind::Put, "y1", 1, Some(5));
    other.key = b"y".to_vec();
    ops.push(other);
    History::new(ops)
}

fn parse(doc: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(doc, options)
        .unwrap_or_else(|e| panic!("not well-formed XML: {e}"))
}

fn has_class(node: &roxmltree::Node<'_, '_>, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

/// The JSON the timeline's script draws from.
fn timeline_data(page: &str) -> serde_json::Value {
    let doc = parse(page);
    let script = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("data"))
        .expect("a data script");
    serde_json::from_str(script.text().expect("data text")).expect("data is JSON")
}

#[test]
fn the_timeline_marks_the_counterexample_and_holds_every_operation() {
    let history = stale_history();
    let verdict = Checker::new().check(&history);
    let cx = verdict.counterexample().expect("a stale read").clone();
    let page = html::timeline(&history, &verdict).expect("a page");
    let doc = parse(&page);
    // One counterexample row per counterexample operation, naming it.
    let rows: Vec<usize> = doc
        .descendants()
        .filter(|n| has_class(n, "cx-op"))
        .map(|n| n.attribute("data-index").unwrap().parse().unwrap())
        .collect();
    let expected: Vec<usize> = cx.ops.iter().map(|(i, _)| *i).collect();
    assert_eq!(rows, expected);
    let explanation = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("explanation"))
        .and_then(|n| n.text())
        .expect("the checker's explanation beside the timeline");
    assert_eq!(explanation, cx.to_string());
    let verdict_line = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("verdict"))
        .expect("verdict");
    assert!(has_class(&verdict_line, "not-linearizable"));
    // The data: one entry per operation, the counterexample marked, the
    // timed-out write open-ended.
    let data = timeline_data(&page);
    for column in ["lane", "key", "kind", "call", "ret", "ok", "label"] {
        assert_eq!(
            data[column].as_array().unwrap().len(),
            history.len(),
            "{column}"
        );
    }
    assert_eq!(data["cx"], serde_json::json!(expected));
    assert_eq!(data["ret"][3], -1);
    assert_eq!(data["kinds"], serde_json::json!(["put", "get"]));
    assert_eq!(data["keys"], serde_json::json!(["x", "y"]));
    assert_eq!(data["cx_key"], 0);
    // No network: nothing is loaded from elsewhere.
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    assert!(!page.contains("<script src") && !page.contains("<link"));
}

#[test]
fn a_linearizable_timeline_carries_the_linearization_points() {
    let history = simulate(&random_plan(7, 400, 4, 3));
    let (verdict, points) = Checker::new().check_with_points(&history);
    assert!(verdict.is_linearizable());
    let page = html::timeline_with_points(&history, &verdict, &points).unwrap();
    let data = timeline_data(&page);
    assert_eq!(data["points"].as_array().unwrap().len(), points.len());
    assert!(data["cx"].as_array().unwrap().is_empty());
    let doc = parse(&page);
    assert!(!doc.descendants().any(|n| has_class(&n, "cx-op")));
}

#[test]
fn text_that_looks_like_markup_stays_text() {
    let mut history = stale_history();
    history.ops[0].value = Some(b"</script><b>&amp;]]>".to_vec());
    history.ops[0].key = b"<k&>".to_vec();
    let verdict = Checker::new().check(&history);
    let page = html::timeline(&history, &verdict).unwrap();
    let data = timeline_data(&page);
    assert!(
        data["label"][0]
            .as_str()
            .unwrap()
            .contains("</script><b>&amp;]]>"),
        "{}",
        data["label"][0]
    );
    assert!(data["keys"].as_array().unwrap().iter().any(|k| k == "<k&>"));
}

#[test]
fn an_empty_history_is_an_error_not_an_empty_picture() {
    let err = html::timeline(&History::default(), &CheckResult::Linearizable).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let bad = History::from_json("[{\"client\":1}]").unwrap_err();
    assert!(bad.to_string().contains("invalid history"), "{bad}");
}

#[test]
fn ten_thousand_operations_make_a_small_page_quickly() {
    let history = simulate(&random_plan(3, 10_000, 8, 10));
    assert_eq!(history.len(), 10_000);
    let (verdict, points) = Checker::new().check_with_points(&history);
    let started = Instant::now();
    let page = html::timeline_with_points(&history, &verdict, &points).unwrap();
    let took = started.elapsed();
    // Debug build, shared 2-core machine: the release build takes a few ms.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        page.len() < 2_000_000,
        "{} bytes for 10,000 operations",
        page.len()
    );
    let data = timeline_data(&page);
    assert_eq!(data["call"].as_array().unwrap().len(), 10_000);
}

/// Linearization points lie inside their operations' intervals and, taken
/// in order key by key, replay every get's answer on a register.
#[test]
fn linearization_points_explain_every_answer() {
    for seed in 0..30 {
        let history = simulate(&random_plan(seed, 300, 5, 2));
        let (verdict, points) = Checker::new().check_with_points(&history);
        assert!(verdict.is_linearizable(), "seed {seed}");
        let mut state: HashMap<Vec<u8>, (Option<Vec<u8>>, u64)> = HashMap::new();
        let mut placed = HashSet::new();
        for p in &points {
            let op = &history.ops[p.index];
            assert!(placed.insert(p.index), "seed {seed}: placed twice");
            assert!(op.call_ns <= p.at_ns, "seed {seed}: before its call");
            if let Some(r) = op.return_ns {
                assert!(p.at_ns <= r, "seed {seed}: after its return");
            }
            let (value, last) = state.entry(op.key.clone()).or_insert((None, 0));
            assert!(*last <= p.at_ns, "seed {seed}: points go back in time");
            *last = p.at_ns;
            match op.kind {
                OpKind::Put => *value = op.value.clone(),
                OpKind::Delete => *value = None,
                OpKind::Get => assert_eq!(&op.output, value, "seed {seed}: #{}", p.index),
                OpKind::Cas => {
                    if op.swapped == Some(true) {
                        *value = op.value.clone();
                    }
                }
            }
        }
        // Every operation that completed successfully has a point.
        let completed = history
            .ops
            .iter()
            .filter(|o| o.ok && o.return_ns.is_some())
            .count();
        assert!(points.len() >= completed, "seed {seed}");
    }
    // A violation has no points.
    let (verdict, points) = Checker::new().check_with_points(&stale_history());
    assert!(!verdict.is_linearizable());
    assert!(points.is_empty());
}

fn simulated(consistency: Consistency, nemesis: NemesisKind, seed: u64) -> Experiment {
    Experiment {
        nodes: 3,
        replicas: 3,
        consistency,
        workload: Workload {
            clients: 3,
            ops_per_client: 60,
            keys: 4,
            seed,
            ..Workload::default()
        },
        latency: "uniform:0.5ms..2ms".parse().unwrap(),
        drop: 0.05,
        duplicate: 0.05,
        nemesis: Nemesis {
            kind: nemesis,
            interval: Duration::from_millis(15),
            seed,
        },
        client_timeout: Duration::from_millis(50),
        convergence_deadline: Duration::from_secs(2),
        runtime: Runtime::Simulated,
        seed,
        ..Experiment::default()
    }
}

fn count(trace: &Trace, pick: impl Fn(&TraceEvent) -> bool) -> u64 {
    trace.events.iter().filter(|e| pick(e)).count() as u64
}

#[test]
fn a_simulated_trace_is_exact_replayable_and_changes_nothing() {
    let seed = 11;
    let experiment = simulated(Consistency::Eventual { r: 1, w: 1 }, NemesisKind::All, seed);
    let (report, history, trace) = experiment.run_traced(&mut |_| {}).unwrap();
    assert!(trace.exact && !trace.truncated, "seed {seed}");
    // The network's own counters agree with the trace, message for message.
    let m = report.messages;
    assert_eq!(
        count(&trace, |e| matches!(e, TraceEvent::Send { .. })),
        m.sent
    );
    assert_eq!(
        count(&trace, |e| matches!(e, TraceEvent::Duplicate { .. })),
        m.duplicated
    );
    assert_eq!(
        count(&trace, |e| matches!(e, TraceEvent::Drop { .. })),
        m.dropped
    );
    // Every fault the nemesis injected is there.
    assert!(count(&trace, |e| matches!(e, TraceEvent::NodeDown { .. })) >= 1);
    assert!(count(&trace, |e| matches!(e, TraceEvent::NodeUp { .. })) >= 1);
    assert!(
        count(
            &trace,
            |e| matches!(e, TraceEvent::Partition { cut, .. } if !cut.is_empty())
        ) >= 1
    );
    assert!(count(&trace, |e| matches!(e, TraceEvent::Timer { .. })) >= 1);
    assert!(!report.nemesis_faults.is_empty());
    // Times never go back.
    assert!(
        trace
            .events
            .windows(2)
            .all(|w| w[0].at_ns() <= w[1].at_ns())
    );
    // A cause is a message delivered to the node that then sent.
    let mut sends = HashMap::new();
    let mut delivered = HashSet::new();
    let mut caused = 0;
    for event in &trace.events {
        match event {
            TraceEvent::Send {
                id,
                from,
                to,
                cause,
                ..
            } => {
                if let Some(c) = cause {
                    assert!(
                        delivered.contains(c),
                        "seed {seed}: cause {c} of {id} not delivered"
                    );
                    let (_, cause_to): &(String, String) = &sends[c];
                    assert_eq!(cause_to, from, "seed {seed}: message {id}");
                    caused += 1;
                }
                sends.insert(*id, (from.clone(), to.clone()));
            }
            TraceEvent::Deliver { id, .. } => {
                delivered.insert(*id);
            }
            _ => {}
        }
    }
    assert!(caused > 100, "only {caused} messages with a cause");
    // Replayed from the seed: the same trace, byte for byte; and the same
    // run as without a trace.
    let (_, _, again) = experiment.run_traced(&mut |_| {}).unwrap();
    assert_eq!(again.to_json(), trace.to_json(), "seed {seed}");
    let (plain_report, plain_history) = experiment.run_with_history(&mut |_| {}).unwrap();
    assert_eq!(plain_history, history, "seed {seed}");
    assert_eq!(plain_report.to_json(), report.to_json(), "seed {seed}");
    // And it survives its JSON.
    assert_eq!(Trace::from_json(&trace.to_json()).unwrap(), trace);
}

#[test]
fn the_diagram_draws_one_group_per_message_with_its_fate() {
    let experiment = simulated(Consistency::Strong, NemesisKind::All, 5);
    let (_, _, trace) = experiment.run_traced(&mut |_| {}).unwrap();
    let options = DiagramOptions {
        max_messages: usize::MAX,
        ..DiagramOptions::default()
    };
    let svg = trace.to_svg(&options).unwrap();
    let doc = parse(&svg);
    let groups: Vec<_> = doc.descendants().filter(|n| has_class(n, "msg")).collect();
    let sends: Vec<u64> = trace
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Send { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(groups.len(), sends.len());
    let drawn: Vec<u64> = groups
        .iter()
        .map(|g| g.attribute("data-id").unwrap().parse().unwrap())
        .collect();
    assert_eq!(drawn, sends);
    let dropped: HashSet<u64> = trace
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Drop { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let duplicated: HashSet<u64> = trace
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Duplicate { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert!(!dropped.is_empty() && !duplicated.is_empty());
    for g in &groups {
        let id: u64 = g.attribute("data-id").unwrap().parse().unwrap();
        let marks = g
            .descendants()
            .filter(|n| has_class(n, "drop-mark"))
            .count();
        assert_eq!(
            has_class(g, "dropped"),
            dropped.contains(&id),
            "message {id}"
        );
        assert_eq!(marks > 0, dropped.contains(&id), "message {id}");
        assert_eq!(
            has_class(g, "duplicated"),
            duplicated.contains(&id),
            "message {id}"
        );
        assert!(
            g.children().any(|c| c.has_tag_name("title")),
            "message {id}"
        );
    }
    // Crashes and partitions are shaded.
    assert!(doc.descendants().any(|n| has_class(&n, "down")));
    assert!(doc.descendants().any(|n| has_class(&n, "partition")));
    // Lanes: every client and node.
    let lanes: Vec<&str> = doc
        .descendants()
        .filter(|n| has_class(n, "lane"))
        .map(|n| n.attribute("data-lane").unwrap())
        .collect();
    assert_eq!(lanes, ["c0", "c1", "c2", "n0", "n1", "n2"]);
}

#[test]
fn a_window_and_a_key_narrow_the_diagram() {
    let experiment = simulated(Consistency::Strong, NemesisKind::None, 9);
    let (_, _, trace) = experiment.run_traced(&mut |_| {}).unwrap();
    let first = trace.events.first().unwrap().at_ns();
    let window = DiagramOptions {
        from_ns: Some(first),
        to_ns: Some(first + 2_000_000),
        max_messages: usize::MAX,
        ..DiagramOptions::default()
    };
    let in_window = count(
        &trace,
        |e| matches!(e, TraceEvent::Send { at_ns, .. } if *at_ns <= first + 2_000_000),
    );
    let svg = trace.to_svg(&window).unwrap();
    let doc = parse(&svg);
    assert_eq!(
        doc.descendants().filter(|n| has_class(n, "msg")).count() as u64,
        in_window
    );

    // One key: its requests, their responses and the peer messages they
    // caused, and nothing of other keys.
    let key = "key-1";
    let one_key = DiagramOptions {
        key: Some(key.into()),
        max_messages: usize::MAX,
        ..DiagramOptions::default()
    };
    let svg = trace.to_svg(&one_key).unwrap();
    let doc = parse(&svg);
    let groups: Vec<_> = doc.descendants().filter(|n| has_class(n, "msg")).collect();
    let requests = count(
        &trace,
        |e| matches!(e, TraceEvent::Send { message: MessageKind::Request { key: k, .. }, .. } if k == key),
    );
    let drawn_requests = groups.iter().filter(|g| has_class(g, "request")).count() as u64;
    assert_eq!(drawn_requests, requests);
    assert!(
        groups.iter().any(|g| has_class(g, "peer")),
        "no peer traffic for {key}"
    );
    assert!(groups.iter().any(|g| has_class(g, "response")));
    for g in groups.iter().filter(|g| has_class(g, "request")) {
        let title = g
            .children()
            .find(|c| c.has_tag_name("title"))
            .unwrap()
            .text()
            .unwrap();
        assert!(title.contains(key), "{title}");
    }
    // max_messages cuts and says so.
    let few = DiagramOptions {
        max_messages: 10,
        ..DiagramOptions::default()
    };
    let svg = trace.to_svg(&few).unwrap();
    assert_eq!(
        parse(&svg)
            .descendants()
            .filter(|n| has_class(n, "msg"))
            .count(),
        10
    );
    assert!(
        svg.contains("the first 10 of"),
        "the title must say messages were left out"
    );
}

#[test]
fn bad_traces_and_windows_get_clear_errors() {
    let experiment = simulated(Consistency::Strong, NemesisKind::None, 2);
    let (_, history, trace) = experiment.run_traced(&mut |_| {}).unwrap();
    let json = trace.to_json();
    let other_version = json.replacen("\"version\":1", "\"version\":2", 1);
    let err = Trace::from_json(&other_version).unwrap_err().to_string();
    assert!(
        err.contains("version 2") && err.contains("version 1"),
        "{err}"
    );
    let err = Trace::from_json(&history.to_json())
        .unwrap_err()
        .to_string();
    assert!(err.contains("replikv check"), "{err}");
    let err = Trace::from_json("{not json").unwrap_err().to_string();
    assert!(err.contains("not JSON"), "{err}");
    let no_version = json.replacen("\"version\":1,", "", 1);
    assert!(
        Trace::from_json(&no_version)
            .unwrap_err()
            .to_string()
            .contains("version")
    );
    let unsent = Trace {
        events: vec![TraceEvent::Deliver { at_ns: 1, id: 5 }],
        ..trace.clone()
    };
    let err = Trace::from_json(&unsent.to_json()).unwrap_err().to_string();
    assert!(err.contains("message 5 was never sent"), "{err}");

    let inverted = DiagramOptions {
        from_ns: Some(10),
        to_ns: Some(5),
        ..DiagramOptions::default()
    };
    assert!(
        trace
            .to_svg(&inverted)
            .unwrap_err()
            .to_string()
            .contains("after it ends")
    );
    let past = DiagramOptions {
        from_ns: Some(u64::MAX - 1),
        to_ns: Some(u64::MAX),
        ..DiagramOptions::default()
    };
    let err = trace.to_svg(&past).unwrap_err().to_string();
    assert!(err.contains("the trace spans"), "{err}");
    let nokey = DiagramOptions {
        key: Some("nope".into()),
        ..DiagramOptions::default()
    };
    let err = trace.to_svg(&nokey).unwrap_err().to_string();
    assert!(err.contains("keys seen: key-"), "{err}");
}

#[test]
fn a_threads_trace_is_best_effort_and_says_so() {
    let cluster = replikv::Cluster::builder()
        .nodes(3)
        .storage(replikv::StorageKind::Memory)
        .build()
        .unwrap();
    cluster.network().record_trace();
    let mut client = cluster.client().unwrap();
    for i in 0..20 {
        client.put(format!("k{i}"), "v").unwrap();
    }
    cluster.crash(replikv::NodeId(2)).unwrap();
    cluster.restart(replikv::NodeId(2)).unwrap();
    let trace = cluster.network().trace().unwrap();
    assert!(!trace.exact);
    assert_eq!(
        count(&trace, |e| matches!(
            e,
            TraceEvent::Send {
                message: MessageKind::Request { .. },
                ..
            }
        )),
        20
    );
    assert_eq!(
        count(&trace, |e| matches!(
            e,
            TraceEvent::NodeDown { node: 2, .. }
        )),
        1
    );
    assert_eq!(
        count(&trace, |e| matches!(e, TraceEvent::NodeUp { node: 2, .. })),
        1
    );
    let svg = trace.to_svg(&DiagramOptions::default()).unwrap();
    assert!(svg.contains("best effort"));
}
