//! Custom WGSL compute kernels: validated with naga, capped by [`Limits`],
//! every wgpu error returned rather than raised.

use std::time::Duration;

use crate::{Device, GpuError, LimitKind};

/// Caps on one custom kernel call, checked before anything reaches the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most buffers bound.
    pub max_buffers: usize,
    /// Most bytes of all buffers together.
    pub max_total_bytes: u64,
    /// Most workgroups dispatched, `x * y * z`.
    pub max_workgroups: u64,
    /// Longest wait for the kernel to finish; past it the call fails with
    /// [`GpuError::Timeout`] (the device may stay busy until the driver
    /// gives up on the shader).
    pub timeout: Option<Duration>,
}

impl Default for Limits {
    /// 8 buffers, 256 MiB, 2²⁰ workgroups, 60 s.
    fn default() -> Limits {
        Limits {
            max_buffers: 8,
            max_total_bytes: 256 << 20,
            max_workgroups: 1 << 20,
            timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// How the shader may use a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`; the buffer is not read back.
    Read,
    /// `var<storage, read_write>`; the buffer's contents afterwards are read back.
    ReadWrite,
}

/// A storage buffer of a custom kernel, bound at `@group(0) @binding(i)`
/// where `i` is its position in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Buffer {
    /// Contents: a non-zero multiple of 4 bytes. After a successful run, a
    /// [`Access::ReadWrite`] buffer holds what the shader left there.
    pub data: Vec<u8>,
    /// How the shader uses it.
    pub access: Access,
}

impl Buffer {
    /// A read-only buffer holding `values`.
    pub fn read<T: bytemuck::Pod>(values: &[T]) -> Buffer {
        Buffer {
            data: bytemuck::cast_slice(values).to_vec(),
            access: Access::Read,
        }
    }

    /// A read-write buffer holding `values`.
    pub fn read_write<T: bytemuck::Pod>(values: &[T]) -> Buffer {
        Buffer {
            data: bytemuck::cast_slice(values).to_vec(),
            access: Access::ReadWrite,
        }
    }

    /// The contents as values of `T` (e.g. `f32`, `u32`).
    pub fn values<T: bytemuck::Pod>(&self) -> Vec<T> {
        bytemuck::pod_collect_to_vec(&self.data)
    }
}

/// Parse and validate `source` with naga; errors name `line:column`.
fn validate(source: &str, entry: &str) -> Result<(), GpuError> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| GpuError::InvalidShader(at(e.location(source), e.message().to_owned())))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .map_err(|e| {
        let mut message = e.as_inner().to_string();
        let mut cause = std::error::Error::source(e.as_inner());
        while let Some(c) = cause {
            message += &format!(": {c}");
            cause = c.source();
        }
        GpuError::InvalidShader(at(e.location(source), message))
    })?;
    let compute = module
        .entry_points
        .iter()
        .any(|e| e.name == entry && e.stage == naga::ShaderStage::Compute);
    if !compute {
        return Err(GpuError::InvalidShader(format!(
            "no compute entry point named `{entry}`"
        )));
    }
    Ok(())
}

/// `message` prefixed with `line:column`, when known.
fn at(location: Option<naga::SourceLocation>, message: String) -> String {
    match location {
        Some(l) => format!("line {}:{}: {message}", l.line_number, l.line_position),
        None => message,
    }
}

/// Check `limits` and the buffers' sizes.
fn check(buffers: &[Buffer], workgroups: [u32; 3], limits: &Limits) -> Result<(), GpuError> {
    let over = |kind, requested: u64, limit: u64| {
        if requested > limit {
            Err(GpuError::LimitExceeded {
                kind,
                requested,
                limit,
            })
        } else {
            Ok(())
        }
    };
    over(
        LimitKind::Buffers,
        buffers.len() as u64,
        limits.max_buffers as u64,
    )?;
    let bytes = buffers.iter().map(|b| b.data.len() as u64).sum();
    over(LimitKind::TotalBytes, bytes, limits.max_total_bytes)?;
    let groups = workgroups.iter().map(|&g| u64::from(g)).product();
    over(LimitKind::Workgroups, groups, limits.max_workgroups)?;
    if let Some(i) = buffers
        .iter()
        .position(|b| b.data.is_empty() || b.data.len() % 4 != 0)
    {
        return Err(GpuError::InvalidInput(format!(
            "buffer {i} has {} bytes; it needs a non-zero multiple of 4",
            buffers[i].data.len()
        )));
    }
    Ok(())
}

impl Device {
    /// Run the compute entry point `entry` of the WGSL `source` over
    /// `workgroups`, with `buffers` bound in order at `@group(0)`; the
    /// read-write buffers get the shader's results.
    ///
    /// Checked before anything is dispatched: `limits`
    /// ([`GpuError::LimitExceeded`]), the buffers' sizes, and the shader
    /// ([`GpuError::InvalidShader`], naga's message with `line:column`).
    /// Whatever wgpu then rejects (a binding the buffers do not match, a
    /// dispatch over the adapter's limits) is a [`GpuError::Validation`];
    /// the device stays usable. Needs an adapter ([`crate::Info::custom_wgsl`]).
    pub fn run_wgsl(
        &self,
        source: &str,
        entry: &str,
        buffers: &mut [Buffer],
        workgroups: [u32; 3],
        limits: &Limits,
    ) -> Result<(), GpuError> {
        check(buffers, workgroups, limits)?;
        validate(source, entry)?;
        let gpu = self.custom.as_ref().ok_or(GpuError::NoAdapter(
            "custom WGSL kernels need a GPU adapter",
        ))?;
        let read = gpu.scoped(|| {
            let entries: Vec<_> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                    binding: i as u32,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: b.access == Access::Read,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
                .collect();
            let layout = gpu
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("custom"),
                    entries: &entries,
                });
            let pipeline_layout =
                gpu.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some("custom"),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            let module = gpu
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some("custom"),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
            let pipeline = gpu
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some("custom"),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
            let device_buffers: Vec<_> = buffers.iter().map(|b| gpu.storage(&b.data)).collect();
            let bound: Vec<_> = device_buffers.iter().collect();
            let group = gpu.bind(&layout, &bound);
            let outputs: Vec<_> = buffers
                .iter()
                .zip(&device_buffers)
                .filter(|(b, _)| b.access == Access::ReadWrite)
                .map(|(_, d)| d)
                .collect();
            gpu.dispatch(&pipeline, &group, workgroups, &outputs, limits.timeout)
        })?;
        let writable = buffers.iter_mut().filter(|b| b.access == Access::ReadWrite);
        for (buffer, bytes) in writable.zip(read) {
            buffer.data = bytes;
        }
        Ok(())
    }
}
