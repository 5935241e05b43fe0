//! The one place where the WIT bindings' value types meet weft's own
//! (`weft-types`, through the kernels): scalars, statistics, the unknown
//! category policy, quantile methods and column types.

use arrow::datatypes::DataType;
use weft_kernels as k;

use crate::sandbox::bindings::weft::step::compute::{
    Indicator, QuantileMethod, Stats, UnknownPolicy,
};
use crate::sandbox::bindings::weft::step::types::{Dtype, Scalar};

/// The kernels' view of a WIT scalar.
pub(super) fn kernel_scalar(s: Scalar) -> k::Scalar {
    match s {
        Scalar::Null => k::Scalar::Null,
        Scalar::Float(v) => k::Scalar::Float(v),
        Scalar::Int(v) => k::Scalar::Int(v),
        Scalar::Boolean(v) => k::Scalar::Boolean(v),
        Scalar::Text(v) => k::Scalar::Text(v),
    }
}

/// The WIT form of a kernel's scalar.
pub(super) fn wit_scalar(s: k::Scalar) -> Scalar {
    match s {
        k::Scalar::Null => Scalar::Null,
        k::Scalar::Float(v) => Scalar::Float(v),
        k::Scalar::Int(v) => Scalar::Int(v),
        k::Scalar::Boolean(v) => Scalar::Boolean(v),
        k::Scalar::Text(v) => Scalar::Text(v),
    }
}

/// The WIT form of column statistics.
pub(super) fn wit_stats(s: k::Stats) -> Stats {
    Stats {
        count: s.count,
        nulls: s.nulls,
        sum: s.sum,
        mean: s.mean,
        m2: s.m2,
        min: s.min,
        max: s.max,
    }
}

/// The kernels' view of the WIT policy for categories not seen in fitting.
pub(super) fn kernel_policy(p: UnknownPolicy) -> k::UnknownPolicy {
    match p {
        UnknownPolicy::Error => k::UnknownPolicy::Error,
        UnknownPolicy::Ignore => k::UnknownPolicy::Ignore,
    }
}

/// The kernels' view of the WIT indicator type.
pub(super) fn kernel_indicator(i: Indicator) -> k::Indicator {
    match i {
        Indicator::Float64 => k::Indicator::Float64,
        Indicator::Float32 => k::Indicator::Float32,
        Indicator::Uint8 => k::Indicator::Uint8,
        Indicator::Boolean => k::Indicator::Bool,
    }
}

/// The kernels' view of the WIT quantile method.
pub(super) fn kernel_method(m: QuantileMethod) -> k::QuantileMethod {
    match m {
        QuantileMethod::InvertedCdf => k::QuantileMethod::InvertedCdf,
        QuantileMethod::AveragedInvertedCdf => k::QuantileMethod::AveragedInvertedCdf,
        QuantileMethod::ClosestObservation => k::QuantileMethod::ClosestObservation,
        QuantileMethod::InterpolatedInvertedCdf => k::QuantileMethod::InterpolatedInvertedCdf,
        QuantileMethod::Hazen => k::QuantileMethod::Hazen,
        QuantileMethod::Weibull => k::QuantileMethod::Weibull,
        QuantileMethod::Linear => k::QuantileMethod::Linear,
        QuantileMethod::MedianUnbiased => k::QuantileMethod::MedianUnbiased,
        QuantileMethod::NormalUnbiased => k::QuantileMethod::NormalUnbiased,
        QuantileMethod::LowerValue => k::QuantileMethod::Lower,
        QuantileMethod::HigherValue => k::QuantileMethod::Higher,
        QuantileMethod::Midpoint => k::QuantileMethod::Midpoint,
        QuantileMethod::Nearest => k::QuantileMethod::Nearest,
    }
}

/// The step-visible type of an Arrow type; types weft has no name for
/// read as text.
pub(super) fn wit_dtype(data_type: &DataType) -> Dtype {
    k::Dtype::of(data_type).map_or(Dtype::Text, wit_dtype_of)
}

/// The WIT form of a column type.
pub(super) fn wit_dtype_of(dtype: k::Dtype) -> Dtype {
    match dtype {
        k::Dtype::F32 => Dtype::F32,
        k::Dtype::F64 => Dtype::F64,
        k::Dtype::S64 => Dtype::S64,
        k::Dtype::Boolean => Dtype::Boolean,
        k::Dtype::Text => Dtype::Text,
    }
}
