//! Multiclass mode: a confusion map from (label, prediction) to a count.

use std::collections::BTreeMap;

use weft_sdk::{Batch, Metric, Result, StepError};

use crate::class::{self, Class};
use crate::metric;
use crate::prf::{prf, ratio};

/// What multiclass mode has seen.
pub struct Multiclass {
    label: String,
    prediction: String,
    pairs: BTreeMap<(Class, Class), u64>,
    rows: u64,
    missing_labels: u64,
    missing_predictions: u64,
}

/// Per class: `[true positives, predicted, support]`.
type Counts = BTreeMap<Class, [u64; 3]>;

impl Multiclass {
    /// Metrics of the `prediction` column against the `label` column.
    pub fn new(label: String, prediction: String) -> Multiclass {
        Multiclass {
            label,
            prediction,
            pairs: BTreeMap::new(),
            rows: 0,
            missing_labels: 0,
            missing_predictions: 0,
        }
    }

    /// Count one batch; rows with a missing label or prediction are counted as such.
    pub fn update(&mut self, batch: &Batch) -> Result<()> {
        let (kind, labels) = class::read(batch, &self.label)?;
        let (predicted_kind, predictions) = class::read(batch, &self.prediction)?;
        if kind != predicted_kind {
            return Err(StepError::InvalidInput(format!(
                "column {:?} holds {kind} but column {:?} holds {predicted_kind}; \
                 labels and predictions must be of one kind (scikit-learn rejects a mix)",
                self.label, self.prediction
            )));
        }
        self.rows += labels.len() as u64;
        for (label, predicted) in labels.into_iter().zip(predictions) {
            self.missing_labels += u64::from(label.is_none());
            self.missing_predictions += u64::from(predicted.is_none());
            if let (Some(l), Some(p)) = (label, predicted) {
                *self.pairs.entry((l, p)).or_default() += 1;
            }
        }
        Ok(())
    }

    /// Per-class counts over the sorted union of labels and predictions.
    fn counts(&self) -> Counts {
        let mut counts = Counts::new();
        for ((label, predicted), n) in &self.pairs {
            counts.entry(label.clone()).or_default()[2] += n;
            counts.entry(predicted.clone()).or_default()[1] += n;
            if label == predicted {
                counts.entry(label.clone()).or_default()[0] += n;
            }
        }
        counts
    }

    /// The metrics, or why there are none.
    pub fn report(&self) -> Result<Vec<Metric>> {
        class::nonempty(self.rows)?;
        class::no_missing(&self.label, self.missing_labels, self.rows, "null")?;
        let what = "null";
        class::no_missing(&self.prediction, self.missing_predictions, self.rows, what)?;
        let counts = self.counts();
        let per_class: Vec<(String, [f64; 3], u64)> = counts
            .iter()
            .map(|(c, [tp, predicted, support])| {
                (c.to_string(), prf(*tp, *predicted, *support), *support)
            })
            .collect();
        let correct: u64 = counts.values().map(|[tp, _, _]| tp).sum();
        let mut out = vec![metric("accuracy", ratio(correct, self.rows), &[])];
        out.extend(averages(&per_class, self.rows));
        for (class, values, support) in &per_class {
            out.extend(named(values, &[("class", class)]));
            out.push(metric("support", *support as f64, &[("class", class)]));
        }
        Ok(out)
    }
}

/// `precision`, `recall` and `f1` with `labels`.
fn named(values: &[f64; 3], labels: &[(&str, &str)]) -> Vec<Metric> {
    ["precision", "recall", "f1"]
        .iter()
        .zip(values)
        .map(|(name, v)| metric(name, *v, labels))
        .collect()
}

/// Macro (unweighted mean over classes) and weighted (by support) averages.
fn averages(per_class: &[(String, [f64; 3], u64)], rows: u64) -> Vec<Metric> {
    let k = per_class.len() as f64;
    let mean = |i: usize| per_class.iter().map(|(_, v, _)| v[i]).sum::<f64>() / k;
    let weighted = |i: usize| {
        let sum: f64 = per_class.iter().map(|(_, v, s)| v[i] * *s as f64).sum();
        sum / rows as f64
    };
    let mut out = named(&[mean(0), mean(1), mean(2)], &[("average", "macro")]);
    out.extend(named(
        &[weighted(0), weighted(1), weighted(2)],
        &[("average", "weighted")],
    ));
    out
}
