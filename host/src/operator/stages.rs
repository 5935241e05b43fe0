//! Cutting a pipeline into stages: the steps one pod runs together.

use crate::manifest::{DataRef, Manifest, ManifestError, PipelineSpec, Resources};

/// Folder (relative to the manifest) of stage `n`'s hand-off: its output
/// data (`data.parquet`), `report.json` and fitted `state/`.
pub fn handoff_dir(n: usize) -> String {
    format!("weft-stages/{n}")
}

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

/// Why a stage cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// There is no stage of that number.
    #[error("stage {asked} does not exist: the pipeline has {count} stage(s), 0 to {last} (`weft plan` shows them)", last = count.saturating_sub(1))]
    NoSuchStage {
        /// The stage asked for.
        asked: usize,
        /// How many there are.
        count: usize,
    },
    /// The derived manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// The manifest `weft run --stage n` runs: stage `n`'s steps alone, on the
/// previous stage's hand-off (the pipeline input for stage 0), writing its
/// own hand-off ([`handoff_dir`]) or, for the last stage, the pipeline's
/// output. A step that needs a step of an earlier stage reads that stage's
/// hand-off, which holds the earlier steps' output columns.
pub fn stage_manifest(manifest: &Manifest, n: usize) -> Result<Manifest, StageError> {
    let all = stages(&manifest.pipeline.spec, &manifest.order);
    let stage = all.get(n).ok_or(StageError::NoSuchStage {
        asked: n,
        count: all.len(),
    })?;
    let mut spec = manifest.pipeline.spec.clone();
    let names: Vec<String> = stage
        .steps
        .iter()
        .map(|&i| spec.steps[i].name.clone())
        .collect();
    spec.steps.retain(|s| names.contains(&s.name));
    for step in &mut spec.steps {
        step.needs.retain(|need| names.contains(need));
    }
    spec.plugins
        .retain(|key, _| spec.steps.iter().any(|s| s.plugin == *key));
    if n > 0 {
        spec.input = DataRef {
            path: format!("{}/data.parquet", handoff_dir(n - 1)),
        };
    }
    if n + 1 < all.len() {
        spec.output = DataRef {
            path: handoff_dir(n),
        };
    }
    Ok(manifest.with_spec(spec)?)
}
