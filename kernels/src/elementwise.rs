//! Per-value kernels that keep the column's shape.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int64Array, StringArray,
};
use arrow::datatypes::{DataType, Float32Type, Float64Type};

use crate::convert::{as_f64, dtype_error};
use crate::{Dtype, KernelError, Result, Scalar};

/// `(x - a) * b` for every value; nulls stay null. f32 stays f32 (computed in
/// f32), other numeric columns give f64.
pub fn affine(column: &dyn Array, a: f64, b: f64) -> Result<ArrayRef> {
    if let Some(f) = column.as_primitive_opt::<Float32Type>() {
        let (a, b) = (a as f32, b as f32);
        return Ok(Arc::new(f.unary::<_, Float32Type>(|x| (x - a) * b)));
    }
    let cast = as_f64(column, "affine")?;
    Ok(Arc::new(
        cast.as_primitive::<Float64Type>()
            .unary::<_, Float64Type>(|x| (x - a) * b),
    ))
}

/// Nulls (and NaN in float columns) replaced by `value`.
///
/// Integer columns filled with a float become f64, as in scikit-learn.
pub fn fill_nulls(column: &dyn Array, value: &Scalar) -> Result<ArrayRef> {
    let dtype = Dtype::of(column.data_type());
    let mismatch = || {
        KernelError::Invalid(format!(
            "fill value {value} does not suit a {} column",
            column.data_type()
        ))
    };
    let missing = |i: usize, nan: bool| column.is_null(i) || nan;
    Ok(match (dtype, value) {
        (_, Scalar::Null) => return Err(mismatch()),
        (Some(Dtype::F32), Scalar::Float(_) | Scalar::Int(_)) => {
            let v = scalar_f64(value) as f32;
            let f = column
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(mismatch)?;
            Arc::new(Float32Array::from_iter_values(
                f.values()
                    .iter()
                    .enumerate()
                    .map(|(i, x)| if missing(i, x.is_nan()) { v } else { *x }),
            ))
        }
        (Some(Dtype::S64), Scalar::Int(v)) => {
            let cast = arrow::compute::cast(column, &DataType::Int64)
                .map_err(|e| KernelError::Invalid(e.to_string()))?;
            let ints = cast.as_primitive::<arrow::datatypes::Int64Type>();
            Arc::new(Int64Array::from_iter_values(
                ints.values()
                    .iter()
                    .enumerate()
                    .map(|(i, x)| if missing(i, false) { *v } else { *x }),
            ))
        }
        (Some(Dtype::F64 | Dtype::S64), Scalar::Float(_) | Scalar::Int(_)) => {
            let v = scalar_f64(value);
            let cast = as_f64(column, "fill-nulls")?;
            let f = cast.as_primitive::<Float64Type>();
            Arc::new(Float64Array::from_iter_values(
                f.values()
                    .iter()
                    .enumerate()
                    .map(|(i, x)| if missing(i, x.is_nan()) { v } else { *x }),
            ))
        }
        (Some(Dtype::Boolean), Scalar::Boolean(v)) => {
            let b = column.as_boolean();
            Arc::new(BooleanArray::from_iter(
                (0..b.len()).map(|i| Some(if b.is_null(i) { *v } else { b.value(i) })),
            ))
        }
        (Some(Dtype::Text), Scalar::Text(v)) => {
            let cast = arrow::compute::cast(column, &DataType::Utf8)
                .map_err(|e| KernelError::Invalid(e.to_string()))?;
            let s = cast.as_string::<i32>();
            Arc::new(StringArray::from_iter_values(
                s.iter().map(|x| x.unwrap_or(v)),
            ))
        }
        (None, _) => {
            return Err(dtype_error(
                "fill-nulls",
                column,
                "a numeric, boolean or text column",
            ))
        }
        _ => return Err(mismatch()),
    })
}

fn scalar_f64(value: &Scalar) -> f64 {
    match value {
        Scalar::Float(v) => *v,
        Scalar::Int(v) => *v as f64,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    #[test]
    fn affine_keeps_nulls_and_f32() {
        let a = Float32Array::from(vec![Some(3.0), None]);
        let out = affine(&a, 1.0, 0.5).unwrap();
        let f = out.as_primitive::<Float32Type>();
        assert_eq!((f.value(0), f.is_null(1)), (1.0, true));
    }

    #[test]
    fn affine_widens_ints() {
        let a = Int64Array::from(vec![4]);
        let out = affine(&a, 2.0, 3.0).unwrap();
        assert_eq!(out.as_primitive::<Float64Type>().value(0), 6.0);
    }

    #[test]
    fn fill_replaces_null_and_nan() {
        let a = Float64Array::from(vec![Some(1.0), None, Some(f64::NAN)]);
        let out = fill_nulls(&a, &Scalar::Float(9.0)).unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().values().to_vec(),
            vec![1.0, 9.0, 9.0]
        );
        assert_eq!(out.null_count(), 0);
    }

    #[test]
    fn fill_int_with_float_gives_f64() {
        let a = Int64Array::from(vec![Some(1), None]);
        let out = fill_nulls(&a, &Scalar::Float(2.5)).unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().values().to_vec(),
            vec![1.0, 2.5]
        );
    }

    #[test]
    fn fill_text_into_numbers_is_refused() {
        let a = Int64Array::from(vec![Some(1), None]);
        assert!(fill_nulls(&a, &Scalar::Text("x".into())).is_err());
    }
}
