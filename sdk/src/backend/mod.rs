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
