//! k-staleness: how often a read returns one of the last k versions.
//!
//! PBS's first question (Bailis et al., §3) is about versions, not time:
//! right after k writes to a key have committed one after another, what is
//! the probability that a read returns one of those k? With **non-expanding
//! quorums** — each write stored on exactly W replicas chosen uniformly at
//! random, each read asking R replicas chosen uniformly at random — a read
//! misses one write when its R replicas all lie among the N − W that lack
//! it, probability C(N−W, R) / C(N, R), and misses all k independent
//! writes with that probability to the k-th power:
//!
//! `P(within k) = 1 − (C(N−W, R) / C(N, R))^k`
//!
//! # Where it applies
//!
//! A replikv write (like Dynamo's and Cassandra's) does not stop at W: it
//! goes on to every replica, so a write that has committed has reached *at
//! least* W, and a read arriving a little later finds more. The closed
//! form is then a **lower bound**, exact only where no copy beyond the W-th
//! has landed before the read asks (the measurement reads at once after the
//! k-th commit, so it is close when delays are long next to a commit). And
//! it assumes the R replicas asked are a uniform random choice: true for
//! R = 1 with random coordinators, or when all N are asked and the first R
//! answers are a uniform choice; not for a fixed coordinator that always
//! reads its own copy first. With R + W > N the closed form is 1, and so is
//! every measurement without faults.

use std::fmt;

/// `C(n, k)` as a float (0 when `k > n`).
fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The PBS closed form for non-expanding quorums:
/// `1 − (C(N−W, R) / C(N, R))^k`, the probability that a read returns one
/// of the last `k` committed versions. 1 whenever R + W > N.
///
/// ```
/// use replikv::lab::pbs::k_staleness_closed_form;
/// // N = 3, R = W = 1: a read misses a write 2 times in 3.
/// assert!((k_staleness_closed_form(3, 1, 1, 1) - 1.0 / 3.0).abs() < 1e-12);
/// assert!((k_staleness_closed_form(3, 1, 1, 2) - 5.0 / 9.0).abs() < 1e-12);
/// assert_eq!(k_staleness_closed_form(3, 2, 2, 1), 1.0);
/// ```
pub fn k_staleness_closed_form(n: usize, r: usize, w: usize, k: u32) -> f64 {
    let miss = binomial(n.saturating_sub(w), r) / binomial(n, r).max(f64::MIN_POSITIVE);
    1.0 - miss.powi(i32::try_from(k).unwrap_or(i32::MAX))
}

/// k-staleness measured at one `k`, beside the closed form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KPoint {
    /// How many consecutive committed versions count as recent enough.
    pub k: u32,
    /// Trials that completed (k writes acknowledged, read answered).
    pub trials: u64,
    /// Of those, reads that returned one of the k versions.
    pub within: u64,
    /// Trials lost to client errors (not in `trials`).
    pub errors: u64,
    /// [`k_staleness_closed_form`] for the experiment's N, R, W.
    pub closed_form: f64,
}

impl KPoint {
    /// The measured probability of reading one of the last k versions.
    pub fn measured(&self) -> f64 {
        if self.trials == 0 {
            f64::NAN
        } else {
            self.within as f64 / self.trials as f64
        }
    }
}

impl fmt::Display for KPoint {
    /// `k=2: measured 61.20 % (1000 trials), closed form 55.56 %` (the closed form is a lower bound here).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "k={}: measured {:.2} % ({} trials), closed form {:.2} %",
            self.k,
            self.measured() * 100.0,
            self.trials,
            self.closed_form * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials_match_pascal() {
        assert_eq!(binomial(5, 2), 10.0);
        assert_eq!(binomial(5, 0), 1.0);
        assert_eq!(binomial(2, 3), 0.0);
        assert_eq!(binomial(10, 7), 120.0);
    }

    #[test]
    fn the_closed_form_grows_with_k_towards_one() {
        // N = 5, R = W = 1: a read misses a write 4 times in 5.
        let p: Vec<f64> = (1..=4)
            .map(|k| k_staleness_closed_form(5, 1, 1, k))
            .collect();
        for (k, p) in (1..=4).zip(&p) {
            assert!((p - (1.0 - 0.8f64.powi(k))).abs() < 1e-12, "k={k}: {p}");
        }
        // N = 5, R = 2, W = 2: misses with C(3,2)/C(5,2) = 3/10.
        assert!((k_staleness_closed_form(5, 2, 2, 1) - 0.7).abs() < 1e-12);
    }
}
