//! `(x - a) * b` per value.

use crate::gpu::WORKGROUP;
use crate::resident::key;
use crate::{cpu, Device, GpuError, Input, KeepAlive};

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
        self.affine_with(input, a, b, |v| (v, None))
    }

    /// [`Device::affine`], whose result `wrap` turns into the caller's
    /// column; when `wrap` also returns a [`KeepAlive`] for the memory the
    /// values now live in (without having copied them), the device keeps its
    /// copy of the result for the next kernel that reads that column.
    pub fn affine_with<'a, T>(
        &self,
        input: impl Into<Input<'a>>,
        a: f32,
        b: f32,
        wrap: impl FnOnce(Vec<f32>) -> (T, Option<KeepAlive>),
    ) -> Result<T, GpuError> {
        let input = input.into();
        let Some(gpu) = &self.kernels else {
            return Ok(wrap(cpu::affine(input.values, a, b)).0);
        };
        let chunk = gpu.chunk_len(self.max_buffer_bytes);
        let pipeline = gpu.builtin("affine", SHADER)?;
        let (out, device_copy) = gpu.scoped(|| {
            let mut out = Vec::with_capacity(input.values.len());
            let mut last = None;
            for part in input.values.chunks(chunk) {
                let grid = gpu.grid((part.len() as u32).div_ceil(WORKGROUP));
                let params = [
                    part.len() as u32,
                    grid[0] * WORKGROUP,
                    a.to_bits(),
                    b.to_bits(),
                ];
                let params = gpu.uniform(bytemuck::cast_slice(&params));
                let data = gpu.input(part, input.keep.as_ref());
                let result = gpu.zeroed(data.size());
                let layout = pipeline.get_bind_group_layout(0);
                let group = gpu.bind(&layout, &[&params, &data, &result]);
                let read = gpu.dispatch(&pipeline, &group, grid, &[&result], None)?;
                out.extend(super::f32s(&read[0]));
                last = Some(result);
            }
            // Only a result in one piece is kept: its key is the whole column.
            let whole = input.values.len() <= chunk && !input.values.is_empty();
            Ok((out, last.filter(|_| whole)))
        })?;
        // `wrap` promises, by returning `keep`, that the values stay where
        // they are now while `keep` lives.
        let at = key(&out);
        let (made, keep) = wrap(out);
        if let (Some(buffer), Some(keep)) = (device_copy, keep) {
            gpu.adopt(at, buffer, keep);
        }
        Ok(made)
    }
}
