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
