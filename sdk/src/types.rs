//! Values shared by both backends: errors, scalars, statistics.

use serde::{Deserialize, Serialize};

/// What went wrong in a step; the message should say what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum StepError {
    /// The config is wrong (name the field).
    InvalidConfig(String),
    /// The data does not fit the step (name the column).
    InvalidInput(String),
    /// A bug or unexpected condition.
    Internal(String),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            StepError::InvalidInput(m) => write!(f, "invalid input: {m}"),
            StepError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for StepError {}

/// Result of a step's operations.
pub type Result<T> = std::result::Result<T, StepError>;

/// Element type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit integer.
    S64,
    /// Boolean.
    Boolean,
    /// Text.
    Text,
}

impl Dtype {
    /// Whether the type is a number.
    pub fn is_numeric(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F64 | Dtype::S64)
    }
}

/// One value: a fill value or a category. In JSON states it is a plain JSON
/// value (`null`, a number, a boolean or a string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// Missing.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
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

/// What `one_hot` does with a value outside the categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Fail, naming the value.
    Error,
    /// Emit zeros.
    Ignore,
}

/// Summary of the valid (non-null, non-NaN) values of numeric columns.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Valid values.
    pub count: u64,
    /// Nulls and NaNs.
    pub nulls: u64,
    /// Sum.
    pub sum: f64,
    /// Mean (NaN when empty).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Minimum (NaN when empty).
    pub min: f64,
    /// Maximum (NaN when empty).
    pub max: f64,
}

impl Stats {
    /// Population variance (ddof 0); NaN when empty.
    pub fn variance(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.m2 / self.count as f64
        }
    }

    /// Statistics of the union of two disjoint sets of values (Chan et al.).
    pub fn merge(&self, other: &Stats) -> Stats {
        let nulls = self.nulls + other.nulls;
        if self.count == 0 {
            return Stats { nulls, ..*other };
        }
        if other.count == 0 {
            return Stats { nulls, ..*self };
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let delta = other.mean - self.mean;
        let sum = self.sum + other.sum;
        Stats {
            count: self.count + other.count,
            nulls,
            sum,
            mean: sum / (na + nb),
            m2: self.m2 + other.m2 + delta * delta * na * nb / (na + nb),
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_matches_direct_computation() {
        let direct = |v: &[f64]| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>())
        };
        let stats = |v: &[f64]| {
            let (mean, m2) = direct(v);
            Stats {
                count: v.len() as u64,
                nulls: 0,
                sum: v.iter().sum(),
                mean,
                m2,
                min: v.iter().cloned().fold(f64::INFINITY, f64::min),
                max: v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            }
        };
        let (a, b) = ([1.0, 5.0, 2.5], [10.0, -3.0]);
        let merged = stats(&a).merge(&stats(&b));
        let (mean, m2) = direct(&[1.0, 5.0, 2.5, 10.0, -3.0]);
        assert!((merged.mean - mean).abs() < 1e-12 && (merged.m2 - m2).abs() < 1e-9);
        assert_eq!((merged.count, merged.min, merged.max), (5, -3.0, 10.0));
        assert_eq!(Stats::default().merge(&stats(&a)).count, 3);
    }

    #[test]
    fn scalars_are_plain_json() {
        let s = vec![
            Scalar::Null,
            Scalar::Int(3),
            Scalar::Float(1.5),
            Scalar::Text("a".into()),
        ];
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"[null,3,1.5,"a"]"#);
        assert_eq!(serde_json::from_str::<Vec<Scalar>>(&json).unwrap(), s);
    }
}

/// The device behind the host's kernels ([`crate::compute::device`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Adapter name, e.g. `NVIDIA H200`, or `cpu`.
    pub name: String,
    /// Graphics backend (`vulkan`), or `cpu`.
    pub backend: String,
    /// `discrete`, `integrated`, `other`, `software` or `cpu-fallback`.
    pub kind: String,
}
