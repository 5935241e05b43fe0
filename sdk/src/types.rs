//! The SDK's own values, shared by both backends: errors, the device and
//! a model's ports.
//! Scalars, dtypes and statistics come from `weft-types` and are
//! re-exported at the crate root.

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

/// An input or output of a model ([`crate::model::Model`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// The name in the graph.
    pub name: String,
    /// ONNX Runtime's spelling of its type, e.g. `Tensor<f32>(dyn, 8)`.
    pub onnx_type: String,
    /// The column type of its values, when the host feeds or reads it.
    pub dtype: Option<crate::Dtype>,
    /// Dimensions; -1 where dynamic (the rows).
    pub shape: Vec<i64>,
}
