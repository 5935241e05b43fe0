//! A dry run: the step graph on the first rows of the input (and of each
//! reference file), in memory, with nothing written. It catches what only
//! the plugins know — configs they refuse, columns that are missing or of
//! the wrong type as the batch flows through the steps — and locates each
//! failure at its step in the manifest. `weft validate` runs it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::pass::{Pass, Purpose};
use super::report::StepStats;
use super::{Failure, Prepared, RunError, StepFailure};
use crate::data::Reader;
use crate::plugin::StepKind;

/// What a dry run saw.
#[derive(Debug)]
pub struct DryRun {
    /// Rows of the input sample.
    pub rows: usize,
    /// The columns the pipeline outputs.
    pub output: SchemaRef,
}

impl Prepared {
    /// Fit every fitting step on the first `rows` rows of its fit input,
    /// then run the transform and evaluate steps (`update`, not `report`:
    /// a metric over a sample proves nothing) on the first `rows` rows of
    /// the input. A step's failure is located at the step.
    pub fn dry_run(&self, rows: usize) -> Result<DryRun, RunError> {
        let series = self.series();
        let mut stats = vec![StepStats::default(); self.steps.len()];
        let mut states = vec![None; self.steps.len()];
        let input = Sample::read(&self.input(), rows)?;
        for &t in self.order.iter().filter(|&&i| self.steps[i].fit) {
            let reference = match &self.steps[t].reference {
                Some(path) => Some(Sample::read(path, rows)?),
                None => None,
            };
            let sample = reference.as_ref().unwrap_or(&input);
            let pass = Pass {
                compute: self.ancestors(&[t]),
                sinks: vec![t],
                ..self.dry_pass(&states, &series, Purpose::Fit)
            };
            let mut fitted = || -> Result<Vec<u8>, RunError> {
                let mut worked = pass.work(
                    &mut pass.worker_instances()?,
                    &mut stats,
                    sample.batch.clone(),
                )?;
                let mut instance = pass.instance(t, true)?;
                instance.fit(worked.sink_inputs.remove(0))?;
                Ok(instance.state()?)
            };
            let state = fitted().map_err(|e| self.located(e, sample))?;
            states[t] = Some(Arc::new(state));
        }
        let sample = input;
        let pass = Pass {
            sinks: self
                .order
                .iter()
                .copied()
                .filter(|&i| self.steps[i].kind() == StepKind::Evaluate)
                .collect(),
            ..self.dry_pass(&states, &series, Purpose::Transform)
        };
        let mut transformed = || -> Result<SchemaRef, RunError> {
            let worked = pass.work(
                &mut pass.worker_instances()?,
                &mut stats,
                sample.batch.clone(),
            )?;
            for (&i, batch) in pass.sinks.iter().zip(worked.sink_inputs) {
                pass.instance(i, false)?.update(batch)?;
            }
            Ok(worked.output.expect("a transform pass has output").schema())
        };
        let output = transformed().map_err(|e| self.located(e, &sample))?;
        Ok(DryRun {
            rows: sample.batch.num_rows(),
            output,
        })
    }

    fn dry_pass<'a>(
        &'a self,
        states: &'a [Option<Arc<Vec<u8>>>],
        series: &'a [Arc<crate::sandbox::series::StepSeries>],
        purpose: Purpose,
    ) -> Pass<'a> {
        Pass {
            prepared: self,
            input: self.input(),
            share: None,
            compute: vec![true; self.steps.len()],
            sinks: Vec::new(),
            states,
            series,
            purpose,
        }
    }

    /// A step's failure on `sample`, located at the step.
    fn located(&self, error: RunError, sample: &Sample) -> RunError {
        let RunError::Step(StepFailure {
            step,
            call,
            failure,
            ..
        }) = &error
        else {
            return error;
        };
        let Some(at) = self.steps.iter().position(|s| s.setup.name == *step) else {
            return error;
        };
        let fitted_upstream = self
            .ancestors(&[at])
            .iter()
            .zip(&self.steps)
            .any(|(up, s)| *up && s.fit);
        let missing_input = matches!(failure, Failure::InvalidInput(_));
        let hint = if fitted_upstream && missing_input && !sample.whole {
            "; columns that fitted steps derive from the data (categories, bins) reflect the sample only: --rows widens it"
        } else {
            ""
        };
        let message = format!(
            "step {step:?}: {call} failed in a dry run on {}: {failure}{hint}",
            sample.describe()
        );
        RunError::Manifest(self.manifest.step_error(at, None, message))
    }
}

/// The first rows of a file the dry run reads.
struct Sample {
    path: PathBuf,
    batch: RecordBatch,
    /// Whether the batch holds every row of the file.
    whole: bool,
}

impl Sample {
    /// The first `rows` rows of `path` (none, with its columns, if it is empty).
    fn read(path: &Path, rows: usize) -> Result<Sample, RunError> {
        let mut reader = Reader::open(path, rows.max(1))?;
        let schema = reader.schema();
        let first = reader.next().transpose()?;
        let whole = rows > 0 && reader.next().is_none();
        let batch = first.unwrap_or_else(|| RecordBatch::new_empty(schema));
        Ok(Sample {
            path: path.to_owned(),
            batch: if rows == 0 { batch.slice(0, 0) } else { batch },
            whole,
        })
    }

    fn describe(&self) -> String {
        let (rows, path) = (self.batch.num_rows(), self.path.display());
        match (rows, self.whole) {
            (0, _) => format!("no rows of {path} (its columns only)"),
            (_, true) => format!("all {rows} rows of {path}"),
            (_, false) => format!("the first {rows} rows of {path}"),
        }
    }
}
