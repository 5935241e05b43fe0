//! Dense products of columns with a small weight matrix (`features · weights`).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float32Array};
use arrow::buffer::NullBuffer;

use crate::{to_f32s, KernelError, Result};

/// `a (m×k) · b (k×n)`, all row-major, summed in f32 in order of `k`: the
/// CPU twin of the GPU kernel, so both give the same results.
pub fn matmul_f32(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    if m == 0 || k == 0 || n == 0 {
        return c;
    }
    for (row, out) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
        for (&x, b_row) in row.iter().zip(b.chunks_exact(n)) {
            for (o, &y) in out.iter_mut().zip(b_row) {
                *o += x * y;
            }
        }
    }
    c
}

/// The `k` numeric columns as one row-major m×k f32 matrix, and the rows
/// where any column is null (those rows read as 0).
fn gather(columns: &[&dyn Array]) -> Result<(Vec<f32>, usize, Option<NullBuffer>)> {
    let k = columns.len();
    let m = columns.first().map_or(0, |c| c.len());
    if let Some(odd) = columns.iter().find(|c| c.len() != m) {
        return Err(KernelError::Invalid(format!(
            "matmul: columns differ in length ({} and {m} rows)",
            odd.len()
        )));
    }
    let mut a = vec![0.0f32; m * k];
    for (j, column) in columns.iter().enumerate() {
        let values = to_f32s(*column)
            .map_err(|_| crate::convert::dtype_error("matmul", *column, "a numeric column"))?;
        for (row, v) in values.into_iter().enumerate() {
            a[row * k + j] = v;
        }
    }
    let nulls = columns.iter().fold(None, |acc, c| {
        NullBuffer::union(acc.as_ref(), c.logical_nulls().as_ref())
    });
    if let Some(n) = &nulls {
        for row in (0..m).filter(|&r| n.is_null(r)) {
            a[row * k..(row + 1) * k].fill(0.0);
        }
    }
    Ok((a, m, nulls))
}

/// Split a row-major m×n product into `n` f32 columns with `nulls`.
fn scatter(c: &[f32], n: usize, nulls: Option<NullBuffer>) -> Vec<ArrayRef> {
    (0..n)
        .map(|j| {
            let values: Vec<f32> = c.iter().skip(j).step_by(n).copied().collect();
            Arc::new(Float32Array::new(values.into(), nulls.clone())) as ArrayRef
        })
        .collect()
}

/// Check that `weights` is a k×n matrix for `k` columns and `n` outputs.
fn check_weights(k: usize, weights: &[f32], n: usize) -> Result<()> {
    if k == 0 || n == 0 || k.checked_mul(n) != Some(weights.len()) {
        return Err(KernelError::Invalid(format!(
            "matmul: {} weights do not make a {k}×{n} matrix ({k} columns × {n} outputs)",
            weights.len()
        )));
    }
    Ok(())
}

/// `columns (m×k) · weights (k×n, row-major)` as `n` f32 columns; a row
/// with a null in any column is null in every output.
pub fn matmul(columns: &[&dyn Array], weights: &[f32], n: usize) -> Result<Vec<ArrayRef>> {
    matmul_with(columns, weights, n, |a, b, m, k, n| {
        Ok(matmul_f32(a, b, m, k, n))
    })
}

/// [`matmul`] with the row-major product `a (m×k) · b (k×n)` computed by
/// `multiply` (a GPU, say): the columns are checked and gathered into rows
/// here, and the product split back into columns.
pub fn matmul_with<E: From<KernelError>>(
    columns: &[&dyn Array],
    weights: &[f32],
    n: usize,
    multiply: impl FnOnce(&[f32], &[f32], usize, usize, usize) -> std::result::Result<Vec<f32>, E>,
) -> std::result::Result<Vec<ArrayRef>, E> {
    check_weights(columns.len(), weights, n)?;
    let (a, m, nulls) = gather(columns)?;
    let c = multiply(&a, weights, m, columns.len(), n)?;
    Ok(scatter(&c, n, nulls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array};

    #[test]
    fn columns_times_weights_with_null_rows() {
        let x: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![2, 5, 4]));
        let out = matmul(&[x.as_ref(), y.as_ref()], &[1.0, 10.0, 2.0, 20.0], 2).unwrap();
        let first = out[0].as_any().downcast_ref::<Float32Array>().unwrap();
        let second = out[1].as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(first.value(0), 5.0);
        assert_eq!(second.value(2), 110.0);
        assert!(first.is_null(1) && second.is_null(1));
    }

    #[test]
    fn refuses_misshapen_weights_and_text() {
        let x: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        assert!(matmul(&[x.as_ref()], &[1.0, 2.0, 3.0], 2).is_err());
        let t: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["a"]));
        let err = matmul(&[t.as_ref()], &[1.0], 1).unwrap_err();
        assert!(err.to_string().contains("matmul"), "{err}");
    }
}
