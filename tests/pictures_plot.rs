//! The plots of a run (feature `plot`): latency and throughput over time,
//! the nemesis's faults shaded.

use replikv::lab::{Experiment, Nemesis, NemesisKind, RunSeries, Workload};
use replikv::{Consistency, Runtime};
use std::time::Duration;

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}"))
}

/// Strong mode on 3 nodes: while the nemesis has a node crashed, requests
/// it coordinates time out, so the failures land inside the shaded windows.
#[test]
fn the_plot_shades_every_fault_and_failures_fall_inside_them() {
    let seed = 4;
    let experiment = Experiment {
        consistency: Consistency::Strong,
        workload: Workload {
            clients: 4,
            ops_per_client: 150,
            seed,
            ..Workload::default()
        },
        latency: "fixed:1ms".parse().unwrap(),
        nemesis: Nemesis {
            kind: NemesisKind::Crash,
            interval: Duration::from_millis(40),
            seed,
        },
        client_timeout: Duration::from_millis(20),
        runtime: Runtime::Simulated,
        seed,
        ..Experiment::default()
    };
    let (report, history) = experiment.run_with_history(&mut |_| {}).unwrap();
    let faults = &report.nemesis_faults;
    assert!(faults.len() >= 2, "seed {seed}: {faults:?}");
    for w in faults {
        assert_eq!(w.kind, "crash");
        assert!(w.start_ns < w.end_ns, "{w:?}");
    }
    assert!(faults.windows(2).all(|p| p[0].end_ns <= p[1].start_ns));
    // Every timeout waited while a node was down: its wait, from its call
    // to its deadline one timeout later, overlaps a fault (a request in
    // flight when the node crashed is lost with it).
    let timeout_ns = 20_000_000;
    for op in history.ops.iter().filter(|o| o.return_ns.is_none()) {
        assert!(
            faults
                .iter()
                .any(|w| w.start_ns <= op.call_ns + timeout_ns && op.call_ns <= w.end_ns),
            "seed {seed}: a timeout at {} ns outside every fault",
            op.call_ns
        );
    }
    assert!(
        history.ops.iter().any(|o| o.return_ns.is_none()),
        "seed {seed}: no timeout at all"
    );

    let series = RunSeries::from_history(&history, faults, 60).unwrap();
    let svg = series.to_svg("strong, crash nemesis").unwrap();
    let doc = parse(&svg);
    // One shaded rectangle per fault in each of the two panels, and one
    // legend swatch in each.
    let shaded = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#D22828"))
        .count();
    assert_eq!(shaded, 2 * faults.len() + 2, "seed {seed}");
    assert!(svg.contains("crash (nemesis)"));
    assert!(svg.contains("operations per second"));
}

#[test]
fn an_empty_history_has_no_plot() {
    let err = RunSeries::from_history(&replikv::history::History::default(), &[], 10).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}
