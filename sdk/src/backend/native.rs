//! Columns, batches and kernels on the native target, for unit tests: the
//! same kernels the host runs, over in-process Arrow arrays.

use std::cell::RefCell;

use arrow::array::{Array, ArrayRef};

use weft_types::edit;

use super::Buffer;
use crate::{
    DeviceInfo, Dtype, Indicator, Metric, QuantileMethod, Result, Scalar, Stats, StepError,
    UnknownPolicy,
};

fn input(e: weft_kernels::KernelError) -> StepError {
    StepError::InvalidInput(e.to_string())
}

/// A column (an Arrow array).
#[derive(Clone, Debug)]
pub struct Column(pub ArrayRef);

fn owned(validity: Option<&[bool]>) -> Option<Vec<bool>> {
    validity.map(<[bool]>::to_vec)
}

impl Column {
    /// A column of f64 values; `validity[i] == false` marks a null.
    pub fn from_f64s(values: &[f64], validity: Option<&[bool]>) -> Column {
        Column(
            weft_kernels::from_f64s(values.to_vec(), owned(validity))
                .expect("validity as long as values"),
        )
    }
    /// A column of f32 values.
    pub fn from_f32s(values: &[f32], validity: Option<&[bool]>) -> Column {
        Column(
            weft_kernels::from_f32s(values.to_vec(), owned(validity))
                .expect("validity as long as values"),
        )
    }
    /// A column of i64 values.
    pub fn from_s64s(values: &[i64], validity: Option<&[bool]>) -> Column {
        Column(
            weft_kernels::from_s64s(values.to_vec(), owned(validity))
                .expect("validity as long as values"),
        )
    }
    /// A column of booleans.
    pub fn from_bools(values: &[bool], validity: Option<&[bool]>) -> Column {
        Column(
            weft_kernels::from_bools(values.to_vec(), owned(validity))
                .expect("validity as long as values"),
        )
    }
    /// A column of strings.
    pub fn from_strings(values: &[String], validity: Option<&[bool]>) -> Column {
        Column(
            weft_kernels::from_strings(values.to_vec(), owned(validity))
                .expect("validity as long as values"),
        )
    }
    /// Element type (types without a weft name read as text).
    pub fn dtype(&self) -> Dtype {
        Dtype::of(self.0.data_type()).unwrap_or(Dtype::Text)
    }
    /// Rows.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Nulls.
    pub fn null_count(&self) -> usize {
        self.0.logical_null_count()
    }
    /// Validity per row, or `None` when nothing is null.
    pub fn validity(&self) -> Option<Vec<bool>> {
        weft_kernels::validity(self.0.as_ref())
    }
    /// Values as f64; nulls read as NaN.
    pub fn to_f64s(&self) -> Result<Vec<f64>> {
        weft_kernels::to_f64s(self.0.as_ref()).map_err(input)
    }
    /// Values as f32; nulls read as NaN.
    pub fn to_f32s(&self) -> Result<Vec<f32>> {
        weft_kernels::to_f32s(self.0.as_ref()).map_err(input)
    }
    /// Integers; nulls read as 0.
    pub fn to_s64s(&self) -> Result<Vec<i64>> {
        weft_kernels::to_s64s(self.0.as_ref()).map_err(input)
    }
    /// Booleans; nulls read as false.
    pub fn to_bools(&self) -> Result<Vec<bool>> {
        weft_kernels::to_bools(self.0.as_ref()).map_err(input)
    }
    /// Values as text; nulls read as "".
    pub fn to_strings(&self) -> Result<Vec<String>> {
        weft_kernels::to_strings(self.0.as_ref()).map_err(input)
    }
}

/// A batch: named columns of equal length.
#[derive(Clone, Debug)]
pub struct Batch {
    names: Vec<String>,
    columns: Vec<ArrayRef>,
    rows: usize,
}

impl Batch {
    fn build(names: Vec<String>, columns: Vec<ArrayRef>, rows: usize) -> Result<Batch> {
        let lengths: Vec<usize> = columns.iter().map(|c| c.len()).collect();
        edit::check(names.iter().map(String::as_str), &lengths, rows)
            .map_err(StepError::InvalidInput)?;
        Ok(Batch {
            names,
            columns,
            rows,
        })
    }
    /// A batch of the given named columns.
    pub fn from_columns(columns: &[(&str, &Column)]) -> Result<Batch> {
        let rows = columns.first().map_or(0, |(_, c)| c.len());
        Batch::build(
            columns.iter().map(|(n, _)| n.to_string()).collect(),
            columns.iter().map(|(_, c)| c.0.clone()).collect(),
            rows,
        )
    }
    /// Rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }
    /// Column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.names.clone()
    }
    /// The named column, if present.
    pub fn get(&self, name: &str) -> Option<Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| Column(self.columns[i].clone()))
    }
    /// This batch with the named columns replaced in place or appended.
    pub fn with_columns(&self, columns: &[(&str, &Column)]) -> Result<Batch> {
        let (mut names, mut arrays) = (self.names.clone(), self.columns.clone());
        edit::with_columns(&mut names, &mut arrays, named(columns));
        Batch::build(names, arrays, self.rows)
    }
    /// This batch with column `name` replaced, at its position, by `columns`.
    pub fn replace(&self, name: &str, columns: &[(&str, &Column)]) -> Result<Batch> {
        let (mut names, mut arrays) = (self.names.clone(), self.columns.clone());
        edit::replace(&mut names, &mut arrays, name, named(columns))
            .map_err(StepError::InvalidInput)?;
        Batch::build(names, arrays, self.rows)
    }
}

/// Named columns as the editing functions take them.
fn named<'a>(columns: &'a [(&str, &Column)]) -> impl Iterator<Item = (String, ArrayRef)> + 'a {
    columns.iter().map(|(n, c)| (n.to_string(), c.0.clone()))
}

/// The host kernels, run in-process.
pub mod compute {
    use super::*;

    fn arrays<'a>(columns: &[&'a Column]) -> Vec<&'a dyn Array> {
        columns.iter().map(|c| c.0.as_ref()).collect()
    }
    /// Statistics of the valid values of all `columns` together.
    pub fn column_stats(columns: &[&Column]) -> Result<Stats> {
        weft_kernels::column_stats(&arrays(columns)).map_err(input)
    }
    /// Exact quantiles (numpy's linear method) of all `columns` together.
    pub fn quantiles(columns: &[&Column], qs: &[f64]) -> Result<Vec<f64>> {
        weft_kernels::quantiles(&arrays(columns), qs).map_err(input)
    }
    /// Exact quantiles of all `columns` together, as `numpy.quantile` with
    /// `method`; NaN when there are no values.
    pub fn quantiles_with(
        columns: &[&Column],
        qs: &[f64],
        method: QuantileMethod,
    ) -> Result<Vec<f64>> {
        weft_kernels::quantiles_with(&arrays(columns), qs, method).map_err(input)
    }
    /// The bin of every value among non-decreasing `edges`, as
    /// `numpy.digitize(x, edges, right)`: an i64 column; nulls and NaN give
    /// null.
    pub fn digitize(column: &Column, edges: &[f64], right: bool) -> Result<Column> {
        weft_kernels::digitize(column.0.as_ref(), edges, right)
            .map(Column)
            .map_err(input)
    }
    /// Distinct values with counts, sorted, nulls last.
    pub fn value_counts(columns: &[&Column]) -> Result<Vec<(Scalar, u64)>> {
        weft_kernels::value_counts(&arrays(columns)).map_err(input)
    }
    /// `(x - a) * b` per value.
    pub fn affine(column: &Column, a: f64, b: f64) -> Result<Column> {
        weft_kernels::affine(column.0.as_ref(), a, b)
            .map(Column)
            .map_err(input)
    }
    /// Nulls (and NaN) replaced by `value`.
    pub fn fill_nulls(column: &Column, value: &Scalar) -> Result<Column> {
        weft_kernels::fill_nulls(column.0.as_ref(), value)
            .map(Column)
            .map_err(input)
    }
    /// One f64 indicator column per category.
    pub fn one_hot(
        column: &Column,
        categories: &[Scalar],
        unknown: UnknownPolicy,
    ) -> Result<Vec<Column>> {
        one_hot_as(column, categories, unknown, Indicator::Float64)
    }
    /// One indicator column of type `kind` per category.
    pub fn one_hot_as(
        column: &Column,
        categories: &[Scalar],
        unknown: UnknownPolicy,
        kind: Indicator,
    ) -> Result<Vec<Column>> {
        let cols = weft_kernels::one_hot_as(column.0.as_ref(), categories, unknown, kind)
            .map_err(input)?;
        Ok(cols.into_iter().map(Column).collect())
    }
    /// Natively, the kernels run on the CPU.
    pub fn device() -> DeviceInfo {
        DeviceInfo {
            name: "cpu".into(),
            backend: "cpu".into(),
            kind: "cpu-fallback".into(),
        }
    }
    /// `columns` (rows × k) times `weights` (k × `outputs`, row-major), as
    /// `outputs` f32 columns; a row with a null anywhere is null.
    pub fn matmul(columns: &[&Column], weights: &[f32], outputs: u32) -> Result<Vec<Column>> {
        let cols =
            weft_kernels::matmul(&arrays(columns), weights, outputs as usize).map_err(input)?;
        Ok(cols.into_iter().map(Column).collect())
    }
    /// Counts of the valid values of all `columns` per bin between
    /// consecutive `edges`, as `numpy.histogram`.
    pub fn histogram(columns: &[&Column], edges: &[f64]) -> Result<Vec<u64>> {
        weft_kernels::histogram(&arrays(columns), edges).map_err(input)
    }
    /// Custom GPU kernels need the weft host: natively this is an error, so
    /// test such a step with a pipeline run.
    pub fn run_wgsl(
        _source: &str,
        entry: &str,
        _buffers: Vec<Buffer<'_>>,
        _workgroups: [u32; 3],
    ) -> Result<Vec<Vec<u8>>> {
        Err(StepError::Internal(format!(
            "run_wgsl({entry:?}): custom GPU kernels run only inside the weft host; test this step with `weft run`"
        )))
    }
}

thread_local! {
    static EMITTED: RefCell<Vec<Metric>> = const { RefCell::new(Vec::new()) };
}

/// Metrics emitted on this thread so far (native tests only); drains them.
pub fn emitted_metrics() -> Vec<Metric> {
    EMITTED.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

/// Logging: printed to stderr in native tests.
pub mod log {
    /// Debug message.
    pub fn debug(message: &str) {
        eprintln!("debug: {message}")
    }
    /// Informational message.
    pub fn info(message: &str) {
        eprintln!("info: {message}")
    }
    /// Warning.
    pub fn warn(message: &str) {
        eprintln!("warn: {message}")
    }
    /// Error.
    pub fn error(message: &str) {
        eprintln!("error: {message}")
    }
}

/// Metrics: recorded for [`emitted_metrics`] in native tests.
pub mod metrics {
    use super::*;
    /// Emit `name = value` with labels.
    pub fn emit(name: &str, value: f64, labels: &[(&str, &str)]) {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EMITTED.with(|e| {
            e.borrow_mut().push(Metric {
                name: name.into(),
                value,
                labels,
            })
        });
    }
}

/// Trained models run only in the weft host (ONNX Runtime behind the
/// `model` interface): natively every call says so, and the step is tested
/// with `weft run`.
pub mod model {
    use super::Column;
    use crate::{Port, Result, StepError};

    /// A model; natively none can be loaded.
    pub struct Model(());

    fn host_only() -> StepError {
        StepError::Internal(
            "models run in the weft host only; test this step with `weft run`".into(),
        )
    }

    impl Model {
        /// Natively: an error (models run in the host).
        pub fn open(_path: &str) -> Result<Model> {
            Err(host_only())
        }
        /// Natively: an error (models run in the host).
        pub fn from_bytes(_bytes: &[u8]) -> Result<Model> {
            Err(host_only())
        }
        /// sha256 of the model file, hex.
        pub fn digest(&self) -> String {
            String::new()
        }
        /// The inputs, in the graph's order.
        pub fn inputs(&self) -> Vec<Port> {
            Vec::new()
        }
        /// The outputs, in the graph's order.
        pub fn outputs(&self) -> Vec<Port> {
            Vec::new()
        }
        /// Natively: an error (models run in the host).
        pub fn run(&self, _features: &[&Column], _outputs: &[&str]) -> Result<Vec<Vec<Column>>> {
            Err(host_only())
        }
    }
}
