//! `{{name}}`: centre numeric columns on the mean fitted over the training
//! data, and optionally divide by the standard deviation, like
//! scikit-learn's `StandardScaler`.
//!
//! Fit asks the host for each column's statistics (`compute::column_stats`),
//! the state is those statistics (mergeable across shards; how many values
//! each column had goes to the run's metrics), and transform is one host
//! `affine` call per column. Other columns pass through untouched.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{compute, metrics, Batch, Column, Meta, Result, Stats, Step, StepError, Transform};

/// The step's `config:` in the pipeline; its JSON Schema is derived from
/// these types and checked by the host before the step starts.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Numeric columns to centre.
    #[schemars(length(min = 1))]
    pub columns: Vec<String>,
    /// Also divide by the standard deviation.
    #[serde(default)]
    pub scale: bool,
}

/// The step: its config, what fit has seen, and the loaded `(mean, 1/sd)`.
pub struct Center {
    config: Config,
    seen: Vec<Stats>,
    params: Vec<(f64, f64)>,
}

impl Step for Center {
    type Config = Config;
    type State = Vec<Stats>;
    const META: Meta = Meta {
        name: "{{name}}",
        version: env!("CARGO_PKG_VERSION"),
        description: "Centre numeric columns on their fitted mean",
        stateful: true,
    };

    fn new(config: Config) -> Result<Self> {
        let seen = vec![Stats::default(); config.columns.len()];
        Ok(Center { config, seen, params: Vec::new() })
    }

    fn fit(&mut self, batch: &Batch) -> Result<()> {
        for (name, seen) in self.config.columns.iter().zip(&mut self.seen) {
            *seen = seen.merge(&compute::column_stats(&[&batch.numeric(name)?])?);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<Stats>> {
        for (name, seen) in self.config.columns.iter().zip(&self.seen) {
            metrics::emit("fitted_values", seen.count as f64, &[("column", name)]);
        }
        Ok(self.seen.clone())
    }

    fn load_state(&mut self, state: Vec<Stats>) -> Result<()> {
        if state.len() != self.config.columns.len() {
            return Err(StepError::InvalidInput("the state was fitted for other columns".into()));
        }
        let sd = |s: &Stats| s.variance().sqrt();
        let inverse = |s: &Stats| if self.config.scale && sd(s) > 0.0 { 1.0 / sd(s) } else { 1.0 };
        self.params = state.iter().map(|s| (s.mean, inverse(s))).collect();
        Ok(())
    }

    fn merge(&self, states: Vec<Vec<Stats>>) -> Result<Vec<Stats>> {
        let mut merged = vec![Stats::default(); self.config.columns.len()];
        for state in states {
            for (m, s) in merged.iter_mut().zip(&state) {
                *m = m.merge(s);
            }
        }
        Ok(merged)
    }
}

impl Transform for Center {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        if self.params.len() != self.config.columns.len() {
            return Err(StepError::Internal("transform before load_state".into()));
        }
        let mut centred: Vec<Column> = Vec::new();
        for (name, (mean, inverse)) in self.config.columns.iter().zip(&self.params) {
            centred.push(compute::affine(&batch.numeric(name)?, *mean, *inverse)?);
        }
        let names = self.config.columns.iter().map(String::as_str);
        batch.with_columns(&names.zip(&centred).collect::<Vec<_>>())
    }
}

weft_sdk::export_transform!(Center);

#[cfg(test)]
mod tests;
