//! The run report (`report.json`), fitted-state files and their index.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{OutputPaths, Prepared, RunError, StepPlan};
use crate::data::{self, DataError};
use crate::plugin::sha256_hex;
use crate::sandbox::series::StepSeries;
use crate::sandbox::Instance;
use weft_record::{GpuTransfers, RunReport, StateFile, StepReport};

/// Counters one step accumulates over a run.
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    /// Rows given to transform.
    pub rows_in: u64,
    /// Rows it returned.
    pub rows_out: u64,
    /// Rows given to fit.
    pub fit_rows: u64,
    /// Batches transformed.
    pub batches: u64,
    /// Time inside the step's calls, summed over workers.
    pub busy: Duration,
    /// Devices the step's kernels ran on.
    pub devices: BTreeSet<String>,
    /// Most bytes of host columns one worker's instance held at once.
    pub peak_host_bytes: u64,
    /// Most bytes of columns one worker's instance moved to disk.
    pub spilled_bytes: u64,
}

impl StepStats {
    /// Take from `instance` the devices its kernels ran on, the most host
    /// memory it held and the most it spilled.
    pub fn drain(&mut self, instance: &mut Instance) {
        self.devices.append(&mut instance.take_devices());
        self.peak_host_bytes = self.peak_host_bytes.max(instance.peak_host_bytes());
        self.spilled_bytes = self.spilled_bytes.max(instance.spilled_bytes());
    }

    /// Add another worker's counters.
    pub fn add(&mut self, other: StepStats) {
        self.rows_in += other.rows_in;
        self.rows_out += other.rows_out;
        self.fit_rows += other.fit_rows;
        self.batches += other.batches;
        self.busy += other.busy;
        self.devices.extend(other.devices);
        self.peak_host_bytes = self.peak_host_bytes.max(other.peak_host_bytes);
        self.spilled_bytes = self.spilled_bytes.max(other.spilled_bytes);
    }
}

/// The record's form of a device's transfer counters.
fn transfers_of(t: weft_gpu::Transfers) -> GpuTransfers {
    GpuTransfers {
        uploads: t.uploads,
        uploaded_bytes: t.uploaded_bytes,
        resident_hits: t.resident_hits,
        downloads: t.downloads,
        downloaded_bytes: t.downloaded_bytes,
    }
}

/// This process's peak resident set size, from `/proc/self/status`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(super) fn build(
    prepared: &Prepared,
    out: &OutputPaths,
    states: &[Option<Arc<Vec<u8>>>],
    stats: Vec<StepStats>,
    series: &[Arc<StepSeries>],
    rows_out: u64,
    took: Duration,
) -> RunReport {
    let mut stats: Vec<Option<StepStats>> = stats.into_iter().map(Some).collect();
    let mut warnings = Vec::new();
    let steps = prepared
        .order
        .iter()
        .map(|&i| {
            let plan = &prepared.steps[i];
            let s = stats[i].take().unwrap_or_default();
            let recorded = series[i].recorded();
            warnings.extend(recorded.warning(&plan.setup.name));
            let m = recorded.metrics;
            StepReport {
                name: plan.setup.name.clone(),
                plugin: plan.plugin_name.clone(),
                plugin_sha256: plan.plugin.digest.clone(),
                plugin_oci: plan.plugin.oci.clone(),
                plugin_version: format!("{} {}", plan.plugin.meta.name, plan.plugin.meta.version),
                mounts: plan.mounts.clone(),
                kind: plan.kind(),
                rows_in: s.rows_in,
                rows_out: s.rows_out,
                fit_rows: s.fit_rows,
                duration_seconds: s.busy.as_secs_f64(),
                state: states[i].as_ref().map(|bytes| state_file(plan, bytes)),
                gates: super::gate::check(&plan.gates, &m),
                compute: s.devices,
                peak_host_bytes: s.peak_host_bytes,
                spilled_bytes: s.spilled_bytes,
                metrics: m,
                dropped_metric_series: recorded.dropped,
            }
        })
        .collect();
    RunReport {
        pipeline: prepared.manifest.pipeline.metadata.name.clone(),
        output: out.data.display().to_string(),
        output_sha256: None,
        rows_out,
        duration_seconds: took.as_secs_f64(),
        workers: prepared.workers,
        peak_rss_bytes: peak_rss_bytes(),
        gpu_transfers: prepared
            .compute
            .opened()
            .filter(|d| d.info().kind != weft_gpu::Kind::CpuFallback)
            .map(|d| transfers_of(d.transfers())),
        steps,
        cache_key: None,
        cache_hit: false,
        warnings,
    }
}

fn state_file(plan: &StepPlan, bytes: &[u8]) -> StateFile {
    StateFile {
        path: format!("state/{}.bin", plan.setup.name),
        sha256: sha256_hex(bytes),
        bytes: bytes.len() as u64,
        plugin_sha256: plan.plugin.digest.clone(),
    }
}

/// Write `states` as `<step>.bin` files and their `index.json` into
/// `state_dir`, each atomically.
pub(super) fn write_states(
    prepared: &Prepared,
    state_dir: &Path,
    states: &[Option<Arc<Vec<u8>>>],
) -> Result<(), RunError> {
    let mut index: BTreeMap<&str, StateFile> = BTreeMap::new();
    for (plan, state) in prepared.steps.iter().zip(states) {
        if let Some(bytes) = state {
            data::write_atomic(&state_dir.join(format!("{}.bin", plan.setup.name)), bytes)?;
            super::commit::fault(&format!("state-written:{}", plan.setup.name));
            index.insert(&plan.setup.name, state_file(plan, bytes));
        }
    }
    if !index.is_empty() {
        data::write_atomic(&state_dir.join("index.json"), &to_json(&index))?;
        super::commit::fault("states-indexed");
    }
    Ok(())
}

/// The `index.json` of the state folder `dir`, by step (empty when there is
/// none).
pub(super) fn read_index(dir: &Path) -> Result<BTreeMap<String, StateFile>, RunError> {
    let path = dir.join("index.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| RunError::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(DataError::Io { path, error }.into()),
    }
}

/// Copy the fitted states in the folders `from` (earlier stages' `state/`,
/// each with its `index.json`) into `into`, checking each against its
/// digest, and add them to `into`'s index, written last: the output of a
/// pipeline run in stages then holds every state, as a whole run's does.
pub fn gather_states(from: &[PathBuf], into: &Path) -> Result<(), RunError> {
    let mut index = read_index(into)?;
    for dir in from {
        for (step, entry) in read_index(dir)? {
            let file = dir.join(format!("{step}.bin"));
            let bytes = std::fs::read(&file).map_err(|error| DataError::Io {
                path: file.clone(),
                error,
            })?;
            if sha256_hex(&bytes) != entry.sha256 {
                return Err(RunError::Invalid(format!(
                    "{}: state file does not match its digest in index.json",
                    file.display()
                )));
            }
            data::write_atomic(&into.join(format!("{step}.bin")), &bytes)?;
            index.insert(step, entry);
        }
    }
    data::write_atomic(&into.join("index.json"), &to_json(&index))?;
    Ok(())
}

/// Write states, their index and the report, each atomically, the report
/// (the record vouching for the others) last.
pub(super) fn write(
    prepared: &Prepared,
    out: &OutputPaths,
    report: &RunReport,
    states: &[Option<Arc<Vec<u8>>>],
) -> Result<(), RunError> {
    write_states(prepared, &out.dir.join("state"), states)?;
    data::write_atomic(&out.dir.join("report.json"), &to_json(report))?;
    super::commit::fault("report-written");
    Ok(())
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("reports serialize");
    bytes.push(b'\n');
    bytes
}
