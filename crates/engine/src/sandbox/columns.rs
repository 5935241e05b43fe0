//! Columns and batches as the host holds them between and inside steps: Arrow
//! arrays, f32 values a compute kernel left on the device (copied to the
//! host only when a step reads them or an output is written), or values a
//! step kept past its memory, moved to its spill file.

use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, Float32Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use weft_gpu::{GpuError, Values};
use weft_types::edit;

use super::spill::{SpillError, Spilled};

/// A column: host memory, values kept on the device, or values on disk.
#[derive(Clone)]
pub enum Column {
    /// An Arrow array.
    Host(ArrayRef),
    /// f32 values on the device, with their nulls.
    Kept(Arc<Kept>),
    /// Values in a step's spill file, read back whenever they are used.
    Spilled(Arc<Spilled>),
}

/// f32 values a kernel left on the device, and their host copy once made.
pub struct Kept {
    values: Values,
    nulls: Option<NullBuffer>,
    host: OnceLock<ArrayRef>,
}

impl Column {
    /// A column of `values` kept where a kernel computed them.
    pub fn from_kernel(values: Values, nulls: Option<NullBuffer>) -> Column {
        Column::Kept(Arc::new(Kept {
            values,
            nulls,
            host: OnceLock::new(),
        }))
    }

    /// The values on the host, copied back from the device on first use,
    /// read back from the spill file on every use.
    pub fn array(&self) -> Result<ArrayRef, BatchError> {
        let kept = match self {
            Column::Host(array) => return Ok(array.clone()),
            Column::Spilled(spilled) => return Ok(spilled.read()?),
            Column::Kept(kept) => kept,
        };
        if let Some(array) = kept.host.get() {
            return Ok(array.clone());
        }
        let values = kept.values.read()?;
        let array: ArrayRef = Arc::new(Float32Array::new(values.into(), kept.nulls.clone()));
        Ok(kept.host.get_or_init(|| array).clone())
    }

    /// The column with its values in memory: a spilled column read back.
    pub fn loaded(&self) -> Result<Column, BatchError> {
        match self {
            Column::Spilled(spilled) => Ok(Column::Host(spilled.read()?)),
            _ => Ok(self.clone()),
        }
    }

    /// The values a kernel left, if this column holds such.
    pub fn kept(&self) -> Option<&Values> {
        match self {
            Column::Kept(kept) => Some(&kept.values),
            Column::Host(_) | Column::Spilled(_) => None,
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Host(array) => array.len(),
            Column::Kept(kept) => kept.values.len(),
            Column::Spilled(spilled) => spilled.rows(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Arrow type of the values.
    pub fn data_type(&self) -> DataType {
        match self {
            Column::Host(array) => array.data_type().clone(),
            Column::Kept(_) => DataType::Float32,
            Column::Spilled(spilled) => spilled.data_type().clone(),
        }
    }

    /// Which rows are null, if any are.
    pub fn nulls(&self) -> Result<Option<NullBuffer>, BatchError> {
        match self {
            Column::Host(array) => Ok(array.logical_nulls()),
            Column::Kept(kept) => Ok(kept.nulls.clone()),
            Column::Spilled(spilled) => Ok(spilled.read()?.logical_nulls()),
        }
    }

    /// Per row, whether it is valid (not null); `None` when none is null.
    pub fn validity(&self) -> Result<Option<Vec<bool>>, BatchError> {
        Ok(self.nulls()?.map(|n| n.iter().collect()))
    }

    /// How many rows are null.
    pub fn null_count(&self) -> usize {
        match self {
            Column::Host(array) => array.logical_null_count(),
            Column::Kept(kept) => kept.nulls.as_ref().map_or(0, |n| n.null_count()),
            Column::Spilled(spilled) => spilled.null_count(),
        }
    }

    /// Bytes the column takes in memory (on whichever side it lives); a
    /// spilled column takes none until it is read back.
    pub fn memory_size(&self) -> usize {
        match self {
            Column::Host(array) => array.get_array_memory_size(),
            Column::Kept(kept) => {
                kept.values.len() * 4 + kept.nulls.as_ref().map_or(0, |n| n.buffer().len())
            }
            Column::Spilled(_) => 0,
        }
    }

    /// The column's identity: equal for clones of one column.
    pub(crate) fn identity(&self) -> usize {
        match self {
            Column::Host(array) => Arc::as_ptr(array) as *const u8 as usize,
            Column::Kept(kept) => Arc::as_ptr(kept) as usize,
            Column::Spilled(spilled) => Arc::as_ptr(spilled) as usize,
        }
    }
}

/// Named columns of one length: what a step takes and returns.
#[derive(Clone)]
pub struct Batch {
    fields: Vec<FieldRef>,
    columns: Vec<Column>,
    rows: usize,
}

impl Batch {
    /// Columns named by `fields`, each of `rows` rows, names unique.
    pub fn try_new(
        fields: Vec<FieldRef>,
        columns: Vec<Column>,
        rows: usize,
    ) -> Result<Batch, String> {
        let lengths: Vec<usize> = columns.iter().map(Column::len).collect();
        edit::check(fields.iter().map(|f| f.name().as_str()), &lengths, rows)?;
        Ok(Batch {
            fields,
            columns,
            rows,
        })
    }

    /// Columns named `names`, each of `rows` rows (of the first column's
    /// when `None`).
    pub fn named(
        names: Vec<String>,
        columns: Vec<Column>,
        rows: Option<usize>,
    ) -> Result<Batch, String> {
        let fields = names
            .into_iter()
            .zip(&columns)
            .map(|(n, c)| Arc::new(Field::new(n, c.data_type(), true)))
            .collect();
        let rows = rows.or(columns.first().map(Column::len)).unwrap_or(0);
        Batch::try_new(fields, columns, rows)
    }

    /// Rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The columns' fields, in order.
    pub fn fields(&self) -> &[FieldRef] {
        &self.fields
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The columns, to swap one for its copy elsewhere (same values).
    pub(crate) fn columns_mut(&mut self) -> &mut [Column] {
        &mut self.columns
    }

    /// The column called `name`.
    pub fn column_by_name(&self, name: &str) -> Option<&Column> {
        let at = self.fields.iter().position(|f| f.name() == name)?;
        Some(&self.columns[at])
    }

    /// The batch in host memory, kept columns copied back.
    pub fn to_record(&self) -> Result<RecordBatch, BatchError> {
        let arrays = self
            .columns
            .iter()
            .map(Column::array)
            .collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        let schema = Arc::new(Schema::new(self.fields.clone()));
        Ok(RecordBatch::try_new_with_options(schema, arrays, &options)?)
    }
}

impl From<RecordBatch> for Batch {
    fn from(record: RecordBatch) -> Batch {
        Batch {
            fields: record.schema().fields().iter().cloned().collect(),
            rows: record.num_rows(),
            columns: record.columns().iter().cloned().map(Column::Host).collect(),
        }
    }
}

/// Why a column or batch could not be brought to host memory.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Reading kept values back from the device failed.
    #[error("reading a column back from the GPU: {0}")]
    Device(#[from] GpuError),
    /// Reading spilled values back from disk failed.
    #[error("reading a column back from the spill file: {0}")]
    Spill(#[from] SpillError),
    /// The columns do not make an Arrow batch.
    #[error("{0}")]
    Arrow(#[from] ArrowError),
}
