//! The reference: what fit learns about each column (this is the step's
//! state), and the baseline built from it that current data is compared to.
//!
//! Numeric columns (f32, f64, s64) keep a [`Reservoir`] of their valid
//! values; text and boolean columns keep their category counts. Nulls (and
//! NaN) are counted, never compared.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weft_sdk::{compute, Column, Dtype, Result, Scalar, StepError};

use crate::psi;
use crate::sample::Reservoir;

/// How a column is compared, from its dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// f32, f64 or s64: bins and the KS test.
    Numeric,
    /// Text categories.
    Text,
    /// Boolean categories.
    Boolean,
}

impl Kind {
    /// The kind of a dtype.
    pub fn of(dtype: Dtype) -> Kind {
        match dtype {
            Dtype::F32 | Dtype::F64 | Dtype::S64 => Kind::Numeric,
            Dtype::Text => Kind::Text,
            Dtype::Boolean => Kind::Boolean,
        }
    }

    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Numeric => "numeric",
            Kind::Text => "text",
            Kind::Boolean => "boolean",
        }
    }
}

/// What the reference holds for one column.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Values {
    /// A sample of the valid values.
    Numeric(Reservoir),
    /// Rows per text category.
    Text(BTreeMap<String, u64>),
    /// Rows per boolean category (`"true"`, `"false"`).
    Boolean(BTreeMap<String, u64>),
}

impl Values {
    fn kind(&self) -> Kind {
        match self {
            Values::Numeric(_) => Kind::Numeric,
            Values::Text(_) => Kind::Text,
            Values::Boolean(_) => Kind::Boolean,
        }
    }
}

/// The reference of one column, as saved in the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    /// Column name.
    pub column: String,
    /// Rows seen.
    pub rows: u64,
    /// Null or NaN rows.
    pub nulls: u64,
    /// The sample or the counts.
    pub values: Values,
}

/// A category's name: its text, or `true`/`false`; `None` for null.
pub fn label(value: &Scalar) -> Option<String> {
    match value {
        Scalar::Null => None,
        other => Some(other.to_string()),
    }
}

impl Reference {
    /// An empty reference for a column of `dtype`.
    pub fn new(column: &str, dtype: Dtype) -> Reference {
        let values = match Kind::of(dtype) {
            Kind::Numeric => Values::Numeric(Reservoir::default()),
            Kind::Text => Values::Text(BTreeMap::new()),
            Kind::Boolean => Values::Boolean(BTreeMap::new()),
        };
        Reference {
            column: column.to_string(),
            rows: 0,
            nulls: 0,
            values,
        }
    }

    /// How the column is compared.
    pub fn kind(&self) -> Kind {
        self.values.kind()
    }

    /// Learn from one batch's column, keeping at most `capacity` values.
    /// A column with no value at all (which a CSV reader may type as null)
    /// is only counted.
    pub fn observe(&mut self, column: &Column, capacity: usize) -> Result<()> {
        if column.null_count() == column.len() {
            self.rows += column.len() as u64;
            self.nulls += column.len() as u64;
            return Ok(());
        }
        let kind = Kind::of(column.dtype());
        if kind != self.kind() {
            return Err(StepError::InvalidInput(format!(
                "column {:?} holds {} values in this reference batch but {} values in earlier ones",
                self.column,
                kind.name(),
                self.kind().name()
            )));
        }
        self.rows += column.len() as u64;
        match &mut self.values {
            Values::Numeric(sample) => {
                for v in column.to_f64s()? {
                    if v.is_nan() {
                        self.nulls += 1;
                    } else {
                        sample.push(v, capacity);
                    }
                }
            }
            Values::Text(counts) | Values::Boolean(counts) => {
                for (value, n) in compute::value_counts(&[column])? {
                    match label(&value) {
                        Some(name) => *counts.entry(name).or_default() += n,
                        None => self.nulls += n,
                    }
                }
            }
        }
        Ok(())
    }

    /// The reference of the union of disjoint shards of one column: counts
    /// add up exactly; samples merge as `Reservoir::merge` does (exact
    /// while the union fits `capacity`).
    pub fn merge(parts: Vec<Reference>, capacity: usize) -> Result<Reference> {
        let first = parts
            .first()
            .ok_or_else(|| StepError::Internal("merge of no states".into()))?;
        let (column, kind) = (first.column.clone(), first.kind());
        if let Some(odd) = parts
            .iter()
            .find(|p| p.column != column || p.kind() != kind)
        {
            return Err(StepError::InvalidInput(format!(
                "cannot merge states: column {:?} ({}) vs column {:?} ({})",
                column,
                kind.name(),
                odd.column,
                odd.kind().name()
            )));
        }
        let rows = parts.iter().map(|p| p.rows).sum();
        let nulls = parts.iter().map(|p| p.nulls).sum();
        let values = match kind {
            Kind::Numeric => Values::Numeric(Reservoir::merge(
                parts.into_iter().filter_map(|p| p.sample()).collect(),
                capacity,
            )),
            Kind::Text => Values::Text(add_counts(parts)),
            Kind::Boolean => Values::Boolean(add_counts(parts)),
        };
        Ok(Reference {
            column,
            rows,
            nulls,
            values,
        })
    }

    fn sample(self) -> Option<Reservoir> {
        match self.values {
            Values::Numeric(sample) => Some(sample),
            _ => None,
        }
    }

    /// The baseline to compare against, with `bins` quantile bins for a
    /// numeric column; an error naming the column when it had no valid value.
    pub fn baseline(&self, bins: usize) -> Result<Baseline> {
        let empty = || {
            StepError::InvalidInput(format!(
                "column {:?} has no valid values in the reference data ({} rows, all null or NaN); there is nothing to compare against",
                self.column, self.rows
            ))
        };
        match &self.values {
            Values::Numeric(sample) if sample.values.is_empty() => Err(empty()),
            Values::Numeric(sample) => {
                let sorted = sample.sorted();
                let edges = psi::edges(&sorted, bins)?;
                let expected = psi::proportions(&psi::histogram(&edges, &sorted));
                Ok(Baseline::Numeric {
                    exact: sample.is_exact(),
                    sorted,
                    edges,
                    expected,
                })
            }
            Values::Text(counts) | Values::Boolean(counts) if counts.is_empty() => Err(empty()),
            Values::Text(counts) | Values::Boolean(counts) => {
                let mut tally: Vec<u64> = counts.values().copied().collect();
                tally.push(0);
                Ok(Baseline::Categorical {
                    kind: self.kind(),
                    index: counts.keys().cloned().zip(0..).collect(),
                    expected: psi::proportions(&tally),
                })
            }
        }
    }
}

fn add_counts(parts: Vec<Reference>) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for part in parts {
        if let Values::Text(counts) | Values::Boolean(counts) = part.values {
            for (name, n) in counts {
                *total.entry(name).or_default() += n;
            }
        }
    }
    total
}

/// A reference ready for comparison.
#[derive(Debug, Clone)]
pub enum Baseline {
    /// A numeric column.
    Numeric {
        /// The reference sample, sorted.
        sorted: Vec<f64>,
        /// Interior bin edges.
        edges: Vec<f64>,
        /// Reference proportion per bin.
        expected: Vec<f64>,
        /// Whether the sample is all the reference values.
        exact: bool,
    },
    /// A text or boolean column.
    Categorical {
        /// Text or boolean.
        kind: Kind,
        /// Bucket of each reference category.
        index: BTreeMap<String, usize>,
        /// Reference proportion per category, then 0 for the unseen bucket.
        expected: Vec<f64>,
    },
}

impl Baseline {
    /// How the column is compared.
    pub fn kind(&self) -> Kind {
        match self {
            Baseline::Numeric { .. } => Kind::Numeric,
            Baseline::Categorical { kind, .. } => *kind,
        }
    }
}
