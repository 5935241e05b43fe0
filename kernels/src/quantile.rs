//! Exact quantiles of numeric columns by any of numpy's thirteen methods,
//! computed as numpy's `_quantile` computes them (numpy ≥ 1.22).
//!
//! numpy places quantile `q` of `n` sorted values at a *virtual index*, a
//! 0-based position that depends on the method. The discrete methods turn
//! it into one index and take that value; the others read the values at
//! `floor` and `floor + 1` (both the last value past the end, both the
//! first before the start) and interpolate with weight `gamma`, the
//! fractional part, which some methods then fix to a constant. Each step
//! below follows numpy's floating-point operations in numpy's order, so
//! the results are the same numbers, not merely close ones.

use std::cell::RefCell;
use std::collections::HashMap;

use arrow::array::Array;

use crate::stats::each_valid;
use crate::{KernelError, QuantileMethod, Result};

/// Exact quantiles of the valid values of all `columns` together, using
/// numpy's default "linear" method; NaN for each `q` when there are no values.
pub fn quantiles(columns: &[&dyn Array], qs: &[f64]) -> Result<Vec<f64>> {
    quantiles_with(columns, qs, QuantileMethod::Linear)
}

/// Exact quantiles of the valid (non-null, non-NaN) values of all numeric
/// `columns` together, as `numpy.quantile(values, qs, method=...)`: NaN for
/// each `q` when there are no values; a `q` outside `[0, 1]` (or NaN) is
/// an error.
pub fn quantiles_with(
    columns: &[&dyn Array],
    qs: &[f64],
    method: QuantileMethod,
) -> Result<Vec<f64>> {
    quantiles_of(&columns, qs, method)
}

/// Numeric columns a kernel reads one after another, wherever they lie:
/// in memory, or read back one at a time from where the host moved them.
pub trait ColumnSource {
    /// Rows of all the columns together.
    fn rows(&self) -> usize;

    /// Call `f` with each column in turn, stopping at the first error.
    fn try_for_each(&self, f: &mut dyn FnMut(&dyn Array) -> Result<()>) -> Result<()>;
}

impl ColumnSource for &[&dyn Array] {
    fn rows(&self) -> usize {
        self.iter().map(|c| c.len()).sum()
    }

    fn try_for_each(&self, f: &mut dyn FnMut(&dyn Array) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(|c| f(*c))
    }
}

/// [`quantiles_with`] of columns read from `columns` as they are needed:
/// more than 1M values are read once per pass of a radix select, fewer
/// are copied once.
pub fn quantiles_of(
    columns: &dyn ColumnSource,
    qs: &[f64],
    method: QuantileMethod,
) -> Result<Vec<f64>> {
    if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        return Err(KernelError::Invalid(format!(
            "quantile {q} is outside [0, 1]"
        )));
    }
    if selects_in_place(columns.rows(), qs.len()) {
        let (len, at) = radix::select(columns, |len| ranks(len, qs, method))?;
        if len == 0 {
            return Ok(vec![f64::NAN; qs.len()]);
        }
        let found = Found { len, at };
        return Ok(qs.iter().map(|q| quantile(&found, *q, method)).collect());
    }
    let mut values = Vec::new();
    columns.try_for_each(&mut |c| each_valid(c, "quantiles", |v| values.push(v)).map(drop))?;
    if values.is_empty() {
        return Ok(vec![f64::NAN; qs.len()]);
    }
    let ranks = ranks(values.len(), qs, method);
    select(&mut values, ranks);
    Ok(qs
        .iter()
        .map(|q| quantile(values.as_slice(), *q, method))
        .collect())
}

/// The most bytes of working space `quantiles_of` holds for `quantiles`
/// quantiles of `rows` values: a copy of them, or for more values than are
/// worth copying, a bounded selection's histograms and copies.
pub fn quantiles_working_bytes(rows: usize, quantiles: usize) -> usize {
    match selects_in_place(rows, quantiles) {
        // Each quantile reads at most two order statistics.
        true => radix::working_bytes(2 * quantiles),
        false => rows * size_of::<f64>(),
    }
}

/// Whether the quantiles are selected where the values lie: more rows than
/// are worth copying, and few enough order statistics to look for.
fn selects_in_place(rows: usize, quantiles: usize) -> bool {
    rows > radix::COPY_AT_MOST && 2 * quantiles <= SELECT_AT_MOST
}

/// The order statistics (0-based ranks, ascending, distinct) that the
/// quantiles `qs` of `len` values read.
fn ranks(len: usize, qs: &[f64], method: QuantileMethod) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let wanted = Wanted {
        len,
        seen: RefCell::new(Vec::new()),
    };
    for q in qs {
        quantile(&wanted, *q, method);
    }
    let mut ranks = wanted.seen.into_inner();
    ranks.retain(|&r| r < len);
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// Above this many order statistics, one full sort beats selecting each.
const SELECT_AT_MOST: usize = 32;

/// Put the order statistics at `indices` of `values` in place (each where
/// a full sort would put it) in O(n) per index, not O(n log n) for all.
fn select(values: &mut [f64], indices: Vec<usize>) {
    if indices.len() > SELECT_AT_MOST {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    let mut start = 0;
    for k in indices {
        // Everything before `start` is already in place and no greater.
        values[start..].select_nth_unstable_by(k - start, f64::total_cmp);
        start = k + 1;
    }
}

/// What quantiles read: the `i`-th smallest of `len` values.
trait OrderStats {
    fn len(&self) -> usize;
    fn at(&self, i: usize) -> f64;
}

impl OrderStats for [f64] {
    fn len(&self) -> usize {
        <[f64]>::len(self)
    }
    fn at(&self, i: usize) -> f64 {
        self[i]
    }
}

/// Order statistics found by rank.
struct Found {
    len: usize,
    at: HashMap<usize, f64>,
}

impl OrderStats for Found {
    fn len(&self) -> usize {
        self.len
    }
    fn at(&self, i: usize) -> f64 {
        self.at[&i]
    }
}

/// Records which order statistics a quantile reads (the methods choose
/// indices from `len` and `q` alone, never from the values).
struct Wanted {
    len: usize,
    seen: RefCell<Vec<usize>>,
}

impl OrderStats for Wanted {
    fn len(&self) -> usize {
        self.len
    }
    fn at(&self, i: usize) -> f64 {
        self.seen.borrow_mut().push(i);
        0.0
    }
}

/// Quantile `q` of the non-empty `values`, read in sorted order.
fn quantile<S: OrderStats + ?Sized>(values: &S, q: f64, method: QuantileMethod) -> f64 {
    use QuantileMethod::*;
    let n = values.len() as f64;
    let at = |index: f64| values.at((index as usize).min(values.len() - 1));
    match method {
        InvertedCdf => at(boundary(n * q - 1.0, |gamma, _| gamma == 0.0)),
        // "The nearest even order statistic" is 1-based: an odd 0-based index.
        ClosestObservation => at(boundary(n * q - 1.0 - 0.5, |gamma, index| {
            gamma == 0.0 && index.floor().rem_euclid(2.0) == 1.0
        })),
        Lower => at(((n - 1.0) * q).floor()),
        Higher => at(((n - 1.0) * q).ceil()),
        Nearest => at(((n - 1.0) * q).round_ties_even()),
        AveragedInvertedCdf => {
            interpolate(
                values,
                n * q - 1.0,
                |gamma, _| {
                    if gamma == 0.0 {
                        0.5
                    } else {
                        1.0
                    }
                },
            )
        }
        Midpoint => {
            let index = (n - 1.0) * q;
            let virtual_index = 0.5 * (index.floor() + index.ceil());
            interpolate(values, virtual_index, |_, index| {
                if index.rem_euclid(1.0) == 0.0 {
                    0.0
                } else {
                    0.5
                }
            })
        }
        Linear => interpolate(values, (n - 1.0) * q, |gamma, _| gamma),
        InterpolatedInvertedCdf => continuous(values, q, 0.0, 1.0),
        Hazen => continuous(values, q, 0.5, 0.5),
        Weibull => continuous(values, q, 0.0, 0.0),
        MedianUnbiased => continuous(values, q, 1.0 / 3.0, 1.0 / 3.0),
        NormalUnbiased => continuous(values, q, 3.0 / 8.0, 3.0 / 8.0),
    }
}

/// numpy's `_discrete_interpolation_to_boundaries`: `floor(index)` where
/// `keep_floor(gamma, index)`, else the next index; negative ones read 0.
fn boundary(index: f64, keep_floor: impl Fn(f64, f64) -> bool) -> f64 {
    let previous = index.floor();
    let gamma = index - previous;
    let chosen = if keep_floor(gamma, index) {
        previous
    } else {
        previous + 1.0
    };
    chosen.max(0.0)
}

/// A Hyndman and Fan method with plotting positions `alpha`, `beta`, at
/// numpy's `_compute_virtual_index`.
fn continuous<S: OrderStats + ?Sized>(values: &S, q: f64, alpha: f64, beta: f64) -> f64 {
    let n = values.len() as f64;
    let virtual_index = n * q + (alpha + q * (1.0 - alpha - beta)) - 1.0;
    interpolate(values, virtual_index, |gamma, _| gamma)
}

/// numpy's `_get_indexes`, `_get_gamma` and `_lerp` at `virtual_index`:
/// `fix_gamma(gamma, virtual_index)` gives the method's weight.
fn interpolate<S: OrderStats + ?Sized>(
    values: &S,
    virtual_index: f64,
    fix_gamma: impl Fn(f64, f64) -> f64,
) -> f64 {
    let last = values.len() - 1;
    // numpy marks "past the end" with index -1 and computes gamma from it.
    let (previous, below, above) = if virtual_index >= last as f64 {
        (-1.0, last, last)
    } else if virtual_index < 0.0 {
        (0.0, 0, 0)
    } else {
        let floor = virtual_index.floor();
        (floor, floor as usize, floor as usize + 1)
    };
    let gamma = fix_gamma(virtual_index - previous, virtual_index);
    lerp(values.at(below), values.at(above), gamma)
}

/// numpy's `_lerp`: from whichever end is nearer, for accuracy.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

mod radix;
#[cfg(test)]
mod tests;
