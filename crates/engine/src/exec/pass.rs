//! One pass over the input: a reader thread, parallel workers that run the
//! step graph on each batch, and the caller's thread, which feeds sequential
//! consumers (fitting and evaluating steps) in input order and writes output.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use crossbeam_channel::bounded;

use super::report::StepStats;
use super::union::{batch_union, identities, Branch, Provenance};
use super::{Instance, Prepared, Progress, RunError};
use crate::data::{Reader, Writer, Written};
use crate::plugin::StepKind;
use crate::sandbox::series::StepSeries;
use crate::sandbox::Batch;
use weft_manifest::Share;

/// What one pass computes.
pub(super) struct Pass<'a> {
    pub prepared: &'a Prepared,
    pub input: std::path::PathBuf,
    /// The share of the input folder's files to read (all when `None`).
    pub share: Option<Share>,
    /// Steps whose output is computed (transform or pass-through).
    pub compute: Vec<bool>,
    /// Steps fed sequentially with their input (fit targets or evaluators).
    pub sinks: Vec<usize>,
    pub states: &'a [Option<Arc<Vec<u8>>>],
    /// Where each step's metrics go (by manifest index).
    pub series: &'a [Arc<StepSeries>],
    /// What the pass is for.
    pub purpose: Purpose,
}

/// What a pass is for: fitting its sinks, or producing output rows (for a
/// run's output file, or a served answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Fit the sinks; upstream steps are recomputed, no rows come out.
    Fit,
    /// Transform every batch into the run's output.
    Transform,
    /// Transform one served request.
    Serve,
}

impl Purpose {
    /// How progress and logs name the pass.
    fn label(self) -> &'static str {
        match self {
            Purpose::Fit => "fit",
            Purpose::Transform => "transform",
            Purpose::Serve => "serve",
        }
    }

    /// Whether the pass produces output rows.
    fn produces(self) -> bool {
        self != Purpose::Fit
    }
}

/// The result of a pass.
pub(super) struct Done {
    /// The sink instances, in the order of `Pass::sinks`.
    pub sinks: Vec<Instance>,
    /// The output, written to a temporary file: the caller moves it into
    /// place once nothing else can fail.
    pub writer: Option<(Writer, SchemaRef)>,
}

impl Done {
    /// Move the output into place; what was written (`None` without output).
    pub fn finish(self) -> Result<Option<Written>, RunError> {
        match self.writer {
            Some((w, schema)) => Ok(Some(w.finish(schema)?)),
            None => Ok(None),
        }
    }
}

/// A worker's result for one batch.
pub(super) struct Worked {
    /// The output rows, in host memory.
    pub output: Option<RecordBatch>,
    /// The input of each sink, in the order of `Pass::sinks`.
    pub sink_inputs: Vec<Batch>,
    rows_in: u64,
}

type Outcome = Result<Worked, RunError>;

impl Pass<'_> {
    pub(super) fn instance(&self, i: usize, fitting: bool) -> Result<Instance, RunError> {
        let step = &self.prepared.steps[i];
        let state = if fitting {
            None
        } else {
            self.states[i].clone()
        };
        Ok(Instance::with_series(
            step.plugin.pre().clone(),
            step.setup.clone(),
            state,
            self.series[i].clone(),
        )?)
    }

    pub(super) fn worker_instances(&self) -> Result<Vec<Option<Instance>>, RunError> {
        (0..self.prepared.steps.len())
            .map(|i| {
                let transform = self.prepared.steps[i].kind() == StepKind::Transform;
                (self.compute[i] && transform)
                    .then(|| self.instance(i, false))
                    .transpose()
            })
            .collect()
    }

    /// Run the step graph on one batch.
    pub(super) fn work(
        &self,
        instances: &mut [Option<Instance>],
        stats: &mut [StepStats],
        batch: RecordBatch,
    ) -> Outcome {
        let steps = &self.prepared.steps;
        let batch = Batch::from(batch);
        let rows_in = batch.num_rows() as u64;
        let mut outputs: Vec<Option<Batch>> = vec![None; steps.len()];
        let mut provenance = Provenance::new(steps.len());
        provenance.record(0, &batch);
        let mut sink_inputs = Vec::with_capacity(self.sinks.len());
        for (rank, &i) in (1..).zip(&self.prepared.order) {
            let is_sink = self.sinks.contains(&i);
            if !self.compute[i] && !is_sink {
                continue;
            }
            let needs: Vec<Branch> = steps[i]
                .needs
                .iter()
                .map(|n| provenance.branch(*n, outputs[*n].as_ref().expect("needs run first")))
                .collect();
            let input = if needs.is_empty() {
                batch.clone()
            } else {
                batch_union(&needs, &provenance).map_err(RunError::Invalid)?
            };
            if is_sink {
                sink_inputs.push(input.clone());
            }
            if !self.compute[i] {
                continue;
            }
            // Fit passes recompute upstream steps; only the transform pass counts.
            let mut scratch = StepStats::default();
            let s = if self.purpose.produces() {
                &mut stats[i]
            } else {
                &mut scratch
            };
            s.rows_in += input.num_rows() as u64;
            s.batches += 1;
            let input_ids = identities(&input);
            let out = match instances[i].as_mut() {
                Some(instance) => {
                    let t = Instant::now();
                    let out = instance.transform(input)?;
                    s.busy += t.elapsed();
                    out
                }
                None => input,
            };
            s.rows_out += out.num_rows() as u64;
            provenance.record(rank, &out);
            provenance.saw(i, &steps[i].needs, &input_ids, &out);
            outputs[i] = Some(out);
        }
        // Columns a kernel left on the device come back here, in the worker.
        let output = self
            .purpose
            .produces()
            .then(|| {
                self.terminal_output(&outputs, &provenance)?
                    .to_record()
                    .map_err(RunError::from)
            })
            .transpose()?;
        Ok(Worked {
            output,
            sink_inputs,
            rows_in,
        })
    }

    /// The union of the outputs of steps nothing else needs.
    fn terminal_output(
        &self,
        outputs: &[Option<Batch>],
        provenance: &Provenance,
    ) -> Result<Batch, RunError> {
        let steps = &self.prepared.steps;
        let needed: Vec<bool> = (0..steps.len())
            .map(|i| steps.iter().any(|s| s.needs.contains(&i)))
            .collect();
        let terminal: Vec<Branch> = self
            .prepared
            .order
            .iter()
            .filter(|i| !needed[**i])
            .filter_map(|&i| Some(provenance.branch(i, outputs[i].as_ref()?)))
            .collect();
        batch_union(&terminal, provenance).map_err(RunError::Invalid)
    }

    /// Run the pass; returns the sink instances for their final calls.
    pub fn run(
        self,
        writer: Option<Writer>,
        progress: &dyn Progress,
        stats: &mut [StepStats],
    ) -> Result<Done, RunError> {
        let started = Instant::now();
        let prepared = self.prepared;
        let reader = Reader::open_share(&self.input, prepared.batch_rows, self.share)?;
        let input_schema = reader.schema();
        let label = self.purpose.label();
        tracing::info!(pass = label, "pass started");
        progress.start(label, reader.total_rows());
        let fitting = self.purpose == Purpose::Fit;
        let sinks: Vec<Instance> = self
            .sinks
            .iter()
            .map(|&i| self.instance(i, fitting))
            .collect::<Result<_, _>>()?;
        let mut sink = Sink {
            sinks,
            writer,
            fitting,
            rows: 0,
            rows_in: 0,
        };
        let pass = &self;
        let in_flight = prepared.workers * 2;
        let (work_tx, work_rx) = bounded::<(u64, u64, RecordBatch)>(in_flight);
        let (done_tx, done_rx) = bounded::<(u64, Outcome)>(in_flight);
        // One ticket per batch between reader and sink: however the workers
        // race, no more than `in_flight` batches are alive at once, so the
        // sink's reorder buffer stays bounded too.
        let (ticket_tx, ticket_rx) = bounded::<()>(in_flight);
        (0..in_flight).for_each(|_| ticket_tx.send(()).expect("room for every ticket"));
        let result = std::thread::scope(|scope| {
            let reader_tx = done_tx.clone();
            scope.spawn(move || {
                let batches = reader.take_while(|_| ticket_rx.recv().is_ok());
                let mut first_row = 0;
                for (seq, batch) in (0u64..).zip(batches) {
                    let sent = match batch {
                        Ok(b) => {
                            let rows = b.num_rows() as u64;
                            first_row += rows;
                            work_tx.send((seq, first_row - rows, b)).is_ok()
                        }
                        Err(e) => {
                            let _ = reader_tx.send((seq, Err(e.into())));
                            false
                        }
                    };
                    if !sent {
                        return;
                    }
                }
            });
            let workers: Vec<_> = (0..prepared.workers)
                .map(|_| {
                    let (rx, tx) = (work_rx.clone(), done_tx.clone());
                    scope.spawn(move || pass.worker(rx, tx))
                })
                .collect();
            drop((work_rx, done_tx));
            let sunk = sink.drain(done_rx, &ticket_tx, &self.sinks, stats, progress);
            drop(ticket_tx);
            for w in workers {
                for (total, local) in stats
                    .iter_mut()
                    .zip(w.join().expect("worker threads do not panic"))
                {
                    total.add(local);
                }
            }
            sunk
        });
        result?;
        let took = started.elapsed();
        tracing::info!(
            pass = label,
            rows = sink.rows_in,
            seconds = took.as_secs_f64(),
            "pass finished"
        );
        progress.finish(label, sink.rows_in, took);
        Ok(Done {
            sinks: sink.sinks,
            writer: sink.writer.map(|w| (w, input_schema)),
        })
    }

    fn worker(
        &self,
        rx: crossbeam_channel::Receiver<(u64, u64, RecordBatch)>,
        tx: crossbeam_channel::Sender<(u64, Outcome)>,
    ) -> Vec<StepStats> {
        let mut stats = vec![StepStats::default(); self.prepared.steps.len()];
        let mut instances = match self.worker_instances() {
            Ok(i) => i,
            Err(e) => {
                let _ = tx.send((0, Err(e)));
                return stats;
            }
        };
        for (seq, first_row, batch) in rx {
            let rows = first_row..first_row + batch.num_rows() as u64;
            let outcome = self
                .work(&mut instances, &mut stats, batch)
                .map_err(|e| e.on_rows(rows));
            let failed = outcome.is_err();
            if tx.send((seq, outcome)).is_err() || failed {
                break;
            }
        }
        for (s, instance) in stats.iter_mut().zip(&mut instances) {
            if let Some(instance) = instance {
                s.drain(instance);
            }
        }
        stats
    }
}

/// The sequential end of a pass.
struct Sink {
    sinks: Vec<Instance>,
    writer: Option<Writer>,
    fitting: bool,
    rows: u64,
    rows_in: u64,
}

impl Sink {
    /// Consume worker results in input order until the workers are done.
    fn drain(
        &mut self,
        done: crossbeam_channel::Receiver<(u64, Outcome)>,
        tickets: &crossbeam_channel::Sender<()>,
        ids: &[usize],
        stats: &mut [StepStats],
        progress: &dyn Progress,
    ) -> Result<(), RunError> {
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for (seq, outcome) in done {
            pending.insert(seq, outcome?);
            while let Some(worked) = pending.remove(&next) {
                next += 1;
                let before = self.rows_in;
                self.consume(worked, ids, stats)?;
                let _ = tickets.send(());
                progress.advance(self.rows_in - before);
            }
        }
        for (instance, &i) in self.sinks.iter_mut().zip(ids) {
            stats[i].drain(instance);
        }
        Ok(())
    }

    fn consume(
        &mut self,
        worked: Worked,
        ids: &[usize],
        stats: &mut [StepStats],
    ) -> Result<(), RunError> {
        let rows = self.rows_in..self.rows_in + worked.rows_in;
        for ((instance, input), &i) in self.sinks.iter_mut().zip(worked.sink_inputs).zip(ids) {
            let t = Instant::now();
            let done = if self.fitting {
                stats[i].fit_rows += input.num_rows() as u64;
                instance.fit(input)
            } else {
                instance.update(input)
            };
            done.map_err(|e| RunError::from(e).on_rows(rows.clone()))?;
            stats[i].busy += t.elapsed();
        }
        if let (Some(writer), Some(out)) = (self.writer.as_mut(), worked.output.as_ref()) {
            writer.write(out)?;
            super::commit::fault("parquet-writing");
            self.rows += out.num_rows() as u64;
        }
        self.rows_in += worked.rows_in;
        Ok(())
    }
}
