//! `scipy.stats.ks_2samp(reference, current)` with its defaults
//! (`alternative='two-sided'`, `method='auto'`), ported from SciPy 1.17.
//!
//! The statistic is `D = max |F_ref(x) - F_cur(x)|` over every observed
//! value, computed with the same float divisions as SciPy. The p-value is
//! exact (lattice-path counting, `exact.rs`) while both samples have at most
//! 10 000 values, and otherwise Smirnov's asymptotic one:
//! `kstwo.sf(D, round(m n / (m + n)))` (`kolmogorov.rs`). As in SciPy, the
//! exact branch reports `D` rounded to a multiple of `1 / lcm(m, n)`.

mod dd;
mod exact;
mod kolmogorov;
mod smirnov;

use exact::Exact;

/// SciPy's `MAX_AUTO_N`: `method='auto'` is exact up to this sample size.
const MAX_AUTO_N: usize = 10_000;

/// The two-sample test's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    /// `D`.
    pub statistic: f64,
    /// Two-sided p-value.
    pub pvalue: f64,
}

/// `ks_2samp(a, b)` of two non-empty samples, each sorted ascending.
pub fn two_sample(a: &[f64], b: &[f64]) -> Ks {
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    let d = statistic(a, b);
    let g = gcd(n1, n2);
    let d = if a.len().max(b.len()) <= MAX_AUTO_N {
        match exact::attempt(n1, n2, g, d) {
            Exact::Done(d, p) => {
                return Ks {
                    statistic: d,
                    pvalue: p.clamp(0.0, 1.0),
                }
            }
            Exact::Failed(d) => d,
        }
    } else {
        d
    };
    Ks {
        statistic: d,
        pvalue: asymptotic(n1, n2, d),
    }
}

/// `kstwo.sf(d, round(en))` with `en = m n / (m + n)`.
fn asymptotic(n1: u64, n2: u64, d: f64) -> f64 {
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = m * n / (m + n);
    kolmogorov::sf(d, en.round_ties_even() as i64).clamp(0.0, 1.0)
}

/// `max(max(cdf_a - cdf_b), clip(-min(cdf_a - cdf_b), 0, 1))` over the
/// observed values, each ECDF a count divided by its sample size.
fn statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut max, mut min) = (f64::NEG_INFINITY, f64::INFINITY);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) | (None, Some(x)) => *x,
            (None, None) => unreachable!("loop condition"),
        };
        i += a[i..].partition_point(|v| *v <= x);
        j += b[j..].partition_point(|v| *v <= x);
        let diff = i as f64 / n1 - j as f64 / n2;
        max = max.max(diff);
        min = min.min(diff);
    }
    let min_s = (-min).clamp(0.0, 1.0);
    if min_s > max {
        min_s
    } else {
        max
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests;
