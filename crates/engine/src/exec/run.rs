//! A whole run: its outputs reused when the folder already holds them,
//! else fit passes, the transform pass, the data, states and report. The
//! run's key (a digest of its inputs, seconds for a large file) is only
//! waited for up front when the folder holds a report it could match;
//! otherwise it is computed beside the passes.

use std::sync::Arc;
use std::thread::ScopedJoinHandle;
use std::time::Instant;

use super::{commit, pass, report, reuse, OutputPaths, Prepared, Progress, RunError, RunOptions};
use super::{RunReport, StepKind};
use crate::data;

/// The run's key: known, or still being computed.
enum Key<'s> {
    Known(Option<String>),
    Pending(ScopedJoinHandle<'s, Option<String>>),
}

impl Key<'_> {
    fn get(self) -> Option<String> {
        match self {
            Key::Known(key) => key,
            Key::Pending(h) => h.join().expect("the key's thread does not panic"),
        }
    }
}

impl Prepared {
    /// Run the pipeline: fit passes, the transform pass, then outputs.
    /// When the output folder already holds this very run's outputs (see
    /// the `reuse` module), returns their report, marked `cache_hit`, unless
    /// `options.no_cache`.
    pub fn run(
        &self,
        options: &RunOptions,
        progress: &dyn Progress,
    ) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let given = match &options.state_dir {
            Some(dir) => self.load_states(dir)?,
            None => vec![None; self.steps.len()],
        };
        let out = self.output();
        let _lock = commit::Lock::take(&out)?;
        let reusable = !options.no_cache && reuse::might_hold(&out);
        std::thread::scope(|scope| {
            let keying = scope.spawn(|| reuse::key(self, options, &given));
            let key = if reusable {
                let key = keying.join().expect("the key's thread does not panic");
                if let Some(report) = key.as_deref().and_then(|k| reuse::earlier(&out, k)) {
                    tracing::info!(
                        key = report.cache_key,
                        "the output folder holds this run's outputs"
                    );
                    return Ok(RunReport {
                        cache_hit: true,
                        ..report
                    });
                }
                Key::Known(key)
            } else {
                Key::Pending(keying)
            };
            self.produce(options, progress, given.clone(), &out, key, started)
        })
    }

    /// Fit, transform and write the outputs of a run that reuses nothing.
    fn produce(
        &self,
        options: &RunOptions,
        progress: &dyn Progress,
        mut states: Vec<Option<Arc<Vec<u8>>>>,
        out: &OutputPaths,
        key: Key<'_>,
        started: Instant,
    ) -> Result<RunReport, RunError> {
        let mut stats = vec![report::StepStats::default(); self.steps.len()];
        let series = self.series();
        self.fit(options, progress, &mut states, &mut stats, &series)?;
        if options.fit_only {
            let mut report =
                report::build(self, out, &states, stats, &series, 0, started.elapsed());
            report.output = String::new();
            report.cache_key = key.get();
            commit::retract(out)?;
            report::write(self, out, &report, &states)?;
            return Ok(report);
        }
        let evaluators: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&i| self.steps[i].kind() == StepKind::Evaluate)
            .collect();
        let compression = self.manifest.pipeline.spec.output.compression;
        let writer = data::Writer::compressed(&out.data, compression.unwrap_or_default())?;
        let mut done = pass::Pass {
            prepared: self,
            input: self.input(),
            share: options.share,
            compute: vec![true; self.steps.len()],
            sinks: evaluators,
            states: &states,
            series: &series,
            purpose: pass::Purpose::Transform,
        }
        .run(Some(writer), progress, &mut stats)?;
        for instance in &mut done.sinks {
            instance.report_into_series()?;
        }
        commit::retract(out)?;
        let written = done.finish()?.expect("a transform pass writes");
        commit::fault("data-written");
        let mut report = report::build(
            self,
            out,
            &states,
            stats,
            &series,
            written.rows,
            started.elapsed(),
        );
        report.cache_key = key.get();
        report.output_sha256 = Some(written.sha256);
        report::write(self, out, &report, &states)?;
        Ok(report)
    }
}
