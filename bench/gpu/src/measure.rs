//! The measurements: each runs a kernel once to warm up and to check its
//! result, then times a few more calls and reports a rate.

use std::time::Instant;

use anyhow::{ensure, Result};
use weft_gpu::{Buffer, Device, Limits, Stats};

/// Timed calls after the warm-up; the median counts.
pub const REPS: usize = 3;

/// Largest buffer of the copy round trip: the default cap on the buffers
/// of a custom kernel, and the largest buffer the built-in kernels use.
pub const COPY_BUFFER_BYTES: u64 = weft_gpu::DEFAULT_MAX_BUFFER_BYTES;

/// A custom kernel that binds the buffer and leaves it as it is, so a call
/// costs the copies to the device and back.
const KEEP: &str = "
@group(0) @binding(0) var<storage, read_write> data: array<u32>;

@compute @workgroup_size(1)
fn main() {
    _ = arrayLength(&data);
}
";

/// Run `f` once to warm up, keeping its result, then [`REPS`] more times;
/// returns the result and the median time of the timed calls in seconds.
fn timed<T>(mut f: impl FnMut() -> Result<T>) -> Result<(T, f64)> {
    let first = f()?;
    let mut secs = (0..REPS)
        .map(|_| {
            let start = Instant::now();
            f().map(|_| start.elapsed().as_secs_f64())
        })
        .collect::<Result<Vec<_>>>()?;
    secs.sort_by(f64::total_cmp);
    Ok((first, secs[REPS / 2]))
}

/// GFLOP/s (2·n³ / time) of `device.matmul` on the n×n matrices `a` and
/// `b`. The product's rows `check` are compared with an f64 reference.
pub fn matmul(device: &Device, a: &[f32], b: &[f32], n: usize, check: &[usize]) -> Result<f64> {
    let (c, secs) = timed(|| Ok(device.matmul(a, b, n, n, n)?))?;
    for &row in check {
        check_row(a, b, &c, n, row)?;
    }
    Ok(2.0 * (n as f64).powi(3) / secs / 1e9)
}

/// Row `i` of `c` against the f64 product of `a` and `b`, within weft-gpu's
/// documented bound `k · 2⁻²³ · Σₚ |a_ip · b_pj|` per element.
fn check_row(a: &[f32], b: &[f32], c: &[f32], n: usize, i: usize) -> Result<()> {
    let mut exact = vec![0.0f64; n];
    let mut magnitude = vec![0.0f64; n];
    for (&x, b_row) in a[i * n..(i + 1) * n].iter().zip(b.chunks_exact(n)) {
        for ((e, m), &y) in exact.iter_mut().zip(&mut magnitude).zip(b_row) {
            let product = f64::from(x) * f64::from(y);
            *e += product;
            *m += product.abs();
        }
    }
    for (j, (&e, &m)) in exact.iter().zip(&magnitude).enumerate() {
        let got = f64::from(c[i * n + j]);
        let bound = n as f64 * f64::from(f32::EPSILON) * m;
        ensure!(
            (got - e).abs() <= bound,
            "matmul {n}×{n} is wrong: c[{i}][{j}] = {got}, the f64 product is {e} \
             (error {:.3e}, allowed {bound:.3e})",
            (got - e).abs()
        );
    }
    Ok(())
}

/// GB/s (bytes of `values` / time) of `device.column_stats` over `values`,
/// and the statistics.
pub fn column_stats(device: &Device, values: &[f32]) -> Result<(f64, Stats)> {
    let (stats, secs) = timed(|| Ok(device.column_stats(values, None)?))?;
    Ok((byte_len(values) / secs / 1e9, stats))
}

/// The GPU's statistics against the CPU fallback's, within weft-gpu's
/// documented tolerances (count, min and max exact; mean 1e-6 relative to
/// the mean of |x|, here the mean as the data are positive; m2 1e-5 relative).
pub fn check_stats(gpu: &Stats, cpu: &Stats) -> Result<()> {
    let close = |a: f64, b: f64, rel: f64| (a - b).abs() <= rel * b.abs();
    ensure!(
        gpu.count == cpu.count
            && gpu.min == cpu.min
            && gpu.max == cpu.max
            && close(gpu.mean, cpu.mean, 1e-6)
            && close(gpu.m2, cpu.m2, 1e-5),
        "column-stats on the GPU is wrong: {gpu:?}, the CPU fallback says {cpu:?}"
    );
    Ok(())
}

/// GB/s (bytes of `values` / time) of a host→device→host round trip of
/// `values`, through a custom WGSL kernel that leaves the data as they
/// are, in buffers of at most [`COPY_BUFFER_BYTES`];
/// the data must come back unchanged.
pub fn copy_round_trip(device: &Device, values: &[f32]) -> Result<f64> {
    let limits = Limits {
        max_total_bytes: COPY_BUFFER_BYTES,
        ..Limits::default()
    };
    let chunk = (COPY_BUFFER_BYTES / 4) as usize;
    let mut buffers: Vec<Buffer> = values.chunks(chunk).map(Buffer::read_write).collect();
    let ((), secs) = timed(|| {
        for buffer in &mut buffers {
            let one = std::slice::from_mut(buffer);
            device.run_wgsl(KEEP, "main", one, [1, 1, 1], &limits)?;
        }
        Ok(())
    })?;
    let same = buffers
        .iter()
        .zip(values.chunks(chunk))
        .all(|(buffer, original)| buffer.values::<f32>() == original);
    ensure!(same, "the copy round trip changed the data");
    Ok(byte_len(values) / secs / 1e9)
}

/// Bytes of `values`.
fn byte_len(values: &[f32]) -> f64 {
    std::mem::size_of_val(values) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_product_fails_the_check() {
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        let right = [19.0, 22.0, 43.0, 50.0];
        assert!(check_row(&a, &b, &right, 2, 1).is_ok());
        let wrong = [19.0, 22.0, 43.0, 50.5];
        let err = check_row(&a, &b, &wrong, 2, 1).unwrap_err().to_string();
        assert!(err.contains("c[1][1] = 50.5"), "{err}");
        assert!(check_row(&a, &b, &[f32::NAN; 4], 2, 0).is_err());
    }
}
