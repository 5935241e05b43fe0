//! Columns, batches and kernels as WIT handles owned by the host.

use super::{Buffer, Source};
use crate::bindings::weft::step::model as host_model;
use crate::bindings::weft::step::types::{self as wit};
use crate::bindings::weft::step::{compute as host, log as host_log, metrics as host_metrics};
use crate::{DeviceInfo, Dtype, Indicator, QuantileMethod, Result, Scalar, Stats, UnknownPolicy};

/// A column living on the host.
#[repr(transparent)]
pub struct Column(pub(crate) wit::Column);

impl Column {
    /// A column of f64 values; `validity[i] == false` marks a null.
    pub fn from_f64s(values: &[f64], validity: Option<&[bool]>) -> Column {
        Column(wit::Column::from_f64s(values, validity))
    }
    /// A column of f32 values.
    pub fn from_f32s(values: &[f32], validity: Option<&[bool]>) -> Column {
        Column(wit::Column::from_f32s(values, validity))
    }
    /// A column of i64 values.
    pub fn from_s64s(values: &[i64], validity: Option<&[bool]>) -> Column {
        Column(wit::Column::from_s64s(values, validity))
    }
    /// A column of booleans.
    pub fn from_bools(values: &[bool], validity: Option<&[bool]>) -> Column {
        Column(wit::Column::from_bools(values, validity))
    }
    /// A column of strings.
    pub fn from_strings(values: &[String], validity: Option<&[bool]>) -> Column {
        Column(wit::Column::from_strings(values, validity))
    }
    /// Element type.
    pub fn dtype(&self) -> Dtype {
        self.0.dtype().into()
    }
    /// Rows.
    pub fn len(&self) -> usize {
        self.0.len() as usize
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Nulls.
    pub fn null_count(&self) -> usize {
        self.0.null_count() as usize
    }
    /// Validity per row, or `None` when nothing is null.
    pub fn validity(&self) -> Option<Vec<bool>> {
        self.0.validity()
    }
    /// Values as f64; nulls read as NaN.
    pub fn to_f64s(&self) -> Result<Vec<f64>> {
        Ok(self.0.to_f64s()?)
    }
    /// Values as f32; nulls read as NaN.
    pub fn to_f32s(&self) -> Result<Vec<f32>> {
        Ok(self.0.to_f32s()?)
    }
    /// Integers; nulls read as 0.
    pub fn to_s64s(&self) -> Result<Vec<i64>> {
        Ok(self.0.to_s64s()?)
    }
    /// Booleans; nulls read as false.
    pub fn to_bools(&self) -> Result<Vec<bool>> {
        Ok(self.0.to_bools()?)
    }
    /// Values as text; nulls read as "".
    pub fn to_strings(&self) -> Result<Vec<String>> {
        Ok(self.0.to_strings()?)
    }
}

/// A batch living on the host.
#[repr(transparent)]
pub struct Batch(pub(crate) wit::Batch);

fn split<'a>(columns: &'a [(&str, &'a Column)]) -> (Vec<String>, Vec<&'a wit::Column>) {
    columns.iter().map(|(n, c)| (n.to_string(), &c.0)).unzip()
}

impl Batch {
    /// View a borrowed host batch as a [`Batch`].
    pub(crate) fn from_wit(batch: &wit::Batch) -> &Batch {
        // SAFETY: `Batch` is a `repr(transparent)` wrapper of `wit::Batch`.
        unsafe { &*(batch as *const wit::Batch as *const Batch) }
    }
    /// A batch of the given named columns.
    pub fn from_columns(columns: &[(&str, &Column)]) -> Result<Batch> {
        let (names, cols) = split(columns);
        Ok(Batch(wit::Batch::from_columns(&names, &cols)?))
    }
    /// Rows.
    pub fn num_rows(&self) -> usize {
        self.0.num_rows() as usize
    }
    /// Column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.0.column_names()
    }
    /// The named column, if present.
    pub fn get(&self, name: &str) -> Option<Column> {
        self.0.column(name).map(Column)
    }
    /// This batch with the named columns replaced in place or appended; the
    /// other columns are shared, not copied.
    pub fn with_columns(&self, columns: &[(&str, &Column)]) -> Result<Batch> {
        let (names, cols) = split(columns);
        Ok(Batch(self.0.with_columns(&names, &cols)?))
    }
    /// This batch with column `name` replaced, at its position, by `columns`.
    pub fn replace(&self, name: &str, columns: &[(&str, &Column)]) -> Result<Batch> {
        let (names, cols) = split(columns);
        Ok(Batch(self.0.replace(name, &names, &cols)?))
    }
}

fn handles<'a>(columns: &[&'a Column]) -> Vec<&'a wit::Column> {
    columns.iter().map(|c| &c.0).collect()
}

/// Kernels the host runs natively.
pub mod compute {
    use super::*;

    /// Statistics of the valid values of all `columns` together.
    pub fn column_stats(columns: &[&Column]) -> Result<Stats> {
        Ok(host::column_stats(&handles(columns))?.into())
    }
    /// Exact quantiles (numpy's linear method) of all `columns` together.
    pub fn quantiles(columns: &[&Column], qs: &[f64]) -> Result<Vec<f64>> {
        Ok(host::quantiles(&handles(columns), qs)?)
    }
    /// Exact quantiles of all `columns` together, as `numpy.quantile` with
    /// `method`; NaN when there are no values (needs a host of contract
    /// 0.1.2 or later).
    pub fn quantiles_with(
        columns: &[&Column],
        qs: &[f64],
        method: QuantileMethod,
    ) -> Result<Vec<f64>> {
        Ok(host::quantiles_with(&handles(columns), qs, method.into())?)
    }
    /// The bin of every value among non-decreasing `edges`, as
    /// `numpy.digitize(x, edges, right)`: an i64 column; nulls and NaN give
    /// null (needs a host of contract 0.1.2 or later).
    pub fn digitize(column: &Column, edges: &[f64], right: bool) -> Result<Column> {
        Ok(Column(host::digitize(&column.0, edges, right)?))
    }
    /// Distinct values with counts, sorted, nulls last.
    pub fn value_counts(columns: &[&Column]) -> Result<Vec<(Scalar, u64)>> {
        Ok(host::value_counts(&handles(columns))?
            .into_iter()
            .map(|(s, n)| (s.into(), n))
            .collect())
    }
    /// `(x - a) * b` per value.
    pub fn affine(column: &Column, a: f64, b: f64) -> Result<Column> {
        Ok(Column(host::affine(&column.0, a, b)?))
    }
    /// Nulls (and NaN) replaced by `value`.
    pub fn fill_nulls(column: &Column, value: &Scalar) -> Result<Column> {
        Ok(Column(host::fill_nulls(&column.0, &value.into())?))
    }
    /// One f64 indicator column per category.
    pub fn one_hot(
        column: &Column,
        categories: &[Scalar],
        unknown: UnknownPolicy,
    ) -> Result<Vec<Column>> {
        let cats: Vec<wit::Scalar> = categories.iter().map(wit::Scalar::from).collect();
        Ok(host::one_hot(&column.0, &cats, unknown.into())?
            .into_iter()
            .map(Column)
            .collect())
    }
    /// One indicator column of type `kind` per category (needs a host of
    /// contract 0.1.3 or later).
    pub fn one_hot_as(
        column: &Column,
        categories: &[Scalar],
        unknown: UnknownPolicy,
        kind: Indicator,
    ) -> Result<Vec<Column>> {
        let cats: Vec<wit::Scalar> = categories.iter().map(wit::Scalar::from).collect();
        Ok(
            host::one_hot_as(&column.0, &cats, unknown.into(), kind.into())?
                .into_iter()
                .map(Column)
                .collect(),
        )
    }
    /// Where the host runs its kernels.
    pub fn device() -> DeviceInfo {
        host::device().into()
    }
    /// `columns` (rows × k) times `weights` (k × `outputs`, row-major), as
    /// `outputs` f32 columns; a row with a null anywhere is null.
    pub fn matmul(columns: &[&Column], weights: &[f32], outputs: u32) -> Result<Vec<Column>> {
        Ok(host::matmul(&handles(columns), weights, outputs)?
            .into_iter()
            .map(Column)
            .collect())
    }
    /// Counts of the valid values of all `columns` per bin between
    /// consecutive `edges`, as `numpy.histogram`.
    pub fn histogram(columns: &[&Column], edges: &[f64]) -> Result<Vec<u64>> {
        Ok(host::histogram(&handles(columns), edges)?)
    }
    /// Run the compute entry point `entry` of the WGSL `source` over
    /// `workgroups` with `buffers`; returns the writable buffers' contents.
    pub fn run_wgsl(
        source: &str,
        entry: &str,
        buffers: Vec<Buffer<'_>>,
        workgroups: [u32; 3],
    ) -> Result<Vec<Vec<u8>>> {
        let buffers: Vec<host::Buffer<'_>> = buffers.into_iter().map(Buffer::into_wit).collect();
        let [x, y, z] = workgroups;
        Ok(host::run_wgsl(source, entry, &buffers, (x, y, z))?)
    }
}

impl<'a> Buffer<'a> {
    fn into_wit(self) -> host::Buffer<'a> {
        host::Buffer {
            source: match self.source {
                Source::Bytes(bytes) => host::BufferSource::Bytes(bytes),
                Source::Column(column) => host::BufferSource::Column(&column.0),
            },
            writable: self.writable,
        }
    }
}

/// Logging into the host's log, tagged with the step's name.
pub mod log {
    use super::host_log::{log, Level};
    /// Debug message.
    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    /// Informational message.
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    /// Warning.
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    /// Error.
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// Named values exported to the run report and Prometheus.
pub mod metrics {
    /// Emit `name = value` with labels.
    pub fn emit(name: &str, value: f64, labels: &[(&str, &str)]) {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        super::host_metrics::emit(name, value, &labels)
    }
}

/// Trained models (ONNX) the host compiles once and runs natively (needs a
/// host of contract 0.1.4 or later).
pub mod model {
    use super::{handles, host_model, Column};
    use crate::{Port, Result};

    /// A compiled model the host holds for the step.
    pub struct Model(host_model::Model);

    impl Model {
        /// The ONNX model at `path`, as the step sees it (in a folder
        /// mounted into the step, e.g. `/models/churn.onnx`).
        pub fn open(path: &str) -> Result<Model> {
            Ok(Model(host_model::Model::open(path)?))
        }
        /// The ONNX model in `bytes`.
        pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
            Ok(Model(host_model::Model::from_bytes(bytes)?))
        }
        /// sha256 of the model file, hex.
        pub fn digest(&self) -> String {
            self.0.digest()
        }
        /// The inputs, in the graph's order.
        pub fn inputs(&self) -> Vec<Port> {
            self.0.inputs().into_iter().map(port).collect()
        }
        /// The outputs, in the graph's order.
        pub fn outputs(&self) -> Vec<Port> {
            self.0.outputs().into_iter().map(port).collect()
        }
        /// Run on `features` (filling the inputs in order: `[N, k]` takes
        /// `k` columns, `[N]` one); the columns of each output in `outputs`
        /// (`[N]` gives one, `[N, C]` gives `C`).
        pub fn run(&self, features: &[&Column], outputs: &[&str]) -> Result<Vec<Vec<Column>>> {
            let names: Vec<String> = outputs.iter().map(|o| o.to_string()).collect();
            let made = self.0.run(&handles(features), &names)?;
            Ok(made
                .into_iter()
                .map(|group| group.into_iter().map(Column).collect())
                .collect())
        }
    }

    fn port(p: host_model::Port) -> Port {
        Port {
            name: p.name,
            onnx_type: p.onnx_type,
            dtype: p.dtype.map(Into::into),
            shape: p.shape,
        }
    }
}
