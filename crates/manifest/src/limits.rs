//! A step's limits: the manifest's form ([`LimitsSpec`], strings such as
//! `512Mi`, shared with the CRD) and the typed form ([`Limits`], in bytes
//! and durations) that validation derives once and the sandbox enforces.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::quantity::parse_bytes;

/// Distinct metric series one run keeps over all its steps.
pub const MAX_RUN_SERIES: usize = 10_000;

/// Distinct metric series one step keeps when its `limits.maxMetricSeries`
/// does not say.
pub const DEFAULT_STEP_SERIES: usize = 1_000;

/// Per-step limits enforced by the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSpec {
    /// Linear memory, e.g. `256Mi` (default 512Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Wall time of one call into the step, seconds (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Fuel per call; enables fuel metering for the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Bytes of columns one call may create, e.g. `1Gi` (default 1Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<String>,
    /// Bytes of host columns and batches the step may hold at once (what
    /// it made and keeps handles to, kernel outputs), e.g. `2Gi` (default
    /// twice `memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_memory: Option<String>,
    /// Bytes of columns the step keeps that the host may move to a
    /// temporary file (in `$TMPDIR`) once the step holds more than a
    /// quarter of `hostMemory`, e.g. `20Gi` (default 8Gi; `0` keeps them
    /// all in memory). What lets an exact median of more rows than memory
    /// holds run in bounded memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spill: Option<String>,
    /// Buffers one custom GPU kernel (`run-wgsl`) may bind (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_buffers: Option<usize>,
    /// Bytes of all buffers of one custom GPU kernel, e.g. `64Mi` (default 256Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory: Option<String>,
    /// Workgroups one custom GPU kernel may dispatch, `x * y * z` (default 1048576).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_workgroups: Option<u64>,
    /// Distinct metric series the step keeps over a run (default 1000, at
    /// most 10000); values for further new series are dropped and counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = MAX_RUN_SERIES))]
    pub max_metric_series: Option<u64>,
}

/// What the host allows one step, in units: `spec.limits` overridden by
/// the step's own `limits`, defaults for what neither sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Linear memory of the step's instance, in bytes.
    pub memory_bytes: u64,
    /// Wall time of one call into the step.
    pub timeout: Duration,
    /// Fuel per call (instructions, roughly), when fuel metering is on.
    pub fuel: Option<u64>,
    /// Bytes of columns a step may create on the host during one call.
    pub output_bytes: u64,
    /// Bytes of host columns and batches a step may hold at once.
    pub host_bytes: u64,
    /// Bytes of kept columns the host may move to disk (0: none).
    pub spill_bytes: u64,
    /// Buffers one custom GPU kernel may bind.
    pub gpu_buffers: usize,
    /// Bytes of all buffers of one custom GPU kernel.
    pub gpu_bytes: u64,
    /// Workgroups one custom GPU kernel may dispatch.
    pub gpu_workgroups: u64,
    /// Distinct metric series the step keeps over a run.
    pub max_series: usize,
}

impl Default for Limits {
    /// 512 MiB of memory, 60 s per call, no fuel, 1 GiB of output per
    /// call, twice the memory on the host, 8 GiB of spill, 8 GPU buffers of 256 MiB in
    /// all, 2^20 workgroups, 1000 metric series.
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            timeout: Duration::from_secs(60),
            fuel: None,
            output_bytes: 1 << 30,
            host_bytes: 2 * (512 << 20),
            spill_bytes: 8 << 30,
            gpu_buffers: 8,
            gpu_bytes: 256 << 20,
            gpu_workgroups: 1 << 20,
            max_series: DEFAULT_STEP_SERIES,
        }
    }
}

/// A limit that is not well formed: its field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("limits.{field}: {message}")]
pub struct LimitError {
    /// The field, as the manifest spells it (`memory`, `timeoutSeconds`).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Limits {
    /// The limits of a step whose own `limits` are `step` under the run's
    /// `run`: the step's fields win; `hostMemory` defaults to twice the
    /// memory the step ends up with.
    pub fn resolve(
        step: Option<&LimitsSpec>,
        run: Option<&LimitsSpec>,
    ) -> Result<Limits, LimitError> {
        let mut limits = Limits::default();
        let mut host_bytes = None;
        for spec in [run, step].into_iter().flatten() {
            host_bytes = bytes("hostMemory", &spec.host_memory)?.or(host_bytes);
            limits.apply(spec)?;
        }
        limits.host_bytes = host_bytes.unwrap_or(limits.memory_bytes.saturating_mul(2));
        Ok(limits)
    }

    /// Override what `spec` sets, but `hostMemory`.
    fn apply(&mut self, spec: &LimitsSpec) -> Result<(), LimitError> {
        self.memory_bytes = bytes("memory", &spec.memory)?.unwrap_or(self.memory_bytes);
        self.output_bytes = bytes("maxOutput", &spec.max_output)?.unwrap_or(self.output_bytes);
        self.spill_bytes = bytes("spill", &spec.spill)?.unwrap_or(self.spill_bytes);
        self.gpu_bytes = bytes("gpuMemory", &spec.gpu_memory)?.unwrap_or(self.gpu_bytes);
        if let Some(t) = spec.timeout_seconds {
            if !(t > 0.0 && t.is_finite()) {
                return Err(LimitError {
                    field: "timeoutSeconds",
                    message: format!("must be positive, got {t}"),
                });
            }
            self.timeout = Duration::try_from_secs_f64(t).map_err(|e| LimitError {
                field: "timeoutSeconds",
                message: format!("{t} is not a duration: {e}"),
            })?;
        }
        if let Some(n) = spec.max_metric_series {
            if n > MAX_RUN_SERIES as u64 {
                return Err(LimitError {
                    field: "maxMetricSeries",
                    message: format!(
                        "{n} is over {MAX_RUN_SERIES}, the cap on a run's metric series"
                    ),
                });
            }
            self.max_series = n as usize;
        }
        self.fuel = spec.fuel.or(self.fuel);
        self.gpu_buffers = spec.gpu_buffers.unwrap_or(self.gpu_buffers);
        self.gpu_workgroups = spec.gpu_workgroups.unwrap_or(self.gpu_workgroups);
        Ok(())
    }
}

/// The bytes `value` names, if set.
fn bytes(field: &'static str, value: &Option<String>) -> Result<Option<u64>, LimitError> {
    value
        .as_deref()
        .map(parse_bytes)
        .transpose()
        .map_err(|message| LimitError { field, message })
}
