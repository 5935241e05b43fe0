//! Summary statistics of numeric columns, and the walk over their valid
//! values that the other numeric kernels share.

use arrow::array::{Array, AsArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{Float32Type, Float64Type};

use crate::convert::as_f64;
use crate::{Result, Stats};

/// Call `f` on every valid value of a numeric column, as f64.
pub(crate) fn each_valid(
    array: &dyn Array,
    kernel: &'static str,
    mut f: impl FnMut(f64),
) -> Result<u64> {
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

/// Independent accumulators per loop: enough to fill SIMD lanes and hide
/// the latency of floating-point adds, so the passes run at memory speed.
const LANES: usize = 8;

/// Float values summarised without conversion.
trait Widen: Copy + PartialOrd {
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    fn widen(self) -> f64;
}

impl Widen for f32 {
    const INFINITY: f32 = f32::INFINITY;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    fn widen(self) -> f64 {
        f64::from(self)
    }
}

impl Widen for f64 {
    const INFINITY: f64 = f64::INFINITY;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
    fn widen(self) -> f64 {
        self
    }
}

/// Per-lane running count, sum, min and max of the first pass.
#[derive(Clone, Copy)]
struct Totals {
    count: [f64; LANES],
    sum: [f64; LANES],
    min: [f64; LANES],
    max: [f64; LANES],
}

impl Totals {
    fn new() -> Totals {
        Totals {
            count: [0.0; LANES],
            sum: [0.0; LANES],
            min: [f64::INFINITY; LANES],
            max: [f64::NEG_INFINITY; LANES],
        }
    }

    fn add<T: Widen, const CLEAN: bool>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        if CLEAN {
            return self.add_clean(values);
        }
        // Locals, not fields, so the lanes live in registers.
        let Totals {
            mut count,
            mut sum,
            mut min,
            mut max,
        } = *self;
        lanes::<T, CLEAN>(values, nulls, |lane, v, ok| {
            count[lane] += if ok { 1.0 } else { 0.0 };
            sum[lane] += if ok { v } else { 0.0 };
            min[lane] = if ok && v < min[lane] { v } else { min[lane] };
            max[lane] = if ok && v > max[lane] { v } else { max[lane] };
        });
        *self = Totals {
            count,
            sum,
            min,
            max,
        };
    }

    /// Without validity checks the count is the length, and min and max
    /// stay in the values' own type: fewer live lanes, none spilled to the
    /// stack.
    fn add_clean<T: Widen>(&mut self, values: &[T]) {
        let mut sum = self.sum;
        let (mut min, mut max) = ([T::INFINITY; LANES], [T::NEG_INFINITY; LANES]);
        let (groups, tail) = values.as_chunks::<LANES>();
        let mut visit = |lane: usize, x: T| {
            sum[lane] += x.widen();
            min[lane] = if x < min[lane] { x } else { min[lane] };
            max[lane] = if x > max[lane] { x } else { max[lane] };
        };
        for group in groups {
            for (lane, &x) in group.iter().enumerate() {
                visit(lane, x);
            }
        }
        for (lane, &x) in tail.iter().enumerate() {
            visit(lane, x);
        }
        self.sum = sum;
        self.count[0] += values.len() as f64;
        for lane in 0..LANES {
            self.min[lane] = self.min[lane].min(min[lane].widen());
            self.max[lane] = self.max[lane].max(max[lane].widen());
        }
    }
}

/// Call `f(lane, value, valid)` on every value, where `valid` means
/// non-null and not NaN. `CLEAN` promises there are neither, so the checks
/// fold away.
#[inline(always)]
fn lanes<T: Widen, const CLEAN: bool>(
    values: &[T],
    nulls: Option<&NullBuffer>,
    f: impl FnMut(usize, f64, bool),
) {
    match nulls {
        _ if CLEAN => grouped(values, |_, _| true, f),
        None => grouped(values, |_, v| !v.is_nan(), f),
        Some(n) => grouped(values, |i, v| n.is_valid(i) && !v.is_nan(), f),
    }
}

/// The loop of [`lanes`], in fixed-width groups so the compiler unrolls and
/// vectorises it.
#[inline(always)]
fn grouped<T: Widen>(
    values: &[T],
    valid: impl Fn(usize, f64) -> bool,
    mut f: impl FnMut(usize, f64, bool),
) {
    let (groups, tail) = values.as_chunks::<LANES>();
    let mut visit = |i: usize, lane: usize, x: T| {
        let v = x.widen();
        f(lane, v, valid(i, v));
    };
    for (g, group) in groups.iter().enumerate() {
        for (lane, &x) in group.iter().enumerate() {
            visit(g * LANES + lane, lane, x);
        }
    }
    let start = groups.len() * LANES;
    for (lane, &x) in tail.iter().enumerate() {
        visit(start + lane, lane, x);
    }
}

/// Per-lane sums of squared deviations from `mean` and of deviations of
/// the valid values, added to `into`.
fn deviations<T: Widen, const CLEAN: bool>(
    into: ([f64; LANES], [f64; LANES]),
    values: &[T],
    nulls: Option<&NullBuffer>,
    mean: f64,
) -> ([f64; LANES], [f64; LANES]) {
    let (mut sq, mut dev) = into;
    lanes::<T, CLEAN>(values, nulls, |lane, v, ok| {
        let d = if ok { v - mean } else { 0.0 };
        sq[lane] += d * d;
        dev[lane] += d;
    });
    (sq, dev)
}

/// Both passes over the columns, once their values are f32 or f64: first
/// without validity checks where there are no nulls, again with them if
/// the sum shows a NaN.
fn float_passes<T: Widen>(columns: &[(&[T], Option<&NullBuffer>)]) -> Stats {
    if columns.iter().all(|(_, nulls)| nulls.is_none()) {
        let clean = passes::<T, true>(columns);
        if !clean.sum.is_nan() {
            return clean;
        }
    }
    passes::<T, false>(columns)
}

/// The two passes, with validity checks unless `CLEAN`.
fn passes<T: Widen, const CLEAN: bool>(columns: &[(&[T], Option<&NullBuffer>)]) -> Stats {
    let mut t = Totals::new();
    for (values, nulls) in columns {
        t.add::<T, CLEAN>(values, *nulls);
    }
    let rows: usize = columns.iter().map(|(v, _)| v.len()).sum();
    let count = t.count.iter().sum::<f64>() as u64;
    if count == 0 {
        let nan = f64::NAN;
        return Stats {
            nulls: rows as u64,
            mean: nan,
            min: nan,
            max: nan,
            ..Stats::default()
        };
    }
    let sum: f64 = t.sum.iter().sum();
    let mean = sum / count as f64;
    let (sq, dev) = columns
        .iter()
        .fold(([0.0; LANES], [0.0; LANES]), |acc, (values, nulls)| {
            deviations::<T, CLEAN>(acc, values, *nulls, mean)
        });
    let (sq, dev): (f64, f64) = (sq.iter().sum(), dev.iter().sum());
    Stats {
        count,
        nulls: rows as u64 - count,
        sum,
        mean,
        m2: (sq - dev * dev / count as f64).max(0.0),
        min: t.min.iter().copied().fold(f64::INFINITY, f64::min),
        max: t.max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Statistics of the valid values of all `columns` together, in two passes
/// (sum, then squared deviations with a rounding correction, as scikit-learn).
/// f32 columns are summed in f64 without a copy; other numeric columns are
/// converted to f64 first.
pub fn column_stats(columns: &[&dyn Array]) -> Result<Stats> {
    if let Some(f32s) = columns
        .iter()
        .map(|c| c.as_primitive_opt::<Float32Type>())
        .collect::<Option<Vec<_>>>()
    {
        let parts: Vec<_> = f32s.iter().map(|a| (&a.values()[..], a.nulls())).collect();
        return Ok(float_passes(&parts));
    }
    let f64s = columns
        .iter()
        .map(|c| as_f64(*c, "column-stats"))
        .collect::<Result<Vec<_>>>()?;
    let parts: Vec<_> = f64s
        .iter()
        .map(|a| {
            let a = a.as_primitive::<Float64Type>();
            (&a.values()[..], a.nulls())
        })
        .collect();
    Ok(float_passes(&parts))
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
    fn nan_without_nulls_takes_the_checked_passes() {
        let values: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let clean = column_stats(&[&Float32Array::from(values.clone())]).unwrap();
        let mut with_nan = values;
        with_nan.insert(37, f32::NAN);
        let s = column_stats(&[&Float32Array::from(with_nan)]).unwrap();
        assert_eq!((clean.count, clean.nulls, clean.mean), (100, 0, 49.5));
        assert_eq!((clean.m2, clean.min, clean.max), (83325.0, 0.0, 99.0));
        assert_eq!(s, Stats { nulls: 1, ..clean });
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
    fn strings_are_refused() {
        let a = arrow::array::StringArray::from(vec!["x"]);
        assert!(column_stats(&[&a]).is_err());
    }
}
