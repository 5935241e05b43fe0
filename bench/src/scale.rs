//! `scale` standard (StandardScaler, ddof 0) over an 8-column f32 table,
//! fit then transform in batches, four ways: the reference plugin (host
//! kernels), the guest-loop plugin (guest code), the same loops in native
//! Rust, and the host kernels called directly; beside them scikit-learn.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use arrow::array::{ArrayRef, AsArray, Float32Array};
use arrow::datatypes::Float32Type;
use arrow::record_batch::RecordBatch;
use serde_json::json;

use crate::ctx::{self, count, secs, Ctx};
use crate::data;
use crate::math::{self, Moments};
use crate::table::Row;

/// Columns of the table.
const COLUMNS: usize = 8;

/// Transformed batches are dropped as they come, like a streaming run; the
/// first is kept so the ways can be checked against each other.
type First = RecordBatch;

/// Fit then transform `batches` through a plugin, as `weft run` does: one
/// instance fits, its state configures the instance that transforms.
fn plugin_way(
    plugin: &Arc<weft_engine::plugin::Plugin>,
    config: serde_json::Value,
    batches: &[RecordBatch],
) -> Result<First> {
    let setup = ctx::setup("scale", config);
    let mut fitter = ctx::instance(plugin, &setup, None)?;
    for b in batches {
        fitter.fit(b.clone().into())?;
    }
    let mut scaler = ctx::instance(plugin, &setup, Some(fitter.state()?))?;
    let mut first = None;
    for b in batches {
        let out = scaler.transform(b.clone().into())?;
        first.get_or_insert(out);
    }
    Ok(first.context("no batches")?.to_record()?)
}

fn f32s(column: &ArrayRef) -> &[f32] {
    column.as_primitive::<Float32Type>().values()
}

/// The same loops as the guest-loop plugin, compiled natively.
fn native_way(batches: &[RecordBatch]) -> Result<First> {
    let mut moments = [Moments::default(); COLUMNS];
    for b in batches {
        for (m, c) in moments.iter_mut().zip(b.columns()) {
            *m = m.merge(Moments::of(f32s(c)));
        }
    }
    transform_all(batches, |j, c| {
        let m = moments[j];
        Arc::new(Float32Array::from(math::standardize(
            f32s(c),
            m.mean,
            m.scale(),
        )))
    })
}

/// weft's host kernels (`column-stats`, `affine`) called directly: what the
/// reference plugin asks for, without the sandbox.
fn kernels_way(batches: &[RecordBatch]) -> Result<First> {
    let mut stats = [weft_kernels::Stats::default(); COLUMNS];
    for b in batches {
        for (s, c) in stats.iter_mut().zip(b.columns()) {
            *s = s.merge(&weft_kernels::column_stats(&[c.as_ref()])?);
        }
    }
    transform_all(batches, |j, c| {
        let std = stats[j].variance().sqrt();
        weft_kernels::affine(c.as_ref(), stats[j].mean, 1.0 / std).expect("f32 column")
    })
}

/// Apply `f(column index, column)` to every column of every batch.
fn transform_all(
    batches: &[RecordBatch],
    f: impl Fn(usize, &ArrayRef) -> ArrayRef,
) -> Result<First> {
    let mut first = None;
    for b in batches {
        let columns = b
            .columns()
            .iter()
            .enumerate()
            .map(|(j, c)| f(j, c))
            .collect();
        let out = RecordBatch::try_new(b.schema(), columns)?;
        first.get_or_insert(out);
    }
    first.context("no batches")
}

/// Largest difference between two transformed batches.
fn max_diff(a: &RecordBatch, b: &RecordBatch) -> f32 {
    a.columns()
        .iter()
        .zip(b.columns())
        .flat_map(|(x, y)| f32s(x).iter().zip(f32s(y)).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// Median seconds of `reps` runs of `way`, checked against `reference`.
fn measure(
    reps: usize,
    reference: Option<&RecordBatch>,
    mut way: impl FnMut() -> Result<First>,
) -> Result<(Duration, First)> {
    let mut kept = None;
    let took = ctx::median_of(reps, || {
        let (took, first) = ctx::timed(&mut way)?;
        kept = Some(first);
        Ok(took)
    })?;
    let first = kept.expect("at least one run");
    if let Some(r) = reference {
        let diff = max_diff(r, &first);
        ensure!(diff < 1e-4, "result differs from native Rust by {diff}");
    }
    Ok((took, first))
}

/// The Python that has scikit-learn: the repository's `.venv`, else `python3`.
fn python(root: &Path) -> PathBuf {
    let venv = root.join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

const SKLEARN: &str = r#"
import sys, time
try:
    import numpy as np
    from sklearn.preprocessing import StandardScaler
except ImportError:
    print("n/a"); sys.exit(0)
X = np.load(sys.argv[1]); times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); StandardScaler().fit_transform(X); times.append(time.perf_counter() - start)
print(sorted(times)[len(times) // 2])
"#;

/// Median seconds of scikit-learn's `fit_transform` on the same table, or
/// `None` when scikit-learn is not installed.
fn sklearn(ctx: &Ctx, batches: &[RecordBatch]) -> Result<Option<Duration>> {
    let npy = ctx
        .data_dir
        .join(format!("x-{}x{COLUMNS}.npy", count(ctx.sizes.scale_rows)));
    data::ensure_npy(&npy, batches)?;
    let out = match Command::new(python(&ctx.root))
        .arg("-c")
        .arg(SKLEARN)
        .arg(&npy)
        .arg(ctx.sizes.reps.to_string())
        .output()
    {
        Ok(out) => out,
        Err(_) => return Ok(None),
    };
    if !out.status.success() {
        bail!(
            "scikit-learn timing failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if text == "n/a" {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs_f64(
        text.parse()
            .with_context(|| format!("python printed {text:?}"))?,
    )))
}

/// Median times of each way over the whole table.
struct Timings {
    rows: usize,
    native: Duration,
    kernels: Duration,
    /// The reference plugin may not be built yet.
    reference: Result<Duration>,
    looped: Duration,
    learn: Option<Duration>,
}

/// The scaling rows of the table.
pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let rows = ctx.sizes.scale_rows;
    let batches: Vec<RecordBatch> = data::f32_batches(rows, ctx::BATCH_ROWS, COLUMNS).collect();
    let names = data::names(COLUMNS);
    let reps = ctx.sizes.reps;
    let (native, expected) = measure(reps, None, || native_way(&batches))?;
    let check = Some(&expected);
    let (kernels, _) = measure(reps, check, || kernels_way(&batches))?;
    let reference = ctx.plugin("scale.wasm").and_then(|scale| {
        let config = json!({"columns": names, "method": "standard"});
        measure(reps, check, || plugin_way(&scale, config.clone(), &batches)).map(|t| t.0)
    });
    let guest = ctx.plugin("guest_loop.wasm")?;
    let config = json!({"mode": "scale", "columns": names});
    let (looped, _) = measure(reps, check, || plugin_way(&guest, config.clone(), &batches))?;
    let learn = sklearn(ctx, &batches)?;
    Ok(Timings {
        rows,
        native,
        kernels,
        reference,
        looped,
        learn,
    }
    .rows())
}

impl Timings {
    fn ratio(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.native.as_secs_f64()
    }

    fn row(&self, way: &str, d: Duration) -> Row {
        let what = format!(
            "`scale` standard, {} rows × {COLUMNS} f32, fit + transform",
            count(self.rows)
        );
        Row::new(format!("{what}: {way}"), secs(d))
            .relative(format!("{:.2}× native", self.ratio(d)))
    }

    fn rows(&self) -> Vec<Row> {
        let reference = "reference plugin `scale.wasm` (host kernels)";
        let mut out = vec![self.row(
            "native Rust (guest-loop's loops, compiled natively)",
            self.native,
        )];
        out.push(match &self.reference {
            Ok(r) => self
                .row(reference, *r)
                .target("≤ 1.3× native", self.ratio(*r) <= 1.3),
            Err(e) => Row::failed(reference, e),
        });
        out.push(self.row("guest-loop plugin (guest loops, simd128)", self.looped));
        out.push(self.row(
            "host kernels called directly, no sandbox (diagnostic)",
            self.kernels,
        ));
        let sklearn = "scikit-learn `StandardScaler().fit_transform(X)`";
        out.push(match (self.learn, &self.reference) {
            (None, _) => Row::new(sklearn, "n/a").relative("scikit-learn is not installed"),
            (Some(l), Err(_)) => self.row(sklearn, l),
            (Some(l), Ok(r)) => {
                let speedup = l.as_secs_f64() / r.as_secs_f64();
                let row = self.row(sklearn, l);
                let relative = format!("{}; reference {speedup:.1}× faster", row.relative);
                row.relative(relative)
                    .target("reference ≥ 2× faster", speedup >= 2.0)
            }
        });
        out
    }
}
