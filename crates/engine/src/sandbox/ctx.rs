//! [`StepCtx`], the host state of one step instance (the wasmtime store's
//! data): its WASI context, resource table, budgets and deadline.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use weft_gpu::Shared;

use super::columns::Column;
use super::ledger;
use super::series::StepSeries;
use super::spill::SpillFile;
use super::stdio::{Bucket, LogPipe};
use super::{Grant, Limits};

/// Resource handles one step may hold at once.
const MAX_HANDLES: usize = 1 << 20;

/// The host state of one step instance (the wasmtime store's data).
pub struct StepCtx {
    pub(super) table: ResourceTable,
    wasi: WasiCtx,
    limits: StoreLimits,
    pub(super) step: Arc<str>,
    stdout: LogPipe,
    stderr: LogPipe,
    /// Rate of the step's own log records.
    pub(super) records: Bucket,
    /// Where the metrics it emits go, capped.
    pub(super) series: Arc<StepSeries>,
    pub(super) created_bytes: u64,
    output_bytes: u64,
    /// Host memory the step holds.
    pub(super) held: ledger::Ledger,
    /// Handles of the columns and batches the step holds (table indices).
    pub(super) column_handles: BTreeSet<u32>,
    pub(super) batch_handles: BTreeSet<u32>,
    /// Where kept columns go past a quarter of the host memory.
    pub(super) spill: SpillFile,
    timeout: Duration,
    /// When the current call's time is up; kernels check it as they go.
    deadline: Instant,
    pub(super) compute: Arc<Shared>,
    pub(super) gpu_limits: weft_gpu::Limits,
    /// Devices the step's kernels ran on since the last call.
    pub(super) devices: BTreeSet<String>,
    /// The folders the step may read, and where it sees them.
    pub(super) grants: Vec<Grant>,
}

/// A step went past one of its limits.
#[derive(Debug, thiserror::Error)]
#[error("step created more than {limit} bytes of columns in one call (limits.maxOutput)")]
pub struct OutputLimit {
    /// The limit in bytes.
    pub limit: u64,
}

/// A kernel ran into the step's deadline (`limits.timeoutSeconds`), which
/// bounds each kernel (a GPU dispatch, a block of CPU work) as it bounds
/// the step.
#[derive(Debug, thiserror::Error)]
#[error("a kernel ran into the step's deadline")]
pub struct KernelDeadline;

impl StepCtx {
    /// Fresh host state for step `step` with `limits`, read-only `grants`,
    /// the process's `compute` device and the table its metrics go to.
    pub fn new(
        step: &str,
        limits: &Limits,
        grants: &[Grant],
        compute: Arc<Shared>,
        series: Arc<StepSeries>,
    ) -> wasmtime::Result<StepCtx> {
        let step: Arc<str> = step.into();
        let (stdout, stderr) = (
            LogPipe::new(step.clone(), "stdout"),
            LogPipe::new(step.clone(), "stderr"),
        );
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        for g in grants {
            wasi.preopened_dir(&g.host, &g.guest, FsPerms::ReadOnly)?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HANDLES);
        Ok(StepCtx {
            table,
            wasi: wasi.build(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes as usize)
                .instances(32)
                .trap_on_grow_failure(true)
                .build(),
            step,
            stdout,
            stderr,
            records: Bucket::default(),
            series,
            created_bytes: 0,
            output_bytes: limits.output_bytes,
            held: ledger::Ledger::new(limits.host_bytes),
            column_handles: BTreeSet::new(),
            batch_handles: BTreeSet::new(),
            spill: SpillFile::new(limits.spill_bytes),
            timeout: limits.timeout,
            deadline: Instant::now() + limits.timeout,
            compute,
            gpu_limits: weft_gpu::Limits {
                max_buffers: limits.gpu_buffers,
                max_total_bytes: limits.gpu_bytes,
                max_workgroups: limits.gpu_workgroups,
                timeout: Some(limits.timeout),
            },
            devices: BTreeSet::new(),
            grants: grants.to_vec(),
        })
    }

    /// The store limiter (memory cap).
    pub fn limiter(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    /// Whether `bytes` more of columns fit the call's output budget and the
    /// step's host memory; asked before allocating them.
    pub(super) fn reserve(&self, bytes: u64) -> wasmtime::Result<()> {
        if self.created_bytes.saturating_add(bytes) > self.output_bytes {
            return Err(wasmtime::Error::new(OutputLimit {
                limit: self.output_bytes,
            }));
        }
        Ok(self.held.check(bytes)?)
    }

    /// Whether the step's host memory has room for `bytes` of working space
    /// a kernel holds only while it runs (a sorted copy, a hash of values).
    pub(super) fn working_space(&self, bytes: u64) -> wasmtime::Result<()> {
        Ok(self.held.check(bytes)?)
    }

    /// Charge `column`, just made for the step, to the call's output budget
    /// and the step's host memory; trap past either.
    pub(super) fn charge(&mut self, column: &Column) -> wasmtime::Result<()> {
        let bytes = column.memory_size() as u64;
        self.reserve(bytes)?;
        self.created_bytes += bytes;
        Ok(self.held.charge(column, bytes)?)
    }

    /// When the current call's time is up.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the current call has run past its deadline.
    pub(super) fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Most bytes of host memory the step held at once.
    pub fn peak_host_bytes(&self) -> u64 {
        self.held.peak()
    }

    /// Bytes of columns the step moved to its spill file.
    pub fn spilled_bytes(&self) -> u64 {
        self.spill.written()
    }

    /// End of a call: log what the guest left unfinished on stdout and
    /// stderr, and what the rate limits dropped.
    pub fn flush_stdio(&mut self) {
        self.stdout.end_call();
        self.stderr.end_call();
        let dropped = self.records.refused();
        if dropped > 0 {
            tracing::warn!(step = %self.step, "{dropped} log records dropped: over the rate limit");
        }
    }

    /// The last few lines the guest wrote to stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        self.stderr.tail()
    }

    /// Start a new call: reset per-call budgets and the deadline.
    pub fn begin_call(&mut self) {
        self.created_bytes = 0;
        self.deadline = Instant::now() + self.timeout;
    }
}

impl WasiView for StepCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
