//! `scale`: standardize, min-max or robust-scale numeric columns, exactly as
//! scikit-learn's `StandardScaler`, `MinMaxScaler` and `RobustScaler`.
//!
//! Fit learns per-column statistics through the host's kernels; transform is
//! one host `affine` call per column, `(x - a) * b`. Other columns pass
//! through untouched, by handle.

mod fit;

use fit::{Fit, Method};
use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{compute, Batch, Column, Meta, Result, Step, StepError, Transform};

/// `{"columns": [...], "method": "standard" | "minmax" | "robust", ...options}`.
#[derive(Deserialize, JsonSchema)]
#[schemars(title = "scale")]
pub struct Config {
    /// Numeric columns to scale; the others pass through.
    #[schemars(length(min = 1))]
    columns: Vec<String>,
    /// The scaler and its options.
    #[serde(flatten)]
    method: Method,
}

/// The step: its config, what fit has seen so far, and the fitted `(a, b)`.
pub struct Scale {
    config: Config,
    seen: Vec<Fit>,
    params: Option<Vec<(f64, f64)>>,
}

impl Step for Scale {
    type Config = Config;
    type State = Vec<Fit>;
    const META: Meta = Meta {
        name: "scale",
        version: env!("CARGO_PKG_VERSION"),
        description:
            "Standard, min-max or robust scaling of numeric columns (scikit-learn semantics)",
        stateful: true,
    };

    /// The hand-written [`fit::schema`], not the derived one: the derived
    /// schema of the flattened, tagged [`Method`] is a `oneOf` whose errors
    /// quote the whole config ("is not valid under any of the schemas listed
    /// in the 'oneOf' keyword") instead of naming the field, and it lets
    /// misspelled fields and another method's options through.
    fn config_schema() -> serde_json::Value {
        fit::schema()
    }

    fn new(config: Config) -> Result<Self> {
        config.method.check()?;
        let seen = config.columns.iter().map(|_| Fit::default()).collect();
        Ok(Scale {
            config,
            seen,
            params: None,
        })
    }

    fn fit(&mut self, batch: &Batch) -> Result<()> {
        for (name, seen) in self.config.columns.iter().zip(&mut self.seen) {
            seen.observe(&self.config.method, batch.numeric(name)?)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<Fit>> {
        let method = &self.config.method;
        self.seen.iter_mut().map(|s| s.finish(method)).collect()
    }

    fn load_state(&mut self, state: Vec<Fit>) -> Result<()> {
        if state.len() != self.config.columns.len() {
            return Err(StepError::InvalidInput(
                "the state was fitted for other columns".into(),
            ));
        }
        self.params = Some(
            state
                .iter()
                .map(|f| f.params(&self.config.method))
                .collect(),
        );
        Ok(())
    }

    fn merge(&self, states: Vec<Vec<Fit>>) -> Result<Vec<Fit>> {
        fit::merge(states, self.config.columns.len())
    }
}

impl Transform for Scale {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        if self.params.is_none() {
            let state = self.state()?;
            self.load_state(state)?;
        }
        let params = self.params.as_ref().expect("loaded above");
        let mut scaled: Vec<Column> = Vec::with_capacity(params.len());
        for (name, (a, b)) in self.config.columns.iter().zip(params) {
            let column = compute::affine(&batch.numeric(name)?, *a, *b)?;
            scaled.push(self.config.method.clip(column)?);
        }
        let named: Vec<(&str, &Column)> = self
            .config
            .columns
            .iter()
            .map(String::as_str)
            .zip(&scaled)
            .collect();
        batch.with_columns(&named)
    }
}

weft_sdk::export_transform!(Scale);

#[cfg(test)]
mod tests;
