//! Columns a step keeps past a quarter of its host memory, moved to a
//! temporary file (spilled) and read back one at a time when used: what
//! lets an exact median of more rows than memory holds stay within
//! `limits.hostMemory`. The file is unlinked from the start, so nothing is
//! left on disk however the process ends; `limits.spill` caps its size.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Cursor};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use wasmtime::component::Resource;

use super::columns::{Batch, Column};
use super::ledger::Ledger;
use super::StepCtx;

/// A step would write more than `limits.spill` bytes of columns to disk.
#[derive(Debug, thiserror::Error)]
#[error(
    "step keeps more columns than a quarter of its host memory (limits.hostMemory) holds, \
     and moving them to disk would pass limits.spill ({limit} bytes): {written} written, \
     {asked} more asked; drop handles it no longer needs, or raise limits.spill or \
     limits.hostMemory"
)]
pub struct SpillLimit {
    /// The limit in bytes.
    pub limit: u64,
    /// Bytes written so far.
    pub written: u64,
    /// Bytes the next column needs.
    pub asked: u64,
}

/// Why a column could not be spilled or read back.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// Past `limits.spill`.
    #[error(transparent)]
    Limit(#[from] SpillLimit),
    /// The temporary file failed.
    #[error("spill file: {0}")]
    Io(#[from] io::Error),
    /// The column would not encode or decode.
    #[error("spill file: {0}")]
    Arrow(#[from] ArrowError),
}

/// One step's spill file: created on first use, appended to.
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: Option<Arc<File>>,
    written: u64,
    limit: u64,
}

/// A column's values in a spill file.
#[derive(Debug)]
pub struct Spilled {
    file: Arc<File>,
    offset: u64,
    bytes: usize,
    rows: usize,
    null_count: usize,
    data_type: DataType,
    memory: usize,
}

impl SpillFile {
    /// A spill file of at most `limit` bytes (0: spilling is off).
    pub(crate) fn new(limit: u64) -> SpillFile {
        SpillFile {
            file: None,
            written: 0,
            limit,
        }
    }

    /// Whether columns may be spilled at all.
    pub(crate) fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Write `array` to the file.
    pub(crate) fn write(&mut self, array: &ArrayRef) -> Result<Spilled, SpillError> {
        let encoded = encode(array)?;
        let asked = encoded.len() as u64;
        if self.written.saturating_add(asked) > self.limit {
            return Err(SpillLimit {
                limit: self.limit,
                written: self.written,
                asked,
            }
            .into());
        }
        let file = match &self.file {
            Some(file) => file.clone(),
            None => self.file.insert(Arc::new(tempfile::tempfile()?)).clone(),
        };
        file.write_all_at(&encoded, self.written)?;
        let spilled = Spilled {
            file,
            offset: self.written,
            bytes: encoded.len(),
            rows: array.len(),
            null_count: array.logical_null_count(),
            data_type: array.data_type().clone(),
            memory: array.get_array_memory_size(),
        };
        self.written += asked;
        Ok(spilled)
    }
}

impl Spilled {
    /// The column read back.
    pub fn read(&self) -> Result<ArrayRef, SpillError> {
        let mut encoded = vec![0; self.bytes];
        self.file.read_exact_at(&mut encoded, self.offset)?;
        let mut reader = StreamReader::try_new(Cursor::new(encoded), None)?;
        let batch = reader.next().ok_or_else(|| {
            ArrowError::IpcError("a spilled column's stream holds no batch".into())
        })??;
        Ok(batch.column(0).clone())
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows that are null.
    pub fn null_count(&self) -> usize {
        self.null_count
    }

    /// The values' Arrow type.
    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// Bytes the column takes once read back.
    pub fn memory_size(&self) -> usize {
        self.memory
    }
}

impl StepCtx {
    /// Between calls: once the step holds more than a quarter of its host
    /// memory, move the host columns it keeps (by their own handles or in
    /// batches it keeps) into its spill file. A column also held elsewhere
    /// (the run's input) is written once and stays charged until that
    /// holder lets go.
    pub fn spill_if_over(&mut self) -> Result<(), SpillError> {
        if !self.spill.enabled() || self.held.in_columns() <= self.held.limit() / 4 {
            return Ok(());
        }
        let mut written = HashMap::new();
        let mut spiller = Spiller {
            file: &mut self.spill,
            held: &mut self.held,
            written: &mut written,
        };
        for &rep in &self.column_handles {
            if let Ok(column) = self.table.get_mut(&Resource::<Column>::new_borrow(rep)) {
                spiller.spill(column)?;
            }
        }
        for &rep in &self.batch_handles {
            if let Ok(batch) = self.table.get_mut(&Resource::<Batch>::new_borrow(rep)) {
                batch
                    .columns_mut()
                    .iter_mut()
                    .try_for_each(|c| spiller.spill(c))?;
            }
        }
        Ok(())
    }
}

/// One round of spilling: each column written once, however many handles
/// hold it.
struct Spiller<'a> {
    file: &'a mut SpillFile,
    held: &'a mut Ledger,
    written: &'a mut HashMap<usize, Arc<Spilled>>,
}

impl Spiller<'_> {
    /// Replace a host column with its spilled copy; the handle that held
    /// it no longer holds its memory.
    fn spill(&mut self, column: &mut Column) -> Result<(), SpillError> {
        let Column::Host(array) = &*column else {
            return Ok(());
        };
        let spilled = match self.written.entry(column.identity()) {
            Entry::Occupied(e) => e.get().clone(),
            Entry::Vacant(e) => e.insert(Arc::new(self.file.write(array)?)).clone(),
        };
        let host = std::mem::replace(column, Column::Spilled(spilled));
        self.held.release([&host]);
        Ok(())
    }
}

/// `array` as an Arrow IPC stream of one batch.
fn encode(array: &ArrayRef) -> Result<Vec<u8>, ArrowError> {
    let field = Field::new("spilled", array.data_type().clone(), true);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![array.clone()])?;
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
    writer.write(&batch)?;
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array, Int32Array, StringArray};

    use super::*;

    #[test]
    fn columns_read_back_equal_and_the_limit_holds() {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)])),
            Arc::new(Int32Array::from(vec![None, Some(-3)])),
            Arc::new(StringArray::from(vec![Some("a"), None, Some("ccc")]).slice(1, 2)),
        ];
        let mut file = SpillFile::new(1 << 20);
        let spilled: Vec<Spilled> = columns.iter().map(|c| file.write(c).unwrap()).collect();
        for (column, spilled) in columns.iter().zip(&spilled) {
            assert_eq!(spilled.read().unwrap().to_data(), column.to_data());
            assert_eq!(spilled.rows(), column.len());
            assert_eq!(spilled.null_count(), column.logical_null_count());
            assert_eq!(spilled.data_type(), column.data_type());
        }
        let written = file.written();
        let mut small = SpillFile::new(written);
        for column in &columns {
            small.write(column).unwrap();
        }
        match small.write(&columns[0]) {
            Err(SpillError::Limit(l)) => assert_eq!((l.limit, l.written), (written, written)),
            other => panic!("expected the limit, got {other:?}"),
        }
    }
}
