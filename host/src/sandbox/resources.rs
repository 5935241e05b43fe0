//! The host side of `weft:step/types`: columns and batches as handles.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use wasmtime::component::Resource;

use super::StepCtx;
use crate::bindings::weft::step::types::{self, Dtype, StepError};

/// A host-resident column handed to a step.
#[derive(Clone)]
pub struct Column(pub ArrayRef);

/// A host-resident batch handed to a step.
#[derive(Clone)]
pub struct Batch(pub RecordBatch);

/// Host result of a fallible WIT call: the outer error traps, the inner one
/// goes back to the step.
type Fallible<T> = wasmtime::Result<Result<T, StepError>>;

fn input_error(e: impl std::fmt::Display) -> StepError {
    StepError::InvalidInput(e.to_string())
}

/// Build a batch from names and arrays, checking lengths and names.
pub(crate) fn batch_of(
    names: Vec<String>,
    columns: Vec<ArrayRef>,
    rows: Option<usize>,
) -> Result<RecordBatch, StepError> {
    if names.len() != columns.len() {
        return Err(input_error(format!(
            "{} names for {} columns",
            names.len(),
            columns.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(input_error(format!(
            "column {dup:?} appears twice in the batch"
        )));
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(&columns)
        .map(|(n, c)| Field::new(n, c.data_type().clone(), true))
        .collect();
    let options =
        RecordBatchOptions::new().with_row_count(rows.or(columns.first().map(|c| c.len())));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
        .map_err(input_error)
}

impl StepCtx {
    pub(crate) fn new_column(&mut self, array: ArrayRef) -> wasmtime::Result<Resource<Column>> {
        Ok(self.table.push(Column(array))?)
    }

    pub(crate) fn created_column(&mut self, array: ArrayRef) -> wasmtime::Result<Resource<Column>> {
        self.charge(array.get_array_memory_size())?;
        self.new_column(array)
    }

    pub(crate) fn array(&self, column: &Resource<Column>) -> wasmtime::Result<ArrayRef> {
        Ok(self.table.get(column)?.0.clone())
    }

    pub(crate) fn arrays(&self, columns: &[Resource<Column>]) -> wasmtime::Result<Vec<ArrayRef>> {
        columns.iter().map(|c| self.array(c)).collect()
    }

    fn record(&self, batch: &Resource<Batch>) -> wasmtime::Result<&RecordBatch> {
        Ok(&self.table.get(batch)?.0)
    }

    fn new_batch(&mut self, made: Result<RecordBatch, StepError>) -> Fallible<Resource<Batch>> {
        Ok(match made {
            Ok(b) => Ok(self.table.push(Batch(b))?),
            Err(e) => Err(e),
        })
    }

    fn column_of_values(
        &mut self,
        made: weft_kernels::Result<ArrayRef>,
    ) -> wasmtime::Result<Resource<Column>> {
        match made {
            Ok(array) => self.created_column(array),
            Err(e) => wasmtime::bail!("invalid column from step: {e}"),
        }
    }

    fn read<T>(
        &self,
        column: &Resource<Column>,
        f: impl Fn(&dyn Array) -> weft_kernels::Result<T>,
    ) -> Fallible<T> {
        Ok(f(self.table.get(column)?.0.as_ref()).map_err(input_error))
    }
}

/// The step-visible type of an array; types weft has no name for read as text.
pub(crate) fn dtype(array: &dyn Array) -> Dtype {
    match weft_kernels::Dtype::of(array.data_type()) {
        Some(weft_kernels::Dtype::F32) => Dtype::F32,
        Some(weft_kernels::Dtype::F64) => Dtype::F64,
        Some(weft_kernels::Dtype::S64) => Dtype::S64,
        Some(weft_kernels::Dtype::Boolean) => Dtype::Boolean,
        Some(weft_kernels::Dtype::Text) | None => Dtype::Text,
    }
}

impl types::Host for StepCtx {}

impl types::HostColumn for StepCtx {
    fn from_f64s(
        &mut self,
        values: Vec<f64>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values(weft_kernels::from_f64s(values, validity))
    }
    fn from_f32s(
        &mut self,
        values: Vec<f32>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values(weft_kernels::from_f32s(values, validity))
    }
    fn from_s64s(
        &mut self,
        values: Vec<i64>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values(weft_kernels::from_s64s(values, validity))
    }
    fn from_bools(
        &mut self,
        values: Vec<bool>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values(weft_kernels::from_bools(values, validity))
    }
    fn from_strings(
        &mut self,
        values: Vec<String>,
        validity: Option<Vec<bool>>,
    ) -> wasmtime::Result<Resource<Column>> {
        self.column_of_values(weft_kernels::from_strings(values, validity))
    }
    fn dtype(&mut self, c: Resource<Column>) -> wasmtime::Result<Dtype> {
        Ok(dtype(self.table.get(&c)?.0.as_ref()))
    }
    fn len(&mut self, c: Resource<Column>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&c)?.0.len() as u64)
    }
    fn null_count(&mut self, c: Resource<Column>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&c)?.0.logical_null_count() as u64)
    }
    fn validity(&mut self, c: Resource<Column>) -> wasmtime::Result<Option<Vec<bool>>> {
        Ok(weft_kernels::validity(self.table.get(&c)?.0.as_ref()))
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
        self.table.delete(c)?;
        Ok(())
    }
}

impl types::HostBatch for StepCtx {
    fn from_columns(
        &mut self,
        names: Vec<String>,
        columns: Vec<Resource<Column>>,
    ) -> Fallible<Resource<Batch>> {
        let arrays = self.arrays(&columns)?;
        self.new_batch(batch_of(names, arrays, None))
    }
    fn num_rows(&mut self, b: Resource<Batch>) -> wasmtime::Result<u64> {
        Ok(self.record(&b)?.num_rows() as u64)
    }
    fn column_names(&mut self, b: Resource<Batch>) -> wasmtime::Result<Vec<String>> {
        Ok(self
            .record(&b)?
            .schema()
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
        match self.record(&b)?.column_by_name(&name).cloned() {
            Some(array) => Ok(Some(self.new_column(array)?)),
            None => Ok(None),
        }
    }
    fn with_columns(
        &mut self,
        b: Resource<Batch>,
        names: Vec<String>,
        columns: Vec<Resource<Column>>,
    ) -> Fallible<Resource<Batch>> {
        let arrays = self.arrays(&columns)?;
        let record = self.record(&b)?;
        let (mut all_names, mut all): (Vec<String>, Vec<ArrayRef>) = record
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(record.columns().iter().cloned())
            .unzip();
        for (name, array) in names.into_iter().zip(arrays) {
            match all_names.iter().position(|n| *n == name) {
                Some(i) => all[i] = array,
                None => {
                    all_names.push(name);
                    all.push(array);
                }
            }
        }
        let rows = record.num_rows();
        self.new_batch(batch_of(all_names, all, Some(rows)))
    }
    fn replace(
        &mut self,
        b: Resource<Batch>,
        name: String,
        names: Vec<String>,
        columns: Vec<Resource<Column>>,
    ) -> Fallible<Resource<Batch>> {
        let arrays = self.arrays(&columns)?;
        let record = self.record(&b)?;
        let schema = record.schema();
        let Some(at) = schema.fields().iter().position(|f| *f.name() == name) else {
            return Ok(Err(input_error(format!(
                "replace: no column {name:?} in the batch"
            ))));
        };
        let mut all_names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut all: Vec<ArrayRef> = record.columns().to_vec();
        all_names.splice(at..=at, names);
        all.splice(at..=at, arrays);
        let rows = record.num_rows();
        self.new_batch(batch_of(all_names, all, Some(rows)))
    }
    fn drop(&mut self, b: Resource<Batch>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}
