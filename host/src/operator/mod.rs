//! The cluster side of a `Pipeline`: how it is cut into stages, the
//! Kubernetes objects (a ConfigMap holding the manifest, one Job per stage)
//! that run them, and `weft operator`, the controller that applies them,
//! follows their Jobs and writes the Pipeline's status.

mod controller;
mod jobs;
mod lease;
mod metrics;
mod progress;
mod server;
mod stages;
mod summary;

pub use controller::{error_policy, reconcile, run, Context, OperatorError, Options};
pub use jobs::{config_map_name, job_name, manifest_config_map, stage_job, Owner, DEFAULT_IMAGE};
pub use lease::Elector;
pub use metrics::Metrics;
pub use progress::{observe, JobState, Observed, Transition};
pub use server::serve;
pub use stages::{handoff_dir, stage_run, stages, Role, Stage, StageError, StageRun};
pub use summary::{StageSummary, TERMINATION_LOG};

#[cfg(test)]
mod tests;
