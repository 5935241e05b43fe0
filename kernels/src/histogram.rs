//! Counts of values per bin, as `numpy.histogram(values, bins=edges)`.

use arrow::array::Array;

use crate::stats::each_valid;
use crate::{KernelError, Result};

/// Check that `edges` are at least two, not NaN, and non-decreasing.
pub fn check_edges<T: PartialOrd + Copy>(edges: &[T]) -> Result<()> {
    let nan = |e: &T| e.partial_cmp(e).is_none();
    if edges.len() < 2 || edges.iter().any(nan) || edges.windows(2).any(|w| w[0] > w[1]) {
        return Err(KernelError::Invalid(
            "histogram: edges must be at least two non-decreasing numbers (no NaN)".into(),
        ));
    }
    Ok(())
}

/// The bin of `x` among checked `edges`: bin i holds `edges[i] <= x <
/// edges[i + 1]`, the last bin also its right edge; `None` outside or NaN.
pub fn bin_of<T: PartialOrd + Copy>(x: T, edges: &[T]) -> Option<usize> {
    let bins = edges.len() - 1;
    if !(x >= edges[0] && x <= edges[bins]) {
        return None;
    }
    // The largest i with edges[i] <= x.
    let (mut lo, mut hi) = (0, bins);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if edges[mid] <= x {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo.min(bins - 1))
}

/// Counts of the valid values of all numeric `columns` per bin between
/// consecutive `edges`; values outside the edges, nulls and NaN are not
/// counted.
pub fn histogram(columns: &[&dyn Array], edges: &[f64]) -> Result<Vec<u64>> {
    check_edges(edges)?;
    let mut counts = vec![0u64; edges.len() - 1];
    for column in columns {
        each_valid(*column, "histogram", |x| {
            if let Some(b) = bin_of(x, edges) {
                counts[b] += 1;
            }
        })?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Float64Array;

    #[test]
    fn numpy_bins() {
        // numpy.histogram([0, 1, 1.5, 2, 3, nan, 5], bins=[0, 1, 2, 3]) -> [1, 2, 2]
        let x = Float64Array::from(vec![
            Some(0.0),
            Some(1.0),
            Some(1.5),
            Some(2.0),
            Some(3.0),
            Some(f64::NAN),
            None,
            Some(5.0),
        ]);
        assert_eq!(histogram(&[&x], &[0.0, 1.0, 2.0, 3.0]).unwrap(), [1, 2, 2]);
    }

    #[test]
    fn bad_edges() {
        let x = Float64Array::from(vec![1.0]);
        assert!(histogram(&[&x], &[1.0]).is_err());
        assert!(histogram(&[&x], &[2.0, 1.0]).is_err());
        assert!(histogram(&[&x], &[0.0, f64::NAN]).is_err());
    }
}
