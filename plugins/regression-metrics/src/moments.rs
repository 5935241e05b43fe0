//! Count, mean, sum of squared deviations and range of the target, computed
//! two-pass per batch and merged across batches (Chan et al.).

use crate::sum::Sum;

/// Moments of the values seen so far.
#[derive(Debug, Clone, Copy)]
pub struct Moments {
    /// Values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Moments {
        Moments {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// Moments of `values` (finite), two-pass with compensated sums.
    pub fn of(values: &[f64]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().copied().collect::<Sum>().value() / n;
        let m2 = values
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .collect::<Sum>();
        Moments {
            count: values.len() as u64,
            mean,
            m2: m2.value(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// Moments of the union of two disjoint sets of values.
    pub fn merge(&self, other: &Moments) -> Moments {
        if self.count == 0 || other.count == 0 {
            return if self.count == 0 { *other } else { *self };
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let delta = other.mean - self.mean;
        Moments {
            count: self.count + other.count,
            mean: self.mean + delta * (nb / (na + nb)),
            m2: self.m2 + other.m2 + delta * delta * (na * nb / (na + nb)),
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}
