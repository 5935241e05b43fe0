//! Dense matrix product.

use super::dense::{product, SHADER};
use crate::{cpu, Device, GpuError};

/// Rows and columns of the output one workgroup computes.
const TILE: usize = 16;

impl Device {
    /// `a` (m×k) times `b` (k×n), all row-major; returns the m×n product.
    ///
    /// Both implementations sum the k products in f32 in order of k.
    /// Tolerance against the exact (f64) product: every element is within
    /// `k · 2⁻²³ · Σₚ |a_ip · b_pj|` (the standard bound for a recursive
    /// f32 sum, with room for fused multiply-adds on the GPU).
    ///
    /// On the GPU, `a` and the product are processed in blocks of rows that
    /// fit one device buffer; `b` must fit one buffer whole.
    pub fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let shape = |rows: usize, cols: usize, len: usize, name: &str| {
            if rows.checked_mul(cols) == Some(len) {
                Ok(())
            } else {
                Err(GpuError::InvalidInput(format!(
                    "matmul: {name} has {len} values, not {rows}×{cols}"
                )))
            }
        };
        shape(m, k, a.len(), "a")?;
        shape(k, n, b.len(), "b")?;
        m.checked_mul(n).ok_or_else(|| {
            GpuError::InvalidInput(format!("matmul: the product is too large ({m}×{n})"))
        })?;
        let Some(gpu) = &self.kernels else {
            return Ok(cpu::matmul(a, b, m, k, n));
        };
        if m == 0 || k == 0 || n == 0 {
            return Ok(cpu::matmul(a, b, m, k, n));
        }
        let cap = gpu.chunk_len(self.max_buffer_bytes);
        let max_groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
        if k * n > cap || n.div_ceil(TILE) > max_groups {
            return Err(GpuError::InvalidInput(format!(
                "matmul: b ({k}×{n}) does not fit one device buffer of {cap} values"
            )));
        }
        let rows = (cap / k).min(cap / n).min(max_groups * TILE).max(1);
        let pipeline = gpu.builtin("dense", SHADER)?;
        let layout = pipeline.get_bind_group_layout(0);
        gpu.scoped(|| {
            let b = gpu.storage(bytemuck::cast_slice(b));
            let no_bias = gpu.zeroed(4);
            let mut c = Vec::with_capacity(m * n);
            for block in a.chunks(rows * k) {
                let rows = block.len() / k;
                let params = gpu.uniform(bytemuck::cast_slice(&product(rows, k, n)));
                let a = gpu.storage(bytemuck::cast_slice(block));
                let out = gpu.zeroed((rows * n * 4) as u64);
                let group = gpu.bind(&layout, &[&params, &a, &b, &no_bias, &out]);
                let grid = [n.div_ceil(TILE) as u32, rows.div_ceil(TILE) as u32, 1];
                let read = gpu.dispatch(&pipeline, &group, grid, &[&out], None)?;
                c.extend(super::f32s(&read[0]));
            }
            Ok(c)
        })
    }
}
