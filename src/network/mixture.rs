//! Mixture distributions: each message draws its delay from one of a few
//! component distributions, picked at random with fixed weights.
//!
//! # Why
//!
//! Measured latencies are rarely one textbook distribution. The PBS paper
//! (Bailis et al., VLDB 2012, its table of latency fits, `table:fits` in
//! the paper's LaTeX source; see `lab::pbs::production`) fits LinkedIn's and Yammer's
//! production latencies with a *body* — a Pareto distribution, most of the
//! mass close to its scale — plus a small *tail* component — an
//! exponential with a long mean — for example LinkedIn's SSD write
//! latency: 91.22 % Pareto(x_m = 0.235 ms, α = 10) + 8.78 %
//! Exponential(λ = 1.66 per ms). [`Latency::Mixture`] holds such a fit, and
//! `mix:` writes it on the command line (see [`Latency`]'s `FromStr`).
//!
//! # Why at most four parts, and no mixtures of mixtures
//!
//! [`Latency`] is `Copy`: the network copies it on every send and the lab
//! keeps it in plain structs. A mixture with a vector of parts would give
//! that up for every user of the type; a fixed array of
//! [`MAX_MIXTURE_PARTS`] keeps it, and the published fits have two parts.
//! A mixture of mixtures is the same as one flat mixture with multiplied
//! weights, so nothing is lost by refusing it.

use super::latency::Latency;
use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use std::fmt;
use std::time::Duration;

/// Most parts one [`Mixture`] holds.
pub const MAX_MIXTURE_PARTS: usize = 4;

/// How far the weights may add up from 1 (they are typed as rounded
/// percentages, e.g. 0.9122 + 0.0878).
const WEIGHT_SLACK: f64 = 1e-3;

/// One component: any latency but a mixture. Private, so that a
/// [`Mixture`] is valid by construction.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Zero,
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
    Exponential { mean: Duration },
    Pareto { scale: Duration, shape: f64 },
}

impl Part {
    fn from_latency(latency: Latency) -> Option<Part> {
        Some(match latency {
            Latency::Zero => Part::Zero,
            Latency::Fixed(d) => Part::Fixed(d),
            Latency::Uniform { min, max } => Part::Uniform { min, max },
            Latency::Exponential { mean } => Part::Exponential { mean },
            Latency::Pareto { scale, shape } => Part::Pareto { scale, shape },
            Latency::Mixture(_) => return None,
        })
    }

    fn latency(self) -> Latency {
        match self {
            Part::Zero => Latency::Zero,
            Part::Fixed(d) => Latency::Fixed(d),
            Part::Uniform { min, max } => Latency::Uniform { min, max },
            Part::Exponential { mean } => Latency::Exponential { mean },
            Part::Pareto { scale, shape } => Latency::Pareto { scale, shape },
        }
    }
}

/// A weighted mixture of up to [`MAX_MIXTURE_PARTS`] latency
/// distributions, none of them a mixture; the weights are positive and add
/// up to 1. Build one with [`Mixture::new`] or [`Latency::mixture`].
///
/// ```
/// use replikv::network::{Latency, Mixture};
/// use std::time::Duration;
/// // LinkedIn SSD writes (PBS's latency fits): 91.22 % Pareto + 8.78 % exponential.
/// let body = Latency::Pareto { scale: Duration::from_micros(235), shape: 10.0 };
/// let tail = Latency::exponential_per_ms(1.66);
/// let fit = Mixture::new(&[(0.9122, body), (0.0878, tail)])?;
/// assert_eq!(fit.parts().count(), 2);
/// assert_eq!(Latency::Mixture(fit).to_string(), "mix:0.9122*pareto:235µs,10+0.0878*exp:602.41µs");
/// // Weights must add up to 1, parts must not be mixtures.
/// assert!(Mixture::new(&[(0.5, body), (0.4, tail)]).is_err());
/// assert!(Mixture::new(&[(1.0, Latency::Mixture(fit))]).is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixture {
    /// `(weight, part)`; only the first `len` are used, the rest are
    /// `(0.0, Part::Zero)` so that equality compares what matters.
    parts: [(f64, Part); MAX_MIXTURE_PARTS],
    len: u8,
}

impl Mixture {
    /// A mixture of `parts`, each `(weight, latency)`. Refused with
    /// [`Error::InvalidConfig`]: no parts or more than
    /// [`MAX_MIXTURE_PARTS`], a weight that is not a positive finite number,
    /// weights that do not add up to 1 (within 0.001), a part that is a
    /// mixture or that [`Latency::validate`] refuses.
    pub fn new(parts: &[(f64, Latency)]) -> Result<Mixture> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if parts.is_empty() || parts.len() > MAX_MIXTURE_PARTS {
            return bad(format!(
                "a latency mixture has 1 to {MAX_MIXTURE_PARTS} parts, got {}",
                parts.len()
            ));
        }
        let mut mixture = Mixture {
            parts: [(0.0, Part::Zero); MAX_MIXTURE_PARTS],
            len: parts.len() as u8,
        };
        for (slot, &(weight, latency)) in mixture.parts.iter_mut().zip(parts) {
            if !(weight.is_finite() && weight > 0.0) {
                return bad(format!(
                    "a mixture weight must be a positive number, got {weight}"
                ));
            }
            latency.validate()?;
            let Some(part) = Part::from_latency(latency) else {
                return bad(
                    "a mixture's parts cannot be mixtures: multiply the weights out into one \
                     mixture"
                        .into(),
                );
            };
            *slot = (weight, part);
        }
        let total: f64 = parts.iter().map(|(w, _)| w).sum();
        if (total - 1.0).abs() > WEIGHT_SLACK {
            return bad(format!(
                "mixture weights add up to {total}; they must add up to 1 (e.g. 0.9*exp:1ms+0.1*fixed:5ms)"
            ));
        }
        Ok(mixture)
    }

    /// The parts, `(weight, latency)`, in the order given.
    pub fn parts(&self) -> impl Iterator<Item = (f64, Latency)> + '_ {
        self.parts[..usize::from(self.len)]
            .iter()
            .map(|&(weight, part)| (weight, part.latency()))
    }

    /// Picks a part by weight and draws from it.
    pub(super) fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        let used = &self.parts[..usize::from(self.len)];
        let total: f64 = used.iter().map(|(w, _)| w).sum();
        let mut x = rng.random::<f64>() * total;
        for &(weight, part) in used {
            if x < weight {
                return part.latency().sample(rng);
            }
            x -= weight;
        }
        // Rounding left `x` at the very top: the last part.
        used.last()
            .map_or(Duration::ZERO, |&(_, part)| part.latency().sample(rng))
    }

    /// The weighted mean of the parts' means; `None` when a part has none.
    pub(super) fn mean(&self) -> Option<Duration> {
        let mut total_weight = 0.0;
        let mut sum = 0.0;
        for (weight, latency) in self.parts() {
            sum += weight * latency.mean()?.as_secs_f64();
            total_weight += weight;
        }
        Some(Duration::try_from_secs_f64(sum / total_weight).unwrap_or(Duration::MAX))
    }

    /// Parses the part after `mix:`: `WEIGHT*LATENCY+WEIGHT*LATENCY…`, a
    /// weight being a fraction (`0.9122`) or a percentage (`91.22%`).
    pub(super) fn parse(args: &str) -> Result<Mixture> {
        let bad = |m: String| Error::InvalidConfig(m);
        if args.trim().is_empty() {
            return Err(bad("a mixture wants WEIGHT*LATENCY+WEIGHT*LATENCY…, e.g. \
                 mix:0.9*exp:1ms+0.1*fixed:5ms"
                .into()));
        }
        let mut parts = Vec::new();
        for term in args.split('+') {
            let (weight, latency) = term.split_once('*').ok_or_else(|| {
                bad(format!(
                    "mixture term {term:?} wants WEIGHT*LATENCY, e.g. 0.9*exp:1ms or 90%*exp:1ms"
                ))
            })?;
            let weight = weight.trim();
            let parsed = match weight.strip_suffix('%') {
                // `8.78e-2` parses to the same double as `0.0878`, which
                // `8.78 / 100.0` does not.
                Some(percent) => format!("{}e-2", percent.trim()).parse::<f64>(),
                None => weight.parse::<f64>(),
            };
            let weight = parsed.map_err(|_| {
                bad(format!(
                    "mixture weight {weight:?} is not a number (write 0.9 or 90%)"
                ))
            })?;
            let latency: Latency = latency.trim().parse().map_err(|e| match e {
                Error::InvalidConfig(m) => bad(format!("in mixture term {term:?}: {m}")),
                other => other,
            })?;
            parts.push((weight, latency));
        }
        Mixture::new(&parts)
    }
}

impl fmt::Display for Mixture {
    /// `0.9122*pareto:235µs,10+0.0878*exp:602.41µs` (what
    /// [`Mixture::parse`] reads back, after `mix:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (weight, latency)) in self.parts().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{weight}*{latency}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ms(x: f64) -> Duration {
        Duration::from_secs_f64(x / 1e3)
    }

    #[test]
    fn a_mixture_draws_each_part_in_proportion_to_its_weight() {
        // Two fixed parts: which one a draw came from is plain to see.
        let mix = Mixture::new(&[
            (0.25, Latency::Fixed(ms(1.0))),
            (0.75, Latency::Fixed(ms(9.0))),
        ])
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 40_000;
        let ones = (0..n).filter(|_| mix.sample(&mut rng) == ms(1.0)).count();
        let share = ones as f64 / n as f64;
        // Four standard errors of a binomial share at p = 0.25.
        let bound = 4.0 * (0.25 * 0.75 / n as f64).sqrt();
        assert!(
            (share - 0.25).abs() < bound,
            "share of the first part {share}"
        );
        assert_eq!(mix.mean(), Some(ms(7.0)));
    }

    #[test]
    fn the_paper_fit_parses_prints_and_parses_back() {
        let text = "mix:0.9122*pareto:0.235ms,10+0.0878*exp:0.6024ms";
        let latency: Latency = text.parse().unwrap();
        let Latency::Mixture(mix) = latency else {
            panic!("not a mixture: {latency:?}");
        };
        let parts: Vec<_> = mix.parts().collect();
        assert_eq!(
            parts,
            vec![
                (
                    0.9122,
                    Latency::Pareto {
                        scale: ms(0.235),
                        shape: 10.0
                    }
                ),
                (0.0878, Latency::Exponential { mean: ms(0.6024) }),
            ]
        );
        let again: Latency = latency.to_string().parse().unwrap();
        assert_eq!(again, latency);
        // Percentages mean the same.
        let percent: Latency = "mix:91.22%*pareto:0.235ms,10+8.78%*exp:0.6024ms"
            .parse()
            .unwrap();
        assert_eq!(percent, latency);
    }

    #[test]
    fn a_bad_mixture_is_refused_with_a_message_that_says_what_is_wrong() {
        for (text, expected) in [
            ("mix:", "WEIGHT*LATENCY"),
            ("mix:0.5*exp:1ms", "add up to 0.5"),
            ("mix:0.5*exp:1ms+0.6*fixed:1ms", "add up to 1.1"),
            ("mix:exp:1ms", "wants WEIGHT*LATENCY"),
            ("mix:half*exp:1ms", "\"half\" is not a number"),
            (
                "mix:1*gauss:1ms",
                "in mixture term \"1*gauss:1ms\": unknown latency",
            ),
            ("mix:1*exp:fast", "cannot read"),
            ("mix:-0.5*exp:1ms+1.5*exp:2ms", "positive number"),
            ("mix:1*mix:1*exp:1ms", "cannot be mixtures"),
            (
                "mix:0.2*zero+0.2*zero+0.2*zero+0.2*zero+0.2*zero",
                "1 to 4 parts",
            ),
            ("mix:1*pareto:1ms,0", "positive finite"),
        ] {
            match text.parse::<Latency>() {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(expected), "{text}: {message}")
                }
                other => panic!("{text}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_mean_that_a_part_lacks_is_none() {
        let heavy = Latency::Pareto {
            scale: ms(1.0),
            shape: 0.5,
        };
        let mix = Mixture::new(&[(0.5, heavy), (0.5, Latency::Fixed(ms(1.0)))]).unwrap();
        assert_eq!(mix.mean(), None);
    }
}
