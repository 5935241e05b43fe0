//! One compiler's engine: its settings, its instance pool, its linker and
//! the thread that advances its epoch. Cranelift makes the fastest code;
//! Winch, a baseline compiler, compiles a large component (a Python step's
//! interpreter) in a fraction of the time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy};

use super::{bindings, PoolSize, StepCtx, TICK};

/// Which compiler turns a component into machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiler {
    /// Cranelift, optimizing: the fastest code.
    Cranelift,
    /// Winch, single-pass: several times faster to compile, slower code.
    Winch,
}

/// Components at least this large compile with Winch under
/// [`CompilerChoice::Auto`]: a componentize-py (CPython) step is about
/// 19 MB, a Rust step well under 2 MB.
pub const BASELINE_FROM: usize = 8 << 20;

impl Compiler {
    /// Winch for a component of at least [`BASELINE_FROM`] bytes, whose
    /// Cranelift compile takes seconds, else Cranelift.
    pub fn for_component(bytes: &[u8]) -> Compiler {
        if bytes.len() >= BASELINE_FROM {
            Compiler::Winch
        } else {
            Compiler::Cranelift
        }
    }

    /// The name in settings and file names: `cranelift` or `winch`.
    pub fn name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Winch => "winch",
        }
    }
}

/// How a sandbox picks the compiler of each component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompilerChoice {
    /// By size ([`Compiler::for_component`]).
    #[default]
    Auto,
    /// Always this one.
    Only(Compiler),
}

impl std::str::FromStr for CompilerChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<CompilerChoice, String> {
        match s {
            "auto" => Ok(CompilerChoice::Auto),
            "cranelift" => Ok(CompilerChoice::Only(Compiler::Cranelift)),
            "winch" => Ok(CompilerChoice::Only(Compiler::Winch)),
            other => Err(format!(
                "unknown compiler {other:?}: expected auto, cranelift or winch"
            )),
        }
    }
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

/// An engine with its pool, linker and epoch ticker.
#[derive(Clone)]
pub struct Tier {
    engine: Engine,
    linker: Arc<Linker<StepCtx>>,
    compiler: Compiler,
    _ticker: Arc<Ticker>,
}

impl Tier {
    /// An engine compiling with `compiler` whose pool holds
    /// `pool.instances` instances.
    pub fn new(pool: PoolSize, compiler: Compiler) -> wasmtime::Result<Tier> {
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
            .strategy(match compiler {
                Compiler::Cranelift => Strategy::Cranelift,
                Compiler::Winch => Strategy::Winch,
            })
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
        Ok(Tier {
            engine,
            linker: Arc::new(linker),
            compiler,
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

    /// The compiler of this engine.
    pub fn compiler(&self) -> Compiler {
        self.compiler
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_components_compile_with_winch() {
        assert_eq!(Compiler::for_component(&[0; 1024]), Compiler::Cranelift);
        assert_eq!(
            Compiler::for_component(&vec![0; BASELINE_FROM]),
            Compiler::Winch
        );
        assert_eq!("winch".parse(), Ok(CompilerChoice::Only(Compiler::Winch)));
        assert_eq!("auto".parse(), Ok(CompilerChoice::Auto));
        let err = "llvm".parse::<CompilerChoice>().unwrap_err();
        assert!(err.contains("auto, cranelift or winch"), "{err}");
    }
}
