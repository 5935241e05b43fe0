//! The in-process executor: loads a pipeline's plugins, fits stateful steps
//! in as few passes as their dependencies allow, then streams batches through
//! every step on parallel workers and writes data, states and a report.

mod commit;
mod gate;
mod online;
mod pass;
mod progress;
mod report;
mod reuse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::data::{self, DataError, Format};
use crate::plugin::{sha256_hex, Cache, Plugin, PluginError, StepKind};
use crate::sandbox::series::StepSeries;
use crate::sandbox::{Grant, PoolSize, Sandbox};
use weft_gpu::{Choice, Shared};
use weft_manifest::Share;
use weft_manifest::{Compute, Gate, Location, Manifest, ManifestError, Mount};

pub use crate::sandbox::{Failure, Instance, StepFailure, StepSetup};
pub use online::{Applied, Online, Worker};
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
    /// The inputs or states do not fit the manifest.
    #[error("{0}")]
    Invalid(String),
    /// The sandbox could not be set up.
    #[error("sandbox: {0}")]
    Sandbox(String),
    /// The compute device asked for is not available.
    #[error("compute: {0}")]
    Compute(String),
    /// A batch could not be brought back to the host for the output.
    #[error("output: {0}")]
    Output(#[from] crate::sandbox::BatchError),
}

impl RunError {
    /// Where in the manifest the error is, when it is in the manifest.
    pub fn location(&self) -> Option<Location> {
        match self {
            RunError::Manifest(e) => Some(e.location()),
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
    /// Skip the compile cache.
    pub no_cache: bool,
    /// Where kernels run, over `WEFT_COMPUTE` and the manifest.
    pub compute: Option<Choice>,
    /// Read only this share of the input folder's files.
    pub share: Option<Share>,
    /// Fit, write states and the report, and transform nothing.
    pub fit_only: bool,
}

/// The folder mount `m` grants, links followed, if it lies under the
/// manifest's folder or under a folder named in `WEFT_MOUNT_ROOTS`
/// (colon-separated): a manifest cannot grant a step `/etc`.
fn grant_of(manifest: &Manifest, m: &Mount) -> Result<Grant, String> {
    let host = manifest.resolve(&m.path);
    let real = host
        .canonicalize()
        .map_err(|e| format!("mount path {:?} ({}): {e}", m.path, host.display()))?;
    let base = manifest.resolve(".");
    let roots = std::env::var_os("WEFT_MOUNT_ROOTS").unwrap_or_default();
    let allowed = std::iter::once(base.clone())
        .chain(std::env::split_paths(&roots))
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| real.starts_with(root));
    if !allowed {
        return Err(format!(
            "mount path {:?} is {}, outside the manifest's folder {}; mounts are folders under it, or under a folder named in WEFT_MOUNT_ROOTS",
            m.path,
            real.display(),
            base.display()
        ));
    }
    Ok(Grant {
        host: real,
        guest: m.guest.clone(),
    })
}

/// Where kernels run: `--compute`, else `WEFT_COMPUTE`, else the manifest's
/// `compute`, else `auto`. Under `gpu` the device is opened now, so a
/// missing adapter fails the run before any step starts.
fn compute_of(manifest: &Manifest, options: &RunOptions) -> Result<Arc<Shared>, RunError> {
    let from_manifest = || match manifest.pipeline.spec.compute {
        Some(Compute::Gpu) => Choice::Gpu,
        Some(Compute::Cpu) => Choice::Cpu,
        Some(Compute::Auto) | None => Choice::Auto,
    };
    let choice = match options.compute {
        Some(c) => c,
        None if std::env::var_os(Choice::ENV).is_some() => {
            Choice::from_env().map_err(|e| RunError::Compute(e.to_string()))?
        }
        None => from_manifest(),
    };
    let shared = Arc::new(Shared::new(choice));
    if choice == Choice::Gpu {
        shared.get().map_err(|e| RunError::Compute(e.to_string()))?;
    }
    Ok(shared)
}

/// Load plugins, check configs and build the sandbox for `manifest`.
pub fn prepare(manifest: Manifest, options: &RunOptions) -> Result<Prepared, RunError> {
    let spec = &manifest.pipeline.spec;
    let workers = options
        .workers
        .or(spec.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let limits = manifest.limits.clone();
    let pool = PoolSize {
        instances: ((workers + 3) * spec.steps.len() + 4) as u32,
        max_memory_bytes: limits.iter().map(|l| l.memory_bytes).max().unwrap_or(0),
        fuel: limits.iter().any(|l| l.fuel.is_some()),
    };
    let sandbox = Sandbox::new(pool).map_err(|e| RunError::Sandbox(format!("{e:#}")))?;
    let compute = compute_of(&manifest, options)?;
    let cache = if options.no_cache {
        Cache::new(None)
    } else {
        options
            .cache
            .clone()
            .map_or_else(Cache::default_location, |d| Cache::new(Some(d)))
    };
    let mut plugins: BTreeMap<&str, Arc<Plugin>> = BTreeMap::new();
    for (name, r) in &spec.plugins {
        let path = manifest.resolve(&r.path);
        plugins.insert(
            name,
            Arc::new(Plugin::load(&sandbox, &cache, &path, r.sha256.as_deref())?),
        );
    }
    let index: BTreeMap<&str, usize> = spec
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut steps = Vec::new();
    for (step, limits) in spec.steps.iter().zip(limits) {
        let plugin = plugins[step.plugin.as_str()].clone();
        if let Err(problems) = plugin.check_config(&step.config) {
            return Err(RunError::Manifest(manifest.step_error(
                steps.len(),
                Some("config"),
                format!(
                    "step {:?}: config does not match the schema of plugin {:?}: {}",
                    step.name,
                    plugin.meta.name,
                    problems.join("; ")
                ),
            )));
        }
        let grants = step
            .mounts
            .iter()
            .map(|m| grant_of(&manifest, m))
            .collect::<Result<_, _>>()
            .map_err(|m| {
                let message = format!("step {:?}: {m}", step.name);
                RunError::Manifest(manifest.step_error(steps.len(), Some("mounts"), message))
            })?;
        let fit = step.fit.unwrap_or(plugin.meta.stateful);
        if step.reference.is_some() && !fit {
            return Err(RunError::Manifest(manifest.step_error(
                steps.len(),
                Some("reference"),
                format!(
                    "step {:?}: plugin {:?} fits nothing, so it has no use for reference data",
                    step.name, plugin.meta.name
                ),
            )));
        }
        steps.push(StepPlan {
            setup: Arc::new(StepSetup {
                name: step.name.clone(),
                config: step.config.to_string(),
                limits,
                grants,
                compute: compute.clone(),
            }),
            plugin,
            plugin_name: step.plugin.clone(),
            fit,
            needs: step.needs.iter().map(|n| index[n.as_str()]).collect(),
            reference: step.reference.as_ref().map(|r| manifest.resolve(&r.path)),
            gates: step.gates.clone(),
        });
    }
    let order = manifest.order.clone();
    let batch_rows = spec.batch_rows.unwrap_or(65536);
    Ok(Prepared {
        manifest,
        steps,
        order,
        workers,
        batch_rows,
        compute,
        _sandbox: sandbox,
    })
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

    /// Run the pipeline: fit passes, the transform pass, then outputs.
    /// When the output folder already holds this very run's outputs (see
    /// the `reuse` module), returns their report, marked `cache_hit`, unless
    /// `options.no_cache`.
    pub fn run(
        &self,
        options: &RunOptions,
        progress: &dyn Progress,
    ) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let mut states = match &options.state_dir {
            Some(dir) => self.load_states(dir)?,
            None => vec![None; self.steps.len()],
        };
        let key = reuse::key(self, options, &states);
        let out = self.output();
        let _lock = commit::Lock::take(&out)?;
        if let Some(key) = key.as_deref().filter(|_| !options.no_cache) {
            if let Some(report) = reuse::earlier(&out, key) {
                tracing::info!(key, "the output folder holds this run's outputs");
                return Ok(RunReport {
                    cache_hit: true,
                    ..report
                });
            }
        }
        let mut stats = vec![report::StepStats::default(); self.steps.len()];
        let series = self.series();
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
                    states: &states,
                    series: &series,
                    purpose: pass::Purpose::Fit,
                }
                .run(None, progress, &mut stats)?;
                for (t, mut instance) in group.into_iter().zip(fitted.sinks) {
                    states[t] = Some(Arc::new(instance.state()?));
                }
            }
        }
        let evaluators: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&i| self.steps[i].kind() == StepKind::Evaluate)
            .collect();
        if options.fit_only {
            let mut report =
                report::build(self, &out, &states, stats, &series, 0, started.elapsed());
            report.output = String::new();
            report.cache_key = key;
            commit::retract(&out)?;
            report::write(self, &out, &report, &states)?;
            return Ok(report);
        }
        let writer = data::Writer::create(&out.data)?;
        let mut done = pass::Pass {
            prepared: self,
            input: self.input(),
            share: options.share,
            compute: vec![true; self.steps.len()],
            sinks: evaluators,
            states: &states,
            series: &series,
            purpose: pass::Purpose::Transform,
        }
        .run(Some(writer), progress, &mut stats)?;
        for instance in &mut done.sinks {
            instance.report_into_series()?;
        }
        commit::retract(&out)?;
        let rows = done.finish()?;
        commit::fault("data-written");
        let mut report =
            report::build(self, &out, &states, stats, &series, rows, started.elapsed());
        report.cache_key = key;
        let digest = reuse::data_digest(&out.data).map_err(|error| DataError::Io {
            path: out.data.clone(),
            error,
        })?;
        report.output_sha256 = Some(digest);
        report::write(self, &out, &report, &states)?;
        Ok(report)
    }
}
