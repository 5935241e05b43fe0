//! Binary mode: labels compared with `positive`, scores against `threshold`.

use weft_sdk::{log, Batch, Metric, Result, StepError};

use crate::class::{self, Class, Kind, Num};
use crate::metric;
use crate::prf::{prf, ratio};
use crate::scores::{self, ScoreCounts};

/// Intervals of the false-positive-rate grid the ROC curve is reported on.
const ROC_POINTS: usize = 20;

/// What binary mode has seen.
pub struct Binary {
    label: String,
    score: String,
    threshold: Num,
    positive: Class,
    counts: ScoreCounts,
    rows: u64,
    missing_labels: u64,
    bad_scores: u64,
}

impl Binary {
    /// Binary metrics of `score >= threshold` against `label == positive`.
    pub fn new(label: String, score: String, threshold: f64, positive: Class) -> Binary {
        Binary {
            label,
            score,
            threshold: Num::new(threshold).expect("JSON numbers are not NaN"),
            positive,
            counts: ScoreCounts::default(),
            rows: 0,
            missing_labels: 0,
            bad_scores: 0,
        }
    }

    /// `positive` as a value of a label column of `kind`.
    fn positive_as(&self, kind: Kind) -> Result<Class> {
        self.positive.as_kind(kind).ok_or_else(|| {
            StepError::InvalidInput(format!(
                "column {:?} holds {kind}, but `positive` is {} ({}); give `positive` as {kind}",
                self.label,
                self.positive,
                self.positive.kind()
            ))
        })
    }

    /// Count one batch; rows with a missing label or score are counted as such.
    pub fn update(&mut self, batch: &Batch) -> Result<()> {
        let (kind, labels) = class::read(batch, &self.label)?;
        let positive = self.positive_as(kind)?;
        let scores = batch.numeric(&self.score)?.to_f64s()?;
        self.rows += labels.len() as u64;
        for (label, score) in labels.into_iter().zip(scores) {
            let score = Num::new(score).filter(|s| s.get().is_finite());
            self.missing_labels += u64::from(label.is_none());
            self.bad_scores += u64::from(score.is_none());
            if let (Some(label), Some(score)) = (label, score) {
                self.counts.add(score, label == positive);
            }
        }
        Ok(())
    }

    /// The metrics, or why there are none.
    pub fn report(&self) -> Result<Vec<Metric>> {
        class::nonempty(self.rows)?;
        class::no_missing(&self.label, self.missing_labels, self.rows, "null")?;
        let what = "NaN, infinite or null";
        class::no_missing(&self.score, self.bad_scores, self.rows, what)?;
        let c = self.counts.confusion(self.threshold);
        let [precision, recall, f1] = prf(c.tp, c.tp + c.fp, c.tp + c.fn_);
        let mut out = vec![
            metric("accuracy", ratio(c.tp + c.tn, self.rows), &[]),
            metric("precision", precision, &[]),
            metric("recall", recall, &[]),
            metric("f1", f1, &[]),
            metric("roc_auc", self.roc_auc(), &[]),
            metric("log_loss", self.log_loss(), &[]),
        ];
        for (cell, n) in [("tn", c.tn), ("fp", c.fp), ("fn", c.fn_), ("tp", c.tp)] {
            out.push(metric("confusion_matrix", n as f64, &[("cell", cell)]));
        }
        out.extend(self.roc_curve());
        Ok(out)
    }

    /// The ROC curve at fpr 0, 0.05, ..., 1 as `roc_tpr{fpr="0.05"}`: a
    /// fixed number of points, for reports and dashboards.
    fn roc_curve(&self) -> Vec<Metric> {
        let vertices = self.counts.roc_vertices();
        if vertices.is_empty() {
            return Vec::new();
        }
        (0..=ROC_POINTS)
            .map(|i| {
                let fpr = i as f64 / ROC_POINTS as f64;
                let at = format!("{fpr:.2}");
                metric("roc_tpr", scores::tpr_at(&vertices, fpr), &[("fpr", &at)])
            })
            .collect()
    }

    fn roc_auc(&self) -> f64 {
        let auc = self.counts.roc_auc();
        if auc.is_nan() {
            log::warn(&format!(
                "only one class is present in column {:?} (positive = {}): \
                 roc_auc is undefined and reported as NaN, as scikit-learn does",
                self.label, self.positive
            ));
        }
        auc
    }

    fn log_loss(&self) -> f64 {
        self.counts.log_loss().unwrap_or_else(|| {
            log::warn(&format!(
                "column {:?} has scores outside [0, 1]: log_loss needs probabilities \
                 and is reported as NaN (scikit-learn raises ValueError)",
                self.score
            ));
            f64::NAN
        })
    }
}
