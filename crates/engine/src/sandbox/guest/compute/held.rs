//! The columns a quantile kernel reads where they lie: host memory, the
//! device (copied back once), or the spill file (read back one column at a
//! time, once per pass), so that a median of spilled columns never holds
//! more than one of them in memory.

use std::cell::RefCell;

use arrow::array::Array;
use weft_kernels::{ColumnSource, KernelError};

use crate::sandbox::{BatchError, Column};

/// Columns a step named, and the first failure to read one back.
pub(super) struct Held {
    columns: Vec<Column>,
    failed: RefCell<Option<BatchError>>,
}

impl Held {
    pub(super) fn new(columns: Vec<Column>) -> Held {
        Held {
            columns,
            failed: RefCell::new(None),
        }
    }

    /// Bytes the largest spilled column takes once read back.
    pub(super) fn largest_spilled(&self) -> usize {
        let spilled = self.columns.iter().filter_map(|c| match c {
            Column::Spilled(s) => Some(s.memory_size()),
            _ => None,
        });
        spilled.max().unwrap_or(0)
    }

    /// The failure to read a column back that stopped the kernel, if one
    /// did: the host's failure, not the step's.
    pub(super) fn unread(self) -> Result<(), BatchError> {
        self.failed.into_inner().map_or(Ok(()), Err)
    }
}

impl ColumnSource for Held {
    fn rows(&self) -> usize {
        self.columns.iter().map(Column::len).sum()
    }

    fn try_for_each(
        &self,
        f: &mut dyn FnMut(&dyn Array) -> weft_kernels::Result<()>,
    ) -> weft_kernels::Result<()> {
        for column in &self.columns {
            let array = column.array().map_err(|e| {
                let message = e.to_string();
                self.failed.borrow_mut().get_or_insert(e);
                KernelError::Invalid(message)
            })?;
            f(array.as_ref())?;
        }
        Ok(())
    }
}
