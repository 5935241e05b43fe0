//! Negative and positive counts per distinct score, and what they give:
//! the confusion at a threshold, ROC AUC and log loss.

use std::collections::BTreeMap;

use crate::class::Num;

/// Counts of one cell each: true negatives, false positives, false
/// negatives, true positives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    /// Negatives predicted negative.
    pub tn: u64,
    /// Negatives predicted positive.
    pub fp: u64,
    /// Positives predicted negative.
    pub fn_: u64,
    /// Positives predicted positive.
    pub tp: u64,
}

/// `[negatives, positives]` per distinct score.
#[derive(Debug, Default)]
pub struct ScoreCounts(BTreeMap<Num, [u64; 2]>);

impl ScoreCounts {
    /// Count one row.
    pub fn add(&mut self, score: Num, positive: bool) {
        self.0.entry(score).or_default()[usize::from(positive)] += 1;
    }

    /// `[negatives, positives]` over all scores at or above `from`.
    fn totals_from(&self, from: Num) -> [u64; 2] {
        self.0
            .range(from..)
            .fold([0, 0], |[n, p], (_, [dn, dp])| [n + dn, p + dp])
    }

    /// `[negatives, positives]` over all rows.
    pub fn totals(&self) -> [u64; 2] {
        self.totals_from(Num::new(f64::NEG_INFINITY).expect("not NaN"))
    }

    /// The confusion of `score >= threshold` (`threshold` is not NaN).
    pub fn confusion(&self, threshold: Num) -> Confusion {
        let [neg, pos] = self.totals();
        let [fp, tp] = self.totals_from(threshold);
        Confusion {
            tn: neg - fp,
            fp,
            fn_: pos - tp,
            tp,
        }
    }

    /// Area under the ROC curve, as scikit-learn's trapezoid over distinct
    /// scores (tied scores give a diagonal step). Exact: twice the area times
    /// `negatives * positives` is an integer. NaN with one class only.
    pub fn roc_auc(&self) -> f64 {
        let [neg, pos] = self.totals();
        if neg == 0 || pos == 0 {
            return f64::NAN;
        }
        let (mut tp_above, mut twice_area) = (0u128, 0u128);
        for [n, p] in self.0.values().rev() {
            twice_area += u128::from(*n) * (2 * tp_above + u128::from(*p));
            tp_above += u128::from(*p);
        }
        twice_area as f64 / (2.0 * neg as f64 * pos as f64)
    }

    /// The ROC curve's vertices `(fpr, tpr)` from the highest score down,
    /// starting at `(0, 0)`, as scikit-learn's
    /// `roc_curve(drop_intermediate=False)`; empty with one class only.
    pub fn roc_vertices(&self) -> Vec<(f64, f64)> {
        let [neg, pos] = self.totals();
        if neg == 0 || pos == 0 {
            return Vec::new();
        }
        let (mut fp, mut tp) = (0u64, 0u64);
        let mut vertices = vec![(0.0, 0.0)];
        for [n, p] in self.0.values().rev() {
            (fp, tp) = (fp + n, tp + p);
            vertices.push((fp as f64 / neg as f64, tp as f64 / pos as f64));
        }
        vertices
    }

    /// Mean cross-entropy with probabilities clipped to `[eps, 1 - eps]`, as
    /// scikit-learn's `log_loss`; `None` when a score lies outside `[0, 1]`.
    /// The terms are all positive, so a plain sum is accurate to about
    /// `distinct scores * 1.1e-16` relative.
    pub fn log_loss(&self) -> Option<f64> {
        let (lo, hi) = (self.0.keys().next()?, self.0.keys().next_back()?);
        if lo.get() < 0.0 || hi.get() > 1.0 {
            return None;
        }
        let clip = |p: f64| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
        let sum: f64 = self
            .0
            .iter()
            .map(|(s, [n, p])| {
                let s = s.get();
                *n as f64 * -clip(1.0 - s).ln() + *p as f64 * -clip(s).ln()
            })
            .sum();
        let [neg, pos] = self.totals();
        Some(sum / (neg + pos) as f64)
    }
}

/// The highest true-positive rate the ROC curve through `vertices` reaches
/// at false-positive rate `x` (linear along the diagonal of tied scores).
pub fn tpr_at(vertices: &[(f64, f64)], x: f64) -> f64 {
    vertices
        .windows(2)
        .filter(|w| w[0].0 <= x && x <= w[1].0)
        .map(|w| {
            let ((f0, t0), (f1, t1)) = (w[0], w[1]);
            if f1 == f0 {
                t1
            } else {
                t0 + (t1 - t0) * (x - f0) / (f1 - f0)
            }
        })
        .fold(f64::NEG_INFINITY, f64::max)
}
