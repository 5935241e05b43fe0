//! The config, its JSON Schema, and the model it names: inline weights or a
//! weights file under a folder the manifest grants to the step.

use serde::Deserialize;
use weft_sdk::{Result, StepError};

/// `{"features": [...], "weights": [...], "intercept": b, "link": ..., "output": ...}`,
/// or `weights_file` instead of `weights` and `intercept`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub(crate) features: Vec<String>,
    #[serde(default)]
    pub(crate) weights: Option<Vec<f64>>,
    #[serde(default)]
    pub(crate) intercept: Option<f64>,
    #[serde(default)]
    pub(crate) weights_file: Option<String>,
    #[serde(default)]
    pub(crate) link: Link,
    #[serde(default = "score")]
    pub(crate) output: String,
    #[serde(default)]
    pub(crate) precision: Precision,
}

/// How the linear part `Σ weights[j] · features[j]` is computed.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// In f64 inside the step: scikit-learn's figures to ~1e-15.
    #[default]
    F64,
    /// In f32 by the host's `compute.matmul` kernel, on the GPU when there
    /// is one: within f32 rounding of scikit-learn's figures.
    F32,
}

fn score() -> String {
    "score".into()
}

/// What turns the linear score `z` into the output.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// `z` itself (regression, or a classifier's decision function).
    #[default]
    Identity,
    /// `1 / (1 + e^-z)`: the probability of the positive class.
    Logistic,
}

/// JSON Schema of [`Config`].
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "linear-model",
        "type": "object",
        "properties": {
            "features": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "weights": {"type": "array", "items": {"type": "number"}},
            "intercept": {"type": "number"},
            "weights_file": {"type": "string", "minLength": 1},
            "link": {"enum": ["identity", "logistic"]},
            "output": {"type": "string", "minLength": 1},
            "precision": {"enum": ["f64", "f32"]}
        },
        "required": ["features"],
        "additionalProperties": false
    })
}

/// A weights file: `{"weights": [...], "intercept": b, "features": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsFile {
    weights: Vec<f64>,
    #[serde(default)]
    intercept: f64,
    #[serde(default)]
    features: Option<Vec<String>>,
}

/// Weights (one per feature, in order) and intercept, checked.
pub struct Model {
    pub(crate) weights: Vec<f64>,
    pub(crate) intercept: f64,
}

fn invalid(message: String) -> StepError {
    StepError::InvalidConfig(message)
}

impl Model {
    /// The model `config` names, checked against its features.
    pub fn load(config: &Config) -> Result<Model> {
        if config.features.is_empty() {
            return Err(invalid("features must name at least one column".into()));
        }
        let (model, source) = match (&config.weights, &config.weights_file) {
            (Some(weights), None) => {
                let intercept = config.intercept.unwrap_or(0.0);
                (Model { weights: weights.clone(), intercept }, String::new())
            }
            (None, Some(path)) if config.intercept.is_some() => {
                return Err(invalid(format!(
                    "intercept is given, but the intercept comes from weights_file {path:?}; remove one"
                )))
            }
            (None, Some(path)) => (read(path, &config.features)?, format!(" in {path:?}")),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "both weights and weights_file are given; give one of them".into(),
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "no model: give weights (and intercept) inline, or weights_file".into(),
                ))
            }
        };
        model.check(config.features.len(), &source)?;
        Ok(model)
    }

    /// One finite weight per feature and a finite intercept; `source` is
    /// `""` for the config, ` in "FILE"` for a weights file.
    fn check(&self, features: usize, source: &str) -> Result<()> {
        if self.weights.len() != features {
            return Err(invalid(format!(
                "weights{source} gives {} weight(s) for {features} feature(s); \
                 give one weight per feature, in the same order",
                self.weights.len()
            )));
        }
        if let Some(j) = self.weights.iter().position(|w| !w.is_finite()) {
            return Err(invalid(format!(
                "weights{source}: weight {j} is not a finite number"
            )));
        }
        if !self.intercept.is_finite() {
            return Err(invalid(format!("intercept{source} is not a finite number")));
        }
        Ok(())
    }
}

/// Read the weights file at `path`; its `features`, if any, must equal `features`.
fn read(path: &str, features: &[String]) -> Result<Model> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "weights_file {path:?} cannot be read ({e}); it must be an absolute path \
             under a folder granted to this step with `mounts: [{{path: ..., as: ...}}]` \
             in the manifest"
        ))
    })?;
    let file: WeightsFile = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "weights_file {path:?} is not a weights file ({e}); \
             expected {{\"weights\": [...], \"intercept\": b, \"features\": [...]}}"
        ))
    })?;
    if let Some(named) = file.features.filter(|f| f != features) {
        return Err(invalid(format!(
            "weights_file {path:?} was trained on features {named:?}, \
             but the config's features are {features:?}"
        )));
    }
    Ok(Model {
        weights: file.weights,
        intercept: file.intercept,
    })
}
