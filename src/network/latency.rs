//! Message delay distributions.

use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Pareto};
use std::time::Duration;

/// How long a message takes to cross a link. Each message draws its own delay,
/// independently, so messages on one link can overtake each other: that is
/// how the network reorders.
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
            Latency::Uniform { min, max } if min > max => Err(Error::InvalidConfig(format!(
                "uniform latency has min {min:?} above max {max:?}"
            ))),
            Latency::Pareto { shape, .. } if !(shape.is_finite() && shape > 0.0) => Err(
                Error::InvalidConfig(format!("pareto shape must be positive, got {shape}")),
            ),
            _ => Ok(()),
        }
    }

    /// The distribution's mean, when it has one.
    pub fn mean(&self) -> Option<Duration> {
        match *self {
            Latency::Zero => Some(Duration::ZERO),
            Latency::Fixed(d) => Some(d),
            Latency::Uniform { min, max } => Some((min + max) / 2),
            Latency::Exponential { mean } => Some(mean),
            Latency::Pareto { scale, shape } if shape > 1.0 => {
                Some(scale.mul_f64(shape / (shape - 1.0)))
            }
            Latency::Pareto { .. } => None,
        }
    }

    /// Draws one delay.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        match *self {
            Latency::Zero => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let (lo, hi) = (min.as_nanos() as u64, max.as_nanos() as u64);
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
        }
    }
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
    /// (scale, shape).
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
        let (kind, args) = text.split_once(':').unwrap_or((text, ""));
        let latency = match kind {
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
                    "unknown latency {other:?}: expected zero, fixed:D, uniform:D..D, exp:D or pareto:D,SHAPE"
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
        }
    }
}
