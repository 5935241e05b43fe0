//! What crossing into a step costs: making an instance, one call on a tiny
//! batch, and a wide batch handled by handle or by copy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use arrow::array::{ArrayRef, Float32Array};
use arrow::record_batch::RecordBatch;
use serde_json::json;

use crate::ctx::{self, count, micros, millis, Ctx};
use crate::data;
use crate::table::Row;

/// The no-op step: the hostile test plugin, told to attack nothing.
const NOOP: &str = "hostile.wasm";

/// Target for one call on a tiny batch.
const HOP_TARGET: Duration = Duration::from_micros(5);

/// Target for making a ready instance.
const NEW_TARGET: Duration = Duration::from_micros(10);

/// Median time of `Instance::new` (instantiate from `InstancePre`, then
/// the `configure` call) of `file` configured with `config`.
fn instantiation(ctx: &Ctx, file: &str, config: serde_json::Value) -> Result<Row> {
    let plugin = ctx.plugin(file)?;
    let setup = ctx::setup("bench", config);
    let new = ctx::median_of(ctx.sizes.instantiations, || {
        let start = Instant::now();
        let instance = ctx::instance(&plugin, &setup, None)?;
        let took = start.elapsed();
        drop(instance);
        Ok(took)
    })?;
    Ok(Row::new(
        format!(
            "step instantiation: `Instance::new` of `{file}` (instantiate + configure), median of {}",
            count(ctx.sizes.instantiations)
        ),
        micros(new),
    )
    .target(format!("≤ {}", micros(NEW_TARGET)), new <= NEW_TARGET))
}

/// Instantiation of the no-op step and of the reference `scale` step, and
/// the median time of a 1-row transform of the no-op step.
pub fn hops(ctx: &Ctx) -> Result<Vec<Row>> {
    let noop = json!({"attack": "none"});
    let mut rows = vec![
        instantiation(ctx, NOOP, noop.clone())?,
        instantiation(
            ctx,
            "scale.wasm",
            json!({"columns": data::names(8), "method": "standard"}),
        )?,
    ];
    let plugin = ctx.plugin(NOOP)?;
    let mut instance = ctx::instance(&plugin, &ctx::setup("noop", noop), None)?;
    let tiny = RecordBatch::try_from_iter([(
        "x",
        Arc::new(Float32Array::from(vec![1.0f32])) as ArrayRef,
    )])?;
    let hop = ctx::median_of(ctx.sizes.hops, || {
        let input = tiny.clone();
        let start = Instant::now();
        let out = instance.transform(input.into())?;
        let took = start.elapsed();
        ensure!(out.num_rows() == 1, "the no-op step changed the batch");
        Ok(took)
    })?;
    rows.push(
        Row::new(
            format!(
                "per-batch hop: no-op `transform` of 1 row × 1 column, median of {}",
                count(ctx.sizes.hops)
            ),
            micros(hop),
        )
        .target(format!("≤ {}", micros(HOP_TARGET)), hop <= HOP_TARGET),
    );
    Ok(rows)
}

/// Median time of `transform` over `batch`, `iterations` times.
fn per_batch(
    instance: &mut weft_engine::exec::Instance,
    batch: &RecordBatch,
    iterations: usize,
) -> Result<Duration> {
    ctx::median_of(iterations, || {
        let input = batch.clone();
        let start = Instant::now();
        let out = instance.transform(input.into())?;
        let took = start.elapsed();
        ensure!(
            out.columns().len() == batch.num_columns(),
            "a step dropped columns"
        );
        drop(out);
        Ok(took)
    })
}

/// Median time of the reference `scale` plugin transforming 2 columns of
/// `batch` (fitted on it first); the other columns pass by handle.
fn touch_two(ctx: &Ctx, batch: &RecordBatch) -> Result<Duration> {
    let scale = ctx.plugin("scale.wasm")?;
    let config = ctx::setup(
        "scale",
        json!({"columns": ["c0", "c1"], "method": "standard"}),
    );
    let mut fitter = ctx::instance(&scale, &config, None)?;
    fitter.fit(batch.clone().into())?;
    let mut scaler = ctx::instance(&scale, &config, Some(fitter.state()?))?;
    per_batch(&mut scaler, batch, ctx.sizes.wide_iterations)
}

/// Median time of the guest-loop plugin copying every column of `batch`.
fn copy_all(ctx: &Ctx, batch: &RecordBatch) -> Result<Duration> {
    let guest = ctx.plugin("guest_loop.wasm")?;
    let mut copier = ctx::instance(&guest, &ctx::setup("copy", json!({"mode": "copy"})), None)?;
    check_copy(batch, &copier.transform(batch.clone().into())?.to_record()?)?;
    per_batch(&mut copier, batch, ctx.sizes.wide_iterations)
}

/// Median time of the no-op step passing `batch` through.
fn pass_all(ctx: &Ctx, batch: &RecordBatch) -> Result<Duration> {
    let noop = ctx::setup("noop", json!({"attack": "none"}));
    let mut passer = ctx::instance(&ctx.plugin(NOOP)?, &noop, None)?;
    per_batch(&mut passer, batch, ctx.sizes.wide_iterations)
}

/// One 65536 × 50 f64 batch: scaling 2 columns (the rest passed by handle)
/// against copying all 50 through the guest, and the no-op step.
pub fn wide(ctx: &Ctx) -> Result<Vec<Row>> {
    let batch = data::f64_batch(ctx::BATCH_ROWS, 50);
    let touched = touch_two(ctx, &batch);
    let copied = copy_all(ctx, &batch)?;
    let passed = pass_all(ctx, &batch)?;
    let shape = format!(
        "{} × 50 f64, median of {}",
        ctx::BATCH_ROWS,
        ctx.sizes.wide_iterations
    );
    let row = |what: &str, d: Duration| {
        let row = Row::new(format!("wide batch {shape}: {what}"), millis(d));
        match &touched {
            Ok(t) => row.relative(format!("{:.1}× touch-2", d.as_secs_f64() / t.as_secs_f64())),
            Err(_) => row,
        }
    };
    let two = "reference `scale` on 2 columns, 48 passed by handle";
    Ok(vec![
        match &touched {
            Ok(t) => row(two, *t),
            Err(e) => Row::failed(format!("wide batch {shape}: {two}"), e),
        },
        row("guest-loop copies all 50 into the guest and back", copied),
        row("no-op pass-through", passed),
    ])
}

/// The copy step must hand back the same values.
fn check_copy(input: &RecordBatch, output: &RecordBatch) -> Result<()> {
    ensure!(
        input.columns() == output.columns(),
        "guest-loop copy changed the data"
    );
    Ok(())
}
