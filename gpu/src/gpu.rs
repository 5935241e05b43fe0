//! One opened wgpu device and queue, and the plumbing every kernel shares:
//! error scopes, buffers, dispatch and read-back.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use wgpu::util::DeviceExt;

use crate::resident::{Cache, KeepAlive};
use crate::GpuError;

/// Bytes of device copies of host columns kept for later kernels.
const RESIDENT_BYTES: u64 = 256 << 20;

/// Invocations per workgroup of the one-dimensional built-in kernels.
pub(crate) const WORKGROUP: u32 = 256;

/// An opened adapter. wgpu's device and queue are `Send + Sync`; error
/// scopes are thread-local, so concurrent callers do not see each other's
/// errors.
pub(crate) struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) info: wgpu::AdapterInfo,
    pub(crate) limits: wgpu::Limits,
    /// Built-in pipelines by kernel name, compiled on first use.
    pipelines: Mutex<HashMap<&'static str, wgpu::ComputePipeline>>,
    /// Device copies of host columns, and the traffic counters.
    resident: Mutex<Cache>,
}

impl Gpu {
    /// Open a device on `adapter` with every limit the adapter offers.
    pub(crate) fn open(adapter: wgpu::Adapter) -> Result<Gpu, GpuError> {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("weft-gpu"),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| {
                GpuError::DeviceRequest {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                }
            })?;
        // Every call runs inside error scopes; anything that still escapes
        // must not panic the host (wgpu's default handler panics).
        device.on_uncaptured_error(Arc::new(|error| {
            eprintln!("weft-gpu: uncaptured wgpu error: {error}");
        }));
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            resident: Mutex::new(Cache::new(RESIDENT_BYTES)),
        })
    }

    /// Largest number of f32 values one buffer of a built-in kernel may
    /// hold: `max_bytes`, capped by the adapter and by 2³⁰ values (indices
    /// stay u32 in the shaders), in whole workgroups.
    pub(crate) fn chunk_len(&self, max_bytes: u64) -> usize {
        let bytes = max_bytes
            .min(self.limits.max_storage_buffer_binding_size)
            .min(self.limits.max_buffer_size)
            .min(4 << 30);
        let len = (bytes / 4) as usize;
        (len - len % WORKGROUP as usize).max(WORKGROUP as usize)
    }

    /// Run `f` inside validation, out-of-memory and internal error scopes;
    /// an error wgpu reports there wins over `f`'s own result.
    pub(crate) fn scoped<T>(&self, f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let result = f();
        // Innermost first.
        let caught = [validation.pop(), internal.pop(), memory.pop()]
            .into_iter()
            .map(pollster::block_on)
            .collect::<Vec<_>>();
        match caught.into_iter().flatten().next() {
            Some(error) => Err(GpuError::from_wgpu(error)),
            None => result,
        }
    }

    /// The cached pipeline of a built-in kernel (entry point `main`, layout
    /// derived from the shader).
    pub(crate) fn builtin(
        &self,
        name: &'static str,
        source: &'static str,
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pipelines.get(name) {
            return Ok(p.clone());
        }
        let pipeline = self.scoped(|| {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
            Ok(self
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                }))
        })?;
        pipelines.insert(name, pipeline.clone());
        Ok(pipeline)
    }

    /// A storage buffer holding `contents` (at least 4 bytes are allocated).
    pub(crate) fn storage(&self, contents: &[u8]) -> wgpu::Buffer {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        if contents.is_empty() {
            return self.zeroed(4);
        }
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents,
                usage,
            })
    }

    /// The device copy of `values`: the cached one when `keep` is given and
    /// a kernel left it there, else a fresh upload (cached when `keep` is given).
    pub(crate) fn input(&self, values: &[f32], keep: Option<&KeepAlive>) -> wgpu::Buffer {
        if keep.is_some() {
            if let Some(buffer) = self.cache().hit(values) {
                return buffer;
            }
        }
        // Uploaded without holding the cache, so concurrent steps upload at once.
        let buffer = self.storage(bytemuck::cast_slice(values));
        let mut cache = self.cache();
        cache.uploaded(values);
        if let Some(keep) = keep {
            cache.insert(values, buffer.clone(), keep.clone());
        }
        buffer
    }

    /// The resident copies and traffic counters, locked.
    pub(crate) fn cache(&self) -> MutexGuard<'_, Cache> {
        self.resident.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A zero-filled storage buffer of `size` bytes.
    pub(crate) fn zeroed(&self, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer holding `contents`.
    pub(crate) fn uniform(&self, contents: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents,
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// A bind group for group 0 of `layout`, `buffers` at bindings 0, 1, ...
    pub(crate) fn bind(
        &self,
        layout: &wgpu::BindGroupLayout,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<_> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout,
            entries: &entries,
        })
    }

    /// Dispatch `pipeline` once, wait (at most `timeout`), and return the
    /// contents of `outputs`.
    pub(crate) fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: [u32; 3],
        outputs: &[&wgpu::Buffer],
        timeout: Option<Duration>,
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        let encoder = self.encode(pipeline, bind_group, workgroups);
        self.finish(encoder, outputs, timeout)
    }

    /// Submit one dispatch of `pipeline` without waiting: its results stay
    /// in their buffers for later dispatches (the queue keeps the order).
    pub(crate) fn launch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: [u32; 3],
    ) {
        let encoder = self.encode(pipeline, bind_group, workgroups);
        self.queue.submit([encoder.finish()]);
    }

    /// The contents of `buffers`, once the work submitted so far is done;
    /// waiting longer than `timeout` is [`GpuError::Timeout`].
    pub(crate) fn read(
        &self,
        buffers: &[&wgpu::Buffer],
        timeout: Option<Duration>,
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        let encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        self.finish(encoder, buffers, timeout)
    }

    /// An encoder holding one dispatch of `pipeline`.
    fn encode(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: [u32; 3],
    ) -> wgpu::CommandEncoder {
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        }
        encoder
    }

    /// Submit `encoder` with copies of `outputs` to mappable buffers, wait
    /// (at most `timeout`) and return their contents.
    fn finish(
        &self,
        mut encoder: wgpu::CommandEncoder,
        outputs: &[&wgpu::Buffer],
        timeout: Option<Duration>,
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        let staging: Vec<_> = outputs
            .iter()
            .map(|b| {
                let s = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: b.size(),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                encoder.copy_buffer_to_buffer(b, 0, &s, 0, b.size());
                s
            })
            .collect();
        let submission = self.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        for s in &staging {
            let tx = tx.clone();
            s.slice(..)
                .map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
        }
        drop(tx);
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout,
            })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => GpuError::Timeout(timeout.unwrap_or_default()),
                other => GpuError::Device(other.to_string()),
            })?;
        for mapped in rx.iter() {
            mapped.map_err(|e| GpuError::Device(format!("reading back results: {e}")))?;
        }
        staging
            .iter()
            .map(|s| {
                let bytes = s
                    .slice(..)
                    .get_mapped_range()
                    .map_err(|e| GpuError::Device(format!("reading back results: {e}")))?
                    .to_vec();
                s.unmap();
                Ok(bytes)
            })
            .collect()
    }

    /// A dispatch of `groups` workgroups that fits the per-dimension limit:
    /// `[x, y, 1]` with `x * y >= groups`; the shader flattens
    /// `id.y * x + id.x`.
    pub(crate) fn grid(&self, groups: u32) -> [u32; 3] {
        let max = self.limits.max_compute_workgroups_per_dimension.max(1);
        let x = groups.clamp(1, max);
        [x, groups.div_ceil(x).max(1), 1]
    }
}
