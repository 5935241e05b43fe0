//! What the `Pipeline` is on a cluster: the fields only the operator reads,
//! the `.status` it writes, and the CustomResourceDefinition generated from
//! the same types `weft run` parses.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PipelineResource;
use crate::error::Location;

/// The volume a pipeline reads its input from and writes its outputs and
/// stage hand-offs to, on a cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Storage {
    /// A PersistentVolumeClaim in the pipeline's namespace.
    #[schemars(length(min = 1))]
    pub claim_name: String,
    /// Folder inside the volume that manifest paths are relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// What the pod running a step requests. Memory and GPUs are also its limits.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    /// CPU, e.g. `500m` or `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Memory, e.g. `4Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
    /// Whole NVIDIA GPUs (the device plugin's `nvidia.com/gpu`).
    #[serde(
        default,
        rename = "nvidia.com/gpu",
        skip_serializing_if = "Option::is_none"
    )]
    pub gpu: Option<u32>,
}

/// Where a pipeline, a stage or a step is.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Accepted, nothing started yet.
    #[default]
    Pending,
    /// Started and not finished.
    Running,
    /// Finished, every gate passed.
    Succeeded,
    /// A step failed, a gate failed or the spec was refused.
    Failed,
}

/// What the operator reports about a pipeline (`.status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStatus {
    /// The pipeline as a whole.
    #[serde(default)]
    pub phase: Phase,
    /// Steps that have finished.
    #[serde(default)]
    pub steps_done: u32,
    /// Steps in the pipeline.
    #[serde(default)]
    pub steps_total: u32,
    /// One entry per stage (a Job), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageStatus>,
    /// One entry per step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// Why the pipeline failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the spec the current run executes (its manifest ConfigMap
    /// carries the same); stage phases of another digest are another run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_digest: Option<String>,
    /// Standard conditions (`Ready`, `SpecAccepted`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A stage: consecutive steps that share one Job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageStatus {
    /// Position of the stage, from 0.
    pub index: u32,
    /// The steps it runs, in order.
    pub steps: Vec<String>,
    /// Where it is.
    #[serde(default)]
    pub phase: Phase,
    /// The Job that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// When its Job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When its Job finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<Time>,
    /// Whether its outputs were already on the volume, so it did not run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache_hit: bool,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where in the manifest the error is, when it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A step, as its stage's run report tells it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// The step's name.
    pub name: String,
    /// Where it is.
    #[serde(default)]
    pub phase: Phase,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<Time>,
    /// Rows it wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_out: Option<u64>,
    /// Metrics it reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricStatus>,
    /// Its gates and whether they passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One reported metric series.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricStatus {
    /// Metric name, as the step reports it.
    pub name: String,
    /// The series' labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The value; absent when it is not a finite number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

pub use weft_record::GateResult;

/// Schema of a step's free-form `config`: any JSON object, kept as written.
pub(super) fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// The header `weft crd` puts above the definition.
const CRD_HEADER: &str =
    "# The Pipeline CustomResourceDefinition, generated by `weft crd`: do not edit.\n";

/// The `pipelines.weft.dev` CustomResourceDefinition as YAML, as `weft crd`
/// prints it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    Ok(format!(
        "{CRD_HEADER}{}",
        serde_yaml::to_string(&PipelineResource::crd())?
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Walk every schema node under `node`, calling `check` with its path.
    fn walk(
        node: &Value,
        path: &str,
        check: &mut dyn FnMut(&str, &serde_json::Map<String, Value>),
    ) {
        let Some(map) = node.as_object() else { return };
        check(path, map);
        if let Some(props) = map.get("properties").and_then(Value::as_object) {
            for (name, child) in props {
                walk(child, &format!("{path}.{name}"), check);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = map.get(key) {
                walk(child, &format!("{path}[{key}]"), check);
            }
        }
    }

    fn schema() -> Value {
        let crd = serde_json::to_value(PipelineResource::crd()).unwrap();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    }

    #[test]
    fn schema_is_structural() {
        walk(&schema(), "", &mut |path, node| {
            let typed = node.contains_key("type")
                || node.contains_key("x-kubernetes-int-or-string")
                || node.contains_key("x-kubernetes-preserve-unknown-fields");
            assert!(typed, "{path} has no type: {node:?}");
            for banned in ["$ref", "oneOf", "anyOf", "allOf", "definitions", "$defs"] {
                assert!(!node.contains_key(banned), "{path} has {banned}");
            }
            assert!(
                !(node.contains_key("properties") && node.contains_key("additionalProperties")),
                "{path} has both properties and additionalProperties"
            );
        });
    }

    #[test]
    fn schema_validates_bounds_and_enums() {
        let s = schema();
        let spec = &s["properties"]["spec"];
        let step = &spec["properties"]["steps"]["items"];
        let minimum = |field: &Value| field["minimum"].as_f64();
        assert_eq!(minimum(&step["properties"]["shards"]), Some(1.0));
        assert_eq!(minimum(&step["properties"]["retries"]), Some(0.0));
        assert_eq!(
            minimum(&spec["properties"]["activeDeadlineSeconds"]),
            Some(1.0)
        );
        assert_eq!(step["properties"]["name"]["maxLength"], 63);
        assert_eq!(
            step["properties"]["config"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        let required = step["required"].as_array().unwrap();
        assert!(required.contains(&"name".into()) && required.contains(&"plugin".into()));
        let phases = &s["properties"]["status"]["properties"]["phase"]["enum"];
        assert_eq!(
            phases,
            &serde_json::json!(["Pending", "Running", "Succeeded", "Failed"])
        );
        assert_eq!(
            spec["properties"]["compute"]["enum"],
            serde_json::json!(["auto", "gpu", "cpu"])
        );
    }
}
