//! Columns to a model's input tensors and its output tensors back to
//! columns. An input `[N, k]` takes `k` consecutive columns (a 1-D input
//! `[N]` one); an output `[N]` gives one column and `[N, C]` gives `C`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array};
use arrow::array::{AsArray, StringArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};
use ort::value::{DynValue, Tensor, TensorElementType};
use weft_types::Dtype;

use crate::model::Port;
use crate::ModelError;

/// The column type a tensor element reads as, if weft has one.
pub fn dtype_of(ty: TensorElementType) -> Option<Dtype> {
    match ty {
        TensorElementType::Float32 => Some(Dtype::F32),
        TensorElementType::Float64 => Some(Dtype::F64),
        TensorElementType::Int64 | TensorElementType::Int32 => Some(Dtype::S64),
        TensorElementType::Bool => Some(Dtype::Boolean),
        TensorElementType::String => Some(Dtype::Text),
        _ => None,
    }
}

/// How many columns an input takes when that is fixed: its second
/// dimension, or one for `[N]`.
pub fn fixed_width(port: &Port) -> Option<usize> {
    weft_types::shape::input_width(&port.shape)
}

/// How many columns each input takes: its fixed width; a dynamic one only
/// for a model of one input, which takes them all.
fn widths(ports: &[Port], given: usize) -> Result<Vec<usize>, ModelError> {
    ports
        .iter()
        .map(|port| match (fixed_width(port), port.shape.as_slice()) {
            (Some(width), _) => Ok(width),
            (None, [_, _]) if ports.len() == 1 => Ok(given),
            _ => Err(ModelError::Input(format!(
                "input {:?} is {}: weft feeds inputs of shape [N] or [N, k] with k fixed",
                port.name, port.onnx_type
            ))),
        })
        .collect()
}

/// The input tensors for `columns`, in the ports' order.
pub fn inputs(ports: &[Port], columns: &[ArrayRef]) -> Result<Vec<(String, DynValue)>, ModelError> {
    let widths = widths(ports, columns.len())?;
    let wanted: usize = widths.iter().sum();
    if wanted != columns.len() {
        let shapes: Vec<String> = ports
            .iter()
            .map(|p| format!("{:?} {}", p.name, p.onnx_type))
            .collect();
        return Err(ModelError::Input(format!(
            "the model takes {wanted} feature columns ({}), got {}: list the features in the model's input order",
            shapes.join(", "),
            columns.len()
        )));
    }
    let rows = columns.first().map_or(0, |c| c.len());
    if let Some(j) = columns.iter().position(|c| c.len() != rows) {
        return Err(ModelError::Input(format!(
            "feature {} has {} rows, feature 1 has {rows}: features must be columns of one batch",
            j + 1,
            columns[j].len()
        )));
    }
    for (j, column) in columns.iter().enumerate() {
        if !(column.data_type().is_numeric() || column.data_type() == &DataType::Boolean) {
            return Err(ModelError::Input(format!(
                "feature {} is a {} column: a model takes numbers and booleans",
                j + 1,
                column.data_type()
            )));
        }
    }
    let mut at = 0;
    let mut values = Vec::with_capacity(ports.len());
    for (port, width) in ports.iter().zip(widths) {
        let group = &columns[at..at + width];
        at += width;
        let shape = if port.shape.len() == 1 {
            vec![rows as i64]
        } else {
            vec![rows as i64, width as i64]
        };
        values.push((port.name.clone(), input(port, group, shape)?));
    }
    Ok(values)
}

fn input(port: &Port, group: &[ArrayRef], shape: Vec<i64>) -> Result<DynValue, ModelError> {
    let tensor = match port.dtype {
        Some(Dtype::F32) => {
            let data = interleave(group, |c| {
                floats::<Float32Type>(c, &DataType::Float32, f32::NAN)
            })?;
            Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        Some(Dtype::F64) => {
            let data = interleave(group, |c| {
                floats::<Float64Type>(c, &DataType::Float64, f64::NAN)
            })?;
            Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        Some(Dtype::S64) if port.element == Some(TensorElementType::Int32) => {
            let data = interleave(group, |c| {
                integers(c)?
                    .into_iter()
                    .map(|v| i32::try_from(v).map_err(|_| out_of_range(v)))
                    .collect()
            })?;
            Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        Some(Dtype::S64) => {
            let data = interleave(group, integers)?;
            Tensor::from_array((shape, data)).map(|t| t.into_dyn())
        }
        _ => {
            return Err(ModelError::Input(format!(
                "input {:?} is {}: weft feeds float, double, int64 and int32 tensors",
                port.name, port.onnx_type
            )))
        }
    };
    tensor.map_err(|e| ModelError::Input(format!("input {:?}: {e}", port.name)))
}

/// Row-major values of `group`: row `r`, column `j` at `r * k + j`.
fn interleave<T: Copy + Default>(
    group: &[ArrayRef],
    read: impl Fn(&ArrayRef) -> Result<Vec<T>, ModelError>,
) -> Result<Vec<T>, ModelError> {
    let k = group.len();
    let rows = group.first().map_or(0, |c| c.len());
    let mut data = vec![T::default(); rows * k];
    for (j, column) in group.iter().enumerate() {
        for (r, v) in read(column)?.into_iter().enumerate() {
            data[r * k + j] = v;
        }
    }
    Ok(data)
}

/// A numeric or boolean column as floats; nulls read as NaN, as
/// scikit-learn, XGBoost and LightGBM read a missing value.
fn floats<T: arrow::datatypes::ArrowPrimitiveType>(
    column: &ArrayRef,
    to: &DataType,
    nan: T::Native,
) -> Result<Vec<T::Native>, ModelError> {
    let cast = arrow::compute::cast(column, to).map_err(|_| not_numeric(column))?;
    Ok(cast
        .as_primitive::<T>()
        .iter()
        .map(|v| v.unwrap_or(nan))
        .collect())
}

fn integers(column: &ArrayRef) -> Result<Vec<i64>, ModelError> {
    if column.data_type().is_floating() || column.null_count() > 0 {
        return Err(ModelError::Input(format!(
            "an int64 input takes integer columns without nulls, got a {} column{}",
            column.data_type(),
            if column.null_count() > 0 {
                " with nulls"
            } else {
                ""
            }
        )));
    }
    let cast = arrow::compute::cast(column, &DataType::Int64).map_err(|_| not_numeric(column))?;
    Ok(cast.as_primitive::<Int64Type>().values().to_vec())
}

fn out_of_range(value: i64) -> ModelError {
    ModelError::Input(format!("{value} does not fit the model's int32 input"))
}

fn not_numeric(column: &ArrayRef) -> ModelError {
    ModelError::Input(format!(
        "a model input takes numeric columns, got a {} column",
        column.data_type()
    ))
}

/// Most columns one output may give.
pub const MAX_OUTPUT_COLUMNS: i64 = 10_000;

/// The bytes the columns of output `value` would take; refused past
/// `budget` or [`MAX_OUTPUT_COLUMNS`], before any is made.
pub fn output_bytes(port: &Port, value: &DynValue, budget: u64) -> Result<u64, ModelError> {
    let ort::value::ValueType::Tensor { ty, shape, .. } = value.dtype() else {
        return Err(unreadable(port));
    };
    let element = match ty {
        TensorElementType::Float32 | TensorElementType::Int32 => 4,
        TensorElementType::Bool => 1,
        _ => 8,
    };
    room(port, shape, element, budget)
}

/// The bytes of an output of `shape` with elements of `element` bytes;
/// refused past `budget` or [`MAX_OUTPUT_COLUMNS`].
pub(crate) fn room(
    port: &Port,
    shape: &[i64],
    element: u64,
    budget: u64,
) -> Result<u64, ModelError> {
    let width = shape.get(1).copied().unwrap_or(1);
    if width > MAX_OUTPUT_COLUMNS {
        return Err(ModelError::Output(format!(
            "output {:?} has {width} columns: more than the {MAX_OUTPUT_COLUMNS} weft reads",
            port.name
        )));
    }
    let count = shape.iter().map(|&d| d.max(0) as u64).product::<u64>();
    let bytes = count.saturating_mul(element);
    if bytes > budget {
        return Err(ModelError::Output(format!(
            "output {:?} would take {bytes} bytes as columns: more than the {budget} the step has room for (limits.hostMemory)",
            port.name
        )));
    }
    Ok(bytes)
}

/// The columns of output `port` in `value`, for `rows` input rows.
pub fn columns(port: &Port, value: &DynValue, rows: usize) -> Result<Vec<ArrayRef>, ModelError> {
    let failed = |e: ort::Error| ModelError::Output(format!("output {:?}: {e}", port.name));
    match value.dtype() {
        ort::value::ValueType::Tensor { ty, .. } => match ty {
            TensorElementType::Float32 => {
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(failed)?;
                split(port, shape, data, rows, |v| Arc::new(Float32Array::from(v)))
            }
            TensorElementType::Float64 => {
                let (shape, data) = value.try_extract_tensor::<f64>().map_err(failed)?;
                split(port, shape, data, rows, |v| Arc::new(Float64Array::from(v)))
            }
            TensorElementType::Int64 => {
                let (shape, data) = value.try_extract_tensor::<i64>().map_err(failed)?;
                split(port, shape, data, rows, |v| Arc::new(Int64Array::from(v)))
            }
            TensorElementType::Int32 => {
                let (shape, data) = value.try_extract_tensor::<i32>().map_err(failed)?;
                let wide: Vec<i64> = data.iter().map(|&v| i64::from(v)).collect();
                split(port, shape, &wide, rows, |v| Arc::new(Int64Array::from(v)))
            }
            TensorElementType::Bool => {
                let (shape, data) = value.try_extract_tensor::<bool>().map_err(failed)?;
                split(port, shape, data, rows, |v| Arc::new(BooleanArray::from(v)))
            }
            TensorElementType::String => {
                let (shape, data) = value.try_extract_strings().map_err(failed)?;
                split(port, shape, &data, rows, |v| Arc::new(StringArray::from(v)))
            }
            _ => Err(unreadable(port)),
        },
        _ => Err(unreadable(port)),
    }
}

fn unreadable(port: &Port) -> ModelError {
    let hint = if port.onnx_type.starts_with("Sequence<Map") {
        " (skl2onnx's ZipMap: export the classifier with options={'zipmap': False})"
    } else {
        ""
    };
    ModelError::Output(format!(
        "output {:?} is {}{hint}: weft reads tensors of float, double, int64, int32, bool or string",
        port.name, port.onnx_type
    ))
}

/// `[N]` as one column, `[N, C]` as `C`.
pub(crate) fn split<T: Clone>(
    port: &Port,
    shape: &[i64],
    data: &[T],
    rows: usize,
    build: impl Fn(Vec<T>) -> ArrayRef,
) -> Result<Vec<ArrayRef>, ModelError> {
    let width = match shape {
        [n] if *n as usize == rows => 1,
        [n, c] if *n as usize == rows && *c >= 0 => *c as usize,
        _ => {
            return Err(ModelError::Output(format!(
                "output {:?} has shape {shape:?} for {rows} rows: weft reads outputs of shape [N] or [N, C]",
                port.name
            )))
        }
    };
    Ok((0..width)
        .map(|j| build(data.iter().skip(j).step_by(width.max(1)).cloned().collect()))
        .collect())
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array, StringArray};

    use super::*;

    fn port(shape: Vec<i64>) -> Port {
        Port {
            name: "x".into(),
            onnx_type: "Tensor<f32>(dyn, 2)".into(),
            dtype: Some(Dtype::F32),
            shape,
            element: Some(TensorElementType::Float32),
        }
    }

    fn refusal(columns: &[ArrayRef]) -> String {
        match inputs(&[port(vec![-1, 2])], columns) {
            Err(ModelError::Input(message)) => message,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn features_of_other_lengths_or_types_are_refused_by_position() {
        let long: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]));
        let short: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0]));
        let text: ArrayRef = Arc::new(StringArray::from(vec!["1", "2", "3"]));
        let message = refusal(&[long.clone(), short]);
        assert!(
            message.contains("feature 2 has 2 rows, feature 1 has 3"),
            "{message}"
        );
        let message = refusal(&[long.clone(), text]);
        assert!(message.contains("feature 2 is a Utf8 column"), "{message}");
        let message = refusal(&[long]);
        assert!(message.contains("takes 2 feature columns"), "{message}");
    }
}
