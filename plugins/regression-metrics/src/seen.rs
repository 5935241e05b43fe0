//! What the step accumulates: compensated sums of the error terms and the
//! target's moments; nothing per row.

use weft_sdk::{log, Metric, Result, StepError};

use crate::moments::Moments;
use crate::sum::Sum;

/// Sums over the rows seen so far.
#[derive(Debug, Default)]
pub struct Seen {
    rows: u64,
    bad_targets: u64,
    bad_predictions: u64,
    absolute: Sum,
    squared: Sum,
    percentage: Sum,
    target: Moments,
}

/// A metric without labels.
fn metric(name: &str, value: f64) -> Metric {
    Metric {
        name: name.into(),
        value,
        labels: Vec::new(),
    }
}

/// An error when `count` of `rows` values of `column` are not finite.
fn all_finite(column: &str, count: u64, rows: u64) -> Result<()> {
    if count > 0 {
        return Err(StepError::InvalidInput(format!(
            "column {column:?} has {count} NaN, infinite or null values (of {rows} rows); \
             scikit-learn rejects them: drop or fill those rows first"
        )));
    }
    Ok(())
}

impl Seen {
    /// Add one batch of targets and predictions (of equal length).
    pub fn add(&mut self, target: &[f64], prediction: &[f64]) {
        self.rows += target.len() as u64;
        let mut kept = Vec::with_capacity(target.len());
        for (&y, &p) in target.iter().zip(prediction) {
            self.bad_targets += u64::from(!y.is_finite());
            self.bad_predictions += u64::from(!p.is_finite());
            if y.is_finite() && p.is_finite() {
                let error = (y - p).abs();
                self.absolute.add(error);
                self.squared.add((y - p) * (y - p));
                self.percentage.add(error / y.abs().max(f64::EPSILON));
                kept.push(y);
            }
        }
        self.target = self.target.merge(&Moments::of(&kept));
    }

    /// `mae`, `mse`, `rmse`, `r2`, `mape`, or why there are none.
    pub fn metrics(&self, target: &str, prediction: &str) -> Result<Vec<Metric>> {
        if self.rows == 0 {
            return Err(StepError::InvalidInput(
                "no rows to evaluate: the input is empty (scikit-learn raises ValueError on empty input)"
                    .into(),
            ));
        }
        all_finite(target, self.bad_targets, self.rows)?;
        all_finite(prediction, self.bad_predictions, self.rows)?;
        let n = self.rows as f64;
        let mse = self.squared.value() / n;
        Ok(vec![
            metric("mae", self.absolute.value() / n),
            metric("mse", mse),
            metric("rmse", mse.sqrt()),
            metric("r2", self.r2()),
            metric("mape", self.percentage.value() / n),
        ])
    }

    /// `1 - SSE / SST`; for a constant target 1.0 when every prediction is
    /// exact, else 0.0 (scikit-learn's `force_finite`); NaN for one row.
    fn r2(&self) -> f64 {
        let sse = self.squared.value();
        if self.target.count < 2 {
            log::warn(
                "r2 is not defined for fewer than two rows; reported as NaN, as scikit-learn does",
            );
            f64::NAN
        } else if self.target.min == self.target.max {
            if sse == 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            1.0 - sse / self.target.m2
        }
    }
}
