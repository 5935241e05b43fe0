//! The document's types: a `Pipeline` as written in YAML, shared with the
//! Kubernetes CRD (`PipelineSpec` derives the `Pipeline` resource).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, Toleration};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::{self, PipelineStatus, Resources, Storage};
use crate::limits::LimitsSpec;

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
    /// Cluster only: a Secret of type kubernetes.io/dockerconfigjson (at
    /// most one) that the kubelet pulls the stage image with and `weft`
    /// in the stage pods pulls `oci` plugins and mounts with (mounted as
    /// the pod's docker config file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1))]
    pub image_pull_secrets: Vec<LocalObjectReference>,
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

/// Where a plugin's component comes from: a file (`path`) or an OCI
/// registry (`oci`), exactly one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginRef {
    /// Path of the `.wasm` component, relative to the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A registry reference, `registry/namespace/name:tag` or
    /// `registry/namespace/name@sha256:<hex>`, of a component pushed in
    /// the CNCF Wasm layout (`weft push`, `wkg oci push`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// Expected sha256 of the component's bytes, hex: the file's, or the
    /// pulled component's; checked when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9a-fA-F]{64}$"))]
    pub sha256: Option<String>,
    /// With `oci`: allow plain HTTP to a registry that is not on loopback
    /// (loopback registries may always use it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
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
    /// Output only: how Parquet pages are compressed (default `none`: the
    /// fastest to write and read; `snappy` and `lz4` are fast and smaller,
    /// `zstd` the smallest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
}

impl DataRef {
    /// `path`, with no options.
    pub fn at(path: String) -> DataRef {
        DataRef {
            path,
            compression: None,
        }
    }
}

/// A Parquet output's page compression.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Uncompressed.
    #[default]
    None,
    /// Snappy.
    Snappy,
    /// LZ4 (raw).
    Lz4,
    /// Zstandard, level 1.
    Zstd,
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

/// A read-only folder granted to a step: a host folder (`path`), or the
/// file of an OCI artifact pulled from a registry (`oci`), exactly one of
/// the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mount {
    /// Host folder, relative to the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A registry reference, `registry/namespace/name:tag` or
    /// `registry/namespace/name@sha256:<hex>`, of one file pushed in the
    /// ORAS file layout (`weft push FILE REF`, `oras push REF FILE`); the
    /// step sees the file under its title, e.g. `/models/churn.onnx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<String>,
    /// With `oci`: the file's expected sha256, hex; checked when given,
    /// and a file already pulled is then used without the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9a-fA-F]{64}$"))]
    pub sha256: Option<String>,
    /// With `oci`: allow plain HTTP to a registry that is not on loopback
    /// (loopback registries may always use it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Where the step sees it, e.g. `/models`.
    #[serde(rename = "as")]
    pub guest: String,
}
