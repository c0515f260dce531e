#![allow(dead_code)] // each test file uses a part of it
//! What the consensus test files share: a quiet simulated group, and the
//! faulty simulated experiment their linearizability sweeps start from.

use replikv::lab::{Experiment, Nemesis, NemesisKind, Workload};
use replikv::network::Latency;
use replikv::protocol::ConsensusConfig;
use replikv::{Cluster, Consistency, Runtime, StorageKind};
use std::time::Duration;

/// Three simulated Raft nodes on 1 ms links, set up by `config`.
pub fn cluster(seed: u64, config: ConsensusConfig) -> Cluster {
    Cluster::builder()
        .runtime(Runtime::Simulated)
        .nodes(3)
        .consistency(Consistency::Consensus)
        .consensus(config)
        .latency(Latency::Fixed(Duration::from_millis(1)))
        .seed(seed)
        .build()
        .unwrap()
}

/// Three simulated Raft nodes under `nemesis` with 1–5 ms links, 5 % of
/// messages dropped and 5 % duplicated; 3 clients × 30 operations on 2
/// keys, 40 % reads and 30 % compare-and-sets. Callers change what their
/// sweep is about with struct update syntax.
pub fn faulty(seed: u64, nemesis: NemesisKind) -> Experiment {
    Experiment {
        consistency: Consistency::Consensus,
        runtime: Runtime::Simulated,
        storage: StorageKind::Memory,
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        drop: 0.05,
        duplicate: 0.05,
        nemesis: Nemesis {
            kind: nemesis,
            interval: Duration::from_millis(400),
            seed,
        },
        workload: Workload {
            clients: 3,
            ops_per_client: 30,
            keys: 2,
            read_ratio: 0.4,
            cas_ratio: 0.3,
            seed,
            ..Workload::default()
        },
        client_timeout: Duration::from_millis(800),
        checker_budget: Duration::from_secs(20),
        seed,
        ..Experiment::default()
    }
}
