//! What a stage pod tells the operator as it ends: its steps' rows, metrics
//! and gates, whether it reused earlier outputs, or its error. JSON in the
//! container's termination message, of which Kubernetes keeps 4096 bytes.

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use weft_manifest::{Location, MetricStatus, Phase, StepStatus};
use weft_record::RunReport;

/// Where a stage pod's container writes its summary.
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// Bytes of a termination message Kubernetes keeps.
const LIMIT: usize = 4096;

/// A stage pod's account of its run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageSummary {
    /// The outputs were already there (same cache key); nothing ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache_hit: bool,
    /// Per step: rows out, metrics, gates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// Why the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where in the manifest the error is, when it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Metrics were left out to fit the limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl StageSummary {
    /// The summary of a finished run.
    pub fn of_report(report: &RunReport) -> StageSummary {
        let steps = report
            .steps
            .iter()
            .map(|s| StepStatus {
                name: s.name.clone(),
                phase: Phase::Succeeded,
                rows_out: Some(s.rows_out),
                metrics: s
                    .metrics
                    .iter()
                    .map(|m| MetricStatus {
                        name: m.name.clone(),
                        labels: m.labels.clone(),
                        value: Some(m.value),
                    })
                    .collect(),
                gates: s.gates.clone(),
                ..StepStatus::default()
            })
            .collect();
        StageSummary {
            cache_hit: report.cache_hit,
            steps,
            ..StageSummary::default()
        }
    }

    /// The summary of a failed run: why, and where in the manifest when
    /// the error is there.
    pub fn of_error(message: &str, location: Option<Location>) -> StageSummary {
        StageSummary {
            error: Some(message.to_owned()),
            location,
            ..StageSummary::default()
        }
    }

    /// JSON of at most 4096 bytes: metrics are left out, last step first,
    /// then the error is cut to 2 KiB, then steps go, last first, until it
    /// fits.
    pub fn to_json(&self) -> String {
        let mut fitted = self.clone();
        loop {
            let json = serde_json::to_string(&fitted).expect("summaries serialize");
            if json.len() <= LIMIT {
                return json;
            }
            fitted.truncated = true;
            let long_error = fitted.error.as_ref().filter(|e| e.len() > LIMIT / 2);
            if let Some(step) = fitted
                .steps
                .iter_mut()
                .rev()
                .find(|s| !s.metrics.is_empty())
            {
                step.metrics.clear();
            } else if let Some(error) = long_error {
                let mut end = LIMIT / 2;
                while !error.is_char_boundary(end) {
                    end -= 1;
                }
                fitted.error = Some(error[..end].to_owned());
            } else {
                fitted.steps.pop();
            }
        }
    }

    /// A summary from a termination message; `None` when it is not one
    /// (a pod killed before writing, or Kubernetes' fallback to the log).
    pub fn parse(message: &str) -> Option<StageSummary> {
        serde_json::from_str(message).ok()
    }

    /// What the newest of `pods` that ended with a summary left in its
    /// termination message.
    pub fn latest(pods: &[Pod]) -> Option<StageSummary> {
        let ended = pods.iter().flat_map(|pod| {
            let statuses = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref());
            statuses.into_iter().flatten().filter_map(|c| {
                let ended = c.state.as_ref()?.terminated.as_ref()?;
                let summary = StageSummary::parse(ended.message.as_deref()?)?;
                Some((ended.finished_at.clone(), summary))
            })
        });
        ended
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, summary)| summary)
    }
}
