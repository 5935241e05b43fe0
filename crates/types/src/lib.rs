//! The value types weft's kernels and its SDK share: one [`Scalar`], one
//! [`Dtype`], one [`Stats`] (with its merge), one [`UnknownPolicy`], one
//! [`Indicator`] and one
//! [`QuantileMethod`];
//! the one implementation of editing a batch's columns ([`edit`]); and the
//! rules mapping a model's tensors onto columns ([`shape`]).
//!
//! The crate depends on serde only, so the SDK uses it inside the
//! WebAssembly sandbox as well as natively; the host's kernels
//! (`weft-kernels`) re-export the same types.

pub mod edit;
mod quantile;
pub mod shape;
mod stats;

pub use quantile::QuantileMethod;
pub use stats::Stats;

use serde::{Deserialize, Serialize};

/// One value: a fill value or a category. In JSON (a step's state) it is a
/// plain JSON value: `null`, a number, a boolean or a string; an integral
/// number reads back as [`Scalar::Int`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// Missing (null, or NaN in a float column).
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// Text.
    Text(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Float(v) => write!(f, "{v}"),
            Scalar::Boolean(v) => write!(f, "{v}"),
            Scalar::Text(v) => f.write_str(v),
        }
    }
}

/// The element type of a column, as a step sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer (narrower integers widen to this).
    S64,
    /// Boolean.
    Boolean,
    /// UTF-8 text.
    Text,
}

impl Dtype {
    /// Whether the type is a number.
    pub fn is_numeric(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F64 | Dtype::S64)
    }

    /// The step-visible type of `data_type` (with `weft-kernels`, an Arrow
    /// `DataType`), if it has one.
    pub fn of<Source, T: DtypeOf<Source> + ?Sized>(data_type: &T) -> Option<Dtype> {
        data_type.dtype()
    }
}

/// A description of a column type that may name a [`Dtype`], for
/// [`Dtype::of`]. `weft-kernels` implements it for Arrow's `DataType`, which
/// keeps this crate free of Arrow. `Source` is a marker type of the
/// implementing crate: through it, that crate may implement this trait for a
/// type it does not own.
pub trait DtypeOf<Source> {
    /// The step-visible type, if there is one.
    fn dtype(&self) -> Option<Dtype>;
}

/// The type of the indicator columns `one_hot` makes: scikit-learn's
/// `OneHotEncoder(dtype=...)`, named as numpy names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    /// `float64`, 0.0 and 1.0 (scikit-learn's default).
    #[default]
    Float64,
    /// `float32`, 0.0 and 1.0.
    Float32,
    /// `uint8`, 0 and 1 (polars' `to_dummies`).
    Uint8,
    /// `bool`, false and true.
    Bool,
}

/// What `one_hot` does with a value that is not among the categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Fail, naming the value.
    Error,
    /// Emit a row of zeros.
    Ignore,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_json() {
        let s = vec![
            Scalar::Null,
            Scalar::Int(3),
            Scalar::Float(1.5),
            Scalar::Boolean(true),
            Scalar::Text("a".into()),
        ];
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"[null,3,1.5,true,"a"]"#);
        assert_eq!(serde_json::from_str::<Vec<Scalar>>(&json).unwrap(), s);
    }

    #[test]
    fn policies_are_lowercase() {
        let json = serde_json::to_string(&[UnknownPolicy::Error, UnknownPolicy::Ignore]).unwrap();
        assert_eq!(json, r#"["error","ignore"]"#);
    }

    #[test]
    fn numeric_dtypes() {
        assert!(Dtype::S64.is_numeric() && !Dtype::Text.is_numeric());
    }
}
