//! The `Pipeline` document: serde types shared by `weft run` and the cluster,
//! and validation whose errors name the file, line and column.

mod cluster;
#[cfg(test)]
mod fuzz_tests;
mod quantity;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Toleration;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cluster::{
    crd_yaml, GateResult, MetricStatus, Phase, PipelineStatus, Resources, StageStatus, StepStatus,
    Storage,
};
pub use quantity::parse_bytes;

/// Distinct metric series one run keeps over all its steps.
pub const MAX_RUN_SERIES: usize = 10_000;

/// Distinct metric series one step keeps when its `limits.maxMetricSeries`
/// does not say.
pub const DEFAULT_STEP_SERIES: usize = 1_000;
/// The API group/version of the document.
pub const API_VERSION: &str = "weft.dev/v1alpha1";

/// A pipeline manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pipeline {
    /// Must be `weft.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Pipeline`.
    pub kind: String,
    /// Name and labels.
    pub metadata: ObjectMeta,
    /// What to run.
    pub spec: PipelineSpec,
}

/// The parts of Kubernetes object metadata weft reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The pipeline's name.
    pub name: String,
    /// Namespace, on a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What to run: the spec of a manifest for `weft run` and of a Pipeline on a
/// cluster alike. Fields marked "Cluster only" are checked by `weft run` and
/// otherwise ignored there.
// The derive makes `PipelineResource`, the cluster object, and its CRD.
#[derive(CustomResource, Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[kube(
    group = "weft.dev",
    version = "v1alpha1",
    kind = "Pipeline",
    root = "PipelineResource",
    namespaced,
    status = "PipelineStatus",
    shortname = "wfp",
    derive = "PartialEq",
    doc = "A weft pipeline: sandboxed WebAssembly steps over columnar data, run as Jobs.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    // Raw JSON: the same `type_ = "integer"` twice trips clippy's
    // duplicated_attributes.
    printcolumn = r#"{"name": "Done", "type": "integer", "jsonPath": ".status.stepsDone", "description": "steps finished"}"#,
    printcolumn = r#"{"name": "Steps", "type": "integer", "jsonPath": ".status.stepsTotal", "description": "steps in the pipeline"}"#,
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PipelineSpec {
    /// Plugins by the name steps use.
    pub plugins: BTreeMap<String, PluginRef>,
    /// The data to read.
    pub input: DataRef,
    /// Where results go: a folder, or a data file whose extension picks the format.
    pub output: DataRef,
    /// Most rows per batch (default 65536; the reader makes fewer when a
    /// batch of that many rows would pass its byte budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_rows: Option<usize>,
    /// Parallel workers for the transform pass (default: the machine's cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Limits applied to every step unless the step sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSpec>,
    /// Where compute kernels run (default `auto`); `WEFT_COMPUTE` and
    /// `weft run --compute` override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<Compute>,
    /// The steps, in any order; `needs` orders them.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// Cluster only: the container image of the stage pods (default: the
    /// operator's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Cluster only: the volume input, outputs and stage hand-offs live on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// Cluster only: node labels the stage pods must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Cluster only: taints the stage pods tolerate (e.g. GPU nodes').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Cluster only: seconds each stage's Job may run before it is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub active_deadline_seconds: Option<u32>,
    /// Cluster only: seconds after which finished Jobs are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<u32>,
}

/// Where a plugin's component file is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginRef {
    /// Path of the `.wasm` component, relative to the manifest.
    pub path: String,
    /// Expected sha256 of the file, hex; checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl PipelineSpec {
    /// The steps' names, in manifest order.
    pub fn step_names(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.name.clone()).collect()
    }
}

/// A data file or folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataRef {
    /// Path relative to the manifest (.csv, .parquet, .jsonl; a folder for output).
    pub path: String,
}

/// One step of the pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Step {
    /// Unique name (lowercase letters, digits, `-`).
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Key into `spec.plugins`.
    pub plugin: String,
    /// The step's configuration, checked against the plugin's JSON Schema.
    #[serde(default = "empty_object")]
    #[schemars(schema_with = "cluster::any_object")]
    pub config: serde_json::Value,
    /// Steps whose output this step reads; none means the pipeline input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// Whether to fit before transforming (default: whether the plugin is stateful).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<bool>,
    /// This step's limits (override `spec.limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSpec>,
    /// Host folders the step may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Data a stateful step fits on instead of the pipeline input (e.g. the
    /// training data a drift step compares against); it flows through the
    /// same upstream steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<DataRef>,
    /// Bounds on the metrics the step reports; a failed gate fails the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<Gate>,
    /// Cluster only: what the step's pod requests; a change starts a new stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Cluster only: run the step's stage as this many pods, each on its
    /// share of the input, merging fitted states (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub shards: Option<u32>,
    /// Cluster only: times a failed stage is retried (its Job's backoffLimit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A bound on a reported metric: `{metric: accuracy, min: 0.9}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Gate {
    /// Metric name, as the step reports it.
    pub metric: String,
    /// Lowest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Only metrics carrying these labels (e.g. `{column: age}`); without,
    /// every metric of that name must pass.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// Per-step limits enforced by the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSpec {
    /// Linear memory, e.g. `256Mi` (default 512Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Wall time of one call into the step, seconds (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Fuel per call; enables fuel metering for the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Bytes of columns one call may create, e.g. `1Gi` (default 1Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<String>,
    /// Bytes of host columns and batches the step may hold at once (what
    /// it made and keeps handles to, kernel outputs), e.g. `2Gi` (default
    /// twice `memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_memory: Option<String>,
    /// Buffers one custom GPU kernel (`run-wgsl`) may bind (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_buffers: Option<usize>,
    /// Bytes of all buffers of one custom GPU kernel, e.g. `64Mi` (default 256Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory: Option<String>,
    /// Workgroups one custom GPU kernel may dispatch, `x * y * z` (default 1048576).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_workgroups: Option<u64>,
    /// Distinct metric series the step keeps over a run (default 1000, at
    /// most 10000); values for further new series are dropped and counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_RUN_SERIES))]
    pub max_metric_series: Option<u64>,
}

/// Where compute kernels run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compute {
    /// A hardware GPU when there is one, else the CPU.
    Auto,
    /// A GPU adapter (a software one counts); an error when there is none.
    Gpu,
    /// The CPU only.
    Cpu,
}

/// A read-only host folder granted to a step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mount {
    /// Host folder, relative to the manifest.
    pub path: String,
    /// Where the step sees it, e.g. `/models`.
    #[serde(rename = "as")]
    pub guest: String,
}

/// A manifest problem, located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ManifestError {
    /// The manifest file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// A parsed, validated manifest with its source and folder.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The document.
    pub pipeline: Pipeline,
    /// The file it came from.
    pub file: PathBuf,
    /// Step indices in execution order (dependencies first).
    pub order: Vec<usize>,
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
            source,
        };
        manifest.order = manifest.validate()?;
        Ok(manifest)
    }

    /// The same file with `spec` in place of its own, validated again
    /// (errors point into the original source).
    pub fn with_spec(&self, spec: PipelineSpec) -> Result<Manifest, ManifestError> {
        let mut derived = self.clone();
        derived.pipeline.spec = spec;
        derived.order = derived.validate()?;
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
        let steps = &self.pipeline.spec.steps;
        let name = &steps[index].name;
        let occurrence = steps[..index].iter().filter(|s| s.name == *name).count();
        let start = self.name_offset(name, occurrence);
        let at = match needle {
            None => start,
            Some(n) => start.and_then(|s| self.source[s..].find(n).map(|i| i + s)),
        };
        self.located(at, message)
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

    fn validate(&self) -> Result<Vec<usize>, ManifestError> {
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
        if p.spec.steps.is_empty() {
            return Err(self.error_at("", "steps", "the pipeline has no steps".into()));
        }
        if let Some(limits) = &p.spec.limits {
            check_limits(limits).map_err(|(field, m)| self.error_at("limits", field, m))?;
        }
        let mut index = HashMap::new();
        for (i, step) in p.spec.steps.iter().enumerate() {
            if !valid_name(&step.name) {
                return Err(self.step_error(i, None, format!(
                    "step name {:?} must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
                    step.name
                )));
            }
            if index.insert(step.name.as_str(), i).is_some() {
                return Err(self.step_error(
                    i,
                    None,
                    format!("two steps are named {:?}", step.name),
                ));
            }
            if !p.spec.plugins.contains_key(&step.plugin) {
                let known: Vec<_> = p.spec.plugins.keys().map(String::as_str).collect();
                return Err(self.step_error(
                    i,
                    Some("plugin"),
                    format!(
                    "step {:?} uses plugin {:?}, which spec.plugins does not define (defined: {})",
                    step.name, step.plugin, known.join(", ")
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
            if step.shards == Some(0) {
                return Err(self.step_error(
                    i,
                    Some("shards"),
                    format!("step {:?}: shards must be at least 1", step.name),
                ));
            }
            if let Some(limits) = &step.limits {
                check_limits(limits).map_err(|(field, m)| {
                    self.step_error(i, Some(field), format!("step {:?}: {m}", step.name))
                })?;
            }
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
        self.topo_order(&index)
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

/// Whether `limits` are well formed; else the field at fault and why.
fn check_limits(limits: &LimitsSpec) -> Result<(), (&'static str, String)> {
    for (field, value) in [
        ("memory", &limits.memory),
        ("maxOutput", &limits.max_output),
        ("hostMemory", &limits.host_memory),
        ("gpuMemory", &limits.gpu_memory),
    ] {
        if let Some(v) = value {
            parse_bytes(v).map_err(|e| (field, format!("limits.{field}: {e}")))?;
        }
    }
    if let Some(n) = limits
        .max_metric_series
        .filter(|&n| n > MAX_RUN_SERIES as u64)
    {
        return Err((
            "maxMetricSeries",
            format!(
                "limits.maxMetricSeries is {n}; at most {MAX_RUN_SERIES}, the cap on a run's metric series"
            ),
        ));
    }
    match limits.timeout_seconds {
        Some(t) if !(t > 0.0 && t.is_finite()) => Err((
            "timeoutSeconds",
            format!("limits.timeoutSeconds must be positive, got {t}"),
        )),
        _ => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("p.yaml"), yaml.to_owned())
    }

    const HEAD: &str = "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: { name: t }\nspec:\n  plugins:\n    id: { path: id.wasm }\n  input: { path: in.csv }\n  output: { path: out/ }\n  steps:\n";

    #[test]
    fn orders_by_needs() {
        let m = parse(&format!(
            "{HEAD}    - {{ name: b, plugin: id, needs: [a] }}\n    - {{ name: a, plugin: id }}\n"
        ))
        .unwrap();
        assert_eq!(m.order, vec![1, 0]);
    }

    #[test]
    fn unknown_field_is_located() {
        let e = parse(&format!(
            "{HEAD}    - name: a\n      plugin: id\n      confg: {{}}\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 12, "{e}");
        assert!(e.message.contains("unknown field `confg`"), "{e}");
    }

    #[test]
    fn cycle_names_the_steps() {
        let e = parse(&format!("{HEAD}    - {{ name: a, plugin: id, needs: [b] }}\n    - {{ name: b, plugin: id, needs: [a] }}\n")).unwrap_err();
        assert!(e.message.contains("a, b need each other in a cycle"), "{e}");
        assert_eq!(e.line, 10);
    }

    #[test]
    fn missing_plugin_and_need_are_named() {
        let e = parse(&format!("{HEAD}    - {{ name: a, plugin: nope }}\n")).unwrap_err();
        assert!(e.message.contains("plugin \"nope\""), "{e}");
        let e = parse(&format!(
            "{HEAD}    - {{ name: a, plugin: id, needs: [zz] }}\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("needs \"zz\""), "{e}");
        assert_eq!((e.line, e.column), (10, 38));
    }

    #[test]
    fn cluster_fields_are_read_and_bounded() {
        let m = parse(&format!(
            "{HEAD}    - name: a\n      plugin: id\n      shards: 4\n      retries: 0\n      resources: {{ cpu: 2, memory: 4Gi, nvidia.com/gpu: 1 }}\n  image: weft:dev\n  storage: {{ claimName: data }}\n  tolerations: [{{ key: gpu, operator: Exists }}]\n"
        ))
        .unwrap();
        let step = &m.pipeline.spec.steps[0];
        assert_eq!((step.shards, step.retries), (Some(4), Some(0)));
        let resources = step.resources.as_ref().unwrap();
        assert_eq!(resources.cpu.as_ref().unwrap().0, "2");
        assert_eq!(resources.gpu, Some(1));
        let e = parse(&format!(
            "{HEAD}    - name: a\n      plugin: id\n      shards: 0\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (12, 7), "{e}");
        assert!(e.message.contains("shards must be at least 1"), "{e}");
        let e = parse(&format!(
            "{HEAD}    - name: a\n      plugin: id\n      retries: -1\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 12, "{e}");
    }

    #[test]
    fn bad_limits_and_names() {
        let e = parse(&format!(
            "{HEAD}    - {{ name: a, plugin: id, limits: {{ memory: lots }} }}\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("limits.memory"), "{e}");
        let e = parse(&format!("{HEAD}    - {{ name: A_b, plugin: id }}\n")).unwrap_err();
        assert!(e.message.contains("lowercase"), "{e}");
    }

    #[test]
    fn metric_series_limit_is_read_bounded_and_located() {
        let m = parse(&format!(
            "{HEAD}    - {{ name: a, plugin: id, limits: {{ maxMetricSeries: 5000 }} }}\n"
        ))
        .unwrap();
        let limits = m.pipeline.spec.steps[0].limits.as_ref().unwrap();
        assert_eq!(limits.max_metric_series, Some(5000));
        let e = parse(&format!(
            "{HEAD}    - {{ name: a, plugin: id, limits: {{ maxMetricSeries: 20000 }} }}\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (10, 40), "{e}");
        assert!(
            e.message
                .contains("limits.maxMetricSeries is 20000; at most 10000"),
            "{e}"
        );
        let e = parse(&format!(
            "{HEAD}    - {{ name: a, plugin: id, limits: {{ maxMetricSeries: -1 }} }}\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 10, "{e}");
        let e = parse(&HEAD.replace(
            "  steps:\n",
            "  limits: { maxMetricSeries: 10001 }\n  steps:\n    - { name: a, plugin: id }\n",
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (9, 13), "{e}");
    }
}
