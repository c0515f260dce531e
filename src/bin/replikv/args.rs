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
    /// Run one configuration under many seeds on the simulator; report
    /// every violation with the command that replays it, and shrink the
    /// first.
    Sweep(SweepArgs),
    /// Balance and key movement of the partitioning strategies.
    Partitions(PartitionsArgs),
    /// Coordinator policies against one slow node: tail latency and load.
    Balance(BalanceArgs),
    /// Draw a message trace (from `run --trace`) as an SVG sequence diagram.
    Diagram(DiagramArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Strong,
    Consensus,
    Eventual,
    Single,
}

/// Which driver runs the nodes (`replikv::Runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeArg {
    /// One OS thread per node on the real clock: real concurrency, and a
    /// different interleaving every run.
    Threads,
    /// One thread, a discrete-event loop on virtual time: the same seed
    /// gives the same run, byte for byte, and latency costs no real time.
    Sim,
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
    /// A node outside the key's N replicas (needs more nodes than N).
    NonReplica,
    /// The replica with the fewest requests in flight.
    LeastOutstanding,
    /// The less busy of two random replicas (Mitzenmacher).
    PowerOfTwo,
}

/// Which replicas an eventual-mode read asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadStrategyArg {
    /// Exactly R replicas (the coordinator's own copy first when it is one).
    R,
    /// All N replicas; answer after the first R (Dynamo's and the PBS paper's).
    All,
}

/// How consensus mode serves a get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadModeArg {
    /// Through the log, like a write.
    Log,
    /// ReadIndex: a round of probes to a majority, then a local read.
    ReadIndex,
    /// Leader lease: a local read while the lease lasts (trusts clocks).
    Lease,
}

/// Which WARS model the staleness verdict compares the measurement with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// The model of the cluster as configured (coordinator policy, read strategy).
    System,
    /// The PBS paper's: a coordinator outside the replicas, reads to all N, first R answers.
    Paper,
}

/// Latencies by message kind (the WARS legs) and of client links.
#[derive(Debug, Clone, Default, Args)]
pub struct KindLatencyArgs {
    /// Latency of node-to-node write requests (WARS W), instead of --latency.
    #[arg(long, value_name = "LATENCY")]
    pub write_latency: Option<String>,
    /// Latency of node-to-node write acknowledgements (WARS A).
    #[arg(long, value_name = "LATENCY")]
    pub ack_latency: Option<String>,
    /// Latency of node-to-node read requests (WARS R).
    #[arg(long, value_name = "LATENCY")]
    pub read_latency: Option<String>,
    /// Latency of node-to-node read responses (WARS S).
    #[arg(long, value_name = "LATENCY")]
    pub response_latency: Option<String>,
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
    /// Replication factor N (default 3). Single-copy keeps one copy per key
    /// whatever N says; `run` and `sweep` give it N only when --replicas is
    /// given, and then clients pick a coordinator among N nodes, which hand
    /// requests on to the key's owner (otherwise N = 1).
    #[arg(long)]
    pub replicas: Option<usize>,
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
    /// Operations each client keeps in flight at once (1: blocking calls;
    /// more: a pipelined client, up to 64).
    #[arg(long, default_value_t = 1)]
    pub in_flight: usize,
    /// Run for this long instead (e.g. 5s); overrides --ops.
    #[arg(long)]
    pub duration: Option<String>,
    /// Size of the key space.
    #[arg(long, default_value_t = 10)]
    pub keys: u64,
    /// Fraction of reads.
    #[arg(long, default_value_t = 0.5)]
    pub read_ratio: f64,
    /// Fraction of compare-and-sets (consensus mode only offers them: `run`
    /// refuses a fraction above 0 for the other modes).
    #[arg(long, default_value_t = 0.0)]
    pub cas_ratio: f64,
    /// Zipf exponent of key popularity (uniform when absent).
    #[arg(long)]
    pub zipf: Option<f64>,
    /// Link latency: zero, fixed:1ms, uniform:0.5ms..2ms, exp:1ms (mean),
    /// pareto:1ms,2.5 (scale, shape), or a mixture such as
    /// mix:0.9122*pareto:0.235ms,10+0.0878*exp:0.6024ms (weights, or
    /// percentages, adding up to 1).
    #[arg(long, default_value = "zero")]
    pub latency: String,
    #[command(flatten)]
    pub kinds: KindLatencyArgs,
    /// Latency of client ↔ node links, instead of --latency.
    #[arg(long, value_name = "LATENCY")]
    pub client_latency: Option<String>,
    /// Which replicas an eventual-mode read asks: r (exactly R) or all (all
    /// N, answering after the first R). In `compare`, applies to the
    /// eventual modes only.
    #[arg(long, value_enum, default_value_t = ReadStrategyArg::R)]
    pub read_strategy: ReadStrategyArg,
    /// How consensus mode serves a get: log (an entry like a write),
    /// read-index (confirm leadership with one round of probes), or lease
    /// (no round trip while the leader's lease lasts by its clock; stale
    /// under clock skew); log when not given. In `compare`, applies to the
    /// consensus row only; `run` refuses it for the other modes.
    #[arg(long, value_enum)]
    pub read_mode: Option<ReadModeArg>,
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
    /// Faults on a schedule: none, partition, crash, skew, all, pause.
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
    /// balancer: reads and writes of a key go through different nodes),
    /// `round-robin`, `non-replica` (a node outside the key's replicas,
    /// which needs more nodes than replicas), `least-outstanding` (the
    /// replica with the fewest requests in flight) or `power-of-two` (the
    /// less busy of two random replicas).
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
    /// An attacker on the network for the length of the workload: forge
    /// (inject writes of values no client wrote), tamper (alter values in
    /// flight) or replay (send captured node messages again).
    #[arg(long, value_name = "ATTACK")]
    pub attack: Option<String>,
    /// The chance the attacker acts on each node message it sees.
    #[arg(long, default_value_t = 0.2)]
    pub attack_probability: f64,
    /// Authenticate node-to-node messages (a keyed-BLAKE3 tag and a replay
    /// window per link, under a key derived from --seed): forged, altered
    /// and replayed messages are refused and counted.
    #[arg(long)]
    pub authenticate_links: bool,
    /// Which driver runs the nodes: threads (default for run and compare)
    /// or sim, the deterministic simulator (histories then carry virtual
    /// nanoseconds, and the same seed replays the same run).
    #[arg(long, value_enum)]
    pub runtime: Option<RuntimeArg>,
}

/// The mode to run: a built-in consistency mode, or a known-bad variant.
#[derive(Debug, Clone, Args)]
pub struct ModeArgs {
    /// Consistency mode.
    #[arg(long, value_enum, default_value_t = Mode::Strong)]
    pub consistency: Mode,
    /// Read quorum R (eventual mode only; default 1).
    #[arg(long)]
    pub r: Option<usize>,
    /// Write quorum W (eventual mode only; default 1).
    #[arg(long)]
    pub w: Option<usize>,
    /// Run a known-bad variant instead of a built-in mode (mutation
    /// testing; see `replikv::lab::Mutant`): abd-without-write-back,
    /// single-unfiltered-forwards, strong-amnesiac-restart,
    /// eventual-as-linearizable.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["consistency", "r", "w"])]
    pub protocol: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub mode: ModeArgs,
    /// Write the history JSON here.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Run twice on the simulator (needs --runtime sim) and compare the
    /// runs event by event, then the histories and the reports; on a
    /// difference, name the first and exit with status 1.
    #[arg(long)]
    pub check_determinism: bool,
    #[command(flatten)]
    pub pictures: RunPictureArgs,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub mode: ModeArgs,
    /// The seeds to run, A..B (B excluded).
    #[arg(long, default_value = "1..101")]
    pub seeds: String,
    /// Report violations without shrinking the first.
    #[arg(long)]
    pub no_shrink: bool,
    /// Most runs shrinking may take.
    #[arg(long, default_value_t = 60)]
    pub shrink_budget: u32,
    /// Run every seed twice and count a difference between the two runs
    /// as a violation.
    #[arg(long)]
    pub check_determinism: bool,
    #[command(flatten)]
    pub pictures: RunPictureArgs,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

/// The pictures `run` can draw of itself.
#[derive(Debug, Args)]
pub struct RunPictureArgs {
    /// Record the message trace and write it here (JSON; draw it with
    /// `replikv diagram`). Exact on the simulator, best effort on threads.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Write the history as an interactive HTML timeline here, the
    /// checker's counterexample marked.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write latency and throughput over time as an SVG plot here, the
    /// nemesis's faults shaded.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiagramArgs {
    /// Trace JSON file (written by `replikv run --trace`).
    pub file: PathBuf,
    /// Write the SVG sequence diagram here.
    #[arg(long)]
    pub svg: PathBuf,
    /// Draw messages sent from this time on (e.g. 20ms; since the cluster
    /// started).
    #[arg(long)]
    pub from: Option<String>,
    /// Draw messages sent up to this time (e.g. 25ms).
    #[arg(long)]
    pub to: Option<String>,
    /// Draw only this key's traffic: its requests and responses and, on the
    /// simulator, the peer messages they caused.
    #[arg(long)]
    pub key: Option<String>,
    /// Draw at most this many messages (at most 100000).
    #[arg(long, default_value_t = 2000)]
    pub max_messages: usize,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Modes to compare: strong, single, eventual:R:W, consensus (default:
    /// strong, eventual:1:1, eventual:2:2, single, consensus).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "strong,eventual:1:1,eventual:2:2,single,consensus"
    )]
    pub modes: Vec<String>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History JSON file (the format in the `replikv::history` module docs, as `run --history` writes it).
    pub file: PathBuf,
    /// Give up after this long (verdict "unknown"). The search's step cap
    /// grows with it (a million steps per second, never below the library's
    /// default of ten million), so a long budget is not cut short by a fixed
    /// cap; memory grows with steps (tens of bytes each).
    #[arg(long, default_value = "60s")]
    pub budget: String,
    /// Also write the history as an interactive HTML timeline here: the
    /// counterexample marked, or the linearization points ready to show.
    #[arg(long)]
    pub html: Option<PathBuf>,
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
    /// Latency of node-to-node messages (client links are instant); the
    /// --latency syntax of `run`, mixtures included.
    #[arg(long, default_value = "exp:1ms")]
    pub latency: String,
    #[command(flatten)]
    pub kinds: KindLatencyArgs,
    /// Who coordinates: random (a random replica, the default), first,
    /// round-robin, or non-replica (a node outside the key's replicas: the
    /// paper's setting; the cluster gets one node more than N).
    #[arg(long, value_enum, default_value_t = Coordinator::Random)]
    pub coordinator: Coordinator,
    /// Which replicas a read asks: r (exactly R) or all (all N, answering
    /// after the first R: the paper's).
    #[arg(long, value_enum, default_value_t = ReadStrategyArg::R)]
    pub read_strategy: ReadStrategyArg,
    /// Which prediction --tolerance judges the measurement against: system
    /// (the WARS model of the cluster as configured) or paper (Bailis et
    /// al.'s WARS: reads to all N, first R answers, a coordinator outside
    /// the replicas). Both are always printed.
    #[arg(long, value_enum, default_value_t = ModelArg::System)]
    pub model: ModelArg,
    /// k-staleness: the k at which to measure the chance of reading one of
    /// the last k versions, comma-separated, printed beside the closed form
    /// 1 − (C(N−W,R)/C(N,R))^k; 0 alone for none.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub k: Vec<u32>,
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
    /// Which driver runs the cluster: threads, or sim — the simulator, on
    /// which a message's delay is exactly the drawn latency (no thread
    /// wake-ups, so no calibration) and the same seed gives the same curve.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Threads)]
    pub runtime: RuntimeArg,
    #[command(flatten)]
    pub reproduce: ReproducePbsArgs,
}

/// `staleness --reproduce-pbs`: the PBS paper's production table.
#[derive(Debug, Clone, Args)]
pub struct ReproducePbsArgs {
    /// Instead of one curve, reproduce the PBS paper's production table:
    /// LinkedIn SSD and disk and Yammer latency fits, N=3, (R,W) = (1,1),
    /// (2,1), (1,2), the t at which 99.9 % of reads are fresh — measured on
    /// the simulator in the paper's setting, predicted by WARS, and as
    /// published. --trials is then the trials per t of the fine search
    /// stage, --seed the first seed; the curve options (--n, --r, --w,
    /// --latency and the kind latencies, --coordinator, --read-strategy,
    /// --model, --k, --t, --tolerance, --csv, --svg, --runtime) are refused
    /// with it: the table measures the paper's own setting.
    #[arg(long, conflicts_with_all = [
        "n", "r", "w", "latency", "write_latency", "ack_latency", "read_latency",
        "response_latency", "coordinator", "read_strategy", "model", "k", "t",
        "tolerance", "csv", "svg", "runtime",
    ])]
    pub reproduce_pbs: bool,
    /// With --reproduce-pbs: how many seeds, from --seed on (1 to 100).
    #[arg(long, default_value_t = 3, requires = "reproduce_pbs")]
    pub seeds: u64,
    /// With --reproduce-pbs: WARS Monte Carlo trials per seed (at most
    /// 100000000).
    #[arg(long, default_value_t = 1_000_000, requires = "reproduce_pbs")]
    pub model_trials: u64,
    /// With --reproduce-pbs: the probability of a fresh read to find t for,
    /// 0.5 to 0.99999 (the paper's values are for 0.999 only).
    #[arg(long, default_value_t = 0.999, requires = "reproduce_pbs")]
    pub p: f64,
    /// With --reproduce-pbs: only these fits, comma-separated (lnkd-ssd,
    /// lnkd-disk, ymmr; default all three).
    #[arg(long, value_delimiter = ',', requires = "reproduce_pbs")]
    pub fits: Vec<String>,
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
    /// Zipf exponent of the request load columns (0 to 5; 0.99 is YCSB's
    /// default skew).
    #[arg(long, default_value_t = 0.99)]
    pub zipf: f64,
    /// Also print every figure (balance of keys and load, movement on add
    /// and remove, lookup time, memory per node, build time) at each of
    /// --scale-nodes node counts. Times are only meaningful in a release
    /// build.
    #[arg(long)]
    pub scaling: bool,
    /// Node counts of --scaling (each at most 1024).
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    pub scale_nodes: Vec<u32>,
    /// With --scaling: draw key balance and movement against the node count
    /// as an SVG chart at this path.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BalanceArgs {
    /// Nodes (2 to 64); node 0 is the slow one.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Replication factor N: the replicas a policy chooses among.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
    /// Closed-loop clients (at most 1024).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Operations per client (at most 100000).
    #[arg(long, default_value_t = 200)]
    pub ops: u64,
    /// Size of the key space.
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Zipf exponent of key popularity (uniform when absent).
    #[arg(long)]
    pub zipf: Option<f64>,
    /// Latency of the ordinary links: zero, fixed:1ms, exp:1ms, ...
    #[arg(long, default_value = "exp:1ms")]
    pub latency: String,
    /// Delay of every message to the slow node (e.g. 20ms; at most 10s).
    #[arg(long, default_value = "20ms")]
    pub slow: String,
    /// Seed (the run is on the deterministic simulator: same seed, same table).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
