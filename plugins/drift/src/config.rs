//! The step's config and its JSON Schema.

use serde::Deserialize;
use weft_sdk::{Result, StepError};

/// `{"columns": [...], "bins": 10, "epsilon": 1e-4, "max_sample": 100000}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Columns to compare.
    pub columns: Vec<String>,
    /// Equal-probability bins of a numeric column (from reference quantiles).
    #[serde(default = "default_bins")]
    pub bins: usize,
    /// Floor of every proportion in the PSI.
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// Values kept per column and side for the KS test and the bin edges.
    #[serde(default = "default_max_sample")]
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

/// JSON Schema of [`Config`].
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "drift",
        "type": "object",
        "properties": {
            "columns": {
                "type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true,
                "description": "columns to compare; numeric (f32, f64, s64) or categorical (text, boolean) by dtype"
            },
            "bins": {
                "type": "integer", "minimum": 1, "default": 10,
                "description": "equal-probability bins of numeric columns, from reference quantiles"
            },
            "epsilon": {
                "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 1e-4,
                "description": "floor of each proportion in the PSI: p = max(p, epsilon)"
            },
            "max_sample": {
                "type": "integer", "minimum": 1, "default": 100000,
                "description": "values kept per column and side; past it KS figures are approximate"
            }
        },
        "required": ["columns"],
        "additionalProperties": false
    })
}
