//! A replicated queue under faults, on the simulator: at-least-once
//! delivery, and exactly-once effects only with deduplication.
//!
//! ```sh
//! cargo run --release --example queue_run -- --seed 7            # dedup on
//! cargo run --release --example queue_run -- --seed 7 --no-dedup # duplicated effects
//! cargo run --release --example queue_run -- --seed 7 --faults   # + loss, duplication, crashes, partitions
//! ```
//!
//! Deterministic: one seed, one run, the same figures every time.

use replikv::queue::run::QueueRun;

fn main() -> Result<(), replikv::Error> {
    let mut run = QueueRun::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => {
                run.seed = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| replikv::Error::InvalidConfig("--seed needs a number".into()))?;
            }
            "--no-dedup" => run.dedup = false,
            "--faults" => {
                run.drop = 0.05;
                run.duplicate = 0.05;
                run.node_crashes = true;
                run.partitions = true;
            }
            other => {
                return Err(replikv::Error::InvalidConfig(format!(
                    "unknown argument {other}; use --seed N, --no-dedup, --faults"
                )));
            }
        }
    }
    let report = run.run()?;
    let c = report.counts;
    println!(
        "queue run: seed {}, {} messages, {} consumers crashing {:.0}% of the time, dedup {}",
        report.seed,
        run.messages,
        run.consumers,
        run.consumer_crash * 100.0,
        if run.dedup { "on" } else { "off" }
    );
    println!("acknowledged sends  {}", report.acknowledged_sends);
    println!(
        "deliveries          {} ({} redeliveries, {} stale acks)",
        c.deliveries, c.redeliveries, c.stale_acks
    );
    println!("dead letters        {}", report.dead_letters);
    println!(
        "effects applied     {} ({} duplicated)",
        report.effects, report.duplicated_effects
    );
    println!("lost                {}", report.lost.len());
    let ms = |ns: u64| ns as f64 / 1e6;
    println!(
        "send->ack latency   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (virtual time)",
        ms(report.latency.p50_ns),
        ms(report.latency.p99_ns),
        ms(report.latency.max_ns)
    );
    let depth: Vec<String> = report
        .depth
        .iter()
        .step_by((report.depth.len() / 12).max(1))
        .chain(report.depth.last())
        .map(|d| format!("{}+{}", d.visible, d.in_flight))
        .collect();
    println!("depth (visible+in flight) over time: {}", depth.join(" "));
    println!(
        "drained: {}, virtual time {:.1} s",
        report.drained,
        report.elapsed_ns as f64 / 1e9
    );
    if !report.lost.is_empty() {
        return Err(replikv::Error::Protocol(format!("lost {:?}", report.lost)));
    }
    Ok(())
}
