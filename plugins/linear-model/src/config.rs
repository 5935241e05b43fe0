//! The config (its JSON Schema derived from it) and the model it names:
//! inline weights or a weights file under a folder the manifest grants to
//! the step.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::{Result, StepError};

/// Score rows with a linear or logistic model:
/// `{"features": [...], "weights": [...], "intercept": b, "link": ..., "output": ...}`,
/// or `weights_file` instead of `weights` and `intercept`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "linear-model")]
pub struct Config {
    /// Feature columns, in the order of the weights.
    #[schemars(length(min = 1))]
    pub(crate) features: Vec<String>,
    /// One weight per feature (or give `weights_file`).
    #[serde(default)]
    pub(crate) weights: Option<Vec<f64>>,
    /// The intercept (default 0), with inline `weights` only.
    #[serde(default)]
    pub(crate) intercept: Option<f64>,
    /// A JSON file `{"weights": [...], "intercept": b, "features": [...]}`
    /// under a folder the manifest mounts for the step.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub(crate) weights_file: Option<String>,
    /// What turns the linear score into the output.
    #[serde(default)]
    pub(crate) link: Link,
    /// Name of the new score column.
    #[serde(default = "score")]
    #[schemars(length(min = 1))]
    pub(crate) output: String,
    /// How the linear part is computed.
    #[serde(default)]
    pub(crate) precision: Precision,
}

/// How the linear part `Σ weights[j] · features[j]` is computed: `f64`
/// (the default) inside the step, scikit-learn's figures to ~1e-15; or
/// `f32` by the host's `compute.matmul` kernel, on the GPU when there is
/// one, within f32 rounding of scikit-learn's figures.
// The variants have no doc comments of their own: documented variants would
// make the schema a `oneOf`, whose errors do not list the valid values.
#[derive(Serialize, Deserialize, JsonSchema, Default, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F64,
    F32,
}

fn score() -> String {
    "score".into()
}

/// What turns the linear score `z` into the output: `identity`, `z` itself
/// (regression, or a classifier's decision function), or `logistic`,
/// `1 / (1 + e^-z)`, the probability of the positive class.
// Undocumented variants, as for `Precision`.
#[derive(Serialize, Deserialize, JsonSchema, Default, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    #[default]
    Identity,
    Logistic,
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
