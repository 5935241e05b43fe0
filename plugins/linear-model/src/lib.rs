//! `linear-model`: score rows with a trained linear or logistic model, as
//! scikit-learn's `LinearRegression.predict`,
//! `LogisticRegression.decision_function` and
//! `LogisticRegression.predict_proba(X)[:, 1]` do.
//!
//! A row's score is `z = intercept + Σ weights[j] · features[j]`, through the
//! `link`: `identity` gives `z`, `logistic` gives `1 / (1 + e^-z)` (computed
//! stably, as `scipy.special.expit`). The score is a new f64 column named
//! `output` (default `score`); every input column passes through untouched,
//! by handle. Features may be f32, f64 or s64 columns.
//!
//! **Missing values:** a row with a null or NaN in any feature gets a null
//! score (so does a row whose score is not a number, e.g. from `inf - inf`).
//! Put `impute` before this step to score such rows.
//!
//! The model is inline (`weights`, `intercept`) or a JSON file
//! `{"weights": [...], "intercept": b, "features": [...]}` (`features`
//! optional; if given it must equal the config's), read through WASI from a
//! folder the manifest grants to the step:
//!
//! ```yaml
//! - name: score
//!   plugin: linear-model
//!   mounts: [{ path: models, as: /models }]
//!   config: { features: [age, income], weights_file: /models/model.json, link: logistic }
//! ```
//!
//! **Precision:** `precision: f64` (default) computes the scores in f64
//! inside the step, equal to scikit-learn's to ~1e-15. `precision: f32` hands
//! the linear part to the host's `compute.matmul` kernel, which runs on the
//! GPU when there is one (`WEFT_COMPUTE`): within f32 rounding of
//! scikit-learn's figures (relative error about `k · 6e-8` of `Σ|w·x|`).
//!
//! The step fits nothing: it is stateless.

mod config;

use config::Model;
pub use config::{Config, Link, Precision};
use weft_sdk::{compute, Batch, Column, Meta, Result, Step, StepError, Transform};

/// The step: its config and the model it loaded.
pub struct LinearModel {
    config: Config,
    model: Model,
}

impl Step for LinearModel {
    type Config = Config;
    type State = ();
    const META: Meta = Meta {
        name: "linear-model",
        version: env!("CARGO_PKG_VERSION"),
        description: "Score rows with a linear or logistic model (scikit-learn LinearRegression / LogisticRegression)",
        stateful: false,
    };

    fn new(config: Config) -> Result<Self> {
        let model = Model::load(&config)?;
        Ok(LinearModel { config, model })
    }
}

impl Transform for LinearModel {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        let output = self.config.output.as_str();
        if batch.get(output).is_some() {
            return Err(StepError::InvalidInput(format!(
                "the input already has a column {output:?}; \
                 choose another name for the score with \"output\""
            )));
        }
        let features = self
            .config
            .features
            .iter()
            .map(|name| batch.numeric(name))
            .collect::<Result<Vec<_>>>()?;
        let z = match self.config.precision {
            Precision::F64 => {
                let columns = features
                    .iter()
                    .map(Column::to_f64s)
                    .collect::<Result<Vec<_>>>()?;
                scores(&columns, &self.model.weights, self.model.intercept)
            }
            Precision::F32 => self.matmul_scores(&features)?,
        };
        let values: Vec<f64> = z.into_iter().map(|z| self.config.link.apply(z)).collect();
        let valid: Vec<bool> = values.iter().map(|v| !v.is_nan()).collect();
        batch.with_columns(&[(output, &Column::from_f64s(&values, Some(&valid)))])
    }
}

impl LinearModel {
    /// The scores through the host's f32 `compute.matmul` (rows × features
    /// times features × 1), the intercept added in f64; nulls read as NaN.
    fn matmul_scores(&self, features: &[Column]) -> Result<Vec<f64>> {
        let weights: Vec<f32> = self.model.weights.iter().map(|&w| w as f32).collect();
        let columns: Vec<&Column> = features.iter().collect();
        let product = compute::matmul(&columns, &weights, 1)?;
        let z = product[0].to_f64s()?;
        Ok(z.into_iter().map(|z| z + self.model.intercept).collect())
    }
}

/// `intercept + Σ weights[j] · columns[j][i]` for every row `i` (NaN where a
/// feature is NaN; nulls arrive as NaN). The one place the scoring math
/// lives for `precision: f64`.
fn scores(columns: &[Vec<f64>], weights: &[f64], intercept: f64) -> Vec<f64> {
    let rows = columns.first().map_or(0, Vec::len);
    let mut z = vec![intercept; rows];
    for (column, w) in columns.iter().zip(weights) {
        for (z, x) in z.iter_mut().zip(column) {
            *z += w * x;
        }
    }
    z
}

impl Link {
    /// The link applied to one linear score.
    fn apply(self, z: f64) -> f64 {
        match self {
            Link::Identity => z,
            Link::Logistic => expit(z),
        }
    }
}

/// `1 / (1 + e^-z)` without overflow: for `z < 0`, `e^z / (1 + e^z)`.
fn expit(z: f64) -> f64 {
    if z < 0.0 {
        let e = z.exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + (-z).exp())
    }
}

weft_sdk::export_transform!(LinearModel);

#[cfg(test)]
mod tests;
