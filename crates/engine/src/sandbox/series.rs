//! The metric series steps create, capped as they are emitted.
//!
//! A step names a series (`name` plus labels) by emitting a value for it
//! through the host `metrics` import, or by returning it from an evaluate
//! step's `report`. The host keeps at most `limits.maxMetricSeries` distinct
//! series per step and [`MAX_RUN_SERIES`] per run, all steps together: past a
//! cap a value for a series the host already keeps still replaces the last
//! one, and a value for a new series is dropped and counted. Names and label
//! values are cut to a bounded length, and a series keeps a bounded number of
//! labels, so what the host holds does not grow with what a plugin emits.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;

use super::bindings::Metric;
pub use weft_manifest::{DEFAULT_STEP_SERIES, MAX_RUN_SERIES};
pub use weft_record::MetricValue;

impl From<Metric> for MetricValue {
    fn from(m: Metric) -> Self {
        MetricValue {
            name: m.name,
            value: m.value,
            labels: m.labels.into_iter().collect(),
        }
    }
}

/// Longest metric or label name kept, in bytes; a longer one is cut.
pub const MAX_NAME_BYTES: usize = 128;

/// Longest label value kept, in bytes; a longer one is cut.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Labels kept per series: those with the smallest names.
pub const MAX_LABELS: usize = 16;

/// A series: its name and its labels, by label name.
type Key = (String, BTreeMap<String, String>);

/// How many series a whole run has created, shared by its steps.
#[derive(Debug)]
pub struct RunBudget {
    used: AtomicUsize,
}

impl RunBudget {
    /// A budget of [`MAX_RUN_SERIES`] series, none used.
    pub fn new() -> Arc<RunBudget> {
        Arc::new(RunBudget {
            used: AtomicUsize::new(0),
        })
    }

    /// Take one series from the budget; false when none is left.
    fn take(&self) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used < MAX_RUN_SERIES).then_some(used + 1)
            })
            .is_ok()
    }
}

/// The series one step created over a run, shared by all its instances.
#[derive(Debug)]
pub struct StepSeries {
    limit: usize,
    run: Arc<RunBudget>,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    series: IndexMap<Key, f64>,
    dropped: u64,
}

/// Which cap made a step drop series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// The step's own `limits.maxMetricSeries`, with its value.
    Step(usize),
    /// The run's [`MAX_RUN_SERIES`].
    Run,
}

/// What a step's series came to at the end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The series kept, with their last values, in the order first emitted.
    pub metrics: Vec<MetricValue>,
    /// Values for new series refused past a cap (a dropped series emitted on
    /// every batch counts once per batch).
    pub dropped: u64,
    /// The cap that refused them.
    pub cap: Cap,
}

impl Recorded {
    /// The warning for `step` when it dropped series: one line naming the cap.
    pub fn warning(&self, step: &str) -> Option<String> {
        let dropped = self.dropped;
        (dropped > 0).then(|| match self.cap {
            Cap::Step(limit) => format!(
                "step {step:?} emitted more than {limit} metric series; \
                 {dropped} values of new series were dropped (raise limits.maxMetricSeries)"
            ),
            Cap::Run => format!(
                "step {step:?} emitted metric series past the run's cap of {MAX_RUN_SERIES} \
                 (all steps together); {dropped} values of new series were dropped"
            ),
        })
    }
}

impl StepSeries {
    /// A step's table keeping at most `limit` series, counted against `run`.
    pub fn new(limit: usize, run: Arc<RunBudget>) -> StepSeries {
        StepSeries {
            limit,
            run,
            table: Mutex::default(),
        }
    }

    /// A table with a run budget of its own, for a step called outside a run.
    pub fn alone(limit: usize) -> Arc<StepSeries> {
        Arc::new(StepSeries::new(limit, RunBudget::new()))
    }

    /// A table per step of one run, sharing one [`RunBudget`].
    pub fn for_run(limits: impl IntoIterator<Item = usize>) -> Vec<Arc<StepSeries>> {
        let run = RunBudget::new();
        limits
            .into_iter()
            .map(|limit| Arc::new(StepSeries::new(limit, run.clone())))
            .collect()
    }

    /// Record `value` for the series `name{labels}`; true when kept. A
    /// series already kept takes the value; a new one is kept while both
    /// caps allow it, and counted as dropped after.
    pub fn record(
        &self,
        name: String,
        labels: impl IntoIterator<Item = (String, String)>,
        value: f64,
    ) -> bool {
        let key = key(name, labels);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = table.series.get_mut(&key) {
            *kept = value;
            return true;
        }
        if table.series.len() < self.limit && self.run.take() {
            table.series.insert(key, value);
            return true;
        }
        table.dropped += 1;
        false
    }

    /// The series kept so far, the count dropped and the cap that dropped them.
    pub fn recorded(&self) -> Recorded {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let cap = if table.series.len() >= self.limit {
            Cap::Step(self.limit)
        } else {
            Cap::Run
        };
        Recorded {
            metrics: table
                .series
                .iter()
                .map(|((name, labels), value)| MetricValue {
                    name: name.clone(),
                    value: *value,
                    labels: labels.clone(),
                })
                .collect(),
            dropped: table.dropped,
            cap,
        }
    }
}

/// The series `name{labels}` as kept: names and values cut to their
/// bounds, a repeated label name keeping its last value, at most
/// [`MAX_LABELS`] labels (those with the smallest names).
fn key(name: String, labels: impl IntoIterator<Item = (String, String)>) -> Key {
    let mut kept = BTreeMap::new();
    for (label, value) in labels {
        kept.insert(cut(label, MAX_NAME_BYTES), cut(value, MAX_VALUE_BYTES));
        if kept.len() > MAX_LABELS {
            kept.pop_last();
        }
    }
    (cut(name, MAX_NAME_BYTES), kept)
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let end = (0..=max)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(i: usize) -> Vec<(String, String)> {
        vec![("i".into(), i.to_string())]
    }

    #[test]
    fn past_the_step_cap_new_series_drop_and_kept_ones_update() {
        let series = StepSeries::alone(3);
        for call in 0..2 {
            for i in 0..10 {
                let kept = series.record("flood".into(), label(i), (call * 100 + i) as f64);
                assert_eq!(kept, i < 3, "call {call}, series {i}");
            }
        }
        let recorded = series.recorded();
        let values: Vec<f64> = recorded.metrics.iter().map(|m| m.value).collect();
        assert_eq!(values, [100.0, 101.0, 102.0], "updates replace, in place");
        assert_eq!(recorded.dropped, 2 * 7, "refused values, once per call");
        assert_eq!(recorded.cap, Cap::Step(3));
        assert_eq!(
            recorded.warning("x").unwrap(),
            "step \"x\" emitted more than 3 metric series; 14 values of new series \
             were dropped (raise limits.maxMetricSeries)"
        );
    }

    #[test]
    fn the_run_cap_binds_all_steps_together() {
        let steps = StepSeries::for_run([MAX_RUN_SERIES - 5, MAX_RUN_SERIES]);
        for i in 0..MAX_RUN_SERIES {
            steps[0].record("a".into(), label(i), 1.0);
        }
        for i in 0..10 {
            steps[1].record("b".into(), label(i), 1.0);
        }
        let (a, b) = (steps[0].recorded(), steps[1].recorded());
        assert_eq!((a.metrics.len(), a.dropped), (MAX_RUN_SERIES - 5, 5));
        assert_eq!((b.metrics.len(), b.dropped, b.cap), (5, 5, Cap::Run));
        assert!(b.warning("b").unwrap().contains("the run's cap of 10000"));
        assert_eq!(StepSeries::alone(1).recorded().warning("c"), None);
    }

    #[test]
    fn long_names_and_values_are_cut_and_labels_bounded() {
        let series = StepSeries::alone(10);
        let long = "é".repeat(2000);
        let mut labels: Vec<(String, String)> = (0..40)
            .map(|i| (format!("l{i:02}"), long.clone()))
            .collect();
        labels.push(("l00".into(), "last".into()));
        series.record(long.clone(), labels, 1.0);
        let m = &series.recorded().metrics[0];
        assert_eq!(m.name, "é".repeat(MAX_NAME_BYTES / 2));
        assert_eq!(m.labels.len(), MAX_LABELS);
        assert_eq!(
            m.labels["l00"], "last",
            "a repeated label keeps its last value"
        );
        assert_eq!(m.labels["l01"].len(), MAX_VALUE_BYTES);
        assert_eq!(m.labels.keys().last().unwrap(), "l15");
        assert_eq!(cut("aé".into(), 2), "a", "cut on a character boundary");
    }
}
