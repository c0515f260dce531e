//! Command-line arguments. Sizes are capped by the limits in
//! [`crate::limits`]; every value is checked before any work starts.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Experiments with an in-process replicated key-value store.
#[derive(Debug, Parser)]
#[command(
    name = "replikv",
    version,
    about,
    after_help = crate::limits::summary()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one experiment and report what happened.
    Run(RunArgs),
    /// Run the same workload under several consistency modes, side by side.
    Compare(CompareArgs),
    /// Check a history JSON file for linearizability.
    Check(CheckArgs),
    /// t-visibility: measured on the cluster beside the WARS prediction.
    Staleness(StalenessArgs),
    /// Balance and key movement of the partitioning strategies.
    Partitions(PartitionsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Strong,
    Consensus,
    Eventual,
    Single,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultsOn {
    All,
    Nodes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Coordinator {
    First,
    Random,
    RoundRobin,
}

/// When a replica's write becomes durable (`replikv::storage::Durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// sled flushes in the background (about every 500 ms): fast, but killing
    /// the process loses the writes acknowledged since the last flush.
    Periodic,
    /// Every replica flushes each write before acknowledging it: slower, and
    /// a killed process loses no acknowledged write.
    FlushBeforeAck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

/// Cluster, workload and fault settings shared by `run` and `compare`.
#[derive(Debug, Clone, Args)]
pub struct WorkloadArgs {
    /// Nodes in the cluster (at most 1024: one thread each).
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Replication factor N.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
    /// Placement: modulo, ring, ring:VNODES, jump, rendezvous.
    #[arg(long, default_value = "rendezvous")]
    pub partitioning: String,
    /// Virtual nodes per node for the ring (overrides ring:VNODES; at most 4096).
    #[arg(long)]
    pub vnodes: Option<u32>,
    /// Client threads (at most 1024).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Operations per client.
    #[arg(long, default_value_t = 500)]
    pub ops: u64,
    /// Run for this long instead (e.g. 5s); overrides --ops.
    #[arg(long)]
    pub duration: Option<String>,
    /// Size of the key space.
    #[arg(long, default_value_t = 10)]
    pub keys: u64,
    /// Fraction of reads.
    #[arg(long, default_value_t = 0.5)]
    pub read_ratio: f64,
    /// Fraction of compare-and-sets (consensus mode only offers them).
    #[arg(long, default_value_t = 0.0)]
    pub cas_ratio: f64,
    /// Zipf exponent of key popularity (uniform when absent).
    #[arg(long)]
    pub zipf: Option<f64>,
    /// Link latency: zero, fixed:1ms, uniform:0.5ms..2ms, exp:1ms, pareto:1ms,2.5
    #[arg(long, default_value = "zero")]
    pub latency: String,
    /// Probability that a message is lost.
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Probability that a message is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// Which links --drop, --duplicate and --latency act on: all of them, or
    /// only node-to-node links (clients then never time out because of them).
    #[arg(long, value_enum, default_value_t = FaultsOn::All)]
    pub faults_on: FaultsOn,
    /// Eventual mode stamps writes with a hybrid logical clock: a node's
    /// clock moves past every version it receives (compare --nemesis skew
    /// with and without). In `compare`, applies to the eventual modes only.
    #[arg(long)]
    pub hybrid_clock: bool,
    /// Faults on a schedule: none, partition, crash, skew, all.
    #[arg(long, default_value = "none")]
    pub nemesis: String,
    /// Time between nemesis steps (e.g. 200ms).
    #[arg(long, default_value = "200ms")]
    pub nemesis_interval: String,
    /// Read-cache capacity per client (no cache when absent).
    #[arg(long)]
    pub cache_capacity: Option<usize>,
    /// Read-cache time-to-live (e.g. 100ms).
    #[arg(long, default_value = "1s")]
    pub cache_ttl: String,
    /// Per-operation client timeout.
    #[arg(long, default_value = "1s")]
    pub timeout: String,
    /// How clients choose a coordinator among a key's replicas: `first` (the
    /// library's default, the key's primary), `random` (as behind a load
    /// balancer: reads and writes of a key go through different nodes) or
    /// `round-robin`.
    #[arg(long, value_enum, default_value_t = Coordinator::First)]
    pub coordinator: Coordinator,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep node data under this directory, which must be empty or new
    /// (default: temporary directories, removed afterwards).
    #[arg(long)]
    pub storage: Option<PathBuf>,
    /// When writes become durable. With the default, periodic, killing the
    /// process (kill -9, power loss) loses the writes acknowledged since
    /// sled's last background flush; flush-before-ack loses none, at a cost
    /// in latency. Only --storage keeps data past the run.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Periodic)]
    pub durability: DurabilityArg,
    /// Skip the linearizability check.
    #[arg(long)]
    pub no_check: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub report: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Consistency mode.
    #[arg(long, value_enum, default_value_t = Mode::Strong)]
    pub consistency: Mode,
    /// Read quorum R (eventual mode only; default 1).
    #[arg(long)]
    pub r: Option<usize>,
    /// Write quorum W (eventual mode only; default 1).
    #[arg(long)]
    pub w: Option<usize>,
    /// Write the history JSON here.
    #[arg(long)]
    pub history: Option<PathBuf>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Modes to compare: strong, single, eventual:R:W (default: strong,
    /// eventual:1:1, eventual:2:2, single).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "strong,eventual:1:1,eventual:2:2,single"
    )]
    pub modes: Vec<String>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History JSON file (the format of DESIGN.md).
    pub file: PathBuf,
    /// Give up after this long (verdict "unknown").
    #[arg(long, default_value = "60s")]
    pub budget: String,
}

#[derive(Debug, Args)]
pub struct StalenessArgs {
    /// Replication factor N, also the number of nodes (at most 64).
    #[arg(long, default_value_t = 3)]
    pub n: usize,
    /// Read quorum R.
    #[arg(long, default_value_t = 1)]
    pub r: usize,
    /// Write quorum W.
    #[arg(long, default_value_t = 1)]
    pub w: usize,
    /// Latency of node-to-node messages.
    #[arg(long, default_value = "exp:1ms")]
    pub latency: String,
    /// Times after commit to probe, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0ms,0.5ms,1ms,2ms,4ms,8ms"
    )]
    pub t: Vec<String>,
    /// Trials per time on the cluster (at least 1).
    #[arg(long, default_value_t = 400)]
    pub trials: u64,
    /// Compare the measurement with the WARS model: add a column saying
    /// whether each t is within this many percentage points of the
    /// prediction, and a verdict. Judge only with enough trials: the
    /// `±95% CI` column says how far chance alone moves a measurement.
    #[arg(long, value_name = "PP")]
    pub tolerance: Option<f64>,
    /// Write the table as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write an SVG plot here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct PartitionsArgs {
    /// Nodes before a node is added (at most 1024).
    #[arg(long, default_value_t = 10)]
    pub nodes: u32,
    /// Keys to place (at most 1000000, and keys × nodes at most 100000000).
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// Replication factor for preference-list movement, 1 to --nodes
    /// (default: 3, or --nodes when fewer).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Virtual nodes per node for the ring (at most 4096).
    #[arg(long, default_value_t = 256)]
    pub vnodes: u32,
    /// Relative capacities, one positive number per node (e.g. 1,1,1,3):
    /// also print each node's share of keys under the strategies that
    /// honour weights.
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<f64>>,
}
