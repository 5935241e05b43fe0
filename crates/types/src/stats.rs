//! Summary statistics of numeric values, and how two summaries combine.

use serde::{Deserialize, Serialize};

/// Summary of the valid (non-null, non-NaN) values of numeric columns.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Number of valid values.
    pub count: u64,
    /// Number of nulls and NaNs.
    pub nulls: u64,
    /// Sum of valid values.
    pub sum: f64,
    /// Mean of valid values (NaN when there are none).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Smallest valid value (NaN when there are none).
    pub min: f64,
    /// Largest valid value (NaN when there are none).
    pub max: f64,
}

impl Stats {
    /// Population variance (ddof 0); NaN when there are no values.
    pub fn variance(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.m2 / self.count as f64
        }
    }

    /// Statistics of the union of two disjoint sets of values (Chan et al.):
    /// how statistics of separate batches or shards combine.
    pub fn merge(&self, other: &Stats) -> Stats {
        let nulls = self.nulls + other.nulls;
        if self.count == 0 {
            return Stats { nulls, ..*other };
        }
        if other.count == 0 {
            return Stats { nulls, ..*self };
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let delta = other.mean - self.mean;
        let sum = self.sum + other.sum;
        Stats {
            count: self.count + other.count,
            nulls,
            sum,
            mean: sum / (na + nb),
            m2: self.m2 + other.m2 + delta * delta * na * nb / (na + nb),
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and sum of squared deviations, computed directly.
    fn direct(v: &[f64]) -> (f64, f64) {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, v.iter().map(|x| (x - mean).powi(2)).sum())
    }

    fn stats(v: &[f64]) -> Stats {
        let (mean, m2) = direct(v);
        Stats {
            count: v.len() as u64,
            nulls: 0,
            sum: v.iter().sum(),
            mean,
            m2,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    #[test]
    fn merge_matches_direct_computation() {
        let (a, b) = ([1.0, 5.0, 2.5], [10.0, -3.0]);
        let merged = stats(&a).merge(&stats(&b));
        let (mean, m2) = direct(&[1.0, 5.0, 2.5, 10.0, -3.0]);
        assert!((merged.mean - mean).abs() < 1e-12 && (merged.m2 - m2).abs() < 1e-9);
        assert_eq!((merged.count, merged.min, merged.max), (5, -3.0, 10.0));
    }

    #[test]
    fn merge_with_empty_keeps_values_and_adds_nulls() {
        let empty = Stats {
            nulls: 2,
            ..Stats::default()
        };
        let merged = empty.merge(&stats(&[1.0, 3.0]));
        assert_eq!((merged.count, merged.nulls, merged.mean), (2, 2, 2.0));
        assert_eq!(stats(&[1.0]).merge(&empty).nulls, 2);
        assert!(Stats::default().variance().is_nan());
    }
}
