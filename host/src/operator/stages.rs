//! Cutting a pipeline into stages: the steps one pod runs together.

use crate::manifest::{PipelineSpec, Resources};

/// Consecutive steps (in execution order) that run in one pod (one Job).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Position among the stages, from 0.
    pub index: usize,
    /// The steps, as indices into `spec.steps`, in execution order.
    pub steps: Vec<usize>,
    /// What each of the stage's pods requests.
    pub resources: Option<Resources>,
    /// Pods of the stage, each on its share of the input (an Indexed Job
    /// when more than 1).
    pub shards: u32,
    /// Times a failed pod is retried (the Job's `backoffLimit`).
    pub retries: u32,
}

/// The stages of `spec` run in `order` (the manifest's execution order):
/// consecutive steps share a stage; a step asking for other `resources`
/// (a GPU step, say) starts a new one, and a sharded step runs alone in
/// its own. A stage retries as often as the most patient of its steps asks.
pub fn stages(spec: &PipelineSpec, order: &[usize]) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for &i in order {
        let step = &spec.steps[i];
        let shards = step.shards.unwrap_or(1);
        let retries = step.retries.unwrap_or(0);
        match out.last_mut() {
            Some(stage)
                if shards == 1 && stage.shards == 1 && stage.resources == step.resources =>
            {
                stage.steps.push(i);
                stage.retries = stage.retries.max(retries);
            }
            _ => out.push(Stage {
                index: out.len(),
                steps: vec![i],
                resources: step.resources.clone(),
                shards,
                retries,
            }),
        }
    }
    out
}
