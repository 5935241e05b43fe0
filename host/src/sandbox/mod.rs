//! The sandbox every step runs in: the wasmtime engine (pooling allocator,
//! epoch interruption), per-store limits and a WASI context with no network,
//! no environment, no arguments and no files but read-only grants.

pub(crate) mod bindings;
mod columns;
mod ledger;
mod resources;
pub mod stdio;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, StoreLimits,
    StoreLimitsBuilder,
};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use weft_gpu::Shared;

pub mod series;

pub use columns::{Batch, BatchError, Column, Kept};
pub use ledger::HostMemoryLimit;

use bindings::weft::step::log::Level;
use series::{StepSeries, DEFAULT_STEP_SERIES};
use stdio::{Bucket, LogPipe};

/// Length of one epoch tick: the granularity of step deadlines.
pub const TICK: Duration = Duration::from_millis(10);

/// Resource handles one step may hold at once.
const MAX_HANDLES: usize = 1 << 20;

/// What the host allows one step.
#[derive(Debug, Clone)]
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
    /// Caps on the step's custom GPU kernels.
    pub gpu: weft_gpu::Limits,
    /// Distinct metric series the step keeps over a run.
    pub max_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            timeout: Duration::from_secs(60),
            fuel: None,
            output_bytes: 1 << 30,
            host_bytes: 2 * (512 << 20),
            gpu: weft_gpu::Limits::default(),
            max_series: DEFAULT_STEP_SERIES,
        }
    }
}

/// A host directory a step may read, and where the step sees it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Directory on the host.
    pub host: PathBuf,
    /// Path inside the sandbox.
    pub guest: String,
}

/// The shared engine: compilation settings and the instance pool.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    linker: Arc<Linker<StepCtx>>,
    _ticker: Arc<Ticker>,
}

/// Sizing of the instance pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Instances alive at once (all steps, all workers).
    pub instances: u32,
    /// Largest linear memory of any step.
    pub max_memory_bytes: u64,
    /// Whether any step meters fuel.
    pub fuel: bool,
}

impl Sandbox {
    /// An engine whose pool holds `pool.instances` instances.
    pub fn new(pool: PoolSize) -> wasmtime::Result<Sandbox> {
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(pool.instances)
            .total_core_instances(pool.instances * 4)
            .max_core_instances_per_component(16)
            .total_memories(pool.instances * 2)
            .max_memories_per_component(2)
            .total_tables(pool.instances * 4)
            .max_tables_per_component(4)
            .total_stacks(pool.instances)
            .max_memory_size(pool.max_memory_bytes as usize);
        let mut config = Config::new();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
            .epoch_interruption(true)
            .consume_fuel(pool.fuel)
            .max_wasm_stack(1 << 20)
            .wasm_simd(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        bindings::Plugin::add_to_linker::<StepCtx, HasSelf<StepCtx>>(&mut linker, |c| c)?;
        let ticker = Ticker::start(engine.clone());
        Ok(Sandbox {
            engine,
            linker: Arc::new(linker),
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with WASI and the weft host interfaces.
    pub fn linker(&self) -> &Linker<StepCtx> {
        &self.linker
    }
}

/// Advances the engine's epoch every [`TICK`] so deadlines fire.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine) -> Arc<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch thread");
        Arc::new(Ticker { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The host state of one step instance (the wasmtime store's data).
pub struct StepCtx {
    pub(crate) table: ResourceTable,
    wasi: WasiCtx,
    limits: StoreLimits,
    step: Arc<str>,
    stdout: LogPipe,
    stderr: LogPipe,
    /// Rate of the step's own log records.
    records: Bucket,
    /// Where the metrics it emits go, capped.
    series: Arc<StepSeries>,
    pub(crate) created_bytes: u64,
    output_bytes: u64,
    /// Host memory the step holds.
    pub(crate) held: ledger::Ledger,
    timeout: Duration,
    /// When the current call's time is up; kernels check it as they go.
    deadline: Instant,
    pub(crate) compute: Arc<Shared>,
    pub(crate) gpu_limits: weft_gpu::Limits,
    /// Devices the step's kernels ran on since the last call.
    pub(crate) devices: BTreeSet<String>,
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
            timeout: limits.timeout,
            deadline: Instant::now() + limits.timeout,
            compute,
            gpu_limits: limits.gpu,
            devices: BTreeSet::new(),
        })
    }

    /// The store limiter (memory cap).
    pub fn limiter(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }

    /// Whether `bytes` more of columns fit the call's output budget and the
    /// step's host memory; asked before allocating them.
    pub(crate) fn reserve(&self, bytes: u64) -> wasmtime::Result<()> {
        if self.created_bytes.saturating_add(bytes) > self.output_bytes {
            return Err(wasmtime::Error::new(OutputLimit {
                limit: self.output_bytes,
            }));
        }
        Ok(self.held.check(bytes)?)
    }

    /// Whether the step's host memory has room for `bytes` of working space
    /// a kernel holds only while it runs (a sorted copy, a hash of values).
    pub(crate) fn working_space(&self, bytes: u64) -> wasmtime::Result<()> {
        Ok(self.held.check(bytes)?)
    }

    /// Charge `column`, just made for the step, to the call's output budget
    /// and the step's host memory; trap past either.
    pub(crate) fn charge(&mut self, column: &Column) -> wasmtime::Result<()> {
        let bytes = column.memory_size() as u64;
        self.reserve(bytes)?;
        self.created_bytes += bytes;
        Ok(self.held.charge(column, bytes)?)
    }

    /// Whether the current call has run past its deadline.
    pub(crate) fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Most bytes of host memory the step held at once.
    pub fn peak_host_bytes(&self) -> u64 {
        self.held.peak()
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

impl bindings::weft::step::log::Host for StepCtx {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.records.admit() {
            return Ok(());
        }
        let step = &*self.step;
        let message = stdio::sanitise(&message, stdio::MAX_LINE);
        match level {
            Level::Trace => tracing::trace!(step, "{message}"),
            Level::Debug => tracing::debug!(step, "{message}"),
            Level::Info => tracing::info!(step, "{message}"),
            Level::Warn => tracing::warn!(step, "{message}"),
            Level::Error => tracing::error!(step, "{message}"),
        }
        Ok(())
    }
}

impl bindings::weft::step::metrics::Host for StepCtx {
    fn emit(
        &mut self,
        name: String,
        value: f64,
        labels: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.series.record(name, labels, value);
        Ok(())
    }
}
