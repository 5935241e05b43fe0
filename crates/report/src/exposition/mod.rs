//! Prometheus exposition of a run (`metrics.prom`) and pushes to a
//! Pushgateway.
//!
//! Names follow Prometheus conventions: a `weft_` prefix, base units
//! (`_seconds`), `_total` for counters. Every sample carries `pipeline`;
//! step samples also `step`. A metric a step reports, say `psi{column=age}`,
//! becomes the gauge `weft_psi{pipeline=..,step=..,column="age"}`.

mod text;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use text::escape_value;
pub use text::{Exposition, Family};
use weft_record::RunReport;

/// A push to the Pushgateway failed.
#[derive(Debug, thiserror::Error)]
#[error("pushing metrics to {url}: {message}")]
pub struct PushError {
    /// The push URL.
    pub url: String,
    /// What went wrong.
    pub message: String,
}

/// Seconds since the Unix epoch, now.
fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// A metric weft itself exposes: name and help text.
type Own = (&'static str, &'static str);

const RUN_SUCCESS: Own = (
    "weft_run_success",
    "1 if the last run succeeded (gates included), else 0",
);
const RUN_DURATION: Own = ("weft_run_duration_seconds", "Wall time of the last run");
const RUN_TIMESTAMP: Own = (
    "weft_run_timestamp_seconds",
    "When the last run ended, Unix time",
);
const STEP_ERRORS: Own = ("weft_step_errors_total", "Failed calls into the step");
const SERIES_DROPPED: Own = (
    "weft_metric_series_dropped_total",
    "Values for new metric series the step emitted past a cap, dropped",
);

/// The exposition of a finished run.
pub fn of_run(report: &RunReport) -> Exposition {
    let passed = report.failed_gates().is_empty();
    let mut x = ended(&report.pipeline, passed, report.duration_seconds);
    x.counter_run(
        "weft_run_rows_out_total",
        "Rows the last run wrote",
        report.rows_out as f64,
    );
    for s in &report.steps {
        x.step(
            &s.name,
            "weft_step_duration_seconds",
            "Time inside the step's calls, summed over workers",
            s.duration_seconds,
        );
        x.counter_step(
            &s.name,
            "weft_step_rows_in_total",
            "Rows the step was given",
            s.rows_in as f64,
        );
        x.counter_step(
            &s.name,
            "weft_step_rows_out_total",
            "Rows the step returned",
            s.rows_out as f64,
        );
        x.counter_step(&s.name, STEP_ERRORS.0, STEP_ERRORS.1, 0.0);
        x.counter_step(
            &s.name,
            SERIES_DROPPED.0,
            SERIES_DROPPED.1,
            s.dropped_metric_series as f64,
        );
        for m in &s.metrics {
            x.metric(&s.name, &m.name, &m.labels, m.value);
        }
        for g in &s.gates {
            let mut labels = g.labels.clone();
            labels.insert("metric".into(), g.metric.clone());
            x.gate(&s.name, &labels, g.passed);
        }
    }
    x
}

/// The exposition of a run that failed, in `step` when known.
pub fn of_failure(pipeline: &str, step: Option<&str>, took: Duration) -> Exposition {
    let mut x = ended(pipeline, false, took.as_secs_f64());
    if let Some(step) = step {
        x.counter_step(step, STEP_ERRORS.0, STEP_ERRORS.1, 1.0);
    }
    x
}

/// What every run exposes: whether it succeeded, how long it took, when it ended.
fn ended(pipeline: &str, success: bool, seconds: f64) -> Exposition {
    let mut x = Exposition::new(pipeline);
    x.run(RUN_SUCCESS.0, RUN_SUCCESS.1, f64::from(u8::from(success)));
    x.run(RUN_DURATION.0, RUN_DURATION.1, seconds);
    x.run(RUN_TIMESTAMP.0, RUN_TIMESTAMP.1, now_seconds());
    x
}

/// Replace this pipeline's group on the Pushgateway at `base` (grouping
/// key `job=weft`, `pipeline`) with `exposition`.
pub fn push(base: &str, pipeline: &str, exposition: &Exposition) -> Result<(), PushError> {
    let url = format!(
        "{}/metrics/job/weft/pipeline/{}",
        base.trim_end_matches('/'),
        path_segment(pipeline)
    );
    let error = |message: String| PushError {
        url: url.clone(),
        message,
    };
    let response = ureq::put(&url)
        .header("Content-Type", "text/plain; version=0.0.4")
        .config()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .send(exposition.render())
        .map_err(|e| error(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.into_body().read_to_string().unwrap_or_default();
        return Err(error(format!(
            "the gateway answered {status}: {}",
            body.trim()
        )));
    }
    Ok(())
}

/// Percent-encode a grouping-key value for a URL path.
fn path_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
