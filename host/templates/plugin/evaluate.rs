//! `{{name}}`: the mean absolute error between a label column and a
//! prediction column, like scikit-learn's `mean_absolute_error`.
//!
//! Every batch adds to running sums; `report` returns the metric, which the
//! host writes to report.json and metrics.prom and checks against gates.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{Batch, Evaluate, Meta, Metric, Result, Step, StepError};

/// The step's `config:` in the pipeline; its JSON Schema is derived from
/// these types and checked by the host before the step starts.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The column with the true values.
    pub label: String,
    /// The column with the predictions.
    pub prediction: String,
}

/// The step: its config and the running sums.
pub struct MeanAbsoluteError {
    config: Config,
    total: f64,
    rows: u64,
}

impl Step for MeanAbsoluteError {
    type Config = Config;
    type State = ();
    const META: Meta = Meta {
        name: "{{name}}",
        version: env!("CARGO_PKG_VERSION"),
        description: "Mean absolute error of a prediction column",
        stateful: false,
    };

    fn new(config: Config) -> Result<Self> {
        Ok(MeanAbsoluteError { config, total: 0.0, rows: 0 })
    }
}

impl Evaluate for MeanAbsoluteError {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        let labels = batch.nullable_f64s(&self.config.label)?;
        let predictions = batch.nullable_f64s(&self.config.prediction)?;
        for (row, (y, p)) in labels.iter().zip(&predictions).enumerate() {
            let (Some(y), Some(p)) = (y, p) else {
                return Err(StepError::InvalidInput(format!("row {row}: a missing label or prediction")));
            };
            self.total += (y - p).abs();
            self.rows += 1;
        }
        Ok(())
    }

    fn report(&mut self) -> Result<Vec<Metric>> {
        let value = if self.rows == 0 { f64::NAN } else { self.total / self.rows as f64 };
        Ok(vec![Metric { name: "mean_absolute_error".into(), value, labels: vec![] }])
    }
}

weft_sdk::export_evaluate!(MeanAbsoluteError);

#[cfg(test)]
mod tests;
