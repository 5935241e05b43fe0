//! `(x - a) * b` per value.

use crate::gpu::WORKGROUP;
use crate::{cpu, Device, GpuError, Input, Values};

const SHADER: &str = include_str!("../shaders/affine.wgsl");

impl Device {
    /// `(x - a) * b` for every value, computed in f32 (NaN stays NaN).
    ///
    /// Tolerance: the GPU and CPU implementations perform the same two
    /// rounded f32 operations, so they agree to within 1 ulp (bit for bit
    /// on lavapipe); against an f64 evaluation of the same formula the
    /// relative error is below 2⁻²³ (two roundings).
    pub fn affine<'a>(
        &self,
        input: impl Into<Input<'a>>,
        a: f32,
        b: f32,
    ) -> Result<Vec<f32>, GpuError> {
        self.affine_kept(input, a, b)?.read()
    }

    /// [`Device::affine`], whose result stays on the device (see
    /// [`Values`]) for the next kernel; nothing is copied back until the
    /// caller reads it.
    pub fn affine_kept<'a>(
        &self,
        input: impl Into<Input<'a>>,
        a: f32,
        b: f32,
    ) -> Result<Values, GpuError> {
        let input = input.into();
        let Some(gpu) = &self.kernels else {
            return Ok(Values::host(cpu::affine(&input.host()?, a, b)));
        };
        let chunk = gpu.chunk_len(self.max_buffer_bytes);
        let pipeline = gpu.builtin("affine", SHADER)?;
        let layout = pipeline.get_bind_group_layout(0);
        gpu.scoped(|| {
            let mut parts = Vec::new();
            for part in input.parts(gpu, chunk)? {
                let grid = gpu.grid((part.len as u32).div_ceil(WORKGROUP));
                let params = [
                    part.len as u32,
                    grid[0] * WORKGROUP,
                    a.to_bits(),
                    b.to_bits(),
                ];
                let params = gpu.uniform(bytemuck::cast_slice(&params));
                let result = gpu.zeroed(part.buffer.size());
                let group = gpu.bind(&layout, &[&params, &part.buffer, &result]);
                gpu.launch(&pipeline, &group, grid);
                parts.push((part.len, result));
            }
            Ok(Values::device(gpu.clone(), parts))
        })
    }
}
