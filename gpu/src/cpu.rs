//! The CPU implementations of the built-in kernels: the fallback when no
//! adapter is used, and the reference the GPU kernels are tested against.
//! Arguments are already checked by the callers in [`crate::kernels`].

use weft_kernels::Stats;

pub(crate) use weft_kernels::matmul_f32 as matmul;

/// Whether row `i` counts: valid per `valid` and not NaN.
fn counts(values: &[f32], valid: Option<&[bool]>, i: usize) -> bool {
    valid.is_none_or(|v| v[i]) && !values[i].is_nan()
}

/// Statistics of the valid, non-NaN values in f64: a sum pass, then squared
/// deviations with the rounding correction (as `weft_kernels::column_stats`).
pub(crate) fn column_stats(values: &[f32], valid: Option<&[bool]>) -> Stats {
    let rows = values.len() as u64;
    let (mut count, mut sum) = (0u64, 0.0f64);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, &x) in values.iter().enumerate() {
        if counts(values, valid, i) {
            let x = f64::from(x);
            count += 1;
            sum += x;
            min = min.min(x);
            max = max.max(x);
        }
    }
    if count == 0 {
        let nan = f64::NAN;
        return Stats {
            nulls: rows,
            mean: nan,
            min: nan,
            max: nan,
            ..Stats::default()
        };
    }
    let mean = sum / count as f64;
    let (mut sq, mut dev) = (0.0f64, 0.0f64);
    for (i, &x) in values.iter().enumerate() {
        if counts(values, valid, i) {
            let d = f64::from(x) - mean;
            sq += d * d;
            dev += d;
        }
    }
    Stats {
        count,
        nulls: rows - count,
        sum,
        mean,
        m2: (sq - dev * dev / count as f64).max(0.0),
        min,
        max,
    }
}

/// Counts per bin between consecutive `edges` (at least two, sorted).
pub(crate) fn histogram(values: &[f32], edges: &[f32]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() - 1];
    for &x in values {
        if let Some(b) = weft_kernels::bin_of(x, edges) {
            counts[b] += 1;
        }
    }
    counts
}

/// `(x - a) * b` per value, in f32.
pub(crate) fn affine(values: &[f32], a: f32, b: f32) -> Vec<f32> {
    values.iter().map(|&x| (x - a) * b).collect()
}
