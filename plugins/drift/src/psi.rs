//! Population stability index over bins (numeric columns) or categories.
//!
//! `PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`, with `e_i` the reference and
//! `a_i` the current proportion of bucket `i`, each floored at `epsilon`
//! first (`p = max(p, epsilon)`, no renormalisation), so an empty bucket
//! counts as `epsilon` instead of making the index infinite.
//!
//! Numeric bins: the interior edges are the reference's quantiles at
//! `1/bins, ..., (bins-1)/bins` (numpy's linear method), duplicates dropped;
//! a value `x` falls in bin `#{edges < x}`, i.e. bins are right-closed
//! `(e_{i-1}, e_i]`, the first open to -inf and the last to +inf.

use weft_sdk::{compute, Column, Result};

/// The interior bin edges of a reference sample.
pub fn edges(sample: &[f64], bins: usize) -> Result<Vec<f64>> {
    let qs: Vec<f64> = (1..bins).map(|i| i as f64 / bins as f64).collect();
    let column = Column::from_f64s(sample, None);
    let mut edges = compute::quantiles(&[&column], &qs)?;
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    Ok(edges)
}

/// The bin of `x`: how many edges lie strictly below it.
pub fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|e| *e < x)
}

/// Counts per bin (`edges.len() + 1` bins).
pub fn histogram(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0; edges.len() + 1];
    for v in values {
        counts[bin_of(edges, *v)] += 1;
    }
    counts
}

/// Counts as proportions of their total (all zero when the total is zero).
pub fn proportions(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| {
            if total == 0 {
                0.0
            } else {
                *c as f64 / total as f64
            }
        })
        .collect()
}

/// The index of `actual` against `expected` (same buckets).
pub fn psi(expected: &[f64], actual: &[f64], epsilon: f64) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(epsilon), a.max(epsilon));
            (a - e) * (a / e).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_with_ties_collapse() {
        let sample = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0];
        // numpy.quantile(sample, [.1, ..., .9]) = [1]*7 + [1.2, 2.1]
        let e = edges(&sample, 10).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], 1.0);
        assert!((e[1] - 1.2).abs() < 1e-12 && (e[2] - 2.1).abs() < 1e-12);
        assert_eq!(histogram(&e, &sample), [8, 0, 1, 1]);
        assert_eq!(bin_of(&e, 0.5), 0);
        assert_eq!(bin_of(&e, 1.0), 0);
        assert_eq!(bin_of(&e, 99.0), 3);
    }

    #[test]
    fn psi_floors_empty_buckets_without_renormalising() {
        let same = psi(&[0.5, 0.5], &[0.5, 0.5], 1e-4);
        assert_eq!(same, 0.0);
        let eps = 1e-4;
        let got = psi(&[1.0, 0.0], &[0.5, 0.5], eps);
        let want = (0.5f64 - 1.0) * (0.5f64).ln() + (0.5 - eps) * (0.5 / eps).ln();
        assert!((got - want).abs() < 1e-15);
        assert_eq!(proportions(&[1, 3]), [0.25, 0.75]);
        assert_eq!(proportions(&[0, 0]), [0.0, 0.0]);
    }
}
