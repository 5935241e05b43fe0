//! `one-hot`: expand categorical columns into 0/1 indicator columns exactly as
//! scikit-learn's `OneHotEncoder(sparse_output=False)`.
//!
//! Categories are learned in fit and sorted (a missing value, if seen, is the
//! last category, as scikit-learn's `nan`). Column `c` is replaced, at its
//! position, by `c=<value>` columns of `dtype` (f64 unless asked). Shard
//! states merge exactly (the union of categories).

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{
    compute, Batch, Column, Indicator, Meta, Result, Scalar, Step, StepError, Transform,
    UnknownPolicy,
};

/// One-hot encode categorical columns as scikit-learn's `OneHotEncoder`:
/// `{"columns": [...], "handle_unknown": "error" | "ignore", "dtype": "float64"}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "one-hot")]
pub struct Config {
    /// Categorical columns to encode; the others pass through.
    #[schemars(length(min = 1))]
    columns: Vec<String>,
    /// A category fit did not see: `error` fails naming it, `ignore` gives a
    /// row of zeros.
    #[serde(default = "error")]
    #[schemars(schema_with = "policy")]
    handle_unknown: UnknownPolicy,
    /// Type of the indicator columns, as scikit-learn's `dtype`: `float64`,
    /// `float32`, `uint8` (what polars' `to_dummies` gives) or `bool`.
    #[serde(default)]
    #[schemars(schema_with = "indicator")]
    dtype: Indicator,
}

/// The schema of [`Indicator`].
fn indicator(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["float64", "float32", "uint8", "bool"], "default": "float64"})
}

/// The schema of [`UnknownPolicy`], which the SDK's value types do not derive.
fn policy(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["error", "ignore"]})
}

fn error() -> UnknownPolicy {
    UnknownPolicy::Error
}

/// The step: config and the sorted categories of each column.
pub struct OneHot {
    config: Config,
    categories: Vec<Vec<(Scalar, u64)>>,
}

/// Sum counts of equal values; keep the kernel's order (sorted, null last).
fn union(a: &[(Scalar, u64)], b: &[(Scalar, u64)]) -> Vec<(Scalar, u64)> {
    let mut out = a.to_vec();
    for (value, n) in b {
        match out.iter_mut().find(|(v, _)| v == value) {
            Some((_, m)) => *m += n,
            None => out.push((value.clone(), *n)),
        }
    }
    out.sort_by(|(x, _), (y, _)| order(x, y));
    out
}

fn order(a: &Scalar, b: &Scalar) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Scalar::Null, Scalar::Null) => Equal,
        (Scalar::Null, _) => Greater,
        (_, Scalar::Null) => Less,
        (Scalar::Text(x), Scalar::Text(y)) => x.cmp(y),
        (Scalar::Boolean(x), Scalar::Boolean(y)) => x.cmp(y),
        (Scalar::Int(x), Scalar::Int(y)) => x.cmp(y),
        (Scalar::Float(x), Scalar::Float(y)) => x.total_cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

impl Step for OneHot {
    type Config = Config;
    type State = Vec<Vec<(Scalar, u64)>>;
    const META: Meta = Meta {
        name: "one-hot",
        version: env!("CARGO_PKG_VERSION"),
        description: "One-hot encode categorical columns into <column>=<value> indicators (scikit-learn OneHotEncoder)",
        stateful: true,
    };

    fn new(config: Config) -> Result<Self> {
        let categories = config.columns.iter().map(|_| Vec::new()).collect();
        Ok(OneHot { config, categories })
    }

    fn fit(&mut self, batch: &Batch) -> Result<()> {
        for (name, seen) in self.config.columns.iter().zip(&mut self.categories) {
            *seen = union(seen, &compute::value_counts(&[&batch.column(name)?])?);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Self::State> {
        Ok(self.categories.clone())
    }

    fn load_state(&mut self, state: Self::State) -> Result<()> {
        if state.len() != self.config.columns.len() {
            return Err(StepError::InvalidInput(
                "the state was fitted for other columns".into(),
            ));
        }
        self.categories = state;
        Ok(())
    }

    fn merge(&self, states: Vec<Self::State>) -> Result<Self::State> {
        let n = self.config.columns.len();
        if states.iter().any(|s| s.len() != n) {
            return Err(StepError::InvalidInput(
                "states were fitted for different columns".into(),
            ));
        }
        Ok((0..n)
            .map(|i| states.iter().fold(Vec::new(), |acc, s| union(&acc, &s[i])))
            .collect())
    }
}

impl Transform for OneHot {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        let mut out = batch.with_columns(&[])?;
        for (name, seen) in self.config.columns.iter().zip(&self.categories) {
            let values: Vec<Scalar> = seen.iter().map(|(v, _)| v.clone()).collect();
            let (unknown, kind) = (self.config.handle_unknown, self.config.dtype);
            let hot =
                compute::one_hot_as(&batch.column(name)?, &values, unknown, kind).map_err(|e| {
                    match e {
                        StepError::InvalidInput(m) => {
                            StepError::InvalidInput(format!("column {name:?}: {m}"))
                        }
                        other => other,
                    }
                })?;
            let names: Vec<String> = values.iter().map(|v| format!("{name}={v}")).collect();
            let named: Vec<(&str, &Column)> = names.iter().map(String::as_str).zip(&hot).collect();
            out = out.replace(name, &named)?;
        }
        Ok(out)
    }
}

weft_sdk::export_transform!(OneHot);

#[cfg(test)]
mod tests;
