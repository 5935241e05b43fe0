//! Device-resident copies of host columns: a column a kernel uploaded or
//! produced stays on the device, so the next kernel or step that reads the
//! same host memory finds it there instead of uploading it again.

use std::any::Any;
use std::sync::Arc;

/// Keeps host memory alive, and so its address unique, while its device
/// copy is cached (e.g. an `Arc` of the Arrow buffer holding the values).
pub type KeepAlive = Arc<dyn Any + Send + Sync>;

/// Values a built-in kernel reads: a host slice and, when the caller can
/// keep the memory alive and unchanged, a [`KeepAlive`] that lets the device
/// keep its copy for later calls.
pub struct Input<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) keep: Option<KeepAlive>,
}

impl<'a> Input<'a> {
    /// `values`, whose device copy may be cached while `keep` lives: the
    /// caller promises the memory does not change while `keep` is alive.
    pub fn resident(values: &'a [f32], keep: KeepAlive) -> Input<'a> {
        Input {
            values,
            keep: Some(keep),
        }
    }
}

impl<'a> From<&'a [f32]> for Input<'a> {
    fn from(values: &'a [f32]) -> Input<'a> {
        Input { values, keep: None }
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

/// Host-to-device traffic of a [`crate::Device`] since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfers {
    /// Inputs copied to the device.
    pub uploads: u64,
    /// Bytes of those copies.
    pub uploaded_bytes: u64,
    /// Inputs found already on the device.
    pub resident_hits: u64,
}

/// Where a slice lives: its address and length.
pub(crate) type Key = (usize, usize);

/// The key of `values`.
pub(crate) fn key(values: &[f32]) -> Key {
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

    /// Keep `buffer` as the device copy of the values at `key`, evicting
    /// the least recently used copies past the budget.
    pub(crate) fn insert(&mut self, key: Key, buffer: wgpu::Buffer, keep: KeepAlive) {
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
            key,
            buffer,
            bytes,
            _keep: keep,
        });
    }
}
