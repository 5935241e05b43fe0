//! The in-process executor: loads a pipeline's plugins, fits stateful steps
//! in as few passes as their dependencies allow, then streams batches through
//! every step on parallel workers and writes data, states and a report.

mod commit;
mod dry;
mod gate;
mod online;
mod part;
mod pass;
mod prepare;
mod progress;
mod report;
mod reuse;
mod run;
mod union;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::data::{DataError, Format};
use crate::plugin::{sha256_hex, Plugin, PluginError, StepKind};
use crate::sandbox::series::StepSeries;
use crate::sandbox::{CompilerChoice, Sandbox};
use weft_gpu::{Choice, Shared};
use weft_manifest::Share;
use weft_manifest::{Gate, Location, Manifest, ManifestError, StageError};

pub use crate::sandbox::{Failure, Instance, StepFailure, StepSetup};
pub use dry::DryRun;
pub use online::{Applied, Online, Worker};
pub use part::{run_part, Part};
pub use prepare::prepare;
pub use progress::{Progress, Quiet};
pub use report::gather_states;
pub use weft_record::{GateResult, GpuTransfers, MetricValue, RunReport, StateFile, StepReport};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Reading or writing data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A step failed.
    #[error(transparent)]
    Step(#[from] StepFailure),
    /// The manifest asks for something that cannot work, at a place in it.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A stage of the pipeline cannot be run as asked.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The inputs or states do not fit the manifest.
    #[error("{0}")]
    Invalid(String),
    /// The sandbox could not be set up.
    #[error("sandbox: {0}")]
    Sandbox(String),
    /// The compute device asked for is not available.
    #[error("compute: {0}")]
    Compute(#[from] weft_gpu::GpuError),
    /// A batch could not be brought back to the host for the output.
    #[error("output: {0}")]
    Output(#[from] crate::sandbox::BatchError),
}

impl RunError {
    /// A step's failure on `rows` of a pass's input, saying so.
    fn on_rows(self, rows: std::ops::Range<u64>) -> RunError {
        match self {
            RunError::Step(f) if f.rows.is_none() => RunError::Step(StepFailure {
                rows: Some(rows),
                ..f
            }),
            other => other,
        }
    }

    /// Where in the manifest the error is, when it is in the manifest.
    pub fn location(&self) -> Option<Location> {
        match self {
            RunError::Manifest(e) | RunError::Stage(StageError::Manifest(e)) => Some(e.location()),
            _ => None,
        }
    }
}

/// The manifest location of the first error in `chain` that has one (an
/// error and its sources, as `anyhow::Error::chain` gives them).
pub fn location_in<'a>(
    chain: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> Option<Location> {
    chain.into_iter().find_map(|e| {
        e.downcast_ref::<RunError>()
            .and_then(RunError::location)
            .or_else(|| {
                e.downcast_ref::<ManifestError>()
                    .map(ManifestError::location)
            })
    })
}

/// One step, resolved: plugin loaded, config checked, limits parsed.
pub struct StepPlan {
    /// Setup for instances.
    pub setup: Arc<StepSetup>,
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// The plugin's key in the manifest.
    pub plugin_name: String,
    /// Whether it is fitted before the transform pass.
    pub fit: bool,
    /// Indices of the steps it reads.
    pub needs: Vec<usize>,
    /// The file it fits on, when not the pipeline input.
    pub reference: Option<PathBuf>,
    /// Bounds on its metrics.
    pub gates: Vec<Gate>,
    /// Where its `oci` mounts came from.
    pub mounts: Vec<weft_record::MountOci>,
}

impl StepPlan {
    /// Transform or evaluate.
    pub fn kind(&self) -> StepKind {
        self.plugin.meta.kind
    }
}

/// A pipeline ready to run.
pub struct Prepared {
    /// The manifest.
    pub manifest: Manifest,
    /// Steps, in manifest order.
    pub steps: Vec<StepPlan>,
    /// Execution order.
    pub order: Vec<usize>,
    /// Worker threads for the transform pass.
    pub workers: usize,
    /// Rows per batch.
    pub batch_rows: usize,
    /// The compute device the steps share.
    pub compute: Arc<Shared>,
    /// Keeps the engine and its epoch ticker alive for the run.
    _sandbox: Sandbox,
}

/// Options of a run beyond the manifest.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Load fitted states from this folder instead of fitting.
    pub state_dir: Option<PathBuf>,
    /// Override the number of workers.
    pub workers: Option<usize>,
    /// Compile cache.
    pub cache: Option<PathBuf>,
    /// Run even when the output folder holds this run's outputs.
    pub no_cache: bool,
    /// Compile plugins without the on-disk compile cache.
    pub no_compile_cache: bool,
    /// Where kernels run, over `WEFT_COMPUTE` and the manifest.
    pub compute: Option<Choice>,
    /// Which compiler compiles each plugin (by default by its size).
    pub compiler: CompilerChoice,
    /// Read only this share of the input folder's files.
    pub share: Option<Share>,
    /// Fit, write states and the report, and transform nothing.
    pub fit_only: bool,
}

/// Where a run writes.
pub struct OutputPaths {
    /// The data file.
    pub data: PathBuf,
    /// Folder of report.json and state/.
    pub dir: PathBuf,
}

impl Prepared {
    /// The input file.
    pub fn input(&self) -> PathBuf {
        self.manifest
            .resolve(&self.manifest.pipeline.spec.input.path)
    }

    /// Output locations: a data file names its format, a folder gets data.parquet.
    pub fn output(&self) -> OutputPaths {
        let path = self
            .manifest
            .resolve(&self.manifest.pipeline.spec.output.path);
        if Format::of(&path).is_some() {
            let dir = path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_owned);
            OutputPaths { data: path, dir }
        } else {
            OutputPaths {
                data: path.join("data.parquet"),
                dir: path,
            }
        }
    }

    /// Fresh metric series tables for one run, one per step.
    pub(crate) fn series(&self) -> Vec<Arc<StepSeries>> {
        StepSeries::for_run(self.steps.iter().map(|s| s.setup.limits.max_series))
    }

    /// Steps whose inputs `targets` depend on, transitively (excluding targets).
    fn ancestors(&self, targets: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.steps.len()];
        let mut stack: Vec<usize> = targets
            .iter()
            .flat_map(|t| self.steps[*t].needs.clone())
            .collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&self.steps[i].needs);
            }
        }
        seen
    }

    pub(crate) fn load_states(&self, dir: &Path) -> Result<Vec<Option<Arc<Vec<u8>>>>, RunError> {
        let index = report::read_index(dir)?;
        self.steps
            .iter()
            .map(|s| {
                if !s.fit {
                    return Ok(None);
                }
                let path = dir.join(format!("{}.bin", s.setup.name));
                let bytes = std::fs::read(&path).map_err(|e| RunError::Invalid(format!(
                    "{}: cannot read the fitted state of step {:?}: {e}",
                    path.display(),
                    s.setup.name
                )))?;
                let Some(entry) = index.get(&s.setup.name) else {
                    return Err(RunError::Invalid(format!(
                        "{}: no entry for step {:?} in {}, so its digest and plugin cannot be checked; use a state folder written by weft run (with its index.json)",
                        path.display(), s.setup.name, dir.join("index.json").display()
                    )));
                };
                if entry.plugin_sha256 != s.plugin.digest {
                    return Err(RunError::Invalid(format!(
                        "{}: state of step {:?} was fitted with plugin {} but the manifest loads {}; refit or use the same plugin",
                        path.display(), s.setup.name, entry.plugin_sha256, s.plugin.digest
                    )));
                }
                if entry.sha256 != sha256_hex(&bytes) {
                    return Err(RunError::Invalid(format!("{}: state file does not match its digest in index.json", path.display())));
                }
                Ok(Some(Arc::new(bytes)))
            })
            .collect()
    }

    /// Merge the states fitted on shards (each folder a shard run's
    /// `out/state`) into one set in `into`, through each plugin's `merge`.
    /// Returns the names of the merged steps.
    pub fn merge_states(&self, shards: &[PathBuf], into: &Path) -> Result<Vec<String>, RunError> {
        let loaded = shards
            .iter()
            .map(|dir| self.load_states(dir))
            .collect::<Result<Vec<_>, _>>()?;
        let mut merged = vec![None; self.steps.len()];
        for (i, step) in self.steps.iter().enumerate().filter(|(_, s)| s.fit) {
            let parts: Vec<Vec<u8>> = loaded
                .iter()
                .map(|states| states[i].as_ref().expect("fit steps have states").to_vec())
                .collect();
            let mut instance = Instance::new(step.plugin.pre().clone(), step.setup.clone(), None)?;
            merged[i] = Some(Arc::new(instance.merge(&parts)?));
        }
        report::write_states(self, into, &merged)?;
        Ok(self
            .steps
            .iter()
            .filter(|s| s.fit)
            .map(|s| s.setup.name.clone())
            .collect())
    }

    /// `targets` grouped by the file they fit on: the pipeline input, or
    /// each step's reference data.
    fn by_fit_input(&self, targets: Vec<usize>) -> BTreeMap<PathBuf, Vec<usize>> {
        let mut groups: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
        for t in targets {
            let input = self.steps[t]
                .reference
                .clone()
                .unwrap_or_else(|| self.input());
            groups.entry(input).or_default().push(t);
        }
        groups
    }

    /// Fit every fitting step that has no state yet, in passes over its
    /// fit input, a step's ancestors first.
    fn fit(
        &self,
        options: &RunOptions,
        progress: &dyn Progress,
        states: &mut [Option<Arc<Vec<u8>>>],
        stats: &mut [report::StepStats],
        series: &[Arc<StepSeries>],
    ) -> Result<(), RunError> {
        loop {
            let targets: Vec<usize> = self
                .order
                .iter()
                .copied()
                .filter(|&i| self.steps[i].fit && states[i].is_none())
                .filter(|&i| {
                    self.ancestors(&[i])
                        .iter()
                        .enumerate()
                        .all(|(j, up)| !up || !self.steps[j].fit || states[j].is_some())
                })
                .collect();
            if targets.is_empty() {
                break;
            }
            for (input, group) in self.by_fit_input(targets) {
                let share = options.share.filter(|_| input == self.input());
                let fitted = pass::Pass {
                    prepared: self,
                    input,
                    share,
                    compute: self.ancestors(&group),
                    sinks: group.clone(),
                    states,
                    series,
                    purpose: pass::Purpose::Fit,
                }
                .run(None, progress, stats)?;
                for (t, mut instance) in group.into_iter().zip(fitted.sinks) {
                    states[t] = Some(Arc::new(instance.state()?));
                }
            }
        }
        Ok(())
    }
}
