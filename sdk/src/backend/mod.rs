//! The two implementations of columns, batches and kernels: the host's, over
//! WIT handles (on wasm32), and a native one over the same kernels (for tests).

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::*;

use crate::{Result, StepError};

impl Batch {
    /// The named column, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> Result<Column> {
        self.get(name).ok_or_else(|| {
            StepError::InvalidInput(format!(
                "no column {name:?} in the input (columns: {})",
                self.column_names().join(", ")
            ))
        })
    }

    /// The named column as f64 (nulls read as NaN).
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        self.column(name)?.to_f64s()
    }

    /// The named column as f64 with nulls visible as `None`.
    pub fn nullable_f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let column = self.column(name)?;
        let values = column.to_f64s()?;
        Ok(match column.validity() {
            None => values.into_iter().map(Some).collect(),
            Some(valid) => values
                .into_iter()
                .zip(valid)
                .map(|(v, ok)| ok.then_some(v))
                .collect(),
        })
    }

    /// The named column, checked to be numeric.
    pub fn numeric(&self, name: &str) -> Result<Column> {
        let column = self.column(name)?;
        if !column.dtype().is_numeric() {
            return Err(StepError::InvalidInput(format!(
                "column {name:?} holds {:?} values; this step needs numbers",
                column.dtype()
            )));
        }
        Ok(column)
    }
}

/// A storage buffer of a custom GPU kernel ([`compute::run_wgsl`]), bound
/// at `@group(0) @binding(i)` for its position `i`.
// Natively there is no GPU to hand buffers to (see `compute::run_wgsl`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub struct Buffer<'a> {
    source: Source<'a>,
    writable: bool,
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
enum Source<'a> {
    Bytes(Vec<u8>),
    Column(&'a Column),
}

impl<'a> Buffer<'a> {
    /// A read-only buffer of `values` (`var<storage, read> x: array<f32>`).
    pub fn f32s(values: &[f32]) -> Buffer<'a> {
        Buffer::bytes(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// A read-only buffer of raw bytes (a non-zero multiple of 4).
    pub fn bytes(bytes: Vec<u8>) -> Buffer<'a> {
        Buffer {
            source: Source::Bytes(bytes),
            writable: false,
        }
    }

    /// A read-only buffer of a numeric column's values as f32 (nulls read
    /// as NaN), uploaded by the host without passing through the step.
    pub fn column(column: &'a Column) -> Buffer<'a> {
        Buffer {
            source: Source::Column(column),
            writable: false,
        }
    }

    /// The same buffer, writable by the shader (`var<storage, read_write>`);
    /// its contents afterwards are returned.
    pub fn writable(self) -> Buffer<'a> {
        Buffer {
            writable: true,
            ..self
        }
    }
}

/// Little-endian bytes (a buffer [`compute::run_wgsl`] returned) as f32 values.
pub fn f32s_of(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
