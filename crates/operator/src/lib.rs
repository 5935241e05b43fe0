//! The cluster side of a `Pipeline`: how it is cut into stages, the
//! Kubernetes objects (a ConfigMap holding the manifest, one Job per stage,
//! or per shard where the server has no Indexed Jobs) that run them, and
//! `weft operator`, the controller that applies them, follows their Jobs,
//! tells why their pods cannot run or died, and writes the Pipeline's
//! status.

mod controller;
mod events;
mod faults;
mod follow;
mod jobs;
mod lease;
mod metrics;
mod pin;
mod progress;
mod pull_secret;
mod server;
mod shards;
mod status;
mod summary;

pub use controller::{error_policy, reconcile, run, Context, OperatorError, Options};
pub use jobs::{
    config_map_name, job_name, job_names, manifest_config_map, shard_job_name, stage_job,
    stage_jobs, Owner, DEFAULT_IMAGE,
};
pub use lease::Elector;
pub use metrics::Metrics;
pub use progress::{observe, JobState, Observed, Transition};
pub use server::serve;
pub use shards::{aggregate, server_version, ShardMode, StageJobs};
pub use summary::{StageSummary, TERMINATION_LOG};

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod shard_tests;
#[cfg(test)]
mod tests;
