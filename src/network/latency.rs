//! Message delay distributions.

use super::mixture::Mixture;
use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Pareto};
use std::time::Duration;

/// How long a message takes to cross a link. Each message draws its own delay,
/// independently, so messages on one link can overtake each other: that is
/// how the network reorders.
///
/// # Limits
///
/// Every duration is accepted, up to [`Duration::MAX`], and nothing here
/// panics: a delay longer than a century holds a message until the cluster
/// shuts down (a link that never delivers), a uniform bound above `u64::MAX`
/// nanoseconds (584 years) counts as that, and a random draw
/// (exponential, Pareto) is capped at one hour. [`Latency::validate`] refuses
/// what has no meaning: a uniform `min` above `max`, a Pareto shape that is
/// not a positive finite number. A [`Mixture`] is checked when it is built.
///
/// # Text form
///
/// What `FromStr` reads and `Display` writes (also the command line's
/// `--latency`): `zero`, `fixed:1ms`, `uniform:0.5ms..2ms`, `exp:1ms`
/// (mean; a rate λ per ms is a mean of 1/λ ms), `pareto:1ms,2.5` (scale
/// x_m, shape α), and mixtures `mix:WEIGHT*LATENCY+WEIGHT*LATENCY…`, each
/// weight a fraction or a percentage, adding up to 1:
/// `mix:0.9122*pareto:0.235ms,10+0.0878*exp:0.6024ms` is the PBS paper's
/// LinkedIn SSD write latency, 91.22 % Pareto(x_m = 0.235 ms, α = 10) plus
/// 8.78 % Exponential(λ = 1.66 per ms). Durations take `ns`, `us` (or
/// `µs`), `ms` or `s`; a `+` separates mixture parts, so no number in a
/// mixture may be written with an exponent such as `1e+3`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Latency {
    /// Delivered at once (no delay thread involved).
    #[default]
    Zero,
    /// Always the same delay.
    Fixed(Duration),
    /// Uniform between `min` and `max` (inclusive).
    Uniform {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
    /// Exponential with the given mean: memoryless, the classic model of
    /// queueing delay (and the one PBS's WARS model is usually run with).
    Exponential {
        /// Mean delay.
        mean: Duration,
    },
    /// Pareto (heavy-tailed): mostly near `scale`, occasionally much longer.
    /// The mean is `scale·shape/(shape−1)` for shape > 1.
    Pareto {
        /// Minimum delay (the distribution's scale).
        scale: Duration,
        /// Tail index α; smaller is heavier. Must be > 0.
        shape: f64,
    },
    /// Each message draws from one of several distributions, picked with
    /// fixed probabilities: a body and a tail, as the PBS paper fits
    /// production latencies (see [`Mixture`]).
    Mixture(Mixture),
}

impl Latency {
    /// Checks the parameters.
    ///
    /// ```
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    /// assert!(Latency::Uniform { min: Duration::from_millis(2), max: Duration::from_millis(1) }.validate().is_err());
    /// assert!(Latency::Exponential { mean: Duration::from_millis(1) }.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        match *self {
            Latency::Mixture(mixture) => {
                for (_, part) in mixture.parts() {
                    part.validate()?;
                }
                Ok(())
            }
            Latency::Uniform { min, max } if min > max => Err(Error::InvalidConfig(format!(
                "uniform latency has min {min:?} above max {max:?}"
            ))),
            Latency::Pareto { shape, .. } if !(shape.is_finite() && shape > 0.0) => {
                Err(Error::InvalidConfig(format!(
                    "pareto shape must be a positive finite number, got {shape}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The distribution's mean, when it has one (at most [`Duration::MAX`]:
    /// a Pareto mean that would be longer saturates).
    pub fn mean(&self) -> Option<Duration> {
        match *self {
            Latency::Zero => Some(Duration::ZERO),
            Latency::Fixed(d) => Some(d),
            // Halfway, without `min + max`, which overflows near
            // `Duration::MAX`.
            Latency::Uniform { min, max } => {
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                Some(lo + (hi - lo) / 2)
            }
            Latency::Exponential { mean } => Some(mean),
            Latency::Pareto { scale, shape } if shape > 1.0 => {
                // An infinite shape is no tail at all: every draw is `scale`.
                let factor = if shape.is_infinite() {
                    1.0
                } else {
                    shape / (shape - 1.0)
                };
                // `Duration::mul_f64` panics when the product overflows.
                Some(
                    Duration::try_from_secs_f64(scale.as_secs_f64() * factor)
                        .unwrap_or(Duration::MAX),
                )
            }
            Latency::Pareto { .. } => None,
            Latency::Mixture(mixture) => mixture.mean(),
        }
    }

    /// A mixture of `parts`, each `(weight, latency)`: see [`Mixture::new`].
    ///
    /// ```
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let mostly_fast = Latency::mixture(&[(0.9, Latency::Fixed(ms(1))), (0.1, Latency::Fixed(ms(11)))])?;
    /// assert_eq!(mostly_fast.mean(), Some(ms(2)));
    /// # Ok::<(), replikv::Error>(())
    /// ```
    pub fn mixture(parts: &[(f64, Latency)]) -> Result<Latency> {
        Mixture::new(parts).map(Latency::Mixture)
    }

    /// An exponential distribution given by its rate λ per millisecond, as
    /// the PBS paper writes its fits (mean 1/λ ms). Never panics: a rate of
    /// 0 or less gives the longest mean a `Duration` holds (whose draws the
    /// sampler caps at an hour), an infinite or NaN rate a zero mean.
    ///
    /// ```
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    /// assert_eq!(Latency::exponential_per_ms(2.0), Latency::Exponential { mean: Duration::from_micros(500) });
    /// ```
    pub fn exponential_per_ms(rate: f64) -> Latency {
        let mean = if rate.is_nan() {
            Duration::ZERO
        } else if rate <= 0.0 {
            Duration::MAX
        } else {
            Duration::try_from_secs_f64(1e-3 / rate).unwrap_or(Duration::MAX)
        };
        Latency::Exponential { mean }
    }

    /// Draws one delay.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        match *self {
            Latency::Zero => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                // Saturating keeps the order of the bounds (a cast would
                // wrap and could put `lo` above `hi`); the swap keeps an
                // unvalidated `min > max` from panicking.
                let (lo, hi) = (saturating_nanos(min), saturating_nanos(max));
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                Duration::from_nanos(rng.random_range(lo..=hi))
            }
            Latency::Exponential { mean } => {
                if mean.is_zero() {
                    return Duration::ZERO;
                }
                match Exp::new(1.0 / mean.as_secs_f64()) {
                    Ok(exp) => secs(exp.sample(rng)),
                    Err(_) => mean,
                }
            }
            Latency::Pareto { scale, shape } => {
                if scale.is_zero() {
                    return Duration::ZERO;
                }
                match Pareto::new(scale.as_secs_f64(), shape) {
                    Ok(pareto) => secs(pareto.sample(rng)),
                    Err(_) => scale,
                }
            }
            Latency::Mixture(mixture) => mixture.sample(rng),
        }
    }
}

/// A duration in nanoseconds, `u64::MAX` (584 years) for anything longer.
fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Seconds to a duration, capped at one hour so a wild Pareto draw cannot
/// park a message forever.
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.min(3600.0)).unwrap_or(Duration::ZERO)
}

/// Parses a duration such as `250us`, `1.5ms`, `2s` or `0`.
///
/// ```
/// use replikv::network::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("1.5ms")?, Duration::from_micros(1500));
/// assert!(parse_duration("fast").is_err());
/// # Ok::<(), replikv::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let bad = || {
        Error::InvalidConfig(format!(
            "cannot read {text:?} as a duration: write a number and a unit (ns, us, ms, s), e.g. 1.5ms"
        ))
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

impl std::str::FromStr for Latency {
    type Err = Error;

    /// `zero`, `fixed:1ms`, `uniform:0.5ms..2ms`, `exp:1ms`, `pareto:1ms,2.5`
    /// (scale, shape), `mix:0.9*exp:1ms+0.1*pareto:1ms,2.5` (see
    /// [`Latency`]'s text form).
    ///
    /// ```
    /// use replikv::network::Latency;
    /// use std::time::Duration;
    /// let l: Latency = "uniform:0.5ms..2ms".parse()?;
    /// assert_eq!(l, Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(2) });
    /// assert!("gaussian:1ms".parse::<Latency>().is_err());
    /// # Ok::<(), replikv::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let (kind, args) = text.split_once(':').unwrap_or((text, ""));
        let latency = match kind {
            "mix" | "mixture" => Latency::Mixture(Mixture::parse(args)?),
            "zero" | "none" => Latency::Zero,
            "fixed" => Latency::Fixed(parse_duration(args)?),
            "uniform" => {
                let (min, max) = args.split_once("..").ok_or_else(|| {
                    Error::InvalidConfig(format!("uniform latency wants MIN..MAX, got {args:?}"))
                })?;
                Latency::Uniform {
                    min: parse_duration(min)?,
                    max: parse_duration(max)?,
                }
            }
            "exp" | "exponential" => Latency::Exponential {
                mean: parse_duration(args)?,
            },
            "pareto" => {
                let (scale, shape) = args.split_once(',').ok_or_else(|| {
                    Error::InvalidConfig(format!("pareto latency wants SCALE,SHAPE, got {args:?}"))
                })?;
                let shape = shape.trim().parse().map_err(|_| {
                    Error::InvalidConfig(format!("pareto shape {shape:?} is not a number"))
                })?;
                Latency::Pareto {
                    scale: parse_duration(scale)?,
                    shape,
                }
            }
            other => {
                return Err(Error::InvalidConfig(format!(
                    "unknown latency {other:?}: expected zero, fixed:D, uniform:D..D, exp:D, \
                     pareto:D,SHAPE or mix:WEIGHT*LATENCY+WEIGHT*LATENCY…"
                )));
            }
        };
        latency.validate()?;
        Ok(latency)
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Latency::Zero => write!(f, "zero"),
            Latency::Fixed(d) => write!(f, "fixed:{d:?}"),
            Latency::Uniform { min, max } => write!(f, "uniform:{min:?}..{max:?}"),
            Latency::Exponential { mean } => write!(f, "exp:{mean:?}"),
            Latency::Pareto { scale, shape } => write!(f, "pareto:{scale:?},{shape}"),
            Latency::Mixture(mixture) => write!(f, "mix:{mixture}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const HUGE: Duration = Duration::MAX;

    #[test]
    fn the_mean_of_extreme_latencies_saturates_instead_of_panicking() {
        let pareto = Latency::Pareto {
            scale: HUGE,
            shape: 2.0,
        };
        assert_eq!(pareto.mean(), Some(HUGE));
        let uniform = Latency::Uniform {
            min: HUGE,
            max: HUGE,
        };
        assert_eq!(uniform.mean(), Some(HUGE));
        let wide = Latency::Uniform {
            min: Duration::ZERO,
            max: HUGE,
        };
        assert_eq!(wide.mean(), Some(HUGE / 2));
        let flat = Latency::Pareto {
            scale: Duration::from_millis(3),
            shape: f64::INFINITY,
        };
        assert_eq!(flat.mean(), Some(Duration::from_millis(3)));
        // The exact cases still hold.
        let small = Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(3),
        };
        assert_eq!(small.mean(), Some(Duration::from_millis(2)));
    }

    #[test]
    fn sampling_extreme_latencies_stays_in_bounds_without_panicking() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(Latency::Fixed(HUGE).sample(&mut rng), HUGE);
        let capped = Duration::from_nanos(u64::MAX);
        let top = Latency::Uniform {
            min: Duration::from_secs(1),
            max: HUGE,
        };
        for _ in 0..100 {
            let d = top.sample(&mut rng);
            assert!(d >= Duration::from_secs(1) && d <= capped, "{d:?}");
        }
        // Unvalidated bounds the wrong way round: a draw between them.
        let backwards = Latency::Uniform {
            min: Duration::from_millis(2),
            max: Duration::from_millis(1),
        };
        let d = backwards.sample(&mut rng);
        assert!(d >= Duration::from_millis(1) && d <= Duration::from_millis(2));
        for latency in [
            Latency::Pareto {
                scale: HUGE,
                shape: 0.01,
            },
            Latency::Exponential { mean: HUGE },
        ] {
            for _ in 0..100 {
                assert!(latency.sample(&mut rng) <= Duration::from_secs(3600));
            }
        }
    }

    #[test]
    fn nonsense_parameters_are_refused_with_a_message() {
        for shape in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0] {
            let latency = Latency::Pareto {
                scale: Duration::from_millis(1),
                shape,
            };
            match latency.validate() {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains("positive finite"), "{message}")
                }
                other => panic!("shape {shape}: expected InvalidConfig, got {other:?}"),
            }
        }
    }
}
