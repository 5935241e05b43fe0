//! The sandbox every step runs in: the wasmtime engine (pooling allocator,
//! epoch interruption), per-store limits and a WASI context with no network,
//! no environment, no arguments and no files but read-only grants.
//!
//! [`Instance`] is the one door in: it takes a loaded component and a
//! step's typed [`Limits`], arms every limit on every call and turns every
//! trap into a [`Failure`]. Behind it, [`StepCtx`] is the host state of one
//! instance, and `guest` implements the WIT interfaces the guest imports,
//! one module each (types, compute, log, metrics).

pub mod bindings;
mod columns;
mod ctx;
mod failure;
mod guest;
mod instance;
mod ledger;
pub mod series;
mod spill;
pub mod stdio;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use columns::{Batch, BatchError, Column, Kept};
pub use ctx::{KernelDeadline, OutputLimit, StepCtx};
pub use failure::{Failure, StepFailure};
pub use instance::{describe, Instance, StepSetup};
pub use ledger::HostMemoryLimit;
pub use spill::{SpillError, SpillLimit, Spilled};
pub use weft_manifest::Limits;

/// Length of one epoch tick: the granularity of step deadlines.
pub const TICK: Duration = Duration::from_millis(10);

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
    max_memory_bytes: u64,
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

/// How much of a freed slot's linear memory stays resident, reset with
/// `memset` instead of returned with `madvise`: a reused slot then takes no
/// page faults for it. `weft-bench --only overheads`: instantiate +
/// configure of `scale.wasm` 18.2 µs → 7.3 µs (hostile.wasm 23.7 → 12.6);
/// 8 and 16 MiB were no faster. Memory a live instance touches is resident
/// anyway; this keeps at most this much per slot after it is freed.
const KEEP_RESIDENT: usize = 4 << 20;

/// What one component may use of the pool: a Rust step has 3 core
/// instances, 1 memory and 1 table, a componentize-py (CPython) step 14, 1
/// and 2. Every live instance may use as much at once.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

impl Sandbox {
    /// An engine whose pool holds `pool.instances` instances.
    pub fn new(pool: PoolSize) -> wasmtime::Result<Sandbox> {
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(pool.instances)
            .total_core_instances(pool.instances * CORE_INSTANCES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .total_memories(pool.instances * MEMORIES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .total_tables(pool.instances * TABLES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .total_stacks(pool.instances)
            .max_memory_size(pool.max_memory_bytes as usize)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT / 16);
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
            max_memory_bytes: pool.max_memory_bytes,
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The largest linear memory an instance may have (the largest
    /// `limits.memory` of any step).
    pub fn max_memory_bytes(&self) -> u64 {
        self.max_memory_bytes
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
