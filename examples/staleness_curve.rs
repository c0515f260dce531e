//! How eventual is eventual consistency? This example measures
//! t-visibility — the chance that a read started t after a write was
//! acknowledged returns it — on a 3-node replikv cluster for several read
//! and write quorums, and prints it beside the WARS model's prediction
//! (Bailis et al., "Probabilistically Bounded Staleness", VLDB 2012).
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example staleness_curve
//! ```
//!
//! It takes about half a minute. For each (R, W) it prints a table and
//! writes `staleness_curve_r{R}_w{W}.csv` and `.svg` to `$REPLIKV_PBS_OUT`
//! (default: the cargo target directory). Things to notice:
//!
//! - R = W = 1: two reads in three are stale right after the write (they
//!   land on a replica the write has not reached yet), almost none after
//!   4 ms.
//! - W = 2, R = 1: the commit waits for a second replica, so a read misses
//!   the write only on the one replica still without it — about 1 in 6 at
//!   t = 0.
//! - R = 2, W = 1: the read asks two replicas and misses only if both lack
//!   the write — also about 1 in 6 at t = 0, but it catches up faster.
//! - R = W = 2 (R + W > N): fresh at every t, measured and predicted.
//!
//! The measured and predicted columns agree within a few percentage
//! points; the module docs of `replikv::lab::pbs` explain the small,
//! systematic gaps that remain (thread hand-offs the model does not have).

use replikv::lab::pbs::StalenessExperiment;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

fn out_dir() -> PathBuf {
    std::env::var_os("REPLIKV_PBS_OUT")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();
    for (r, w) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
        let experiment = StalenessExperiment {
            r,
            w,
            trials_per_t: 1000,
            ..StalenessExperiment::default()
        };
        let title = experiment.title();
        let curve = experiment.run_with_progress(&mut |done, total| {
            let width = 40;
            let filled = (done * width / total.max(1)) as usize;
            eprint!(
                "\r{title}: [{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width as usize - filled)
            );
            let _ = std::io::stderr().flush();
        })?;
        eprintln!();
        println!("\nt-visibility, {title} — measured vs WARS prediction");
        println!("{curve}");
        let stem = dir.join(format!("staleness_curve_r{r}_w{w}"));
        let (csv, svg) = (stem.with_extension("csv"), stem.with_extension("svg"));
        std::fs::write(&csv, curve.to_csv())?;
        curve.to_svg(&svg)?;
        println!(
            "largest difference {:.2} pp; wrote {} and {}",
            curve.max_difference_pp(),
            csv.display(),
            svg.display()
        );
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
