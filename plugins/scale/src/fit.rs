//! The math of the three scalers: what fit keeps, the fitted `(a, b)` of
//! `(x - a) * b`, and how shard states merge.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::{compute, Column, Result, Stats, StepError};

fn yes() -> bool {
    true
}
fn unit_range() -> [f64; 2] {
    [0.0, 1.0]
}
fn quartiles() -> [f64; 2] {
    [25.0, 75.0]
}

/// The scaler and its options (scikit-learn's names and defaults).
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum Method {
    /// `StandardScaler`.
    Standard {
        /// Subtract the mean.
        #[serde(default = "yes")]
        with_mean: bool,
        /// Divide by the standard deviation.
        #[serde(default = "yes")]
        with_std: bool,
    },
    /// `MinMaxScaler`.
    Minmax {
        /// The range `[min, max]` values are scaled to.
        #[serde(default = "unit_range")]
        feature_range: [f64; 2],
        /// Clip values outside the fitted range to `feature_range`.
        #[serde(default)]
        clip: bool,
    },
    /// `RobustScaler`.
    Robust {
        /// Subtract the median.
        #[serde(default = "yes")]
        with_centering: bool,
        /// Divide by the interquantile range.
        #[serde(default = "yes")]
        with_scaling: bool,
        /// The quantiles, in percent, of the interquantile range.
        #[serde(default = "quartiles")]
        quantile_range: [f64; 2],
    },
}

impl Method {
    /// Refuse options scikit-learn refuses.
    pub fn check(&self) -> Result<()> {
        match self {
            Method::Minmax {
                feature_range: [lo, hi],
                ..
            } if lo >= hi => Err(StepError::InvalidConfig(format!(
                "feature_range: minimum {lo} must be smaller than maximum {hi}"
            ))),
            Method::Robust {
                quantile_range: [lo, hi],
                ..
            } if !(0.0 <= *lo && lo <= hi && *hi <= 100.0) => Err(StepError::InvalidConfig(
                format!("quantile_range: need 0 <= {lo} <= {hi} <= 100"),
            )),
            _ => Ok(()),
        }
    }

    /// Clip to `feature_range` when asked (min-max only).
    pub fn clip(&self, column: Column) -> Result<Column> {
        let Method::Minmax {
            feature_range: [lo, hi],
            clip: true,
        } = self
        else {
            return Ok(column);
        };
        let values: Vec<f64> = column
            .to_f64s()?
            .into_iter()
            .map(|v| if v.is_nan() { v } else { v.clamp(*lo, *hi) })
            .collect();
        Ok(Column::from_f64s(&values, column.validity().as_deref()))
    }
}

/// What fit learned about one column: its statistics and, for the robust
/// scaler, the quantiles `[low, median, high]`.
#[derive(Default, Serialize, Deserialize)]
pub struct Fit {
    stats: Stats,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    quantiles: Vec<f64>,
    /// Columns seen by fit, for exact quantiles over the whole input.
    #[serde(skip)]
    kept: Vec<Column>,
}

/// scikit-learn's `_handle_zeros_in_scale`: scales near zero become 1.
fn nonzero(scale: f64) -> f64 {
    if scale < 10.0 * f64::EPSILON {
        1.0
    } else {
        scale
    }
}

impl Fit {
    /// Learn from one batch's column.
    pub fn observe(&mut self, method: &Method, column: Column) -> Result<()> {
        self.stats = self.stats.merge(&compute::column_stats(&[&column])?);
        if matches!(method, Method::Robust { .. }) {
            self.kept.push(column);
        }
        Ok(())
    }

    /// The state of this column: quantiles computed over every batch seen.
    pub fn finish(&mut self, method: &Method) -> Result<Fit> {
        let mut quantiles = self.quantiles.clone();
        if let (
            Method::Robust {
                quantile_range: [lo, hi],
                ..
            },
            false,
        ) = (method, self.kept.is_empty())
        {
            let kept: Vec<&Column> = self.kept.iter().collect();
            quantiles = compute::quantiles(&kept, &[lo / 100.0, 0.5, hi / 100.0])?;
        }
        Ok(Fit {
            stats: self.stats,
            quantiles,
            kept: Vec::new(),
        })
    }

    /// `(a, b)` such that the scaled value is `(x - a) * b`.
    pub fn params(&self, method: &Method) -> (f64, f64) {
        let s = &self.stats;
        match *method {
            Method::Standard {
                with_mean,
                with_std,
            } => {
                let var = s.variance();
                let n = s.count as f64;
                let constant = var <= n * f64::EPSILON * var + (n * s.mean * f64::EPSILON).powi(2);
                let scale = if !with_std || constant {
                    1.0
                } else {
                    nonzero(var.sqrt())
                };
                (if with_mean { s.mean } else { 0.0 }, 1.0 / scale)
            }
            Method::Minmax {
                feature_range: [lo, hi],
                ..
            } => {
                let scale = (hi - lo) / nonzero(s.max - s.min);
                (s.min - lo / scale, scale)
            }
            Method::Robust {
                with_centering,
                with_scaling,
                ..
            } => {
                let (q_lo, median, q_hi) = match self.quantiles[..] {
                    [a, b, c] => (a, b, c),
                    _ => (f64::NAN, f64::NAN, f64::NAN),
                };
                let scale = if with_scaling {
                    nonzero(q_hi - q_lo)
                } else {
                    1.0
                };
                (if with_centering { median } else { 0.0 }, 1.0 / scale)
            }
        }
    }
}

/// Merge per-column states of several shards. Statistics merge exactly;
/// quantiles merge as the count-weighted mean of the shards' quantiles, an
/// approximation (exact quantiles need all values in one place).
pub fn merge(states: Vec<Vec<Fit>>, columns: usize) -> Result<Vec<Fit>> {
    if states.iter().any(|s| s.len() != columns) {
        return Err(StepError::InvalidInput(
            "states were fitted for different columns".into(),
        ));
    }
    Ok((0..columns)
        .map(|i| {
            let fits: Vec<&Fit> = states.iter().map(|s| &s[i]).collect();
            let stats = fits
                .iter()
                .fold(Stats::default(), |acc, f| acc.merge(&f.stats));
            let with_q: Vec<&&Fit> = fits
                .iter()
                .filter(|f| f.quantiles.len() == 3 && f.stats.count > 0)
                .collect();
            let total: f64 = with_q.iter().map(|f| f.stats.count as f64).sum();
            let quantiles = if with_q.is_empty() {
                Vec::new()
            } else {
                (0..3)
                    .map(|k| {
                        with_q
                            .iter()
                            .map(|f| f.quantiles[k] * f.stats.count as f64)
                            .sum::<f64>()
                            / total
                    })
                    .collect()
            };
            Fit {
                stats,
                quantiles,
                kept: Vec::new(),
            }
        })
        .collect())
}

/// JSON Schema of the config, written by hand rather than derived: one flat
/// object, so every mistake names its field, and options of another method
/// are refused per method (`if`/`then`). The derived schema, a `oneOf` over
/// the methods, does neither.
pub fn schema() -> serde_json::Value {
    let pair = serde_json::json!({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2});
    let only = |method: &str, foreign: &[&str]| {
        let refused: serde_json::Map<String, serde_json::Value> = foreign
            .iter()
            .map(|f| (f.to_string(), serde_json::Value::Bool(false)))
            .collect();
        serde_json::json!({"if": {"properties": {"method": {"const": method}}}, "then": {"properties": refused}})
    };
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "scale",
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "method": {"enum": ["standard", "minmax", "robust"]},
            "with_mean": {"type": "boolean"},
            "with_std": {"type": "boolean"},
            "feature_range": pair,
            "clip": {"type": "boolean"},
            "with_centering": {"type": "boolean"},
            "with_scaling": {"type": "boolean"},
            "quantile_range": pair
        },
        "required": ["columns", "method"],
        "additionalProperties": false,
        "allOf": [
            only("standard", &["feature_range", "clip", "with_centering", "with_scaling", "quantile_range"]),
            only("minmax", &["with_mean", "with_std", "with_centering", "with_scaling", "quantile_range"]),
            only("robust", &["with_mean", "with_std", "feature_range", "clip"]),
        ]
    })
}
