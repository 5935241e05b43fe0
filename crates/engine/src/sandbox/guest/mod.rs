//! The WIT interfaces a step imports, implemented on [`StepCtx`], one
//! module per interface: `types` (batches and columns as host resources),
//! `compute` (the host kernels), `model` (ONNX models), `log` and
//! `metrics`.
//!
//! [`StepCtx`]: super::StepCtx

mod compute;
mod convert;
mod log;
mod metrics;
mod model;
mod types;

pub use model::ModelHandle;
