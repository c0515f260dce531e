//! Regression: a simulated run whose client receives a late duplicate of an
//! answer after its last operation must still finish. The lab's loop woke
//! up for any client's mail, and mail for a client with nothing outstanding
//! was never read, so the world stopped moving (seen as a hang in about a
//! third of the seeds of strong mode under the partition nemesis with
//! duplication).

use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::{Consistency, Runtime};
use std::time::Duration;

#[test]
fn a_late_duplicate_answer_does_not_stall_the_simulation() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for seed in [2, 5, 11] {
            let experiment = Experiment {
                nodes: 3,
                replicas: 3,
                consistency: Consistency::Strong,
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
                    kind: NemesisKind::Partition,
                    interval: Duration::from_millis(15),
                    seed,
                },
                client_timeout: Duration::from_millis(50),
                runtime: Runtime::Simulated,
                seed,
                ..Experiment::default()
            };
            let report = experiment.run(&mut |_| {}).unwrap();
            assert_eq!(report.ops, 180, "seed {seed}");
        }
        let _ = done.send(());
    });
    // Each run takes well under a second; a stalled one never ends.
    finished
        .recv_timeout(Duration::from_secs(120))
        .expect("a simulated run stalled (seeds 2, 5, 11)");
}
