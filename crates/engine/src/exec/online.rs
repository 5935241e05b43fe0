//! The step graph applied to one batch at a time, with fitted states: what
//! `weft serve` runs per request. The same [`Prepared`] pipeline and states
//! as a batch run, so the online result equals the batch one.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

use super::pass::{Pass, Purpose};
use super::report::StepStats;
use super::{Instance, MetricValue, Prepared, RunError};
use crate::plugin::StepKind;
use crate::sandbox::series::StepSeries;

/// A prepared pipeline with the states it transforms with.
pub struct Online {
    prepared: Prepared,
    states: Vec<Option<Arc<Vec<u8>>>>,
    evaluators: Vec<usize>,
    /// What the steps emit, held under the caps and exposed nowhere.
    series: Vec<Arc<StepSeries>>,
}

/// One worker's instances of the transform steps, reused across batches;
/// an instance that trapped is made anew on its next call.
pub struct Worker {
    instances: Vec<Option<Instance>>,
    stats: Vec<StepStats>,
}

/// What a batch went through.
pub struct Applied {
    /// The output rows.
    pub output: RecordBatch,
    /// Time inside each step (manifest order; zero for steps that did not run).
    pub busy: Vec<Duration>,
    /// Metrics of each evaluate step over the batch (when asked for).
    pub metrics: Vec<(String, Vec<MetricValue>)>,
}

impl Online {
    /// `prepared` with the states in `state_dir` (a run's `out/state`);
    /// every fitting step needs its state there.
    pub fn new(prepared: Prepared, state_dir: &Path) -> Result<Online, RunError> {
        let states = prepared.load_states(state_dir)?;
        let evaluators = prepared
            .order
            .iter()
            .copied()
            .filter(|&i| prepared.steps[i].kind() == StepKind::Evaluate)
            .collect();
        Ok(Online {
            series: prepared.series(),
            prepared,
            states,
            evaluators,
        })
    }

    /// The pipeline.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Whether the pipeline has evaluate steps.
    pub fn evaluates(&self) -> bool {
        !self.evaluators.is_empty()
    }

    fn pass(&self, evaluate: bool) -> Pass<'_> {
        Pass {
            prepared: &self.prepared,
            input: Default::default(),
            share: None,
            compute: vec![true; self.prepared.steps.len()],
            sinks: if evaluate {
                self.evaluators.clone()
            } else {
                Vec::new()
            },
            states: &self.states,
            series: &self.series,
            purpose: Purpose::Serve,
        }
    }

    /// Instances for one worker.
    pub fn worker(&self) -> Result<Worker, RunError> {
        Ok(Worker {
            instances: self.pass(false).worker_instances()?,
            stats: vec![StepStats::default(); self.prepared.steps.len()],
        })
    }

    /// Run the transform steps on `batch` with `worker`'s instances; with
    /// `evaluate`, also feed the evaluate steps (fresh instances) and
    /// report their metrics. A step still running at `deadline` is stopped.
    pub fn apply(
        &self,
        worker: &mut Worker,
        batch: RecordBatch,
        evaluate: bool,
        deadline: Option<Instant>,
    ) -> Result<Applied, RunError> {
        let pass = self.pass(evaluate);
        for instance in worker.instances.iter_mut().flatten() {
            instance.set_deadline(deadline);
        }
        worker
            .stats
            .iter_mut()
            .for_each(|s| *s = StepStats::default());
        let worked = pass.work(&mut worker.instances, &mut worker.stats, batch)?;
        let mut metrics = Vec::new();
        for (&i, input) in pass.sinks.iter().zip(worked.sink_inputs) {
            let mut instance = pass.instance(i, false)?;
            instance.set_deadline(deadline);
            instance.update(input)?;
            let name = self.prepared.steps[i].setup.name.clone();
            metrics.push((
                name,
                instance
                    .report()?
                    .into_iter()
                    .map(MetricValue::from)
                    .collect(),
            ));
        }
        Ok(Applied {
            output: worked.output.expect("a producing pass has output"),
            busy: worker.stats.iter().map(|s| s.busy).collect(),
            metrics,
        })
    }
}
