//! Order statistics of more values than are worth copying: a radix select
//! over the columns where they lie. Each pass reads every value once and
//! narrows each wanted rank to the values sharing 16 more bits of their
//! order key; once few values share a rank's prefix, the next pass copies
//! just those and selects among them. Working space is a few histograms and
//! those few values, not a copy of the columns.

use std::collections::{BTreeMap, HashMap};

use super::ColumnSource;
use crate::stats::each_valid;
use crate::Result;

/// Bits of the key each pass resolves.
const DIGIT: u32 = 16;

/// Values sharing a prefix at most this many (all the ranges of one pass
/// together) are copied and selected among.
pub(super) const COPY_AT_MOST: usize = 1 << 20;

/// The most bytes `select` holds while it looks for `ranks` ranks: one
/// histogram per rank and the values it copies.
pub(super) fn working_bytes(ranks: usize) -> usize {
    ((ranks << DIGIT) + COPY_AT_MOST) * size_of::<u64>()
}

/// A u64 ordered as `f64::total_cmp` orders the value.
fn key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The value whose key is `k`.
fn value(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Values whose keys share their first `known` bits with `prefix`, of
/// which there are `count`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Range {
    known: u32,
    prefix: u64,
}

impl Range {
    fn holds(&self, k: u64) -> bool {
        self.known == 0 || k >> (64 - self.known) == self.prefix >> (64 - self.known)
    }

    fn digit(&self, k: u64) -> usize {
        ((k >> (64 - self.known - DIGIT)) & 0xFFFF) as usize
    }
}

/// What one pass does with the values of a range.
enum Work {
    Count(Vec<u64>),
    Copy(Vec<u64>),
}

/// Where the search for one rank stands.
struct Search {
    /// The rank among the values of `range`.
    rank: usize,
    range: Range,
    /// How many values `range` holds (an upper bound before the first pass).
    count: usize,
}

/// How many valid values `columns` hold, and the values at the ranks
/// (0-based, ascending order by `f64::total_cmp`) that `ranks_of` wants of
/// that many. One full read of the columns per pass; the first pass counts
/// the values as it builds the first histogram.
pub(super) fn select(
    columns: &dyn ColumnSource,
    ranks_of: impl FnOnce(usize) -> Vec<usize>,
) -> Result<(usize, HashMap<usize, f64>)> {
    let whole = Range {
        known: 0,
        prefix: 0,
    };
    let mut first = vec![0; 1 << DIGIT];
    visit(columns, |k| first[whole.digit(k)] += 1)?;
    let len = first.iter().sum::<u64>() as usize;
    let mut ranges = vec![(whole, Work::Count(first))];
    let mut open: Vec<(usize, Search)> = ranks_of(len)
        .into_iter()
        .map(|rank| {
            let search = Search {
                rank,
                range: whole,
                count: len,
            };
            (rank, search)
        })
        .collect();
    let mut found = HashMap::new();
    loop {
        open.retain_mut(|(rank, s)| match narrow(s, &mut ranges) {
            Some(v) => {
                found.insert(*rank, v);
                false
            }
            None => true,
        });
        if open.is_empty() {
            return Ok((len, found));
        }
        ranges = plan(&open);
        visit(columns, |k| {
            for (range, work) in ranges.iter_mut().filter(|(r, _)| r.holds(k)) {
                match work {
                    Work::Count(counts) => counts[range.digit(k)] += 1,
                    Work::Copy(keys) => keys.push(k),
                }
            }
        })?;
    }
}

/// The work of the next pass: copy the values of the ranges that hold few
/// enough of them (all together), count the rest by their next digit.
fn plan(open: &[(usize, Search)]) -> Vec<(Range, Work)> {
    let counts: BTreeMap<Range, usize> = open.iter().map(|(_, s)| (s.range, s.count)).collect();
    let copy_at_most = COPY_AT_MOST / counts.len();
    counts
        .into_iter()
        .map(|(range, count)| match count <= copy_at_most {
            true => (range, Work::Copy(Vec::with_capacity(count))),
            false => (range, Work::Count(vec![0; 1 << DIGIT])),
        })
        .collect()
}

/// Call `f` with the key of each valid value of `columns`.
fn visit(columns: &dyn ColumnSource, mut f: impl FnMut(u64)) -> Result<()> {
    columns.try_for_each(&mut |c| each_valid(c, "quantiles", |v| f(key(v))).map(drop))
}

/// The value `s` looks for if the last pass found it; else narrow `s` to
/// the range of the next digit that holds its rank.
fn narrow(s: &mut Search, ranges: &mut [(Range, Work)]) -> Option<f64> {
    let (range, work) = ranges
        .iter_mut()
        .find(|(r, _)| *r == s.range)
        .expect("every open range was worked on");
    let counts = match work {
        Work::Copy(keys) => return Some(value(*keys.select_nth_unstable(s.rank).1)),
        Work::Count(counts) => counts,
    };
    let mut below = 0;
    let digit = counts
        .iter()
        .position(|&c| {
            below += c as usize;
            below > s.rank
        })
        .expect("a rank below the range's count");
    s.rank -= below - counts[digit] as usize;
    s.count = counts[digit] as usize;
    let known = range.known + DIGIT;
    s.range = Range {
        known,
        prefix: range.prefix | (digit as u64) << (64 - known),
    };
    (known == 64).then(|| value(s.range.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float64Array};

    fn oracle(values: &[f64], ranks: &[usize]) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        ranks.iter().map(|&r| sorted[r]).collect()
    }

    fn radix(values: &[f64], ranks: &[usize]) -> Vec<f64> {
        let column = Float64Array::from(values.to_vec());
        let columns: &[&dyn Array] = &[&column];
        let (len, found) = select(&columns, |len| {
            assert_eq!(len, values.len());
            ranks.to_vec()
        })
        .unwrap();
        assert_eq!(len, values.len());
        ranks.iter().map(|r| found[r]).collect()
    }

    #[test]
    fn keys_order_as_total_cmp() {
        let values = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-300, 3.0, f64::MAX];
        for pair in values.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(value(key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn equals_a_full_sort_past_the_copy_bound() {
        // More values than COPY_AT_MOST, so the first passes count: a spread,
        // heavy ties (one value 40 % of the time) and all-equal values.
        let n = COPY_AT_MOST * 3 + 17;
        let mut seed = 11u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 11
        };
        let spread: Vec<f64> = (0..n).map(|_| (next() as f64 / 1e9).sin() * 1e3).collect();
        let tied: Vec<f64> = (0..n)
            .map(|i| {
                if i % 5 < 2 {
                    7.0
                } else {
                    (next() % 1000) as f64 - 500.0
                }
            })
            .collect();
        let equal = vec![-0.0; n];
        let ranks = [0, 1, n / 4, n / 2, n / 2 + 1, n - 2, n - 1];
        for values in [spread, tied, equal] {
            assert_eq!(radix(&values, &ranks), oracle(&values, &ranks));
        }
    }
}
