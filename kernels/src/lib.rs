//! The numeric and categorical kernels behind weft's `compute` interface.
//!
//! Every kernel works on Arrow arrays and treats nulls and NaN alike as
//! missing. The host calls these on behalf of sandboxed steps; the SDK's native
//! backend calls the same code, so a step unit-tested with `cargo test` sees
//! exactly what it will see inside `weft`.

mod categorical;
mod convert;
mod digitize;
mod elementwise;
mod histogram;
mod matrix;
mod quantile;
mod stats;

pub use categorical::{one_hot, one_hot_as, value_counts};
pub use convert::{
    from_bools, from_f32s, from_f64s, from_s64s, from_strings, to_bools, to_f32s, to_f64s, to_s64s,
    to_strings, validity,
};
pub use digitize::digitize;
pub use elementwise::{affine, fill_nulls};
pub use histogram::{bin_of, check_edges, histogram};
pub use matrix::{matmul, matmul_f32, matmul_with};
pub use quantile::{
    quantiles, quantiles_of, quantiles_with, quantiles_working_bytes, ColumnSource,
};
pub use stats::column_stats;
pub use weft_types::{Dtype, Indicator, QuantileMethod, Scalar, Stats, UnknownPolicy};

/// Why a kernel refused its input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KernelError {
    /// The column's type does not suit the kernel.
    #[error("{kernel} does not accept a {found} column (expected {expected})")]
    Dtype {
        /// The kernel's name.
        kernel: &'static str,
        /// What the column holds.
        found: String,
        /// What the kernel accepts.
        expected: &'static str,
    },
    /// Columns or parameters do not fit together.
    #[error("{0}")]
    Invalid(String),
    /// A value not among the categories, under `UnknownPolicy::Error`.
    #[error("value {value:?} (row {row}) was not seen when fitting; known categories: {known}")]
    UnknownCategory {
        /// The unexpected value.
        value: String,
        /// Its row in the batch.
        row: usize,
        /// The categories, comma-separated.
        known: String,
    },
}

/// Result of a kernel.
pub type Result<T> = std::result::Result<T, KernelError>;
