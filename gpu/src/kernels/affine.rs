//! `(x - a) * b` per value.

use crate::gpu::WORKGROUP;
use crate::{cpu, Device, GpuError};

const SHADER: &str = include_str!("../shaders/affine.wgsl");

impl Device {
    /// `(x - a) * b` for every value, computed in f32 (NaN stays NaN).
    ///
    /// Tolerance: the GPU and CPU implementations perform the same two
    /// rounded f32 operations, so they agree to within 1 ulp (bit for bit
    /// on lavapipe); against an f64 evaluation of the same formula the
    /// relative error is below 2⁻²³ (two roundings).
    pub fn affine(&self, values: &[f32], a: f32, b: f32) -> Result<Vec<f32>, GpuError> {
        let Some(gpu) = &self.kernels else {
            return Ok(cpu::affine(values, a, b));
        };
        let chunk = gpu.chunk_len(self.max_buffer_bytes);
        let pipeline = gpu.builtin("affine", SHADER)?;
        gpu.scoped(|| {
            let mut out = Vec::with_capacity(values.len());
            for part in values.chunks(chunk) {
                let grid = gpu.grid((part.len() as u32).div_ceil(WORKGROUP));
                let params = [
                    part.len() as u32,
                    grid[0] * WORKGROUP,
                    a.to_bits(),
                    b.to_bits(),
                ];
                let params = gpu.uniform(bytemuck::cast_slice(&params));
                let data = gpu.storage(bytemuck::cast_slice(part));
                let group = gpu.bind(&pipeline.get_bind_group_layout(0), &[&params, &data]);
                let read = gpu.dispatch(&pipeline, &group, grid, &[&data], None)?;
                out.extend(super::f32s(&read[0]));
            }
            Ok(out)
        })
    }
}
