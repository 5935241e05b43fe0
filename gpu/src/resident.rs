//! Values on the device: copies of host columns a kernel uploaded, kept so
//! the next kernel or step that reads the same host memory finds them there
//! instead of uploading them again, and kernel results ([`Values`]) that
//! stay on the device until somebody reads them.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use crate::gpu::Gpu;
use crate::GpuError;

/// Keeps host memory alive, and so its address unique, while its device
/// copy is cached (e.g. an `Arc` of the Arrow buffer holding the values).
pub type KeepAlive = Arc<dyn Any + Send + Sync>;

/// Values a built-in kernel reads: a host slice (with, when the caller can
/// keep the memory alive and unchanged, a [`KeepAlive`] that lets the device
/// keep its copy for later calls), or the [`Values`] an earlier kernel left.
pub struct Input<'a>(Source<'a>);

enum Source<'a> {
    Host {
        values: &'a [f32],
        keep: Option<KeepAlive>,
    },
    Kept(&'a Values),
}

/// One device buffer of an input: values `offset..offset + len`.
pub(crate) struct Part {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) buffer: wgpu::Buffer,
}

impl<'a> Input<'a> {
    /// `values`, whose device copy may be cached while `keep` lives: the
    /// caller promises the memory does not change while `keep` is alive.
    pub fn resident(values: &'a [f32], keep: KeepAlive) -> Input<'a> {
        Input(Source::Host {
            values,
            keep: Some(keep),
        })
    }

    /// How many values.
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Source::Host { values, .. } => values.len(),
            Source::Kept(v) => v.len(),
        }
    }

    /// The values on the host: borrowed, or read back from the device.
    pub(crate) fn host(&self) -> Result<Cow<'a, [f32]>, GpuError> {
        match self.0 {
            Source::Host { values, .. } => Ok(Cow::Borrowed(values)),
            Source::Kept(v) => v.read().map(Cow::Owned),
        }
    }

    /// The values in device buffers of at most `chunk` values each: the
    /// buffers of kept values when they are on `gpu` in such pieces, else
    /// uploads (or cached copies), one per step of the iterator.
    pub(crate) fn parts<'s>(
        &'s self,
        gpu: &'s Gpu,
        chunk: usize,
    ) -> Result<Box<dyn Iterator<Item = Part> + 's>, GpuError> {
        if let Source::Kept(v) = &self.0 {
            if let Some(parts) = v.parts_on(gpu, chunk) {
                return Ok(Box::new(parts.into_iter()));
            }
        }
        let keep = match &self.0 {
            Source::Host { keep, .. } => keep.clone(),
            Source::Kept(_) => None,
        };
        let values = self.host()?;
        let spans: Vec<(usize, usize)> = (0..values.len())
            .step_by(chunk)
            .map(|offset| (offset, chunk.min(values.len() - offset)))
            .collect();
        Ok(Box::new(spans.into_iter().map(move |(offset, len)| Part {
            offset,
            len,
            buffer: gpu.input(&values[offset..offset + len], keep.as_ref()),
        })))
    }
}

impl<'a> From<&'a [f32]> for Input<'a> {
    fn from(values: &'a [f32]) -> Input<'a> {
        Input(Source::Host { values, keep: None })
    }
}

impl<'a> From<&'a Vec<f32>> for Input<'a> {
    fn from(values: &'a Vec<f32>) -> Input<'a> {
        Input::from(values.as_slice())
    }
}

impl<'a, const N: usize> From<&'a [f32; N]> for Input<'a> {
    fn from(values: &'a [f32; N]) -> Input<'a> {
        Input::from(values.as_slice())
    }
}

impl<'a> From<&'a Values> for Input<'a> {
    fn from(values: &'a Values) -> Input<'a> {
        Input(Source::Kept(values))
    }
}

/// f32 values a kernel produced, left where it computed them: on the
/// device, where the next kernel reads them without a copy, until
/// [`Values::read`] copies them to the host (or on the host, for the CPU
/// implementation). Cheap to clone; the device memory is freed with the
/// last clone.
#[derive(Clone)]
pub struct Values(Arc<Held>);

enum Held {
    Host(Vec<f32>),
    Device {
        gpu: Arc<Gpu>,
        /// Buffers in order, with the number of values each holds.
        parts: Vec<(usize, wgpu::Buffer)>,
    },
}

impl Values {
    /// Values computed on the host.
    pub(crate) fn host(values: Vec<f32>) -> Values {
        Values(Arc::new(Held::Host(values)))
    }

    /// Values held in `parts` on `gpu`.
    pub(crate) fn device(gpu: Arc<Gpu>, parts: Vec<(usize, wgpu::Buffer)>) -> Values {
        Values(Arc::new(Held::Device { gpu, parts }))
    }

    /// How many values.
    pub fn len(&self) -> usize {
        match &*self.0 {
            Held::Host(v) => v.len(),
            Held::Device { parts, .. } => parts.iter().map(|(n, _)| n).sum(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the values live on a device.
    pub fn on_device(&self) -> bool {
        matches!(&*self.0, Held::Device { .. })
    }

    /// Copy the values to the host (counted in [`Transfers::downloads`]).
    pub fn read(&self) -> Result<Vec<f32>, GpuError> {
        match &*self.0 {
            Held::Host(v) => Ok(v.clone()),
            Held::Device { gpu, parts } => {
                let buffers: Vec<&wgpu::Buffer> = parts.iter().map(|(_, b)| b).collect();
                let bytes = gpu.scoped(|| gpu.read(&buffers, None))?;
                let mut out = Vec::with_capacity(self.len());
                for ((n, _), b) in parts.iter().zip(bytes) {
                    out.extend_from_slice(&bytemuck::pod_collect_to_vec::<u8, f32>(&b)[..*n]);
                }
                gpu.cache().downloaded(&out);
                Ok(out)
            }
        }
    }

    /// The device parts (a resident hit), when they are on `gpu` and none
    /// holds more than `chunk` values.
    fn parts_on(&self, gpu: &Gpu, chunk: usize) -> Option<Vec<Part>> {
        let Held::Device { gpu: on, parts } = &*self.0 else {
            return None;
        };
        if !std::ptr::eq(Arc::as_ptr(on), gpu) || parts.iter().any(|(n, _)| *n > chunk) {
            return None;
        }
        gpu.cache().transfers.resident_hits += 1;
        let mut offset = 0;
        let mut out = Vec::with_capacity(parts.len());
        for (len, buffer) in parts {
            out.push(Part {
                offset,
                len: *len,
                buffer: buffer.clone(),
            });
            offset += len;
        }
        Some(out)
    }
}

/// Traffic between host and device of a [`crate::Device`] since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfers {
    /// Inputs copied to the device.
    pub uploads: u64,
    /// Bytes of those copies.
    pub uploaded_bytes: u64,
    /// Inputs found already on the device: cached copies of host memory
    /// and [`Values`] a kernel left there.
    pub resident_hits: u64,
    /// Kernel results ([`Values`]) copied back to the host.
    pub downloads: u64,
    /// Bytes of those copies.
    pub downloaded_bytes: u64,
}

/// Where a slice lives: its address and length.
type Key = (usize, usize);

/// The key of `values`.
fn key(values: &[f32]) -> Key {
    (values.as_ptr() as usize, values.len())
}

struct Entry {
    key: Key,
    buffer: wgpu::Buffer,
    bytes: u64,
    _keep: KeepAlive,
}

/// The cached device copies, least recently used first, within a byte budget.
pub(crate) struct Cache {
    entries: Vec<Entry>,
    bytes: u64,
    budget: u64,
    pub(crate) transfers: Transfers,
}

impl Cache {
    /// An empty cache holding at most `budget` bytes.
    pub(crate) fn new(budget: u64) -> Cache {
        Cache {
            entries: Vec::new(),
            bytes: 0,
            budget,
            transfers: Transfers::default(),
        }
    }

    /// The cached copy of `values`, marked recently used.
    pub(crate) fn hit(&mut self, values: &[f32]) -> Option<wgpu::Buffer> {
        let at = self.entries.iter().position(|e| e.key == key(values))?;
        let entry = self.entries.remove(at);
        let buffer = entry.buffer.clone();
        self.entries.push(entry);
        self.transfers.resident_hits += 1;
        Some(buffer)
    }

    /// Count an upload of `values`.
    pub(crate) fn uploaded(&mut self, values: &[f32]) {
        self.transfers.uploads += 1;
        self.transfers.uploaded_bytes += std::mem::size_of_val(values) as u64;
    }

    /// Count a read-back of `values`.
    fn downloaded(&mut self, values: &[f32]) {
        self.transfers.downloads += 1;
        self.transfers.downloaded_bytes += std::mem::size_of_val(values) as u64;
    }

    /// Keep `buffer` as the device copy of `values`, evicting the least
    /// recently used copies past the budget.
    pub(crate) fn insert(&mut self, values: &[f32], buffer: wgpu::Buffer, keep: KeepAlive) {
        let bytes = buffer.size();
        if bytes > self.budget {
            return;
        }
        while self.bytes + bytes > self.budget {
            let old = self.entries.remove(0);
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
        self.entries.push(Entry {
            key: key(values),
            buffer,
            bytes,
            _keep: keep,
        });
    }
}
