//! Conversions between the SDK's values and the types the WIT bindings
//! generate: the one place where the wasm backend and the exports
//! translate between the two.

use crate::bindings::exports::weft::step::step::Metric as WitMetric;
use crate::bindings::weft::step::compute as host;
use crate::bindings::weft::step::types as wit;
use crate::{
    DeviceInfo, Dtype, Indicator, Metric, QuantileMethod, Scalar, Stats, StepError, UnknownPolicy,
};

impl From<StepError> for wit::StepError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::InvalidConfig(m) => wit::StepError::InvalidConfig(m),
            StepError::InvalidInput(m) => wit::StepError::InvalidInput(m),
            StepError::Internal(m) => wit::StepError::Internal(m),
        }
    }
}

impl From<wit::StepError> for StepError {
    fn from(e: wit::StepError) -> Self {
        match e {
            wit::StepError::InvalidConfig(m) => StepError::InvalidConfig(m),
            wit::StepError::InvalidInput(m) => StepError::InvalidInput(m),
            wit::StepError::Internal(m) => StepError::Internal(m),
        }
    }
}

impl From<&Scalar> for wit::Scalar {
    fn from(s: &Scalar) -> Self {
        match s {
            Scalar::Null => wit::Scalar::Null,
            Scalar::Int(v) => wit::Scalar::Int(*v),
            Scalar::Float(v) => wit::Scalar::Float(*v),
            Scalar::Boolean(v) => wit::Scalar::Boolean(*v),
            Scalar::Text(v) => wit::Scalar::Text(v.clone()),
        }
    }
}

impl From<wit::Scalar> for Scalar {
    fn from(s: wit::Scalar) -> Self {
        match s {
            wit::Scalar::Null => Scalar::Null,
            wit::Scalar::Int(v) => Scalar::Int(v),
            wit::Scalar::Float(v) => Scalar::Float(v),
            wit::Scalar::Boolean(v) => Scalar::Boolean(v),
            wit::Scalar::Text(v) => Scalar::Text(v),
        }
    }
}

impl From<wit::Dtype> for Dtype {
    fn from(d: wit::Dtype) -> Self {
        match d {
            wit::Dtype::F32 => Dtype::F32,
            wit::Dtype::F64 => Dtype::F64,
            wit::Dtype::S64 => Dtype::S64,
            wit::Dtype::Boolean => Dtype::Boolean,
            wit::Dtype::Text => Dtype::Text,
        }
    }
}

impl From<host::Stats> for Stats {
    fn from(s: host::Stats) -> Self {
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
}

impl From<UnknownPolicy> for host::UnknownPolicy {
    fn from(p: UnknownPolicy) -> Self {
        match p {
            UnknownPolicy::Error => host::UnknownPolicy::Error,
            UnknownPolicy::Ignore => host::UnknownPolicy::Ignore,
        }
    }
}

impl From<Indicator> for host::Indicator {
    fn from(i: Indicator) -> Self {
        match i {
            Indicator::Float64 => host::Indicator::Float64,
            Indicator::Float32 => host::Indicator::Float32,
            Indicator::Uint8 => host::Indicator::Uint8,
            Indicator::Bool => host::Indicator::Boolean,
        }
    }
}

impl From<QuantileMethod> for host::QuantileMethod {
    fn from(m: QuantileMethod) -> Self {
        match m {
            QuantileMethod::InvertedCdf => host::QuantileMethod::InvertedCdf,
            QuantileMethod::AveragedInvertedCdf => host::QuantileMethod::AveragedInvertedCdf,
            QuantileMethod::ClosestObservation => host::QuantileMethod::ClosestObservation,
            QuantileMethod::InterpolatedInvertedCdf => {
                host::QuantileMethod::InterpolatedInvertedCdf
            }
            QuantileMethod::Hazen => host::QuantileMethod::Hazen,
            QuantileMethod::Weibull => host::QuantileMethod::Weibull,
            QuantileMethod::Linear => host::QuantileMethod::Linear,
            QuantileMethod::MedianUnbiased => host::QuantileMethod::MedianUnbiased,
            QuantileMethod::NormalUnbiased => host::QuantileMethod::NormalUnbiased,
            QuantileMethod::Lower => host::QuantileMethod::LowerValue,
            QuantileMethod::Higher => host::QuantileMethod::HigherValue,
            QuantileMethod::Midpoint => host::QuantileMethod::Midpoint,
            QuantileMethod::Nearest => host::QuantileMethod::Nearest,
        }
    }
}

impl From<host::DeviceInfo> for DeviceInfo {
    fn from(d: host::DeviceInfo) -> Self {
        let kind = match d.kind {
            host::DeviceKind::Discrete => "discrete",
            host::DeviceKind::Integrated => "integrated",
            host::DeviceKind::Other => "other",
            host::DeviceKind::Software => "software",
            host::DeviceKind::CpuFallback => "cpu-fallback",
        };
        DeviceInfo {
            name: d.name,
            backend: d.backend,
            kind: kind.into(),
        }
    }
}

impl From<Metric> for WitMetric {
    fn from(m: Metric) -> Self {
        WitMetric {
            name: m.name,
            value: m.value,
            labels: m.labels,
        }
    }
}
