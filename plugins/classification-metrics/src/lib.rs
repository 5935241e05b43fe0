//! `classification-metrics`: binary and multiclass classification metrics with
//! scikit-learn 1.9 semantics.
//!
//! # Binary: `{"label", "score", "threshold": 0.5, "positive": 1}`
//!
//! A row is positive when its label equals `positive` (a number, boolean or
//! string, matched against the label column whatever its type; a number 0 or
//! 1 also matches a boolean column, as numpy compares them); every other label
//! is negative. The prediction is `score >= threshold`. Reported, as
//! scikit-learn computes them on `y = label == positive`:
//!
//! - `accuracy`, `precision`, `recall`, `f1` (`accuracy_score`,
//!   `precision_score`, ...): a ratio with a zero denominator is 0.0, as
//!   scikit-learn's default `zero_division="warn"` returns (with a warning);
//! - `roc_auc` (`roc_auc_score`): exact with ties (the trapezoid over distinct
//!   scores, in integer arithmetic). With one class only, scikit-learn 1.9
//!   warns and returns NaN: so does this step (the warning goes to the log);
//! - `log_loss` (`log_loss(y, score, labels=[False, True])`, probabilities
//!   clipped to `[eps, 1 - eps]`): both classes are known from the config, so
//!   it is defined with one class only. scikit-learn raises on scores outside
//!   `[0, 1]`; this step reports NaN for `log_loss` then (with a warning) and
//!   still reports the other metrics, which are defined for any score;
//! - `confusion_matrix` with label `cell` = `tn`, `fp`, `fn`, `tp`.
//!
//! Memory: one entry per distinct score (a `BTreeMap` from score to negative
//! and positive counts, about 40 bytes each): at most the number of rows,
//! much less for rounded or model-discretized scores. Every metric is derived
//! from that map at report time.
//!
//! # Multiclass: `{"label", "prediction"}`
//!
//! `accuracy`; `precision`, `recall`, `f1` with label `average` = `macro` or
//! `weighted`; per class `precision`, `recall`, `f1` and `support` with label
//! `class` (the value as text; numbers in Rust's shortest form, e.g. `3`,
//! `2.5`; booleans `true`/`false`). Classes are the sorted union of labels and
//! predictions, as scikit-learn's `precision_recall_fscore_support`; zero
//! denominators give 0.0 as above. Memory: one counter per distinct
//! (label, prediction) pair.
//!
//! # Errors (scikit-learn raises `ValueError` in each case)
//!
//! - no rows at all: `invalid-input` "no rows to evaluate";
//! - missing labels or predictions (null, or NaN in a float column), and NaN,
//!   infinite or null scores: `invalid-input` naming the column and how many
//!   rows, counted over the whole input (reported at the end);
//! - labels and predictions (or `positive`) of different kinds (text vs
//!   numbers): `invalid-input` naming the columns.

mod binary;
mod class;
mod multiclass;
mod prf;
mod scores;

use binary::Binary;
use class::Class;
use multiclass::Multiclass;
use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{Batch, Evaluate, Meta, Metric, Result, Scalar, Step, StepError};

/// Binary (`score`) or multiclass (`prediction`) metrics; give exactly one:
/// `{"label", "score", "threshold", "positive"}` (binary) or
/// `{"label", "prediction"}` (multiclass).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "classification-metrics")]
pub struct Config {
    /// Column of true labels.
    label: String,
    /// Binary: column of scores or probabilities of the positive class.
    #[serde(default)]
    score: Option<String>,
    /// Multiclass: column of predicted classes.
    #[serde(default)]
    prediction: Option<String>,
    /// Binary: predict positive when score >= threshold (default 0.5).
    #[serde(default)]
    threshold: Option<f64>,
    /// Binary: the positive label (default 1).
    #[serde(default)]
    #[schemars(schema_with = "positive")]
    positive: Option<Scalar>,
}

/// The schema of `positive`: a number, a boolean or a string (null: the default).
fn positive(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": ["number", "boolean", "string", "null"]})
}

/// What the step accumulates, by mode.
enum Mode {
    Binary(Binary),
    Multiclass(Multiclass),
}

/// The step.
pub struct ClassificationMetrics(Mode);

/// A metric with `labels`.
fn metric(name: &str, value: f64, labels: &[(&str, &str)]) -> Metric {
    Metric {
        name: name.into(),
        value,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn config_error(message: &str) -> StepError {
    StepError::InvalidConfig(message.into())
}

impl Mode {
    fn new(config: Config) -> Result<Mode> {
        match (config.score, config.prediction) {
            (Some(score), None) => {
                let positive = config.positive.unwrap_or(Scalar::Int(1));
                let positive = Class::from_scalar(&positive).ok_or_else(|| {
                    config_error("`positive` must be a number, a boolean or a string")
                })?;
                let threshold = config.threshold.unwrap_or(0.5);
                Ok(Mode::Binary(Binary::new(
                    config.label,
                    score,
                    threshold,
                    positive,
                )))
            }
            (None, Some(prediction)) => {
                if config.threshold.is_some() || config.positive.is_some() {
                    return Err(config_error(
                        "`threshold` and `positive` apply only with `score` (binary); \
                         remove them or give `score` instead of `prediction`",
                    ));
                }
                Ok(Mode::Multiclass(Multiclass::new(config.label, prediction)))
            }
            _ => Err(config_error(
                "give exactly one of `score` (binary: a score column) or \
                 `prediction` (multiclass: a predicted-class column)",
            )),
        }
    }
}

impl Step for ClassificationMetrics {
    type Config = Config;
    type State = ();
    const META: Meta = Meta {
        name: "classification-metrics",
        version: env!("CARGO_PKG_VERSION"),
        description: "Binary and multiclass classification metrics (scikit-learn semantics)",
        stateful: false,
    };

    fn new(config: Config) -> Result<Self> {
        Mode::new(config).map(ClassificationMetrics)
    }
}

impl Evaluate for ClassificationMetrics {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        match &mut self.0 {
            Mode::Binary(b) => b.update(batch),
            Mode::Multiclass(m) => m.update(batch),
        }
    }

    fn report(&mut self) -> Result<Vec<Metric>> {
        match &self.0 {
            Mode::Binary(b) => b.report(),
            Mode::Multiclass(m) => m.report(),
        }
    }
}

weft_sdk::export_evaluate!(ClassificationMetrics);

#[cfg(test)]
mod tests;
