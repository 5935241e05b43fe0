//! What every benchmark needs: paths, sizes, the sandbox with loaded
//! plugins, and timing helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use weft_engine::exec::{Instance, StepSetup};
use weft_engine::plugin::{Cache, Plugin};
use weft_engine::sandbox::{CompilerChoice, Limits, PoolSize, Sandbox};

/// How much work each benchmark does.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Rows of the 8-column scaling benchmark.
    pub scale_rows: usize,
    /// Repetitions of each whole-dataset run (the median is reported).
    pub reps: usize,
    /// Iterations of `Instance::new`.
    pub instantiations: usize,
    /// Iterations of the 1-row transform.
    pub hops: usize,
    /// Iterations per step on the 50-column batch.
    pub wide_iterations: usize,
    /// Rows of the two `weft run` inputs whose peak RSS is compared.
    pub rss_rows: [usize; 2],
}

impl Sizes {
    /// The sizes BENCHMARKS.md reports.
    pub fn full() -> Sizes {
        Sizes {
            scale_rows: 10_000_000,
            reps: 3,
            instantiations: 2_000,
            hops: 20_000,
            wide_iterations: 60,
            rss_rows: [1_000_000, 10_000_000],
        }
    }

    /// Small sizes, to check that everything runs.
    pub fn quick() -> Sizes {
        Sizes {
            scale_rows: 1_000_000,
            reps: 1,
            instantiations: 200,
            hops: 2_000,
            wide_iterations: 5,
            rss_rows: [100_000, 1_000_000],
        }
    }
}

/// Rows per batch, as `weft run`'s default.
pub const BATCH_ROWS: usize = 65_536;

/// The shared state of a benchmark run.
pub struct Ctx {
    /// The repository root.
    pub root: PathBuf,
    /// Where generated data and the compile cache live (`target/bench-data`).
    pub data_dir: PathBuf,
    /// How much work to do.
    pub sizes: Sizes,
    sandbox: Sandbox,
    cache: Cache,
}

impl Ctx {
    /// A context rooted at `root`, with a sandbox for a handful of instances.
    pub fn new(root: &Path, sizes: Sizes) -> Result<Ctx> {
        let data_dir = root.join("target").join("bench-data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let pool = PoolSize {
            instances: 16,
            max_memory_bytes: Limits::default().memory_bytes,
            fuel: false,
        };
        let sandbox = Sandbox::new(pool).map_err(|e| anyhow!("sandbox: {e:#}"))?;
        let cache = Cache::new(Some(data_dir.join("aot")));
        Ok(Ctx {
            root: root.to_owned(),
            data_dir,
            sizes,
            sandbox,
            cache,
        })
    }

    /// The built component `target/wasm32-wasip2/release/{file}`.
    pub fn wasm(&self, file: &str) -> PathBuf {
        self.root.join("target/wasm32-wasip2/release").join(file)
    }

    /// Load the built component `file` (e.g. `scale.wasm`).
    pub fn plugin(&self, file: &str) -> Result<Arc<Plugin>> {
        let path = self.wasm(file);
        if !path.exists() {
            bail!("{file} is not built (./bench/run.sh builds it)");
        }
        self.plugin_at(&path)
    }

    /// Load the component at `path`.
    pub fn plugin_at(&self, path: &Path) -> Result<Arc<Plugin>> {
        self.compile(path, CompilerChoice::Auto, &self.cache)
    }

    /// Load the component at `path` compiled as `choice` says, through
    /// `cache` (`Cache::new(None)` compiles it).
    pub fn compile(
        &self,
        path: &Path,
        choice: CompilerChoice,
        cache: &Cache,
    ) -> Result<Arc<Plugin>> {
        if !path.exists() {
            bail!("{} is not built", path.display());
        }
        let sandbox = self.sandbox.clone().with_compiler(choice);
        Ok(Arc::new(Plugin::load(&sandbox, cache, path, None)?))
    }
}

/// The setup of a step named `name` with `config` and default limits.
pub fn setup(name: &str, config: serde_json::Value) -> Arc<StepSetup> {
    Arc::new(StepSetup {
        name: name.to_owned(),
        config: config.to_string(),
        limits: Limits::default(),
        grants: Vec::new(),
        compute: Arc::new(weft_gpu::Shared::new(weft_gpu::Choice::Cpu)),
    })
}

/// A configured instance of `plugin`, with `state` loaded when given.
pub fn instance(
    plugin: &Arc<Plugin>,
    setup: &Arc<StepSetup>,
    state: Option<Vec<u8>>,
) -> Result<Instance> {
    Ok(Instance::new(
        plugin.pre().clone(),
        setup.clone(),
        state.map(Arc::new),
    )?)
}

/// The median of `samples`.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    assert!(!samples.is_empty(), "median of no samples");
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The median of `n` runs of `f`, each of which times itself.
pub fn median_of(n: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let samples = (0..n).map(|_| f()).collect::<Result<Vec<_>>>()?;
    Ok(median(samples))
}

/// How long `f` takes, and what it returned.
pub fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(Duration, T)> {
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed(), value))
}

/// `1000000` as `1M`, `100000` as `100k`.
pub fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// A duration in microseconds with one decimal.
pub fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// A duration in milliseconds with two decimals.
pub fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A duration in seconds with three decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_picks_the_middle() {
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(median(vec![ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(vec![ms(9)]), ms(9));
    }

    #[test]
    fn counts_read_like_people_write_them() {
        assert_eq!(count(10_000_000), "10M");
        assert_eq!(count(100_000), "100k");
        assert_eq!(count(65_536), "65536");
    }
}
