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

mod tier;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use columns::{Batch, BatchError, Column, Kept};
pub use ctx::{KernelDeadline, OutputLimit, StepCtx};
pub use failure::{Failure, StepFailure};
pub use guest::ModelHandle;
pub use instance::{describe, Instance, StepSetup};
pub use ledger::HostMemoryLimit;
pub use spill::{SpillError, SpillLimit, Spilled};
pub use tier::{Compiler, CompilerChoice, Tier};
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

/// The shared engines: compilation settings and the instance pools, one
/// [`Tier`] per [`Compiler`], the baseline one made when first needed.
#[derive(Clone)]
pub struct Sandbox {
    optimizing: Tier,
    baseline: Arc<OnceLock<Option<Tier>>>,
    pool: PoolSize,
    choice: CompilerChoice,
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
    /// Engines whose pools hold `pool.instances` instances each; components
    /// compile as [`CompilerChoice::Auto`] picks.
    pub fn new(pool: PoolSize) -> wasmtime::Result<Sandbox> {
        Ok(Sandbox {
            optimizing: Tier::new(pool, Compiler::Cranelift)?,
            baseline: Arc::default(),
            pool,
            choice: CompilerChoice::Auto,
        })
    }

    /// This sandbox with components compiled as `choice` says.
    pub fn with_compiler(mut self, choice: CompilerChoice) -> Sandbox {
        self.choice = choice;
        self
    }

    /// The engine and linker that compile and run a component of `bytes`.
    /// Under `Auto` a large component (see [`Compiler::for_component`])
    /// gets Winch's, unless Cranelift's code for it is already compiled
    /// (`optimized_cached`: `weft build` and `--compiler cranelift` leave
    /// it in the compile cache); Cranelift's where Winch cannot run (a CPU
    /// without AVX).
    pub fn tier_for(&self, bytes: &[u8], optimized_cached: bool) -> Tier {
        let compiler = match self.choice {
            CompilerChoice::Auto if optimized_cached => Compiler::Cranelift,
            CompilerChoice::Auto => Compiler::for_component(bytes),
            CompilerChoice::Only(compiler) => compiler,
        };
        match compiler {
            Compiler::Cranelift => self.optimizing.clone(),
            Compiler::Winch => self.baseline().unwrap_or(&self.optimizing).clone(),
        }
    }

    /// The optimizing (Cranelift) engine and linker.
    pub fn optimizing(&self) -> &Tier {
        &self.optimizing
    }

    /// Winch's engine, made on first use; where it cannot be made (a CPU
    /// without AVX), that is said once and Cranelift's serves.
    fn baseline(&self) -> Option<&Tier> {
        let made = self.baseline.get_or_init(|| {
            Tier::new(self.pool, Compiler::Winch)
                .inspect_err(|e| {
                    tracing::warn!(
                        "the Winch compiler is unavailable ({e:#}); compiling with Cranelift"
                    );
                })
                .ok()
        });
        made.as_ref()
    }

    /// The largest linear memory an instance may have (the largest
    /// `limits.memory` of any step).
    pub fn max_memory_bytes(&self) -> u64 {
        self.pool.max_memory_bytes
    }
}
