//! Peak memory of the real `weft run` on a two-step pipeline (scale
//! standard, then the no-op step) over Parquet inputs of two sizes: memory
//! should not grow with the number of rows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::ctx::{self, count, secs, Ctx};
use crate::data;
use crate::table::Row;

/// Largest acceptable growth of peak RSS from the small to the large input.
const FLAT: f64 = 1.2;

/// What one run of the child used.
struct Usage {
    peak_bytes: u64,
    wall: Duration,
}

/// The manifest of the two-step pipeline over `input`, writing to `output`.
fn manifest(ctx: &Ctx, input: &Path, output: &Path) -> String {
    let columns = data::names(8).join(", ");
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: bench-rss }}\nspec:\n  plugins:\n    scale: {{ path: {} }}\n    noop: {{ path: {} }}\n  input: {{ path: {} }}\n  output: {{ path: {}/ }}\n  steps:\n    - {{ name: scale, plugin: scale, config: {{ columns: [{columns}], method: standard }} }}\n    - {{ name: noop, plugin: noop, needs: [scale], config: {{ attack: none }} }}\n",
        ctx.wasm("scale.wasm").display(),
        ctx.wasm("hostile.wasm").display(),
        input.display(),
        output.display(),
    )
}

/// Write the input and manifest for `rows` rows; the manifest's path and
/// the run's output folder.
fn prepare(ctx: &Ctx, rows: usize) -> Result<(PathBuf, PathBuf)> {
    let input = ctx.data_dir.join(format!("rows-{}.parquet", count(rows)));
    data::ensure_parquet(&input, rows, ctx::BATCH_ROWS)?;
    let path = ctx.data_dir.join(format!("rss-{}.yaml", count(rows)));
    let output = ctx.data_dir.join(format!("out-{}", count(rows)));
    std::fs::write(&path, manifest(ctx, &input, &output))?;
    Ok((path, output))
}

/// Run `weft run MANIFEST --workers 2 -q` and read the peak RSS it
/// reports. (The child's own `VmHWM`: `wait4`'s `ru_maxrss` would count the
/// benchmark's memory, which a spawned child inherits until `exec`.)
fn weft_run(ctx: &Ctx, manifest: &Path, output: &Path) -> Result<Usage> {
    let weft = ctx.root.join("target/release/weft");
    let start = Instant::now();
    let out = Command::new(&weft)
        .args(["run", "--workers", "2", "-q"])
        .arg(manifest)
        .env("WEFT_CACHE_DIR", ctx.data_dir.join("aot"))
        .output()
        .with_context(|| format!("starting {}; run ./bench/run.sh", weft.display()))?;
    let wall = start.elapsed();
    if !out.status.success() {
        bail!(
            "weft run {} failed ({}): {}",
            manifest.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(output.join("report.json"))?)?;
    let peak_bytes = report["peakRssBytes"]
        .as_u64()
        .context("report.json has no peakRssBytes (not Linux?)")?;
    Ok(Usage { peak_bytes, wall })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Peak RSS of `weft run` at both sizes, after one unmeasured run that
/// fills the compile cache.
pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let [small, large] = ctx.sizes.rss_rows;
    let (small_run, large_run) = (prepare(ctx, small)?, prepare(ctx, large)?);
    weft_run(ctx, &small_run.0, &small_run.1)?;
    let a = weft_run(ctx, &small_run.0, &small_run.1)?;
    let b = weft_run(ctx, &large_run.0, &large_run.1)?;
    let growth = b.peak_bytes as f64 / a.peak_bytes as f64;
    let what = |rows: usize| {
        format!(
            "peak RSS of `weft run --workers 2` (scale → no-op), {} rows × 8 f32 Parquet",
            count(rows)
        )
    };
    let result = |u: &Usage| format!("{:.0} MiB (run took {})", mib(u.peak_bytes), secs(u.wall));
    Ok(vec![
        Row::new(what(small), result(&a)),
        Row::new(what(large), result(&b))
            .relative(format!("{growth:.2}× the {} run", count(small)))
            .target(format!("flat in rows (≤ {FLAT}×)"), growth <= FLAT),
    ])
}
