//! Summary statistics and exact quantiles of numeric columns.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float32Type, Float64Type};

use crate::convert::as_f64;
use crate::Result;

/// Summary of the valid (non-null, non-NaN) values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    /// Number of valid values.
    pub count: u64,
    /// Number of nulls and NaNs.
    pub nulls: u64,
    /// Sum of valid values.
    pub sum: f64,
    /// Mean of valid values (NaN when there are none).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Smallest valid value (NaN when there are none).
    pub min: f64,
    /// Largest valid value (NaN when there are none).
    pub max: f64,
}

impl Stats {
    /// Population variance (ddof 0); NaN when there are no values.
    pub fn variance(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.m2 / self.count as f64
        }
    }

    /// Combine statistics of two disjoint sets of values (Chan et al.).
    pub fn merge(&self, other: &Stats) -> Stats {
        if self.count == 0 {
            return Stats {
                nulls: self.nulls + other.nulls,
                ..*other
            };
        }
        if other.count == 0 {
            return Stats {
                nulls: self.nulls + other.nulls,
                ..*self
            };
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        Stats {
            count: self.count + other.count,
            nulls: self.nulls + other.nulls,
            sum: self.sum + other.sum,
            mean: (self.sum + other.sum) / n,
            m2: self.m2 + other.m2 + delta * delta * na * nb / n,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

/// Call `f` on every valid value of a numeric column, as f64.
fn each_valid(array: &dyn Array, kernel: &'static str, mut f: impl FnMut(f64)) -> Result<u64> {
    let mut visit = |v: f64, ok: bool| {
        if ok && !v.is_nan() {
            f(v)
        }
    };
    if let Some(a) = array.as_primitive_opt::<Float64Type>() {
        match a.nulls() {
            None => a.values().iter().for_each(|v| visit(*v, true)),
            Some(n) => a
                .values()
                .iter()
                .zip(n.iter())
                .for_each(|(v, ok)| visit(*v, ok)),
        }
    } else if let Some(a) = array.as_primitive_opt::<Float32Type>() {
        match a.nulls() {
            None => a.values().iter().for_each(|v| visit(*v as f64, true)),
            Some(n) => a
                .values()
                .iter()
                .zip(n.iter())
                .for_each(|(v, ok)| visit(*v as f64, ok)),
        }
    } else {
        return each_valid(as_f64(array, kernel)?.as_ref(), kernel, f);
    }
    Ok(array.len() as u64)
}

/// Statistics of the valid values of all `columns` together, in two passes
/// (sum, then squared deviations with a rounding correction, as scikit-learn).
pub fn column_stats(columns: &[&dyn Array]) -> Result<Stats> {
    let (mut count, mut rows, mut sum) = (0u64, 0u64, 0.0f64);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for col in columns {
        rows += each_valid(*col, "column-stats", |v| {
            count += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
        })?;
    }
    if count == 0 {
        let nan = f64::NAN;
        return Ok(Stats {
            nulls: rows,
            mean: nan,
            min: nan,
            max: nan,
            ..Stats::default()
        });
    }
    let mean = sum / count as f64;
    let (mut sq, mut dev) = (0.0f64, 0.0f64);
    for col in columns {
        each_valid(*col, "column-stats", |v| {
            let d = v - mean;
            sq += d * d;
            dev += d;
        })?;
    }
    let m2 = (sq - dev * dev / count as f64).max(0.0);
    Ok(Stats {
        count,
        nulls: rows - count,
        sum,
        mean,
        m2,
        min,
        max,
    })
}

/// Exact quantiles of the valid values of all `columns` together, using
/// numpy's default "linear" method; NaN for each `q` when there are no values.
pub fn quantiles(columns: &[&dyn Array], qs: &[f64]) -> Result<Vec<f64>> {
    if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        return Err(crate::KernelError::Invalid(format!(
            "quantile {q} is outside [0, 1]"
        )));
    }
    let mut values = Vec::new();
    for col in columns {
        each_valid(*col, "quantiles", |v| values.push(v))?;
    }
    if values.is_empty() {
        return Ok(vec![f64::NAN; qs.len()]);
    }
    values.sort_unstable_by(f64::total_cmp);
    Ok(qs.iter().map(|q| lerp_at(&values, *q)).collect())
}

/// numpy's `_lerp` at virtual index `(n - 1) * q` of sorted `values`.
fn lerp_at(values: &[f64], q: f64) -> f64 {
    let index = (values.len() - 1) as f64 * q;
    let lo = index.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    let t = index - lo as f64;
    let (a, b) = (values[lo], values[hi]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, Float64Array, Int64Array};

    #[test]
    fn stats_skip_nulls_and_nan() {
        let a = Float64Array::from(vec![Some(1.0), None, Some(f64::NAN), Some(3.0)]);
        let s = column_stats(&[&a]).unwrap();
        assert_eq!(
            (s.count, s.nulls, s.sum, s.mean, s.m2, s.min, s.max),
            (2, 2, 4.0, 2.0, 2.0, 1.0, 3.0)
        );
    }

    #[test]
    fn stats_span_columns_and_types() {
        let a = Int64Array::from(vec![1, 2]);
        let b = Float32Array::from(vec![3.0, 4.0]);
        let s = column_stats(&[&a, &b]).unwrap();
        assert_eq!((s.count, s.mean, s.m2), (4, 2.5, 5.0));
    }

    #[test]
    fn merge_equals_stats_of_union() {
        let a = Float64Array::from(vec![1.0, 5.0, 2.5]);
        let b = Float64Array::from(vec![10.0, -3.0]);
        let merged = column_stats(&[&a])
            .unwrap()
            .merge(&column_stats(&[&b]).unwrap());
        let whole = column_stats(&[&a, &b]).unwrap();
        assert_eq!(merged.count, whole.count);
        assert!((merged.m2 - whole.m2).abs() < 1e-12 * whole.m2);
        assert_eq!((merged.min, merged.max), (-3.0, 10.0));
    }

    #[test]
    fn empty_stats_are_nan() {
        let a = Float64Array::from(vec![None, Some(f64::NAN)]);
        let s = column_stats(&[&a]).unwrap();
        assert_eq!((s.count, s.nulls), (0, 2));
        assert!(s.mean.is_nan() && s.variance().is_nan());
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 100]) == [1, 2, 3, 7.6, 10]
        let a = Float64Array::from(vec![4.0, 1.0, 10.0, 3.0, 2.0]);
        let q = quantiles(&[&a], &[0.0, 0.25, 0.5, 0.9, 1.0]).unwrap();
        assert_eq!(q[..3], [1.0, 2.0, 3.0]);
        assert!((q[3] - 7.6).abs() < 1e-12);
        assert_eq!(q[4], 10.0);
    }

    #[test]
    fn quantile_out_of_range_is_an_error() {
        let a = Float64Array::from(vec![1.0]);
        assert!(quantiles(&[&a], &[1.5]).is_err());
    }

    #[test]
    fn strings_are_refused() {
        let a = arrow::array::StringArray::from(vec!["x"]);
        assert!(column_stats(&[&a]).is_err());
    }
}
