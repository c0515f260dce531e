//! Compare consistency modes under the same faults — the main experiment.
//!
//! One workload (4 clients, 8 keys, half reads, unique values) runs five
//! times on a 5-node cluster with N = 3, each time under the same seeded
//! faults: exponential message delays and a nemesis that keeps cutting one
//! node off. The table shows, side by side, what each mode buys and costs:
//!
//! - **strong** (majority quorums, ABD) is linearizable — the checker says
//!   so — and never stale, but pays in latency and messages;
//! - **eventual R=1 W=1** is fast and always available, but some reads are
//!   stale and the history is not linearizable;
//! - **eventual R=2 W=2** (R + W > N) reads its writes, at a cost;
//! - **single** copy has no replication to disagree with itself, and no
//!   fault tolerance either;
//! - **consensus** (Raft) is linearizable too, through one leader: its
//!   rows also count elections and the longest time without a leader.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example compare_consistency
//! ```
//!
//! The same comparison is `replikv compare --latency exp:0.5ms --nemesis partition`.

use replikv::lab::{Experiment, ExperimentReport, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::{Consistency, Error, StorageKind};
use std::time::Duration;

fn main() -> Result<(), Error> {
    let modes = [
        Consistency::Strong,
        Consistency::Eventual { r: 1, w: 1 },
        Consistency::Eventual { r: 2, w: 2 },
        Consistency::SingleCopy,
        Consistency::Consensus,
    ];
    let mut reports = Vec::new();
    for consistency in modes {
        eprint!("running {consistency} … ");
        let experiment = Experiment {
            nodes: 5,
            replicas: if consistency == Consistency::SingleCopy {
                1
            } else {
                3
            },
            consistency,
            workload: Workload {
                clients: 4,
                ops_per_client: 150,
                keys: 8,
                read_ratio: 0.5,
                seed: 11,
                ..Workload::default()
            },
            latency: Latency::Exponential {
                mean: Duration::from_micros(500),
            },
            nemesis: Nemesis {
                kind: NemesisKind::Partition,
                interval: Duration::from_millis(50),
                seed: 11,
            },
            storage: StorageKind::Memory,
            client_timeout: Duration::from_millis(500),
            seed: 11,
            ..Experiment::default()
        };
        let report = experiment.run(&mut |_| {})?;
        eprintln!("{} operations in {:.2} s", report.ops, report.duration_s);
        reports.push(report);
    }
    println!("{}", ExperimentReport::comparison_table(&reports));
    println!(
        "\nlinearizable: the checker found an order of the operations consistent with real time.\n\
         stale reads: reads that returned a value older than a write acknowledged before they began.\n\
         lost writes: acknowledged writes that last-writer-wins discarded once replicas converged."
    );
    Ok(())
}
