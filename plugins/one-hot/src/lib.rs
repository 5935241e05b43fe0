//! `one-hot`: expand categorical columns into 0/1 indicator columns exactly as
//! scikit-learn's `OneHotEncoder(sparse_output=False)`.
//!
//! Categories are learned in fit and sorted (a missing value, if seen, is the
//! last category, as scikit-learn's `nan`). Column `c` is replaced, at its
//! position, by `c=<value>` columns of f64. Shard states merge exactly (the
//! union of categories).

use serde::Deserialize;
use weft_sdk::{
    compute, Batch, Column, Meta, Result, Scalar, Step, StepError, Transform, UnknownPolicy,
};

/// `{"columns": [...], "handle_unknown": "error" | "ignore"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    columns: Vec<String>,
    #[serde(default = "error")]
    handle_unknown: UnknownPolicy,
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

    fn config_schema() -> serde_json::Value {
        serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "one-hot",
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "handle_unknown": {"enum": ["error", "ignore"]}
            },
            "required": ["columns"],
            "additionalProperties": false
        })
    }

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
            let hot = compute::one_hot(&batch.column(name)?, &values, self.config.handle_unknown)
                .map_err(|e| match e {
                StepError::InvalidInput(m) => {
                    StepError::InvalidInput(format!("column {name:?}: {m}"))
                }
                other => other,
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
mod tests {
    use super::*;
    use weft_sdk::testing::batch;

    fn text(v: &[&str]) -> Column {
        let valid: Vec<bool> = v.iter().map(|s| !s.is_empty()).collect();
        Column::from_strings(
            &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            Some(&valid),
        )
    }

    fn step(policy: &str) -> OneHot {
        OneHot::new(
            serde_json::from_value(serde_json::json!({"columns": ["c"], "handle_unknown": policy}))
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn sorted_categories_replace_the_column_in_place() {
        let mut s = step("error");
        s.fit(&batch(&[
            ("a", &text(&["1", "2"])),
            ("c", &text(&["b", "a"])),
            ("z", &text(&["3", "4"])),
        ]))
        .unwrap();
        s.fit(&batch(&[
            ("a", &text(&["1"])),
            ("c", &text(&[""])),
            ("z", &text(&["3"])),
        ]))
        .unwrap();
        let out = s
            .transform(&batch(&[
                ("a", &text(&["1", "2"])),
                ("c", &text(&["a", ""])),
                ("z", &text(&["3", "4"])),
            ]))
            .unwrap();
        assert_eq!(out.column_names(), ["a", "c=a", "c=b", "c=null", "z"]);
        assert_eq!(out.f64s("c=a").unwrap(), [1.0, 0.0]);
        assert_eq!(out.f64s("c=null").unwrap(), [0.0, 1.0]);
    }

    #[test]
    fn unknown_values_error_or_zero() {
        let mut s = step("error");
        s.fit(&batch(&[("c", &text(&["a"]))])).unwrap();
        let err = s
            .transform(&batch(&[("c", &text(&["zz"]))]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"c\"") && err.contains("zz") && err.contains("known categories: a"),
            "{err}"
        );
        let mut s = step("ignore");
        s.fit(&batch(&[("c", &text(&["a"]))])).unwrap();
        assert_eq!(
            s.transform(&batch(&[("c", &text(&["zz"]))]))
                .unwrap()
                .f64s("c=a")
                .unwrap(),
            [0.0]
        );
    }

    #[test]
    fn shard_merge_is_the_sorted_union() {
        let shard = |v: &[&str]| {
            let mut s = step("error");
            s.fit(&batch(&[("c", &text(v))])).unwrap();
            s.state().unwrap()
        };
        let merged = step("error")
            .merge(vec![shard(&["c", "a"]), shard(&["b", "a"])])
            .unwrap();
        let names: Vec<String> = merged[0].iter().map(|(v, _)| v.to_string()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(merged[0][0].1, 2);
    }
}
