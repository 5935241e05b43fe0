//! The run report, `report.json`, as a document: what a finished run
//! says of its steps, metrics, gates, states and outputs. It is the ground
//! floor: the engine writes it, and `weft report`, the monitor, the
//! operator and the Pipeline status read it without the engine.

use std::collections::{BTreeMap, BTreeSet};

mod number;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The two kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Batch in, batch out.
    Transform,
    /// Batches in, metrics out.
    Evaluate,
}

/// A metric in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricValue {
    /// Name.
    pub name: String,
    /// Value (NaN and the infinities as `"NaN"`, `"+Inf"`, `"-Inf"`).
    #[serde(with = "number")]
    #[schemars(with = "number::Number")]
    pub value: f64,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// How much the GPU kernels copied to the device and back, and how often a
/// column was already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GpuTransfers {
    /// Inputs copied to the device.
    pub uploads: u64,
    /// Bytes of those copies.
    pub uploaded_bytes: u64,
    /// Inputs found already on the device (uploaded or produced earlier).
    pub resident_hits: u64,
    /// Kernel results copied back to the host, when a step read them or an
    /// output was written.
    pub downloads: u64,
    /// Bytes of those copies.
    pub downloaded_bytes: u64,
}

/// One gate checked against one reported metric series: in `report.json`,
/// and in the Pipeline's status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    /// The gated metric.
    pub metric: String,
    /// The series' labels (all of them, not only those the gate named).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The value seen; absent when the step did not report it (or it was
    /// not a finite number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Lowest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Whether the value is within bounds (NaN and missing never are).
    pub passed: bool,
}

impl GateResult {
    /// The metric with its labels, e.g. `psi{column=age}`.
    pub fn target(&self) -> String {
        if self.labels.is_empty() {
            return self.metric.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}{{{}}}", self.metric, labels.join(","))
    }

    /// What the gate asked for, e.g. `>= 0.9`.
    pub fn bound(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("in [{lo}, {hi}]"),
            (Some(lo), None) => format!(">= {lo}"),
            (None, Some(hi)) => format!("<= {hi}"),
            (None, None) => "any".into(),
        }
    }

    /// How a failed gate of step `step` is told, e.g.
    /// `step "eval": accuracy = 0.8, needs >= 0.9`.
    pub fn failure(&self, step: &str) -> String {
        let value = self
            .value
            .map_or("not reported".to_owned(), |v| v.to_string());
        format!(
            "step {step:?}: {} = {value}, needs {}",
            self.target(),
            self.bound()
        )
    }
}

/// A fitted state written to `state/<step>.bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    /// Path relative to the output folder.
    pub path: String,
    /// sha256 of the state bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256 of the plugin that fitted it.
    pub plugin_sha256: String,
}

/// The registry reference a plugin was pulled from; its component's
/// sha256 is the step's `pluginSha256`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginOci {
    /// The reference as the manifest wrote it.
    pub reference: String,
    /// The manifest digest (`sha256:<hex>`) it resolved to; absent when a
    /// pinned component came from the local cache without asking the
    /// registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
}

/// A file mounted into a step from a registry (an `oci` mount).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MountOci {
    /// Where the step saw it, e.g. `/models`.
    #[serde(rename = "as")]
    pub guest: String,
    /// The reference as the manifest wrote it.
    pub reference: String,
    /// The manifest digest (`sha256:<hex>`) it resolved to; absent when a
    /// pinned file came from the local cache without asking the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// sha256 of the file, hex.
    pub sha256: String,
}

/// One step in the report.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// Step name.
    pub name: String,
    /// Plugin key in the manifest.
    pub plugin: String,
    /// sha256 of the plugin file.
    pub plugin_sha256: String,
    /// Where the plugin was pulled from, for a plugin given as `oci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_oci: Option<PluginOci>,
    /// Plugin's own name and version.
    pub plugin_version: String,
    /// The files mounted into it from a registry, and which bytes they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountOci>,
    /// `transform` or `evaluate`.
    pub kind: StepKind,
    /// Rows in.
    pub rows_in: u64,
    /// Rows out.
    pub rows_out: u64,
    /// Rows seen by fit (0 when not fitted in this run).
    pub fit_rows: u64,
    /// Time spent in the step, summed over workers.
    pub duration_seconds: f64,
    /// The fitted state, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateFile>,
    /// Emitted and reported metrics: one entry per series, its last value.
    pub metrics: Vec<MetricValue>,
    /// Values for new metric series dropped past `limits.maxMetricSeries`
    /// or the run's cap.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_metric_series: u64,
    /// The step's gates, checked against its metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    /// The devices its compute kernels ran on (`cpu`, or an adapter such
    /// as `NVIDIA H200 (vulkan, discrete)`); empty when it called none.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub compute: BTreeSet<String>,
    /// Most bytes of host columns and batches the step made and held at
    /// once, in one worker (`limits.hostMemory` bounds it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub peak_host_bytes: u64,
    /// Most bytes of columns the step kept that the host moved to a
    /// temporary file, in one worker (`limits.spill` bounds it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spilled_bytes: u64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Pipeline name.
    pub pipeline: String,
    /// Data file written.
    pub output: String,
    /// The sha256 of the data file's contents (none for a fit-only run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// Rows written.
    pub rows_out: u64,
    /// Wall time of the run.
    pub duration_seconds: f64,
    /// Workers used.
    pub workers: usize,
    /// Peak resident memory of the weft process, where the OS reports it
    /// (Linux: `VmHWM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// Host-to-device traffic of the GPU kernels, when a GPU ran any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_transfers: Option<GpuTransfers>,
    /// Steps in execution order.
    pub steps: Vec<StepReport>,
    /// Digest of everything the outputs depend on: a later run with the
    /// same key finds them here and does not run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    /// This report is an earlier run's, whose outputs were reused.
    #[serde(skip)]
    pub cache_hit: bool,
    /// What the run warns about, one line each (steps that dropped metric
    /// series).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RunReport {
    /// Gates that did not pass, with their steps.
    pub fn failed_gates(&self) -> Vec<(&str, &GateResult)> {
        self.steps
            .iter()
            .flat_map(|s| s.gates.iter().map(move |g| (s.name.as_str(), g)))
            .filter(|(_, g)| !g.passed)
            .collect()
    }
}

/// The JSON Schema of `report.json` (`weft report --schema`), pretty-printed.
pub fn schema() -> String {
    let schema = schemars::schema_for!(RunReport);
    serde_json::to_string_pretty(&schema).expect("a schema is plain JSON")
}
