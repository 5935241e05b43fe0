//! The current data: what update accumulates per column against its
//! baseline, and the metrics report() derives from it.

use weft_sdk::{log, Column, Metric, Result, StepError};

use crate::ks;
use crate::psi;
use crate::reference::{label, Baseline, Kind};
use crate::sample::Reservoir;

/// What the current data holds for one column.
#[derive(Debug, Clone)]
enum Seen {
    /// Rows per reference bin (all valid values), and a sample for KS.
    Numeric { counts: Vec<u64>, sample: Reservoir },
    /// Rows per reference category, and rows of other categories.
    Categorical { counts: Vec<u64>, unseen: u64 },
}

/// The current data of one column.
#[derive(Debug, Clone)]
pub struct Current {
    rows: u64,
    nulls: u64,
    seen: Seen,
}

impl Current {
    /// Nothing seen yet, in the buckets of `baseline`.
    pub fn new(baseline: &Baseline) -> Current {
        let seen = match baseline {
            Baseline::Numeric { edges, .. } => Seen::Numeric {
                counts: vec![0; edges.len() + 1],
                sample: Reservoir::default(),
            },
            Baseline::Categorical { index, .. } => Seen::Categorical {
                counts: vec![0; index.len()],
                unseen: 0,
            },
        };
        Current {
            rows: 0,
            nulls: 0,
            seen,
        }
    }

    /// Accumulate one batch's column `name`, keeping at most `capacity`
    /// values; a column with no value at all is only counted, whatever its type.
    pub fn observe(
        &mut self,
        name: &str,
        column: &Column,
        baseline: &Baseline,
        capacity: usize,
    ) -> Result<()> {
        if column.null_count() == column.len() {
            self.rows += column.len() as u64;
            self.nulls += column.len() as u64;
            return Ok(());
        }
        let kind = Kind::of(column.dtype());
        if kind != baseline.kind() {
            return Err(StepError::InvalidInput(format!(
                "column {name:?} holds {} values in the current data but {} values in the reference",
                kind.name(),
                baseline.kind().name()
            )));
        }
        self.rows += column.len() as u64;
        match (&mut self.seen, baseline) {
            (Seen::Numeric { counts, sample }, Baseline::Numeric { edges, .. }) => {
                for v in column.to_f64s()? {
                    if v.is_nan() {
                        self.nulls += 1;
                    } else {
                        counts[psi::bin_of(edges, v)] += 1;
                        sample.push(v, capacity);
                    }
                }
            }
            (Seen::Categorical { counts, unseen }, Baseline::Categorical { index, .. }) => {
                for (value, n) in weft_sdk::compute::value_counts(&[column])? {
                    match label(&value).map(|l| index.get(&l)) {
                        None => self.nulls += n,
                        Some(Some(i)) => counts[*i] += n,
                        Some(None) => *unseen += n,
                    }
                }
            }
            _ => {
                return Err(StepError::Internal(format!(
                    "column {name:?}: accumulator and baseline disagree"
                )))
            }
        }
        Ok(())
    }

    /// `rows`, `nulls`, `psi`, then `ks_statistic` and `ks_pvalue` (numeric)
    /// or `unseen` (categorical), labelled with the column; `psi` and the KS
    /// figures also say whether they are `exact`. Without a valid current
    /// value there is no `psi` nor KS test (a warning says so).
    pub fn metrics(&self, name: &str, baseline: &Baseline, epsilon: f64) -> Vec<Metric> {
        let mut out = vec![
            metric("rows", self.rows as f64, name, None),
            metric("nulls", self.nulls as f64, name, None),
        ];
        match (&self.seen, baseline) {
            (
                Seen::Numeric { counts, sample },
                Baseline::Numeric {
                    sorted,
                    expected,
                    exact,
                    ..
                },
            ) => {
                if sample.seen == 0 {
                    warn_empty(name);
                    return out;
                }
                let psi = psi::psi(expected, &psi::proportions(counts), epsilon);
                out.push(metric("psi", psi, name, Some(*exact)));
                let ks = ks::two_sample(sorted, &sample.sorted());
                let exact = Some(*exact && sample.is_exact());
                out.push(metric("ks_statistic", ks.statistic, name, exact));
                out.push(metric("ks_pvalue", ks.pvalue, name, exact));
            }
            (Seen::Categorical { counts, unseen }, Baseline::Categorical { expected, .. }) => {
                let mut tally = counts.clone();
                tally.push(*unseen);
                if tally.iter().all(|n| *n == 0) {
                    warn_empty(name);
                } else {
                    let psi = psi::psi(expected, &psi::proportions(&tally), epsilon);
                    out.push(metric("psi", psi, name, Some(true)));
                }
                out.push(metric("unseen", *unseen as f64, name, None));
            }
            _ => {}
        }
        out
    }
}

fn warn_empty(name: &str) {
    log::warn(&format!(
        "column {name:?} has no valid values in the current data; no psi or KS test for it"
    ));
}

fn metric(name: &str, value: f64, column: &str, exact: Option<bool>) -> Metric {
    let mut labels = vec![("column".to_string(), column.to_string())];
    if let Some(exact) = exact {
        labels.push(("exact".to_string(), exact.to_string()));
    }
    Metric {
        name: name.to_string(),
        value,
        labels,
    }
}
