//! Running a part of a pipeline: all of it, or one stage as a cluster pod
//! runs it (`weft run --stage N [--shard I]`): the stage's own manifest,
//! the shard states merged before a merge stage transforms, and the states
//! of earlier stages gathered into the last stage's output.

use std::path::PathBuf;

use weft_manifest::{stage_run, Manifest};

use super::{gather_states, prepare, OutputPaths, Progress, RunError, RunOptions, RunReport};

/// Which part of a pipeline a run runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Part {
    /// One stage (`--stage`); all of the pipeline when `None`.
    pub stage: Option<usize>,
    /// The stage's share of the input files (`--shard`).
    pub shard: Option<u32>,
}

/// Run `part` of `manifest`'s pipeline; where it wrote and its report.
pub fn run_part(
    manifest: Manifest,
    part: Part,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<(OutputPaths, RunReport), RunError> {
    let mut options = options.clone();
    let Some(n) = part.stage else {
        let prepared = prepare(manifest, &options)?;
        let report = prepared.run(&options, progress)?;
        return Ok((prepared.output(), report));
    };
    let plan = stage_run(&manifest, n, part.shard)?;
    options.share = plan.share;
    options.fit_only = plan.fit_only;
    let prepared = prepare(plan.manifest, &options)?;
    let resolve = |dirs: &[PathBuf]| -> Vec<PathBuf> {
        dirs.iter()
            .map(|d| prepared.manifest.resolve(&d.to_string_lossy()))
            .collect()
    };
    if !plan.merge.is_empty() {
        let merged = prepared.output().dir.join(".weft-merged-state");
        prepared.merge_states(&resolve(&plan.merge), &merged)?;
        options.state_dir = Some(merged);
    }
    let report = prepared.run(&options, progress)?;
    if !plan.gather.is_empty() {
        gather_states(&resolve(&plan.gather), &prepared.output().dir.join("state"))?;
    }
    Ok((prepared.output(), report))
}
