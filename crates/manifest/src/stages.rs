//! Cutting a pipeline into stages: the steps one pod (or one `weft run
//! --stage`) runs together, and what a stage reads and hands on.

use std::path::PathBuf;

use crate::{DataRef, Manifest, ManifestError, PipelineSpec, Resources, Share};

/// Folder (relative to the manifest) of stage `n`'s hand-off: its output
/// data (`data.parquet`), `report.json` and fitted `state/`.
pub fn handoff_dir(n: usize) -> String {
    format!("weft-stages/{n}")
}

/// What a stage's pods do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Fit and transform the stage's steps.
    Run,
    /// Each of `shards` pods fits the (sharded) step on its share of the
    /// input files: the step's first stage.
    FitShares,
    /// Merge the shares' states (the contract's `merge`), then transform
    /// the whole input: the sharded step's second stage.
    Merge,
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
    /// What its pods do.
    pub role: Role,
}

/// The stages of `spec` run in `order` (the manifest's execution order):
/// consecutive steps share a stage; a step asking for other `resources`
/// (a GPU step, say) starts a new one, and a step with `shards` above 1
/// runs alone in two: its shares fitted in parallel, then their states
/// merged and the input transformed. A stage retries as often as the most
/// patient of its steps asks.
pub fn stages(spec: &PipelineSpec, order: &[usize]) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for &i in order {
        let step = &spec.steps[i];
        let shards = step.shards.unwrap_or(1);
        let retries = step.retries.unwrap_or(0);
        let stage = |shards: u32, role: Role, out: &mut Vec<Stage>| {
            out.push(Stage {
                index: out.len(),
                steps: vec![i],
                resources: step.resources.clone(),
                shards,
                retries,
                role,
            })
        };
        match out.last_mut() {
            _ if shards > 1 => {
                stage(shards, Role::FitShares, &mut out);
                stage(1, Role::Merge, &mut out);
            }
            Some(last) if last.role == Role::Run && last.resources == step.resources => {
                last.steps.push(i);
                last.retries = last.retries.max(retries);
            }
            _ => stage(1, Role::Run, &mut out),
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
    /// A stage of shares was run without saying which share.
    #[error("stage {stage} fits the input in {shards} shares: give --shard I (0 to {last}), as the Indexed Job's JOB_COMPLETION_INDEX does", last = shards - 1)]
    NoShard {
        /// The stage.
        stage: usize,
        /// Its shares.
        shards: u32,
    },
    /// The share asked for does not exist.
    #[error("stage {stage} has {shards} shares, 0 to {last}: there is no share {asked}", last = shards - 1)]
    NoSuchShare {
        /// The stage.
        stage: usize,
        /// Its shares.
        shards: u32,
        /// The share asked for.
        asked: u32,
    },
    /// The derived manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// How `weft run --stage N` runs stage N.
#[derive(Debug)]
pub struct StageRun {
    /// The stage's own manifest.
    pub manifest: Manifest,
    /// The share of the input files it fits on (a [`Role::FitShares`] stage).
    pub share: Option<Share>,
    /// Fit only, writing states and no data.
    pub fit_only: bool,
    /// State folders of the shares to merge before transforming (a
    /// [`Role::Merge`] stage), relative to the manifest's folder.
    pub merge: Vec<PathBuf>,
    /// State folders of the earlier stages, relative to the manifest's
    /// folder, whose states the last stage copies into the pipeline's
    /// output (`exec::gather_states`), so that it holds every fitted state.
    pub gather: Vec<PathBuf>,
}

/// Where share `index` of stage `n` writes its states.
fn share_dir(n: usize, index: u32) -> String {
    format!("{}/share-{index}", handoff_dir(n))
}

/// How `weft run --stage n [--shard share]` runs: stage `n`'s steps alone,
/// on the previous stage's hand-off (the pipeline input for the first),
/// writing its own hand-off ([`handoff_dir`]) or, for the last stage, the
/// pipeline's output. A step that needs a step of an earlier stage reads
/// that stage's hand-off, which holds the earlier steps' output columns. A
/// [`Role::FitShares`] stage fits share `share` of the input files into
/// `weft-stages/<n>/share-<share>/`; the [`Role::Merge`] stage after it
/// reads the same input with the merged states.
pub fn stage_run(
    manifest: &Manifest,
    n: usize,
    share: Option<u32>,
) -> Result<StageRun, StageError> {
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
    // The stage whose hand-off is the input: the one before, or before the
    // shares for a merge.
    let reads = match stage.role {
        Role::Merge => n.checked_sub(2),
        Role::Run | Role::FitShares => n.checked_sub(1),
    };
    if let Some(before) = reads {
        spec.input = DataRef::at(format!("{}/data.parquet", handoff_dir(before)));
    }
    let mut run = StageRun {
        manifest: manifest.clone(),
        share: None,
        fit_only: false,
        merge: Vec::new(),
        gather: Vec::new(),
    };
    match stage.role {
        Role::FitShares => {
            let shards = stage.shards;
            let index = share.ok_or(StageError::NoShard { stage: n, shards })?;
            if index >= shards {
                return Err(StageError::NoSuchShare {
                    stage: n,
                    shards,
                    asked: index,
                });
            }
            spec.output = DataRef::at(share_dir(n, index));
            run.share = Some(Share {
                index,
                count: shards,
            });
            run.fit_only = true;
        }
        Role::Merge => {
            let shards = all[n - 1].shards;
            run.merge = (0..shards)
                .map(|i| PathBuf::from(share_dir(n - 1, i)).join("state"))
                .collect();
        }
        Role::Run => {}
    }
    if n + 1 < all.len() && stage.role != Role::FitShares {
        spec.output = DataRef::at(handoff_dir(n));
    } else if n + 1 == all.len() {
        run.gather = all[..n]
            .iter()
            .filter(|s| s.role != Role::FitShares)
            .map(|s| PathBuf::from(handoff_dir(s.index)).join("state"))
            .collect();
    }
    run.manifest = manifest.with_spec(spec)?;
    Ok(run)
}
