//! Copying columns into and out of plain Rust vectors.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int64Array, StringArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use weft_types::DtypeOf;

use crate::{Dtype, KernelError, Result};

/// Marker of this crate's [`DtypeOf`] implementation, through which
/// [`Dtype::of`] takes Arrow types:
///
/// ```
/// use arrow::datatypes::DataType;
/// use weft_kernels::Dtype;
///
/// assert_eq!(Dtype::of(&DataType::UInt8), Some(Dtype::S64));
/// assert_eq!(Dtype::of(&DataType::Date32), None);
/// ```
pub enum Arrow {}

impl DtypeOf<Arrow> for DataType {
    fn dtype(&self) -> Option<Dtype> {
        Some(match self {
            DataType::Float32 | DataType::Float16 => Dtype::F32,
            DataType::Float64 => Dtype::F64,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Dtype::S64,
            DataType::Boolean => Dtype::Boolean,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Dtype::Text,
            _ => return None,
        })
    }
}

fn wrong(kernel: &'static str, array: &dyn Array, expected: &'static str) -> KernelError {
    KernelError::Dtype {
        kernel,
        found: array.data_type().to_string(),
        expected,
    }
}

fn nulls(validity: Option<Vec<bool>>, len: usize) -> Result<Option<NullBuffer>> {
    match validity {
        None => Ok(None),
        Some(v) if v.len() != len => Err(KernelError::Invalid(format!(
            "validity has {} entries but there are {len} values",
            v.len()
        ))),
        Some(v) => Ok(Some(NullBuffer::from(v)).filter(|n| n.null_count() > 0)),
    }
}

/// A column of f64 values; `validity[i] == false` marks a null.
pub fn from_f64s(values: Vec<f64>, validity: Option<Vec<bool>>) -> Result<ArrayRef> {
    let n = nulls(validity, values.len())?;
    Ok(Arc::new(Float64Array::new(values.into(), n)))
}

/// A column of f32 values.
pub fn from_f32s(values: Vec<f32>, validity: Option<Vec<bool>>) -> Result<ArrayRef> {
    let n = nulls(validity, values.len())?;
    Ok(Arc::new(Float32Array::new(values.into(), n)))
}

/// A column of i64 values.
pub fn from_s64s(values: Vec<i64>, validity: Option<Vec<bool>>) -> Result<ArrayRef> {
    let n = nulls(validity, values.len())?;
    Ok(Arc::new(Int64Array::new(values.into(), n)))
}

/// A column of booleans.
pub fn from_bools(values: Vec<bool>, validity: Option<Vec<bool>>) -> Result<ArrayRef> {
    let n = nulls(validity, values.len())?;
    Ok(Arc::new(BooleanArray::new(values.into(), n)))
}

/// A column of strings.
pub fn from_strings(values: Vec<String>, validity: Option<Vec<bool>>) -> Result<ArrayRef> {
    let n = nulls(validity, values.len())?;
    let mut array = StringArray::from(values);
    if let Some(n) = n {
        array = StringArray::new(array.offsets().clone(), array.values().clone(), Some(n));
    }
    Ok(Arc::new(array))
}

/// Per-row validity, or `None` when nothing is null.
pub fn validity(array: &dyn Array) -> Option<Vec<bool>> {
    array
        .logical_nulls()
        .filter(|n| n.null_count() > 0)
        .map(|n| n.iter().collect())
}

/// Any numeric column as f64; nulls read as NaN.
pub fn to_f64s(array: &dyn Array) -> Result<Vec<f64>> {
    let cast = as_f64(array, "to-f64s")?;
    let f = cast.as_primitive::<Float64Type>();
    Ok(match f.nulls() {
        None => f.values().to_vec(),
        Some(n) => f
            .values()
            .iter()
            .zip(n.iter())
            .map(|(v, ok)| if ok { *v } else { f64::NAN })
            .collect(),
    })
}

/// Any numeric column as f32; nulls read as NaN.
pub fn to_f32s(array: &dyn Array) -> Result<Vec<f32>> {
    if let Some(f) = array.as_primitive_opt::<Float32Type>() {
        return Ok(match f.nulls() {
            None => f.values().to_vec(),
            Some(n) => f
                .values()
                .iter()
                .zip(n.iter())
                .map(|(v, ok)| if ok { *v } else { f32::NAN })
                .collect(),
        });
    }
    Ok(to_f64s(array)?.into_iter().map(|v| v as f32).collect())
}

/// An integer column as i64; nulls read as 0.
pub fn to_s64s(array: &dyn Array) -> Result<Vec<i64>> {
    if Dtype::of(array.data_type()) != Some(Dtype::S64) {
        return Err(wrong("to-s64s", array, "an integer column"));
    }
    let cast = arrow::compute::cast(array, &DataType::Int64)
        .map_err(|e| KernelError::Invalid(e.to_string()))?;
    let ints = cast.as_primitive::<Int64Type>();
    Ok(match ints.nulls() {
        None => ints.values().to_vec(),
        Some(n) => ints
            .values()
            .iter()
            .zip(n.iter())
            .map(|(v, ok)| if ok { *v } else { 0 })
            .collect(),
    })
}

/// A boolean column; nulls read as false.
pub fn to_bools(array: &dyn Array) -> Result<Vec<bool>> {
    let b = array
        .as_boolean_opt()
        .ok_or_else(|| wrong("to-bools", array, "a boolean column"))?;
    Ok((0..b.len()).map(|i| b.is_valid(i) && b.value(i)).collect())
}

/// Any column rendered as text; nulls read as "".
pub fn to_strings(array: &dyn Array) -> Result<Vec<String>> {
    if let Some(s) = array.as_string_opt::<i32>() {
        return Ok(s.iter().map(|v| v.unwrap_or_default().to_owned()).collect());
    }
    let fmt = ArrayFormatter::try_new(array, &FormatOptions::default())
        .map_err(|e| KernelError::Invalid(e.to_string()))?;
    Ok((0..array.len())
        .map(|i| {
            if array.is_valid(i) {
                fmt.value(i).to_string()
            } else {
                String::new()
            }
        })
        .collect())
}

/// The column as a Float64 array, refusing non-numeric columns.
pub(crate) fn as_f64(array: &dyn Array, kernel: &'static str) -> Result<ArrayRef> {
    match Dtype::of(array.data_type()) {
        Some(Dtype::F32 | Dtype::F64 | Dtype::S64) => {
            arrow::compute::cast(array, &DataType::Float64)
                .map_err(|e| KernelError::Invalid(e.to_string()))
        }
        _ => Err(wrong(kernel, array, "a numeric column")),
    }
}

/// The kernel error for a column of the wrong type.
pub(crate) fn dtype_error(
    kernel: &'static str,
    array: &dyn Array,
    expected: &'static str,
) -> KernelError {
    wrong(kernel, array, expected)
}
