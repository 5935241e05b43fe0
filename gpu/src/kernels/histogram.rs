//! Counts of values per bin.

use crate::gpu::WORKGROUP;
use crate::{cpu, Device, GpuError, Input};

const SHADER: &str = include_str!("../shaders/histogram.wgsl");

/// Most workgroups one dispatch uses; each loops over its share of values.
const MAX_GROUPS: u32 = 1024;

impl Device {
    /// Counts of `values` per bin between consecutive `edges`, as
    /// `numpy.histogram(values, bins=edges)`: bin i holds
    /// `edges[i] <= x < edges[i + 1]`, the last bin also its right edge;
    /// values outside the edges and NaN are not counted. `edges` needs at
    /// least two values, non-decreasing, none NaN.
    ///
    /// Exact: the GPU and CPU implementations give equal counts.
    pub fn histogram<'a>(
        &self,
        values: impl Into<Input<'a>>,
        edges: &[f32],
    ) -> Result<Vec<u64>, GpuError> {
        let input = values.into();
        weft_kernels::check_edges(edges).map_err(|e| GpuError::InvalidInput(e.to_string()))?;
        let Some(gpu) = &self.kernels else {
            return Ok(cpu::histogram(&input.host()?, edges));
        };
        let chunk = gpu.chunk_len(self.max_buffer_bytes);
        if edges.len() > chunk {
            return Err(GpuError::InvalidInput(format!(
                "histogram: {} edges do not fit one device buffer of {chunk} values",
                edges.len()
            )));
        }
        let bins = edges.len() - 1;
        let pipeline = gpu.builtin("histogram", SHADER)?;
        let layout = pipeline.get_bind_group_layout(0);
        gpu.scoped(|| {
            let mut counts = vec![0u64; bins];
            let edges = gpu.storage(bytemuck::cast_slice(edges));
            let params_for = |len: usize| [len as u32, bins as u32, 0, 0];
            for part in input.parts(gpu, chunk)? {
                let params = gpu.uniform(bytemuck::cast_slice(&params_for(part.len)));
                let out = gpu.zeroed((bins * 4) as u64);
                let group = gpu.bind(&layout, &[&params, &part.buffer, &edges, &out]);
                let groups = (part.len as u32).div_ceil(WORKGROUP).clamp(1, MAX_GROUPS);
                let read = gpu.dispatch(&pipeline, &group, [groups, 1, 1], &[&out], None)?;
                let part_counts: Vec<u32> = bytemuck::pod_collect_to_vec(&read[0]);
                for (total, c) in counts.iter_mut().zip(part_counts) {
                    *total += u64::from(c);
                }
            }
            Ok(counts)
        })
    }
}
