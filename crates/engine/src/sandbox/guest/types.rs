//! The host side of `weft:step/types`: columns and batches as handles.

use arrow::array::{Array, ArrayRef};
use wasmtime::component::Resource;

use weft_types::edit;

use super::convert::wit_dtype;
use crate::sandbox::bindings::weft::step::types::{self, Dtype, StepError};
use crate::sandbox::columns::{Batch, Column};
use crate::sandbox::StepCtx;

/// Host result of a fallible WIT call: the outer error traps, the inner one
/// goes back to the step.
type Fallible<T> = wasmtime::Result<Result<T, StepError>>;

/// Host bytes per string value besides its text (an offset).
const STRING_BYTES: usize = 4;

fn input_error(e: impl std::fmt::Display) -> StepError {
    StepError::InvalidInput(e.to_string())
}

/// Build a batch from names and columns, checking lengths and names.
pub(crate) fn batch_of(
    names: Vec<String>,
    columns: Vec<Column>,
    rows: Option<usize>,
) -> Result<Batch, StepError> {
    Batch::named(names, columns, rows).map_err(input_error)
}

impl StepCtx {
    pub(crate) fn new_column(&mut self, column: Column) -> wasmtime::Result<Resource<Column>> {
        self.held.hold([&column]);
        let handle = self.table.push(column)?;
        self.column_handles.insert(handle.rep());
        Ok(handle)
    }

    /// Hand a column the host made for the step over, charged to its
    /// output budget and host memory.
    pub(crate) fn created_column(&mut self, column: Column) -> wasmtime::Result<Resource<Column>> {
        self.charge(&column)?;
        self.new_column(column)
    }

    /// Take a batch the step handed back out of its table; what only the
    /// batch held is no longer the step's.
    pub fn take_batch(&mut self, batch: Resource<Batch>) -> wasmtime::Result<Batch> {
        self.batch_handles.remove(&batch.rep());
        let batch = self.table.delete(batch)?;
        self.held.release(batch.columns());
        Ok(batch)
    }

    /// Lend the step an input batch for one call (taken back with
    /// [`StepCtx::take_batch`]). Its columns are charged to the step's host
    /// memory while a handle holds them, so that columns the step keeps
    /// past the call count as the step's.
    pub fn lend_batch(&mut self, batch: Batch) -> wasmtime::Result<Resource<Batch>> {
        let bytes = batch.columns().iter().map(|c| c.memory_size() as u64);
        self.held.check(bytes.sum())?;
        for column in batch.columns() {
            self.held.charge(column, column.memory_size() as u64)?;
        }
        self.held.hold(batch.columns());
        Ok(self.table.push(batch)?)
    }

    pub(crate) fn column(&self, column: &Resource<Column>) -> wasmtime::Result<Column> {
        Ok(self.table.get(column)?.clone())
    }

    pub(crate) fn columns(&self, columns: &[Resource<Column>]) -> wasmtime::Result<Vec<Column>> {
        columns.iter().map(|c| self.column(c)).collect()
    }

    /// A column's values on the host, copied back from the device if a
    /// kernel left them there (a failed copy traps the step).
    pub(crate) fn array(&self, column: &Resource<Column>) -> wasmtime::Result<ArrayRef> {
        Ok(self.table.get(column)?.array()?)
    }

    /// The columns' values on the host; spilled ones read back must fit
    /// the step's host memory while the call uses them.
    pub(crate) fn arrays(&self, columns: &[Resource<Column>]) -> wasmtime::Result<Vec<ArrayRef>> {
        self.working_space(self.spilled_size(columns)?)?;
        columns.iter().map(|c| self.array(c)).collect()
    }

    /// The columns with their values in memory, as [`StepCtx::arrays`].
    pub(crate) fn loaded(&self, columns: &[Resource<Column>]) -> wasmtime::Result<Vec<Column>> {
        self.working_space(self.spilled_size(columns)?)?;
        columns
            .iter()
            .map(|c| Ok(self.table.get(c)?.loaded()?))
            .collect()
    }

    /// Bytes the spilled columns among `columns` take once read back.
    pub(crate) fn spilled_size(&self, columns: &[Resource<Column>]) -> wasmtime::Result<u64> {
        let mut bytes = 0;
        for column in columns {
            if let Column::Spilled(spilled) = self.table.get(column)? {
                bytes += spilled.memory_size() as u64;
            }
        }
        Ok(bytes)
    }

    fn batch(&self, batch: &Resource<Batch>) -> wasmtime::Result<&Batch> {
        Ok(self.table.get(batch)?)
    }

    fn new_batch(&mut self, made: Result<Batch, StepError>) -> Fallible<Resource<Batch>> {
        Ok(match made {
            Ok(b) => {
                self.held.hold(b.columns());
                let handle = self.table.push(b)?;
                self.batch_handles.insert(handle.rep());
                Ok(handle)
            }
            Err(e) => Err(e),
        })
    }

    /// A column of `len` values of `width` bytes, made by `make` once the
    /// step's budgets allow it.
    fn column_of_values(
        &mut self,
        (len, width): (usize, usize),
        make: impl FnOnce() -> weft_kernels::Result<ArrayRef>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.reserve(len.saturating_mul(width) as u64)?;
        match make() {
            Ok(array) => self.created_column(Column::Host(array)),
            Err(e) => wasmtime::bail!("invalid column from step: {e}"),
        }
    }

    fn read<T>(
        &self,
        column: &Resource<Column>,
        f: impl Fn(&dyn Array) -> weft_kernels::Result<T>,
    ) -> Fallible<T> {
        Ok(f(self.array(column)?.as_ref()).map_err(input_error))
    }
}

impl types::Host for StepCtx {}

impl types::HostColumn for StepCtx {
    fn from_f64s(
        &mut self,
        values: Vec<f64>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values((values.len(), 8), || {
            weft_kernels::from_f64s(values, validity)
        })
    }
    fn from_f32s(
        &mut self,
        values: Vec<f32>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values((values.len(), 4), || {
            weft_kernels::from_f32s(values, validity)
        })
    }
    fn from_s64s(
        &mut self,
        values: Vec<i64>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values((values.len(), 8), || {
            weft_kernels::from_s64s(values, validity)
        })
    }
    fn from_bools(
        &mut self,
        values: Vec<bool>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values((values.len(), 1), || {
            weft_kernels::from_bools(values, validity)
        })
    }
    fn from_strings(
        &mut self,
        values: Vec<String>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        let bytes = values.iter().map(|v| v.len() + STRING_BYTES).sum();
        self.column_of_values((bytes, 1), || weft_kernels::from_strings(values, validity))
    }
    fn dtype(&mut self, c: Resource<Column>) -> wasmtime::Result<Dtype> {
        Ok(wit_dtype(&self.table.get(&c)?.data_type()))
    }
    fn len(&mut self, c: Resource<Column>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&c)?.len() as u64)
    }
    fn null_count(&mut self, c: Resource<Column>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&c)?.null_count() as u64)
    }
    fn validity(&mut self, c: Resource<Column>) -> wasmtime::Result<Option<Vec<bool>>> {
        Ok(self.table.get(&c)?.validity()?)
    }
    fn to_f64s(&mut self, c: Resource<Column>) -> Fallible<Vec<f64>> {
        self.read(&c, weft_kernels::to_f64s)
    }
    fn to_f32s(&mut self, c: Resource<Column>) -> Fallible<Vec<f32>> {
        self.read(&c, weft_kernels::to_f32s)
    }
    fn to_s64s(&mut self, c: Resource<Column>) -> Fallible<Vec<i64>> {
        self.read(&c, weft_kernels::to_s64s)
    }
    fn to_bools(&mut self, c: Resource<Column>) -> Fallible<Vec<bool>> {
        self.read(&c, weft_kernels::to_bools)
    }
    fn to_strings(&mut self, c: Resource<Column>) -> Fallible<Vec<String>> {
        self.read(&c, weft_kernels::to_strings)
    }
    fn drop(&mut self, c: Resource<Column>) -> wasmtime::Result<()> {
        self.column_handles.remove(&c.rep());
        let column = self.table.delete(c)?;
        self.held.release([&column]);
        Ok(())
    }
}

impl types::HostBatch for StepCtx {
    fn from_columns(
        &mut self,
        names: Vec<String>,
        columns: Vec<Resource<Column>>,
    ) -> Fallible<Resource<Batch>> {
        let columns = self.columns(&columns)?;
        self.new_batch(batch_of(names, columns, None))
    }
    fn num_rows(&mut self, b: Resource<Batch>) -> wasmtime::Result<u64> {
        Ok(self.batch(&b)?.num_rows() as u64)
    }
    fn column_names(&mut self, b: Resource<Batch>) -> wasmtime::Result<Vec<String>> {
        Ok(self
            .batch(&b)?
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }
    fn column(
        &mut self,
        b: Resource<Batch>,
        name: String,
    ) -> wasmtime::Result<Option<Resource<Column>>> {
        match self.batch(&b)?.column_by_name(&name).cloned() {
            Some(column) => Ok(Some(self.new_column(column)?)),
            None => Ok(None),
        }
    }
    fn with_columns(
        &mut self,
        b: Resource<Batch>,
        names: Vec<String>,
        columns: Vec<Resource<Column>>,
    ) -> Fallible<Resource<Batch>> {
        let columns = self.columns(&columns)?;
        let batch = self.batch(&b)?;
        let (mut all_names, mut all) = named_columns(batch);
        edit::with_columns(&mut all_names, &mut all, names.into_iter().zip(columns));
        let rows = batch.num_rows();
        self.new_batch(batch_of(all_names, all, Some(rows)))
    }
    fn replace(
        &mut self,
        b: Resource<Batch>,
        name: String,
        names: Vec<String>,
        columns: Vec<Resource<Column>>,
    ) -> Fallible<Resource<Batch>> {
        let columns = self.columns(&columns)?;
        let batch = self.batch(&b)?;
        let (mut all_names, mut all) = named_columns(batch);
        if let Err(e) = edit::replace(
            &mut all_names,
            &mut all,
            &name,
            names.into_iter().zip(columns),
        ) {
            return Ok(Err(input_error(e)));
        }
        let rows = batch.num_rows();
        self.new_batch(batch_of(all_names, all, Some(rows)))
    }
    fn drop(&mut self, b: Resource<Batch>) -> wasmtime::Result<()> {
        self.take_batch(b)?;
        Ok(())
    }
}

/// A batch's column names and columns.
fn named_columns(batch: &Batch) -> (Vec<String>, Vec<Column>) {
    let names = batch.fields().iter().map(|f| f.name().clone()).collect();
    (names, batch.columns().to_vec())
}
