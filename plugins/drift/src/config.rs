//! The step's config, from which its JSON Schema is derived.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{Result, StepError};

/// Drift of current data from reference data:
/// `{"columns": [...], "bins": 10, "epsilon": 1e-4, "max_sample": 100000}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "drift")]
pub struct Config {
    /// Columns to compare; numeric (f32, f64, s64) or categorical (text,
    /// boolean) by dtype.
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub columns: Vec<String>,
    /// Equal-probability bins of numeric columns, from reference quantiles.
    #[serde(default = "default_bins")]
    #[schemars(range(min = 1))]
    pub bins: usize,
    /// Floor of each proportion in the PSI: p = max(p, epsilon).
    #[serde(default = "default_epsilon")]
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
    pub epsilon: f64,
    /// Values kept per column and side; past it KS figures are approximate.
    #[serde(default = "default_max_sample")]
    #[schemars(range(min = 1))]
    pub max_sample: usize,
}

fn default_bins() -> usize {
    10
}

fn default_epsilon() -> f64 {
    1e-4
}

fn default_max_sample() -> usize {
    100_000
}

impl Config {
    /// Refuse what the schema refuses, naming the field.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(StepError::InvalidConfig(m));
        if self.columns.is_empty() {
            return bad("columns: name at least one column".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = self.columns.iter().find(|c| !seen.insert(c.as_str())) {
            return bad(format!("columns: {dup:?} is listed twice"));
        }
        if self.bins < 1 {
            return bad("bins: need at least 1".into());
        }
        if !(self.epsilon > 0.0 && self.epsilon < 1.0) {
            return bad(format!("epsilon: {} is not in (0, 1)", self.epsilon));
        }
        if self.max_sample < 1 {
            return bad("max_sample: need at least 1".into());
        }
        Ok(())
    }
}
