//! The PBS paper's production latency fits and its published results, with
//! where each number comes from.
//!
//! # Sources (checked, not remembered)
//!
//! Bailis, Venkataraman, Franklin, Hellerstein and Stoica, *Probabilistically
//! Bounded Staleness for Practical Partial Quorums*, VLDB 2012. The numbers
//! below were copied from the paper's LaTeX source in the authors' own
//! repository, `github.com/pbailis/pbs-vldb-historical-paper-material`,
//! file `writeup/ernst.tex` (commit `01d2d2fed1be8bfcadf6ea2c2aed100011bb9f25`):
//!
//! - the fits, from the table labelled `table:fits` ("Distribution fits for
//!   production latency distributions") — [`ProductionFit::latencies`];
//! - the t-visibility for `p = 99.9 %` and the 99.9th percentile read and
//!   write latencies `L_r`, `L_w` for N = 3, from the table labelled
//!   `table:lat-stale` — [`ProductionFit::published_t_ms`] and
//!   [`ProductionFit::published_latencies_ms`]. Its caption says the
//!   t-visibility comes from 50,000 reads and writes and the latencies from
//!   1M.
//!
//! The same t-visibility and latency values appear in the authors' CACM
//! Research Highlight source (`github.com/pbailis/paper-repo-cacm-pbs-research-highlight`,
//! `pbs-cacm.tex`, table `table:lat-stale`), which also states that for
//! `LNKD-SSD` with R = 2, W = 1 no staleness was observed across 10M
//! writes. What was *not* checked: the camera-ready PDF itself (its table
//! numbers — the issue calls them Tables 3 and 4 — are not in the source,
//! which numbers tables by label); if the printed paper differs from its
//! source, these values follow the source.
//!
//! # What the fits are
//!
//! LinkedIn (Voldemort) gave single-node latency summaries for SSDs and
//! spinning disks, Yammer (Riak) gave read and write percentiles; the
//! authors turned each into one-way WARS delays, assuming every message
//! independent and identically distributed:
//!
//! | fit | W (write to a replica) | A = R = S |
//! |---|---|---|
//! | `LNKD-SSD` | 91.22 % Pareto(x_m = 0.235 ms, α = 10) + 8.78 % Exp(λ = 1.66/ms) | same as W |
//! | `LNKD-DISK` | 38 % Pareto(x_m = 1.05 ms, α = 1.51) + 62 % Exp(λ = 0.183/ms) | as `LNKD-SSD` |
//! | `YMMR` | 93.9 % Pareto(x_m = 3 ms, α = 3.35) + 6.1 % Exp(λ = 0.0028/ms) | 98.2 % Pareto(x_m = 1.5 ms, α = 3.8) + 1.8 % Exp(λ = 0.0217/ms) |
//!
//! Two readings of that table are not spelled out in it and are checked
//! here instead: λ is per millisecond, and the percentage belongs to the
//! component it stands next to (a script on the first author's blog,
//! `pbailis/bailis.org-blog`, `post_data/2012-09-20/dynamo-multirequest-montecarlo.py`,
//! draws the *exponential* with probability 0.9122 for LinkedIn; that
//! reading gives a 99.9th percentile read of about 2 ms, not the published
//! 0.66 ms). With both readings as above, the fits' 99.9th percentile
//! operation latencies come out near the published `L_r` and `L_w`
//! ([`operation_latency`], `tests/pbs_production.rs`).

use super::wars::WarsLatencies;
use crate::error::{Error, Result};
use crate::network::Latency;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::time::Duration;

/// The (R, W) settings of the paper's production table reproduced here,
/// N = 3: the partial quorums (the strict ones are fresh at t = 0).
pub const PAPER_QUORUMS: [(usize, usize); 3] = [(1, 1), (2, 1), (1, 2)];

/// The replication factor of the paper's production table.
pub const PAPER_N: usize = 3;

/// The probability of consistency the paper's table reports `t` for.
pub const PAPER_P: f64 = 0.999;

/// One of the PBS paper's production latency fits.
///
/// ```
/// use replikv::lab::pbs::ProductionFit;
/// let disk: ProductionFit = "lnkd-disk".parse()?;
/// assert_eq!(disk, ProductionFit::LnkdDisk);
/// assert_eq!(disk.to_string(), "LNKD-DISK");
/// // The paper: 99.9 % of reads fresh 45.5 ms after the commit, N=3 R=W=1.
/// assert_eq!(disk.published_t_ms(1, 1), Some(45.5));
/// assert_eq!(disk.published_t_ms(3, 3), None); // not in the reproduced rows
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProductionFit {
    /// LinkedIn Voldemort on SSDs: network- and CPU-bound, all four legs alike.
    LnkdSsd,
    /// LinkedIn Voldemort on spinning disks: slow, heavy-tailed writes.
    LnkdDisk,
    /// Yammer Riak: writes wait for fsync; a tail of seconds.
    Ymmr,
}

impl ProductionFit {
    /// The three fits, in the paper's column order.
    pub const ALL: [ProductionFit; 3] = [
        ProductionFit::LnkdSsd,
        ProductionFit::LnkdDisk,
        ProductionFit::Ymmr,
    ];

    /// The WARS delays of this fit (see the module docs for the source).
    pub fn latencies(self) -> WarsLatencies {
        let lnkd_ssd = mixture(0.9122, 0.235, 10.0, 0.0878, 1.66);
        match self {
            ProductionFit::LnkdSsd => WarsLatencies::all(lnkd_ssd),
            ProductionFit::LnkdDisk => WarsLatencies {
                write: mixture(0.38, 1.05, 1.51, 0.62, 0.183),
                ..WarsLatencies::all(lnkd_ssd)
            },
            ProductionFit::Ymmr => WarsLatencies {
                write: mixture(0.939, 3.0, 3.35, 0.061, 0.0028),
                ..WarsLatencies::all(mixture(0.982, 1.5, 3.8, 0.018, 0.0217))
            },
        }
    }

    /// The paper's published `t` (ms) at which 99.9 % of reads are fresh,
    /// N = 3, for the rows reproduced here ([`PAPER_QUORUMS`]); `None` for
    /// any other R, W. A published 0 means no staleness was observed.
    pub fn published_t_ms(self, r: usize, w: usize) -> Option<f64> {
        let [r1w1, r2w1, r1w2] = match self {
            ProductionFit::LnkdSsd => [1.85, 0.0, 1.79],
            ProductionFit::LnkdDisk => [45.5, 13.6, 43.3],
            ProductionFit::Ymmr => [1364.0, 202.0, 1352.0],
        };
        match (r, w) {
            (1, 1) => Some(r1w1),
            (2, 1) => Some(r2w1),
            (1, 2) => Some(r1w2),
            _ => None,
        }
    }

    /// The paper's published 99.9th percentile read and write latencies
    /// `(L_r, L_w)` in ms, N = 3, for the rows reproduced here.
    pub fn published_latencies_ms(self, r: usize, w: usize) -> Option<(f64, f64)> {
        let [r1w1, r2w1, r1w2] = match self {
            ProductionFit::LnkdSsd => [(0.66, 0.66), (1.63, 0.65), (0.66, 1.63)],
            ProductionFit::LnkdDisk => [(0.66, 10.99), (1.63, 10.9), (0.65, 20.97)],
            ProductionFit::Ymmr => [(5.58, 10.83), (32.6, 10.73), (5.61, 427.12)],
        };
        match (r, w) {
            (1, 1) => Some(r1w1),
            (2, 1) => Some(r2w1),
            (1, 2) => Some(r1w2),
            _ => None,
        }
    }
}

/// `pareto_weight` Pareto(x_m ms, α) + `exp_weight` Exponential(λ per ms).
fn mixture(pareto_weight: f64, x_m_ms: f64, alpha: f64, exp_weight: f64, rate: f64) -> Latency {
    let body = Latency::Pareto {
        scale: Duration::from_secs_f64(x_m_ms / 1e3),
        shape: alpha,
    };
    let tail = Latency::exponential_per_ms(rate);
    // Two valid parts whose weights add up to 1: `Latency::mixture` cannot
    // refuse them (a unit test builds every fit).
    Latency::mixture(&[(pareto_weight, body), (exp_weight, tail)]).unwrap_or(body)
}

impl std::fmt::Display for ProductionFit {
    /// The paper's name: `LNKD-SSD`, `LNKD-DISK`, `YMMR`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProductionFit::LnkdSsd => "LNKD-SSD",
            ProductionFit::LnkdDisk => "LNKD-DISK",
            ProductionFit::Ymmr => "YMMR",
        })
    }
}

impl std::str::FromStr for ProductionFit {
    type Err = Error;

    /// `lnkd-ssd`, `lnkd-disk` or `ymmr` (any case).
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "lnkd-ssd" => Ok(ProductionFit::LnkdSsd),
            "lnkd-disk" => Ok(ProductionFit::LnkdDisk),
            "ymmr" => Ok(ProductionFit::Ymmr),
            _ => Err(Error::InvalidConfig(format!(
                "unknown production fit {text:?}: expected lnkd-ssd, lnkd-disk or ymmr"
            ))),
        }
    }
}

/// The `p` percentile of an operation's latency in the paper's setting (a
/// coordinator outside the replicas sends to all N and waits for the
/// `quorum`-th answer; each answer takes one `there` and one `back` delay),
/// from `trials` seeded draws. With the write legs (W, A) and W it is the
/// write latency, with (R, S) and R the read latency — the `L_w` and `L_r`
/// of the paper's table.
///
/// ```
/// use replikv::lab::pbs::operation_latency;
/// use replikv::network::Latency;
/// use std::time::Duration;
/// let ms = Latency::Fixed(Duration::from_millis(1));
/// assert_eq!(operation_latency(3, 2, ms, ms, 0.999, 1000, 1)?, Duration::from_millis(2));
/// assert!(operation_latency(3, 4, ms, ms, 0.999, 1000, 1).is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn operation_latency(
    n: usize,
    quorum: usize,
    there: Latency,
    back: Latency,
    p: f64,
    trials: u64,
    seed: u64,
) -> Result<Duration> {
    if n == 0 || quorum == 0 || quorum > n {
        return Err(Error::InvalidConfig(format!(
            "an operation waits for 1 to N = {n} answers, not {quorum}"
        )));
    }
    if !(p > 0.0 && p <= 1.0) || trials == 0 {
        return Err(Error::InvalidConfig(format!(
            "a latency percentile needs p in (0, 1] and at least one trial, got p = {p}, \
             {trials} trials"
        )));
    }
    there.validate()?;
    back.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut answers = vec![Duration::ZERO; n];
    let mut latencies: Vec<Duration> = (0..trials)
        .map(|_| {
            for answer in answers.iter_mut() {
                *answer = there.sample(&mut rng) + back.sample(&mut rng);
            }
            let (_, &mut kth, _) = answers.select_nth_unstable(quorum - 1);
            kth
        })
        .collect();
    latencies.sort_unstable();
    let index = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
    Ok(latencies[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fit_is_a_two_part_mixture_on_every_leg() {
        for fit in ProductionFit::ALL {
            let l = fit.latencies();
            for leg in [l.write, l.ack, l.read, l.response] {
                match leg {
                    Latency::Mixture(m) => assert_eq!(m.parts().count(), 2, "{fit}: {leg}"),
                    other => panic!("{fit}: a leg is not the published mixture: {other}"),
                }
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for fit in ProductionFit::ALL {
            assert_eq!(fit.to_string().parse::<ProductionFit>().ok(), Some(fit));
        }
        assert!("linkedin".parse::<ProductionFit>().is_err());
    }
}
