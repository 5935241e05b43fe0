//! The bin of every value, as `numpy.digitize(values, edges, right)`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::Float64Type;

use crate::convert::as_f64;
use crate::{KernelError, Result};

/// For each value of a numeric `column`, the index of its bin among the
/// non-decreasing `edges`, as `numpy.digitize(x, edges, right)`: with
/// `right == false`, the number of edges `<= x` (bin `i` holds
/// `edges[i-1] <= x < edges[i]`); with `right == true`, the number of edges
/// `< x` (`edges[i-1] < x <= edges[i]`). Values below every edge give 0,
/// values above every edge `edges.len()`. Nulls and NaN give null.
///
/// `edges` must be non-empty, free of NaN and non-decreasing.
pub fn digitize(column: &dyn Array, edges: &[f64], right: bool) -> Result<ArrayRef> {
    check_bins(edges)?;
    let values = as_f64(column, "digitize")?;
    let values = values.as_primitive::<Float64Type>();
    let bin = |x: f64| -> Option<i64> {
        let index = match right {
            false => edges.partition_point(|e| *e <= x),
            true => edges.partition_point(|e| *e < x),
        };
        (!x.is_nan()).then_some(index as i64)
    };
    let bins: Int64Array = values.iter().map(|x| x.and_then(bin)).collect();
    Ok(Arc::new(bins))
}

/// Refuse edges `digitize` cannot search: none, NaN, or decreasing.
fn check_bins(edges: &[f64]) -> Result<()> {
    let problem = if edges.is_empty() {
        Some("there are none".to_owned())
    } else if let Some(i) = edges.iter().position(|e| e.is_nan()) {
        Some(format!("edge {i} is NaN"))
    } else {
        edges.windows(2).position(|w| w[0] > w[1]).map(|i| {
            format!(
                "edge {} ({}) is below edge {i} ({})",
                i + 1,
                edges[i + 1],
                edges[i]
            )
        })
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(KernelError::Invalid(format!(
            "digitize: edges must be one or more non-decreasing numbers, but {p}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, Float64Array, Int64Array};
    use arrow::datatypes::Int64Type;

    fn bins(column: &dyn Array, edges: &[f64], right: bool) -> Vec<Option<i64>> {
        let out = digitize(column, edges, right).unwrap();
        out.as_primitive::<Int64Type>().iter().collect()
    }

    #[test]
    fn left_closed_and_right_closed_bins() {
        // Edges [0, 1, 1, 3]. right=false counts edges <= x:
        // -1 -> 0, 0 -> 1, 0.5 -> 1, 1 -> 3, 2 -> 3, 3 -> 4, 9 -> 4.
        // right=true counts edges < x:
        // -1 -> 0, 0 -> 0, 0.5 -> 1, 1 -> 1, 2 -> 3, 3 -> 3, 9 -> 4.
        let x = Float64Array::from(vec![-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 9.0]);
        let edges = [0.0, 1.0, 1.0, 3.0];
        let some = |v: &[i64]| v.iter().map(|b| Some(*b)).collect::<Vec<_>>();
        assert_eq!(bins(&x, &edges, false), some(&[0, 1, 1, 3, 3, 4, 4]));
        assert_eq!(bins(&x, &edges, true), some(&[0, 0, 1, 1, 3, 3, 4]));
    }

    #[test]
    fn nulls_and_nan_give_null() {
        let x = Float32Array::from(vec![Some(0.5), None, Some(f32::NAN)]);
        assert_eq!(bins(&x, &[0.0, 1.0], false), [Some(1), None, None]);
    }

    #[test]
    fn integers_and_infinite_edges() {
        // Edges [-inf, 2, inf]: 1 -> 1, 2 -> 2 (left) or 1 (right), 5 -> 2.
        let x = Int64Array::from(vec![1, 2, 5]);
        let edges = [f64::NEG_INFINITY, 2.0, f64::INFINITY];
        assert_eq!(bins(&x, &edges, false), [Some(1), Some(2), Some(2)]);
        assert_eq!(bins(&x, &edges, true), [Some(1), Some(1), Some(2)]);
    }

    #[test]
    fn bad_edges_are_named() {
        let x = Float64Array::from(vec![1.0]);
        let err = |edges: &[f64]| digitize(&x, edges, false).unwrap_err().to_string();
        assert!(err(&[]).contains("there are none"));
        assert!(err(&[0.0, f64::NAN]).contains("edge 1 is NaN"));
        assert!(err(&[0.0, 2.0, 1.0]).contains("edge 2 (1) is below edge 1 (2)"));
    }

    #[test]
    fn text_is_refused() {
        let x = arrow::array::StringArray::from(vec!["a"]);
        assert!(digitize(&x, &[0.0], false).is_err());
    }
}
