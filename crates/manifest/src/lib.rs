//! The `Pipeline` document: serde types shared by `weft run` and the cluster,
//! and validation whose errors name the file, line and column.

mod cluster;
mod error;
/// Offset of the first mapping key `key` (bare or quoted, then `:`) at or
/// after `from` in `source`.
fn key_offset(source: &str, from: usize, key: &str) -> Option<usize> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    source[from..]
        .match_indices(key)
        .map(|(i, _)| from + i)
        .find(|&i| {
            let before = source[..i].chars().next_back();
            let after = source[i + key.len()..].trim_start_matches(['"', '\'']);
            !before.is_some_and(is_word) && after.trim_start_matches([' ', '\t']).starts_with(':')
        })
}

#[cfg(test)]
mod fuzz_tests;
mod limits;
mod mounts;
mod plugins;
mod quantity;
mod share;
mod spec;
mod stages;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use cluster::{
    crd_yaml, GateResult, MetricStatus, Phase, PipelineStatus, Resources, StageStatus, StepStatus,
    Storage,
};
pub use error::{Location, ManifestError};
pub use limits::{Limits, LimitsSpec, DEFAULT_STEP_SERIES, MAX_RUN_SERIES};
pub use quantity::parse_bytes;
pub use share::Share;
pub use spec::{
    Compression, Compute, DataRef, Gate, Mount, ObjectMeta, Pipeline, PipelineResource,
    PipelineSpec, PluginRef, Step, API_VERSION,
};
pub use stages::{handoff_dir, stage_run, stages, Role, Stage, StageError, StageRun};

/// A parsed, validated manifest with its source and folder.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The document.
    pub pipeline: Pipeline,
    /// The file it came from.
    pub file: PathBuf,
    /// Step indices in execution order (dependencies first).
    pub order: Vec<usize>,
    /// Each step's limits, in units, in manifest order.
    pub limits: Vec<Limits>,
    source: String,
}

impl Manifest {
    /// Read and validate a manifest file.
    pub fn load(file: &Path) -> Result<Manifest, ManifestError> {
        let source = std::fs::read_to_string(file).map_err(|e| ManifestError {
            file: file.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read the manifest: {e}"),
        })?;
        Manifest::parse(file, source)
    }

    /// Parse and validate manifest text that came from `file`.
    pub fn parse(file: &Path, source: String) -> Result<Manifest, ManifestError> {
        let pipeline: Pipeline = serde_yaml::from_str(&source).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            ManifestError {
                file: file.display().to_string(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        let mut manifest = Manifest {
            pipeline,
            file: file.to_owned(),
            order: Vec::new(),
            limits: Vec::new(),
            source,
        };
        (manifest.order, manifest.limits) = manifest.validate()?;
        Ok(manifest)
    }

    /// The same file with `spec` in place of its own, validated again
    /// (errors point into the original source).
    pub fn with_spec(&self, spec: PipelineSpec) -> Result<Manifest, ManifestError> {
        let mut derived = self.clone();
        derived.pipeline.spec = spec;
        (derived.order, derived.limits) = derived.validate()?;
        Ok(derived)
    }

    /// Resolve a manifest-relative path.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let base = self.file.parent().unwrap_or(Path::new("."));
        base.join(path)
    }

    /// An error located at the first occurrence of `needle` after `after`.
    pub fn error_at(&self, after: &str, needle: &str, message: String) -> ManifestError {
        let start = self.source.find(after).unwrap_or(0);
        let at = self.source[start..].find(needle).map(|i| i + start);
        self.located(at, message)
    }

    /// An error about step `index`, located at the first `needle` inside its
    /// entry, or at its name when `needle` is `None`.
    pub fn step_error(&self, index: usize, needle: Option<&str>, message: String) -> ManifestError {
        let start = self.step_offset(index);
        let at = match needle {
            None => start,
            Some(n) => start.and_then(|s| self.source[s..].find(n).map(|i| i + s)),
        };
        self.located(at, message)
    }

    /// An error about the config of step `index`, located at the key of
    /// `path` (object keys, outermost first; an index stays at its array's
    /// key) inside it, or at `config` itself.
    pub fn config_error(&self, index: usize, path: &[String], message: String) -> ManifestError {
        let mut at = self
            .step_offset(index)
            .and_then(|s| key_offset(&self.source, s, "config"));
        for key in path.iter().filter(|k| k.parse::<usize>().is_err()) {
            match at.and_then(|s| key_offset(&self.source, s, key)) {
                Some(found) => at = Some(found),
                None => break,
            }
        }
        self.located(at, message)
    }

    /// Offset of the name of step `index`.
    fn step_offset(&self, index: usize) -> Option<usize> {
        let steps = &self.pipeline.spec.steps;
        let name = &steps[index].name;
        let occurrence = steps[..index].iter().filter(|s| s.name == *name).count();
        self.name_offset(name, occurrence)
    }

    /// Offset of the value of the `occurrence`-th `name: <name>` entry.
    fn name_offset(&self, name: &str, occurrence: usize) -> Option<usize> {
        let key = format!("name: {name}");
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        self.source
            .match_indices(&key)
            .filter(|(i, _)| !self.source[i + key.len()..].starts_with(is_name_char))
            .nth(occurrence)
            .map(|(i, _)| i + "name: ".len())
    }

    fn located(&self, at: Option<usize>, message: String) -> ManifestError {
        let (line, column) = match at {
            Some(i) => {
                let before = &self.source[..i];
                let line = before.matches('\n').count() + 1;
                (line, i - before.rfind('\n').map_or(0, |n| n + 1) + 1)
            }
            None => (0, 0),
        };
        ManifestError {
            file: self.file.display().to_string(),
            line,
            column,
            message,
        }
    }

    fn validate(&self) -> Result<(Vec<usize>, Vec<Limits>), ManifestError> {
        let p = &self.pipeline;
        self.check_document()?;
        Limits::resolve(None, p.spec.limits.as_ref())
            .map_err(|e| self.error_at("limits", e.field, e.to_string()))?;
        let mut index = HashMap::new();
        let mut limits = Vec::with_capacity(p.spec.steps.len());
        for (i, step) in p.spec.steps.iter().enumerate() {
            self.check_step(i)?;
            if index.insert(step.name.as_str(), i).is_some() {
                return Err(self.step_error(
                    i,
                    None,
                    format!("two steps are named {:?}", step.name),
                ));
            }
            limits.push(
                Limits::resolve(step.limits.as_ref(), p.spec.limits.as_ref()).map_err(|e| {
                    self.step_error(i, Some(e.field), format!("step {:?}: {e}", step.name))
                })?,
            );
        }
        for (i, step) in p.spec.steps.iter().enumerate() {
            for need in &step.needs {
                if !index.contains_key(need.as_str()) {
                    return Err(self.step_error(
                        i,
                        Some(need),
                        format!("step {:?} needs {need:?}, which is not a step", step.name),
                    ));
                }
            }
        }
        Ok((self.topo_order(&index)?, limits))
    }

    /// The document's own fields: kind, version, sizes, steps present.
    fn check_document(&self) -> Result<(), ManifestError> {
        let p = &self.pipeline;
        if p.api_version != API_VERSION {
            return Err(self.error_at(
                "",
                "apiVersion",
                format!(
                    "apiVersion is {:?}; weft reads {API_VERSION:?}",
                    p.api_version
                ),
            ));
        }
        if p.kind != "Pipeline" {
            return Err(self.error_at(
                "",
                "kind",
                format!("kind is {:?}; expected \"Pipeline\"", p.kind),
            ));
        }
        if p.spec.batch_rows == Some(0) {
            return Err(self.error_at("", "batchRows", "batchRows must be at least 1".into()));
        }
        if p.spec.workers == Some(0) {
            return Err(self.error_at("", "workers", "workers must be at least 1".into()));
        }
        if p.spec.active_deadline_seconds == Some(0) {
            return Err(self.error_at(
                "",
                "activeDeadlineSeconds",
                "activeDeadlineSeconds must be at least 1".into(),
            ));
        }
        if p.spec.image_pull_secrets.len() > 1 {
            return Err(self.error_at(
                "",
                "imagePullSecrets",
                "imagePullSecrets: a stage pod reads one docker config file; put the auths of every registry into one kubernetes.io/dockerconfigjson Secret".into(),
            ));
        }
        if p.spec.input.compression.is_some() {
            return Err(self.error_at(
                "input",
                "compression",
                "input.compression: compression is an output setting; weft reads whatever compression a Parquet input has".into(),
            ));
        }
        if p.spec.steps.is_empty() {
            return Err(self.error_at("", "steps", "the pipeline has no steps".into()));
        }
        self.check_plugins()
    }

    /// Step `i`'s fields that need nothing of the other steps.
    fn check_step(&self, i: usize) -> Result<(), ManifestError> {
        let p = &self.pipeline;
        let step = &p.spec.steps[i];
        if !valid_name(&step.name) {
            return Err(self.step_error(i, None, format!(
                "step name {:?} must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
                step.name
            )));
        }
        if !p.spec.plugins.contains_key(&step.plugin) {
            let known: Vec<_> = p.spec.plugins.keys().map(String::as_str).collect();
            return Err(self.step_error(
                i,
                Some("plugin"),
                format!(
                    "step {:?} uses plugin {:?}, which spec.plugins does not define (defined: {})",
                    step.name,
                    step.plugin,
                    known.join(", ")
                ),
            ));
        }
        if let Some(g) = step
            .gates
            .iter()
            .find(|g| g.min.is_none() && g.max.is_none())
        {
            return Err(self.step_error(
                i,
                Some("gates"),
                format!(
                    "step {:?}: the gate on {:?} needs a min, a max or both",
                    step.name, g.metric
                ),
            ));
        }
        self.check_mounts(i)?;
        if step.shards == Some(0) {
            return Err(self.step_error(
                i,
                Some("shards"),
                format!("step {:?}: shards must be at least 1", step.name),
            ));
        }
        Ok(())
    }

    /// Kahn's algorithm, taking ready steps in manifest order; names a cycle.
    fn topo_order(&self, index: &HashMap<&str, usize>) -> Result<Vec<usize>, ManifestError> {
        let steps = &self.pipeline.spec.steps;
        let mut waiting: Vec<usize> = steps.iter().map(|s| s.needs.len()).collect();
        let mut order = Vec::with_capacity(steps.len());
        while order.len() < steps.len() {
            let Some(next) = (0..steps.len()).find(|i| waiting[*i] == 0 && !order.contains(i))
            else {
                let stuck: Vec<&str> = (0..steps.len())
                    .filter(|i| !order.contains(i))
                    .map(|i| steps[i].name.as_str())
                    .collect();
                return Err(self.step_error(
                    index[stuck[0]],
                    Some("needs"),
                    format!("the steps {} need each other in a cycle", stuck.join(", ")),
                ));
            };
            order.push(next);
            for (i, s) in steps.iter().enumerate() {
                waiting[i] -= s.needs.iter().filter(|n| index[n.as_str()] == next).count();
            }
        }
        Ok(order)
    }
}

fn valid_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| ok(c) || c == '-')
        && name.starts_with(ok)
        && name.ends_with(ok)
}
