//! `regression-metrics`: `mae`, `mse`, `rmse`, `r2` and `mape` of a prediction
//! column against a target column, as scikit-learn 1.9's
//! `mean_absolute_error`, `mean_squared_error`, `root_mean_squared_error`,
//! `r2_score` and `mean_absolute_percentage_error`.
//!
//! Config: `{"target": column, "prediction": column}` (numeric columns).
//!
//! Streaming, in constant memory: per batch the step adds `|y - p|`,
//! `(y - p)²` and `|y - p| / max(|y|, eps)` (`eps` = `f64::EPSILON`, as
//! scikit-learn's `np.finfo(np.float64).eps`) to compensated (Neumaier) sums,
//! and merges the target's batch moments (two-pass per batch, Chan et al.
//! across batches) for R²'s total sum of squares. The results agree with
//! numpy to about 1e-15 relative, however mixed the magnitudes.
//!
//! Edge cases, as scikit-learn 1.9:
//! - R² of a constant target: 1.0 when every prediction is exact, else 0.0
//!   (`force_finite=True`). "Constant" means all targets are equal; numpy's
//!   rounded mean of e.g. 0.1 repeated can make scikit-learn's denominator
//!   tiny instead of 0 and its R² a huge negative number: this step returns
//!   the intended 0.0 or 1.0 there.
//! - R² of a single row: NaN (scikit-learn warns and returns NaN).
//! - No rows: `invalid-input` "no rows to evaluate" (scikit-learn raises).
//! - NaN, infinite or null targets or predictions: `invalid-input` naming the
//!   column and how many rows, counted over the whole input (scikit-learn
//!   raises `ValueError: Input contains NaN`).

mod moments;
mod seen;
mod sum;

use schemars::JsonSchema;
use seen::Seen;
use serde::Deserialize;
use weft_sdk::{Batch, Evaluate, Meta, Metric, Result, Step};

/// Regression metrics of a prediction: `{"target": column, "prediction": column}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "regression-metrics")]
pub struct Config {
    /// Column of true values.
    target: String,
    /// Column of predicted values.
    prediction: String,
}

/// The step: its config and the sums so far.
pub struct RegressionMetrics {
    config: Config,
    seen: Seen,
}

impl Step for RegressionMetrics {
    type Config = Config;
    type State = ();
    const META: Meta = Meta {
        name: "regression-metrics",
        version: env!("CARGO_PKG_VERSION"),
        description: "MAE, MSE, RMSE, R² and MAPE of a prediction (scikit-learn semantics)",
        stateful: false,
    };

    fn new(config: Config) -> Result<Self> {
        Ok(RegressionMetrics {
            config,
            seen: Seen::default(),
        })
    }
}

impl Evaluate for RegressionMetrics {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        let target = batch.numeric(&self.config.target)?.to_f64s()?;
        let prediction = batch.numeric(&self.config.prediction)?.to_f64s()?;
        self.seen.add(&target, &prediction);
        Ok(())
    }

    fn report(&mut self) -> Result<Vec<Metric>> {
        self.seen
            .metrics(&self.config.target, &self.config.prediction)
    }
}

weft_sdk::export_evaluate!(RegressionMetrics);

#[cfg(test)]
mod tests;
