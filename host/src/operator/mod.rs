//! The cluster side of a `Pipeline`: how it is cut into stages and the
//! Kubernetes objects (a ConfigMap holding the manifest, one Job per stage)
//! that run them. The controller that applies these objects and follows
//! their Jobs builds on this module.

mod jobs;
mod stages;

pub use jobs::{manifest_config_map, stage_job, Owner, DEFAULT_IMAGE};
pub use stages::{stages, Stage};

#[cfg(test)]
mod tests;
