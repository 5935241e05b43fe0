//! `impute`: fill missing values (null or NaN) exactly as scikit-learn's
//! `SimpleImputer(missing_values=np.nan)`: mean, median, most frequent value
//! (smallest among ties) or a constant.
//!
//! A column with no value at fit time is dropped from the output, as
//! scikit-learn does, unless `keep_empty_features` (then it is filled with 0).
//! Shard states merge exactly for mean and most_frequent; medians merge as the
//! count-weighted mean of the shards' medians (approximate).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::{
    compute, log, Batch, Column, Meta, Result, Scalar, Stats, Step, StepError, Transform,
};

/// How to choose the fill value: the `mean` or `median` of the column, its
/// `most_frequent` value (the smallest among ties), or `fill_value`
/// (`constant`).
// The variants have no doc comments of their own: documented variants would
// make the schema a `oneOf`, whose errors do not list the valid values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Mean,
    Median,
    MostFrequent,
    Constant,
}

/// Fill missing values (null or NaN) as scikit-learn's `SimpleImputer`:
/// `{"columns": [...], "strategy": ..., "fill_value": x, "keep_empty_features": false}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "impute")]
pub struct Config {
    /// Columns to fill; the others pass through.
    #[schemars(length(min = 1))]
    columns: Vec<String>,
    /// How to choose each column's fill value.
    #[serde(default = "mean")]
    strategy: Strategy,
    /// The value `constant` fills with (default 0 for numbers,
    /// "missing_value" for text); only with `strategy: constant`.
    #[serde(default)]
    #[schemars(schema_with = "fill_value")]
    fill_value: Option<Scalar>,
    /// Fill a column with no value at fit time with 0 instead of dropping it.
    #[serde(default)]
    keep_empty_features: bool,
}

/// The schema of `fill_value`: a number, a string or a boolean (null: the
/// default).
fn fill_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": ["number", "string", "boolean", "null"]})
}

fn mean() -> Strategy {
    Strategy::Mean
}

/// What fit learned about one column.
#[derive(Default, Serialize, Deserialize)]
pub struct Seen {
    stats: Stats,
    /// Value counts (most_frequent), or `[median]` once fitted (median).
    counts: Vec<(Scalar, u64)>,
    /// The fill value; `None` drops the column.
    fill: Option<Scalar>,
}

/// The step.
pub struct Impute {
    config: Config,
    seen: Vec<Seen>,
    kept: Vec<Vec<Column>>,
    fitted: bool,
}

impl Impute {
    fn observe(&mut self, i: usize, column: Column) -> Result<()> {
        let seen = &mut self.seen[i];
        match self.config.strategy {
            Strategy::Mean => seen.stats = seen.stats.merge(&compute::column_stats(&[&column])?),
            Strategy::Median => {
                seen.stats = seen.stats.merge(&compute::column_stats(&[&column])?);
                self.kept[i].push(column);
            }
            Strategy::MostFrequent => {
                seen.counts = add_counts(&seen.counts, &compute::value_counts(&[&column])?)
            }
            Strategy::Constant => {}
        }
        Ok(())
    }

    /// The fitted fill value; for `constant` without `fill_value`, `None`
    /// (the default depends on each batch's column type).
    fn fill_of(&self, i: usize) -> Result<Option<Scalar>> {
        let seen = &self.seen[i];
        let value = match self.config.strategy {
            Strategy::Constant => return Ok(self.config.fill_value.clone()),
            Strategy::Mean => (seen.stats.count > 0).then_some(Scalar::Float(seen.stats.mean)),
            Strategy::Median => {
                let kept: Vec<&Column> = self.kept[i].iter().collect();
                let m = compute::quantiles(&kept, &[0.5])?[0];
                (!m.is_nan()).then_some(Scalar::Float(m))
            }
            Strategy::MostFrequent => most_frequent(&seen.counts),
        };
        if value.is_none() && !self.config.keep_empty_features {
            log::warn(&format!(
                "column {:?} has no values to learn from; dropping it, as scikit-learn does",
                self.config.columns[i]
            ));
        }
        Ok(value.or_else(|| self.config.keep_empty_features.then_some(Scalar::Int(0))))
    }
}

/// Sum two sorted count lists.
fn add_counts(a: &[(Scalar, u64)], b: &[(Scalar, u64)]) -> Vec<(Scalar, u64)> {
    let mut out = a.to_vec();
    for (value, n) in b {
        match out.iter_mut().find(|(v, _)| v == value) {
            Some((_, m)) => *m += n,
            None => out.push((value.clone(), *n)),
        }
    }
    out
}

/// The most frequent non-null value; ties go to the smallest (counts are sorted).
fn most_frequent(counts: &[(Scalar, u64)]) -> Option<Scalar> {
    let valid = counts.iter().filter(|(v, _)| *v != Scalar::Null);
    let best = valid.clone().map(|(_, n)| *n).max()?;
    let mut ties: Vec<&Scalar> = valid.filter(|(_, n)| *n == best).map(|(v, _)| v).collect();
    ties.sort_by(|a, b| order(a, b));
    ties.first().map(|v| (*v).clone())
}

fn order(a: &Scalar, b: &Scalar) -> std::cmp::Ordering {
    match (a, b) {
        (Scalar::Text(x), Scalar::Text(y)) => x.cmp(y),
        (Scalar::Boolean(x), Scalar::Boolean(y)) => x.cmp(y),
        _ => number(a).total_cmp(&number(b)),
    }
}

fn number(s: &Scalar) -> f64 {
    match s {
        Scalar::Int(v) => *v as f64,
        Scalar::Float(v) => *v,
        _ => f64::NAN,
    }
}

impl Step for Impute {
    type Config = Config;
    type State = Vec<Seen>;
    const META: Meta = Meta {
        name: "impute",
        version: env!("CARGO_PKG_VERSION"),
        description: "Fill missing values with the mean, median, most frequent value or a constant (scikit-learn SimpleImputer)",
        stateful: true,
    };

    fn new(config: Config) -> Result<Self> {
        if config.fill_value.is_some() && config.strategy != Strategy::Constant {
            return Err(StepError::InvalidConfig(
                "fill_value is only used with strategy \"constant\"".into(),
            ));
        }
        let n = config.columns.len();
        Ok(Impute {
            config,
            seen: (0..n).map(|_| Seen::default()).collect(),
            kept: (0..n).map(|_| Vec::new()).collect(),
            fitted: false,
        })
    }

    fn fit(&mut self, batch: &Batch) -> Result<()> {
        for i in 0..self.config.columns.len() {
            let column = batch.column(&self.config.columns[i])?;
            if matches!(self.config.strategy, Strategy::Mean | Strategy::Median) {
                batch.numeric(&self.config.columns[i])?;
            }
            self.observe(i, column)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<Seen>> {
        if !self.fitted {
            for i in 0..self.seen.len() {
                self.seen[i].fill = self.fill_of(i)?;
            }
            self.fitted = true;
        }
        Ok(self
            .seen
            .iter()
            .map(|s| Seen {
                stats: s.stats,
                counts: s.counts.clone(),
                fill: s.fill.clone(),
            })
            .collect())
    }

    fn load_state(&mut self, state: Vec<Seen>) -> Result<()> {
        if state.len() != self.config.columns.len() {
            return Err(StepError::InvalidInput(
                "the state was fitted for other columns".into(),
            ));
        }
        self.seen = state;
        self.fitted = true;
        Ok(())
    }

    fn merge(&self, states: Vec<Vec<Seen>>) -> Result<Vec<Seen>> {
        let n = self.config.columns.len();
        if states.iter().any(|s| s.len() != n) {
            return Err(StepError::InvalidInput(
                "states were fitted for different columns".into(),
            ));
        }
        Ok((0..n)
            .map(|i| merge_column(self.config.strategy, states.iter().map(|s| &s[i]).collect()))
            .collect())
    }
}

impl Transform for Impute {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        self.state()?;
        let mut out = batch.with_columns(&[])?;
        for (name, seen) in self.config.columns.iter().zip(&self.seen) {
            let column = batch.column(name)?;
            let fill = match (self.config.strategy, &seen.fill) {
                (Strategy::Constant, None) => Some(constant_default(&column)),
                (_, fill) => fill.clone(),
            };
            out = match fill {
                Some(value) => out.with_columns(&[(
                    name,
                    &compute::fill_nulls(&column, &fill_for(&value, &column))?,
                )])?,
                None => out.replace(name, &[])?,
            };
        }
        Ok(out)
    }
}

/// scikit-learn's default `fill_value`: 0 for numbers, "missing_value" for text.
fn constant_default(column: &Column) -> Scalar {
    match column.dtype() {
        weft_sdk::Dtype::Text => Scalar::Text("missing_value".into()),
        _ => Scalar::Int(0),
    }
}

/// Text columns take the constant's text; numbers stay numbers.
fn fill_for(value: &Scalar, column: &Column) -> Scalar {
    match (value, column.dtype()) {
        (Scalar::Int(v), weft_sdk::Dtype::Text) => Scalar::Text(v.to_string()),
        _ => value.clone(),
    }
}

fn merge_column(strategy: Strategy, seen: Vec<&Seen>) -> Seen {
    let stats = seen
        .iter()
        .fold(Stats::default(), |acc, s| acc.merge(&s.stats));
    let counts = seen
        .iter()
        .fold(Vec::new(), |acc, s| add_counts(&acc, &s.counts));
    let fill = match strategy {
        Strategy::Mean => (stats.count > 0).then_some(Scalar::Float(stats.mean)),
        Strategy::MostFrequent => most_frequent(&counts),
        Strategy::Median => {
            let weighted: Vec<(f64, f64)> = seen
                .iter()
                .filter_map(|s| Some((number(s.fill.as_ref()?), s.stats.count.max(1) as f64)))
                .collect();
            let total: f64 = weighted.iter().map(|(_, w)| w).sum();
            (total > 0.0)
                .then(|| Scalar::Float(weighted.iter().map(|(m, w)| m * w).sum::<f64>() / total))
        }
        Strategy::Constant => seen.first().and_then(|s| s.fill.clone()),
    };
    Seen {
        stats,
        counts,
        fill,
    }
}

weft_sdk::export_transform!(Impute);

#[cfg(test)]
mod tests;
