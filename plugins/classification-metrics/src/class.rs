//! Values read from label, prediction and score columns, and the checks that
//! turn missing values into errors.

use std::cmp::Ordering;
use std::fmt;

use weft_sdk::{Batch, Dtype, Result, Scalar, StepError};

/// A number that is not NaN, totally ordered, with -0.0 read as 0.0 (numpy
/// compares them equal).
#[derive(Clone, Copy, Debug)]
pub struct Num(f64);

impl Num {
    /// `v`, or `None` for NaN.
    pub fn new(v: f64) -> Option<Num> {
        // `v + 0.0` turns -0.0 into 0.0 and keeps every other value.
        (!v.is_nan()).then_some(Num(v + 0.0))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Num {}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What kind of values a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Booleans.
    Bool,
    /// Numbers of any width.
    Num,
    /// Text.
    Text,
}

impl Kind {
    fn of(dtype: Dtype) -> Kind {
        match dtype {
            Dtype::Boolean => Kind::Bool,
            Dtype::Text => Kind::Text,
            Dtype::F32 | Dtype::F64 | Dtype::S64 => Kind::Num,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Bool => "booleans",
            Kind::Num => "numbers",
            Kind::Text => "text",
        })
    }
}

/// A class: one label or prediction. Ordered as numpy sorts one kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(Num),
    /// Text.
    Text(String),
}

impl Class {
    /// The class a config value names; `None` for null (and NaN).
    pub fn from_scalar(value: &Scalar) -> Option<Class> {
        match value {
            Scalar::Null => None,
            Scalar::Int(v) => Num::new(*v as f64).map(Class::Num),
            Scalar::Float(v) => Num::new(*v).map(Class::Num),
            Scalar::Boolean(v) => Some(Class::Bool(*v)),
            Scalar::Text(v) => Some(Class::Text(v.clone())),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Class::Bool(_) => Kind::Bool,
            Class::Num(_) => Kind::Num,
            Class::Text(_) => Kind::Text,
        }
    }

    /// The same class as a value of a column of `kind`: itself, or a number
    /// 0/1 as a boolean; `None` when the kinds cannot compare.
    pub fn as_kind(&self, kind: Kind) -> Option<Class> {
        match (self, kind) {
            _ if self.kind() == kind => Some(self.clone()),
            (Class::Num(n), Kind::Bool) if n.get() == 0.0 || n.get() == 1.0 => {
                Some(Class::Bool(n.get() == 1.0))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::Bool(v) => write!(f, "{v}"),
            Class::Num(v) => write!(f, "{}", v.get()),
            Class::Text(v) => f.write_str(v),
        }
    }
}

/// The named column's kind and classes, `None` where null (or NaN).
pub fn read(batch: &Batch, name: &str) -> Result<(Kind, Vec<Option<Class>>)> {
    let column = batch.column(name)?;
    let kind = Kind::of(column.dtype());
    let values: Vec<Option<Class>> = match kind {
        Kind::Bool => column
            .to_bools()?
            .into_iter()
            .map(|v| Some(Class::Bool(v)))
            .collect(),
        Kind::Num => column
            .to_f64s()?
            .into_iter()
            .map(|v| Num::new(v).map(Class::Num))
            .collect(),
        Kind::Text => column
            .to_strings()?
            .into_iter()
            .map(|v| Some(Class::Text(v)))
            .collect(),
    };
    let values = match column.validity() {
        None => values,
        Some(valid) => values
            .into_iter()
            .zip(valid)
            .map(|(v, ok)| v.filter(|_| ok))
            .collect(),
    };
    Ok((kind, values))
}

/// An error unless some rows were seen (scikit-learn raises on empty input).
pub fn nonempty(rows: u64) -> Result<()> {
    if rows == 0 {
        return Err(StepError::InvalidInput(
            "no rows to evaluate: the input is empty (scikit-learn raises ValueError on empty input)"
                .into(),
        ));
    }
    Ok(())
}

/// An error when `count` of `rows` rows of `column` held a `what` value.
pub fn no_missing(column: &str, count: u64, rows: u64, what: &str) -> Result<()> {
    if count > 0 {
        return Err(StepError::InvalidInput(format!(
            "column {column:?} has {count} {what} values (of {rows} rows); \
             scikit-learn rejects them: drop or fill those rows first"
        )));
    }
    Ok(())
}
