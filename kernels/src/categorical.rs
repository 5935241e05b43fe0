//! Category counting and one-hot expansion.

use foldhash::HashMap;
use foldhash::HashMapExt as _;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};

use crate::convert::dtype_error;
use crate::{Dtype, Indicator, KernelError, Result, Scalar, UnknownPolicy};

/// A hashable view of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Null,
    Int(i64),
    Float(u64),
    Bool(bool),
    Text(&'a str),
}

impl Key<'_> {
    fn float(v: f64) -> Self {
        if v.is_nan() {
            Key::Null
        } else {
            Key::Float((v + 0.0).to_bits())
        }
    }

    fn to_scalar(self) -> Scalar {
        match self {
            Key::Null => Scalar::Null,
            Key::Int(v) => Scalar::Int(v),
            Key::Float(bits) => Scalar::Float(f64::from_bits(bits)),
            Key::Bool(v) => Scalar::Boolean(v),
            Key::Text(v) => Scalar::Text(v.to_owned()),
        }
    }

    fn of_scalar(s: &Scalar, dtype: Dtype) -> Key<'_> {
        match (s, dtype) {
            (Scalar::Int(v), Dtype::F32 | Dtype::F64) => Key::float(*v as f64),
            (Scalar::Float(v), Dtype::S64) if v.fract() == 0.0 => Key::Int(*v as i64),
            (Scalar::Null, _) => Key::Null,
            (Scalar::Int(v), _) => Key::Int(*v),
            (Scalar::Float(v), _) => Key::float(*v),
            (Scalar::Boolean(v), _) => Key::Bool(*v),
            (Scalar::Text(v), _) => Key::Text(v),
        }
    }
}

/// Column ordering: nulls last, then by value.
fn order(a: &Key, b: &Key) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Key::Null, Key::Null) => Equal,
        (Key::Null, _) => Greater,
        (_, Key::Null) => Less,
        (Key::Float(x), Key::Float(y)) => f64::from_bits(*x).total_cmp(&f64::from_bits(*y)),
        _ => a.cmp(b),
    }
}

impl PartialOrd for Key<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |k: &Key| match k {
            Key::Bool(_) => 0,
            Key::Int(_) => 1,
            Key::Float(_) => 2,
            Key::Text(_) => 3,
            Key::Null => 4,
        };
        match (self, other) {
            (Key::Int(x), Key::Int(y)) => x.cmp(y),
            (Key::Bool(x), Key::Bool(y)) => x.cmp(y),
            (Key::Text(x), Key::Text(y)) => x.cmp(y),
            (Key::Float(x), Key::Float(y)) => f64::from_bits(*x).total_cmp(&f64::from_bits(*y)),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

/// Call `f` with the key of every row.
fn each_key<'a>(
    array: &'a dyn Array,
    kernel: &'static str,
    mut f: impl FnMut(usize, Key<'a>) -> Result<()>,
) -> Result<()> {
    let valid = |i: usize| array.is_valid(i);
    macro_rules! visit {
        ($values:expr, $key:expr) => {
            for (i, v) in $values.enumerate() {
                f(i, if valid(i) { $key(v) } else { Key::Null })?;
            }
        };
    }
    match array.data_type() {
        DataType::Float64 => visit!(
            array.as_primitive::<Float64Type>().values().iter(),
            |v: &f64| Key::float(*v)
        ),
        DataType::Float32 => visit!(
            array.as_primitive::<Float32Type>().values().iter(),
            |v: &f32| Key::float(*v as f64)
        ),
        DataType::Int64 => visit!(
            array.as_primitive::<Int64Type>().values().iter(),
            |v: &i64| Key::Int(*v)
        ),
        DataType::Boolean => visit!(array.as_boolean().values().iter(), Key::Bool),
        DataType::Utf8 => visit!(array.as_string::<i32>().iter(), |v: Option<&'a str>| {
            Key::Text(v.unwrap_or_default())
        }),
        _ if Dtype::of(array.data_type()) == Some(Dtype::S64) => {
            return Err(KernelError::Invalid(format!(
                "{kernel}: cast {} columns to Int64 first",
                array.data_type()
            )))
        }
        _ => {
            return Err(dtype_error(
                kernel,
                array,
                "a numeric, boolean or text column",
            ))
        }
    }
    Ok(())
}

fn dtype_of(columns: &[&dyn Array], kernel: &'static str) -> Result<Option<Dtype>> {
    let mut dtypes = columns.iter().map(|c| {
        Dtype::of(c.data_type())
            .ok_or_else(|| dtype_error(kernel, *c, "a numeric, boolean or text column"))
    });
    let Some(first) = dtypes.next().transpose()? else {
        return Ok(None);
    };
    for d in dtypes {
        if d? != first {
            return Err(KernelError::Invalid(format!(
                "{kernel}: columns have different types"
            )));
        }
    }
    Ok(Some(first))
}

/// Distinct values of all `columns` with their counts, sorted by value, nulls
/// (and NaN) last as [`Scalar::Null`].
pub fn value_counts(columns: &[&dyn Array]) -> Result<Vec<(Scalar, u64)>> {
    dtype_of(columns, "value-counts")?;
    let casts: Vec<ArrayRef> = columns.iter().map(|c| widen(*c)).collect::<Result<_>>()?;
    let mut counts: HashMap<Key, u64> = HashMap::new();
    for col in &casts {
        each_key(col.as_ref(), "value-counts", |_, k| {
            *counts.entry(k).or_default() += 1;
            Ok(())
        })?;
    }
    let mut out: Vec<(Key, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| order(&a.0, &b.0));
    Ok(out.into_iter().map(|(k, n)| (k.to_scalar(), n)).collect())
}

/// Integers of any width as Int64; other arrays unchanged.
fn widen(array: &dyn Array) -> Result<ArrayRef> {
    let target = match Dtype::of(array.data_type()) {
        Some(Dtype::S64) => DataType::Int64,
        Some(Dtype::Text) => DataType::Utf8,
        _ => array.data_type().clone(),
    };
    arrow::compute::cast(array, &target).map_err(|e| KernelError::Invalid(e.to_string()))
}

/// One f64 indicator column per category, in the order given.
pub fn one_hot(
    column: &dyn Array,
    categories: &[Scalar],
    unknown: UnknownPolicy,
) -> Result<Vec<ArrayRef>> {
    one_hot_as(column, categories, unknown, Indicator::Float64)
}

/// One indicator column of type `kind` per category, in the order given.
pub fn one_hot_as(
    column: &dyn Array,
    categories: &[Scalar],
    unknown: UnknownPolicy,
    kind: Indicator,
) -> Result<Vec<ArrayRef>> {
    let dtype = dtype_of(&[column], "one-hot")?.expect("one column");
    let index: HashMap<Key, usize> = categories
        .iter()
        .enumerate()
        .map(|(i, c)| (Key::of_scalar(c, dtype), i))
        .collect();
    let rows = column.len();
    let mut hot = vec![vec![0u8; rows]; categories.len()];
    let column = widen(column)?;
    each_key(column.as_ref(), "one-hot", |row, key| {
        match (index.get(&key), unknown) {
            (Some(&c), _) => hot[c][row] = 1,
            (None, UnknownPolicy::Ignore) => {}
            (None, UnknownPolicy::Error) => {
                return Err(KernelError::UnknownCategory {
                    value: key.to_scalar().to_string(),
                    row,
                    known: categories
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
        Ok(())
    })?;
    Ok(hot.into_iter().map(|bits| indicators(bits, kind)).collect())
}

/// 0/1 bytes as an indicator column of type `kind`.
fn indicators(bits: Vec<u8>, kind: Indicator) -> ArrayRef {
    match kind {
        Indicator::Float64 => {
            Arc::new(bits.iter().map(|&b| f64::from(b)).collect::<Float64Array>())
        }
        Indicator::Float32 => {
            Arc::new(bits.iter().map(|&b| f32::from(b)).collect::<Float32Array>())
        }
        Indicator::Uint8 => Arc::new(UInt8Array::from(bits)),
        Indicator::Bool => Arc::new(bits.iter().map(|&b| Some(b == 1)).collect::<BooleanArray>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array, StringArray};

    #[test]
    fn counts_sorted_with_nulls_last() {
        let a = StringArray::from(vec![Some("b"), None, Some("a"), Some("b")]);
        let counts = value_counts(&[&a]).unwrap();
        assert_eq!(
            counts,
            vec![
                (Scalar::Text("a".into()), 1),
                (Scalar::Text("b".into()), 2),
                (Scalar::Null, 1)
            ]
        );
    }

    #[test]
    fn float_counts_treat_nan_as_null_and_order_numerically() {
        let a = Float64Array::from(vec![10.0, 2.0, f64::NAN, -0.0, 0.0]);
        let counts = value_counts(&[&a]).unwrap();
        assert_eq!(
            counts,
            vec![
                (Scalar::Float(0.0), 2),
                (Scalar::Float(2.0), 1),
                (Scalar::Float(10.0), 1),
                (Scalar::Null, 1)
            ]
        );
    }

    #[test]
    fn narrow_ints_count_as_ints() {
        let a = Int32Array::from(vec![3, 1, 3]);
        assert_eq!(
            value_counts(&[&a]).unwrap(),
            vec![(Scalar::Int(1), 1), (Scalar::Int(3), 2)]
        );
    }

    #[test]
    fn one_hot_marks_categories_and_handles_unknowns() {
        let a = StringArray::from(vec!["x", "z", "y"]);
        let cats = [Scalar::Text("x".into()), Scalar::Text("y".into())];
        let cols = one_hot(&a, &cats, UnknownPolicy::Ignore).unwrap();
        let v: Vec<Vec<f64>> = cols
            .iter()
            .map(|c| c.as_primitive::<Float64Type>().values().to_vec())
            .collect();
        assert_eq!(v, vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]]);
        let err = one_hot(&a, &cats, UnknownPolicy::Error).unwrap_err();
        assert!(err.to_string().contains("\"z\" (row 1)"), "{err}");
    }
}
