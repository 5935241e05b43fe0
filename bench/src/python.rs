//! What a Python step costs beside the Rust one: compiling the Python
//! `scale` (`plugins-py/scale`, built into `target/bench-python/` by
//! `bench/python_steps.sh`) with Cranelift and with Winch, then a ready
//! instance of it (each way) and of the Rust `scale`, without and with a
//! fitted state, and one transform of a 1-row batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use arrow::array::{ArrayRef, Float64Array};
use arrow::record_batch::RecordBatch;
use serde_json::json;
use weft_engine::plugin::{Cache, Plugin};
use weft_engine::sandbox::{Compiler, CompilerChoice};

use crate::ctx::{self, count, micros, millis, Ctx};
use crate::table::Row;

/// Compile times of the Python step, then instantiation (with `configure`,
/// then also `load-state`) and the 1-row hop of each build of both steps.
pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let path = ctx.root.join("target/bench-python/scale.wasm");
    let mut rows = Vec::new();
    let mut plugins = Vec::new();
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        let start = Instant::now();
        let plugin = ctx.compile(&path, CompilerChoice::Only(compiler), &Cache::new(None))?;
        let what = format!("`scale` (Python, {}): compile, no cache", compiler.name());
        rows.push(Row::new(what, millis(start.elapsed())));
        plugins.push((format!("Python, {}", compiler.name()), plugin));
    }
    plugins.push(("Rust".to_owned(), ctx.plugin("scale.wasm")?));
    for (label, plugin) in plugins {
        let (fresh, new, hop) = costs(ctx, &plugin)?;
        let what = format!("`scale` ({label}), standard, 1 column");
        rows.push(Row::new(
            format!(
                "{what}: `Instance::new` without a state, median of {}",
                count(ctx.sizes.instantiations)
            ),
            micros(fresh),
        ));
        rows.push(Row::new(
            format!(
                "{what}: `Instance::new` with a fitted state, median of {}",
                count(ctx.sizes.instantiations)
            ),
            micros(new),
        ));
        rows.push(Row::new(
            format!(
                "{what}: transform of 1 row, median of {}",
                count(ctx.sizes.hops)
            ),
            micros(hop),
        ));
    }
    Ok(rows)
}

/// Median instantiation without and with a state, and 1-row transform,
/// of `plugin`.
fn costs(ctx: &Ctx, plugin: &Arc<Plugin>) -> Result<(Duration, Duration, Duration)> {
    let setup = ctx::setup("scale", json!({"columns": ["x"], "method": "standard"}));
    let tiny = RecordBatch::try_from_iter([(
        "x",
        Arc::new(Float64Array::from(vec![1.0, 3.0])) as ArrayRef,
    )])?;
    let mut fitting = ctx::instance(plugin, &setup, None)?;
    fitting.fit(tiny.clone().into())?;
    let state = fitting.state()?;
    let instantiate = |state: Option<Vec<u8>>| {
        ctx::median_of(ctx.sizes.instantiations, || {
            let start = Instant::now();
            let instance = ctx::instance(plugin, &setup, state.clone())?;
            let took = start.elapsed();
            drop(instance);
            Ok(took)
        })
    };
    let (fresh, new) = (instantiate(None)?, instantiate(Some(state.clone()))?);
    let mut instance = ctx::instance(plugin, &setup, Some(state))?;
    let one = tiny.slice(0, 1);
    let hop = ctx::median_of(ctx.sizes.hops, || {
        let start = Instant::now();
        let out = instance.transform(one.clone().into())?;
        let took = start.elapsed();
        ensure!(out.num_rows() == 1, "scale changed the row count");
        Ok(took)
    })?;
    Ok((fresh, new, hop))
}
