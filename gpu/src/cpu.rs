//! The CPU implementations of the built-in kernels: the fallback when no
//! adapter is used, and the reference the GPU kernels are tested against.
//! Arguments are already checked by the callers in [`crate::kernels`].

use std::borrow::Cow;

use weft_kernels::Stats;

use crate::{Activation, Layer};

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

/// `x` (rows×k₀) through the chained `layers`: per layer the product summed
/// in f32 in order of k, then `alpha·sum + beta·bias` and the activation,
/// in the same f32 operations as `dense.wgsl` and `softmax.wgsl`.
pub(crate) fn dense(x: &[f32], layers: &[Layer]) -> Vec<f32> {
    let mut y = Cow::Borrowed(x);
    for layer in layers {
        let rows = y.len() / layer.k;
        let mut z = matmul(&y, &layer.weights, rows, layer.k, layer.n);
        for row in z.chunks_exact_mut(layer.n) {
            for (j, v) in row.iter_mut().enumerate() {
                let mut sum = layer.alpha * *v;
                if let Some(bias) = &layer.bias {
                    sum += layer.beta * bias[j];
                }
                *v = activate(sum, layer.activation);
            }
            if layer.activation == Activation::Softmax {
                softmax(row);
            }
        }
        y = Cow::Owned(z);
    }
    y.into_owned()
}

/// The element-wise part of `activation` (softmax is applied per row after
/// it, so here it is the identity); NaN stays NaN.
fn activate(v: f32, activation: Activation) -> f32 {
    match activation {
        Activation::Identity | Activation::Softmax => v,
        Activation::Relu => {
            if v < 0.0 {
                0.0
            } else {
                v
            }
        }
        Activation::Sigmoid => {
            let e = (-v.abs()).exp();
            if v >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            }
        }
        Activation::Tanh => {
            let e = (-2.0 * v.abs()).exp();
            ((1.0 - e) / (1.0 + e)).copysign(v)
        }
        Activation::LeakyRelu(leak) => {
            if v < 0.0 {
                leak * v
            } else {
                v
            }
        }
    }
}

/// Softmax of `row` in place: minus the maximum, exponentiated, divided by
/// the sum taken in order.
fn softmax(row: &mut [f32]) {
    let top = row.iter().copied().fold(row[0], f32::max);
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - top).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}
