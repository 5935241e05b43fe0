//! The `weft` command line: a thin layer over the library.

mod args;
mod author;
mod author_py;
mod operate;
mod progress;
mod registry;
mod serving;
mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use weft_engine::exec::{self, Part, RunError, RunOptions, RunReport};
use weft_engine::plugin::{Cache, Plugin};
use weft_engine::sandbox::{Compiler, CompilerChoice, PoolSize, Sandbox};
use weft_manifest::Manifest;
use weft_operator::StageSummary;
use weft_report::exposition;

pub use args::Cli;
use args::Command;

/// Exit code of a run that failed in a step or on bad input.
const EXIT_FAILED: u8 = 1;

/// Exit code of a run whose outputs were written but a gate failed.
const EXIT_GATE: u8 = 3;

impl Cli {
    /// Execute the parsed command.
    pub fn execute(self) -> Result<ExitCode> {
        match self.command {
            Command::Run {
                manifest,
                state,
                workers,
                no_cache,
                no_compile_cache,
                compiler,
                quiet,
                pushgateway,
                compute,
                stage,
                shard,
                summary_file,
            } => {
                let options = RunOptions {
                    state_dir: state,
                    workers,
                    cache: None,
                    no_cache,
                    no_compile_cache,
                    compute,
                    compiler: compiler.compiler,
                    ..RunOptions::default()
                };
                let part = Part { stage, shard };
                let ran = run(&manifest, part, &options, quiet, pushgateway.as_deref());
                if let Some(file) = summary_file {
                    let summary = match &ran {
                        Ok((_, report)) => StageSummary::of_report(report),
                        Err(e) => StageSummary::of_error(
                            &format!("{e:#}"),
                            weft_engine::exec::location_in(e.chain()),
                        ),
                    };
                    std::fs::write(&file, summary.to_json())
                        .with_context(|| format!("writing the summary to {}", file.display()))?;
                }
                ran.map(|(code, _)| code)
            }
            Command::Validate { manifest, rows } => validate(&manifest, rows),
            Command::New {
                dir,
                kind,
                lang,
                sdk,
            } => author::new(&dir, kind, lang, &sdk).map(|()| ExitCode::SUCCESS),
            Command::Build { dir } => build(&dir),
            Command::MergeStates {
                manifest,
                shards,
                out,
            } => merge_states(&manifest, &shards, &out),
            Command::Report { schema: true, .. } => {
                println!("{}", weft_record::schema());
                Ok(ExitCode::SUCCESS)
            }
            Command::Report { run, html, .. } => {
                let run = run.expect("clap requires a run without --schema");
                show_report(&run, html.as_deref())
            }
            Command::Inspect { plugin, json } => inspect(&plugin, json),
            Command::Head { file, rows } => head(&file, rows),
            Command::Crd => {
                print!("{}", weft_manifest::crd_yaml()?);
                Ok(ExitCode::SUCCESS)
            }
            Command::Plan {
                manifest,
                objects,
                image,
            } => plan(&manifest, objects, &image),
            Command::Operator(args) => operate::operator(args),
            Command::Serve(args) => serving::serve(args),
            Command::Push(args) => registry::push(args),
            Command::Pull(args) => registry::pull(args),
        }
    }
}

/// `weft plan`: the stage table, or the objects as a YAML stream.
fn plan(path: &Path, objects: bool, image: &str) -> Result<ExitCode> {
    let manifest = Manifest::load(path)?;
    let pipeline = &manifest.pipeline;
    let stages = weft_manifest::stages(&pipeline.spec, &manifest.order);
    if !objects {
        print!("{}", table::stages(pipeline, &stages));
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = serde_yaml::to_string(&weft_operator::manifest_config_map(pipeline, None)?)?;
    for stage in &stages {
        out += "---\n";
        out += &serde_yaml::to_string(&weft_operator::stage_job(pipeline, stage, image, None))?;
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `weft run`: its exit code and report.
fn run(
    path: &Path,
    part: Part,
    options: &RunOptions,
    quiet: bool,
    gateway: Option<&str>,
) -> Result<(ExitCode, RunReport)> {
    let started = Instant::now();
    let manifest = Manifest::load(path)?;
    let pipeline = manifest.pipeline.metadata.name.clone();
    let result = exec::run_part(manifest, part, options, &progress::Bar::new(quiet));
    let (out, report) = match result {
        Ok(done) => done,
        Err(e) => {
            let step = match &e {
                RunError::Step(f) => Some(f.step.as_str()),
                _ => None,
            };
            if let Some(url) = gateway {
                let failure = exposition::of_failure(&pipeline, step, started.elapsed());
                if let Err(push) = exposition::push(url, &pipeline, &failure) {
                    eprintln!("warning: {push}");
                }
            }
            return Err(e.into());
        }
    };
    // Said even under --quiet: the outputs were not recomputed.
    if report.cache_hit {
        eprintln!(
            "up to date: {} holds this run's outputs (same input, plugins, configs and states); --no-cache runs it again",
            out.dir.display()
        );
    }
    let exposition = exposition::of_run(&report);
    weft_engine::data::write_atomic(
        &out.dir.join("metrics.prom"),
        exposition.render().as_bytes(),
    )?;
    if let Some(url) = gateway {
        exposition::push(url, &pipeline, &exposition)?;
    }
    if !quiet {
        print!("{}", table::summary(&report));
    }
    // Said even under --quiet, like failed gates.
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let failed = report.failed_gates();
    for (step, gate) in &failed {
        eprintln!("gate failed: {}", gate.failure(step));
    }
    if failed.is_empty() {
        Ok((ExitCode::SUCCESS, report))
    } else {
        Ok((ExitCode::from(EXIT_GATE), report))
    }
}

fn show_report(run: &Path, html: Option<&Path>) -> Result<ExitCode> {
    let file = if run.is_dir() {
        run.join("report.json")
    } else {
        run.to_owned()
    };
    let bytes = std::fs::read(&file).with_context(|| {
        format!(
            "{}: cannot read the run report (give a run's output folder)",
            file.display()
        )
    })?;
    let report: exec::RunReport = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a weft run report", file.display()))?;
    print!("{}", table::metrics(&report));
    if let Some(page) = html {
        weft_engine::data::write_atomic(page, weft_report::page::html(&report).as_bytes())?;
        println!("wrote {}", page.display());
    }
    Ok(if report.failed_gates().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_GATE)
    })
}

fn merge_states(path: &Path, shards: &[PathBuf], out: &Path) -> Result<ExitCode> {
    let prepared = exec::prepare(Manifest::load(path)?, &RunOptions::default())?;
    let steps = prepared.merge_states(shards, out)?;
    println!(
        "merged {} shard(s) of {} into {}",
        shards.len(),
        steps.join(", "),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(path: &Path, rows: usize) -> Result<ExitCode> {
    let manifest = Manifest::load(path)?;
    let input = manifest.resolve(&manifest.pipeline.spec.input.path);
    weft_engine::data::Reader::open(&input, 1)
        .with_context(|| format!("{}: spec.input.path", path.display()))?;
    let prepared = exec::prepare(manifest, &RunOptions::default())?;
    let dry = prepared.dry_run(rows)?;
    let columns: Vec<String> = dry
        .output
        .fields()
        .iter()
        .map(|f| format!("{} ({})", f.name(), f.data_type()))
        .collect();
    println!(
        "{}: ok ({} steps, {} plugins; dry run on {} rows of {} gives {} columns: {})",
        path.display(),
        prepared.steps.len(),
        prepared.manifest.pipeline.spec.plugins.len(),
        dry.rows,
        prepared.input().display(),
        columns.len(),
        columns.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Load the plugin component at `path`, as `inspect` and `build` look at it.
fn load_plugin(path: &Path) -> Result<Plugin> {
    load_plugin_with(path, CompilerChoice::Auto)
}

/// [`load_plugin`], compiled as `choice` says.
fn load_plugin_with(path: &Path, choice: CompilerChoice) -> Result<Plugin> {
    let sandbox = Sandbox::new(PoolSize {
        instances: 2,
        max_memory_bytes: 512 << 20,
        fuel: false,
    })
    .map_err(|e| anyhow::anyhow!("{e:#}"))?
    .with_compiler(choice);
    Ok(Plugin::load(
        &sandbox,
        &Cache::default_location(),
        path,
        None,
    )?)
}

/// Build, check, and leave Cranelift's code in the compile cache, so that
/// later runs on this machine need not compile (nor settle for Winch).
fn build(dir: &Path) -> Result<ExitCode> {
    let wasm = author::build(dir)?;
    let plugin = load_plugin_with(&wasm, CompilerChoice::Only(Compiler::Cranelift))?;
    let meta = &plugin.meta;
    eprintln!(
        "built {} {} ({:?} step)",
        meta.name, meta.version, meta.kind
    );
    println!("{}", wasm.display());
    Ok(ExitCode::SUCCESS)
}

fn inspect(path: &Path, json: bool) -> Result<ExitCode> {
    if path.extension().is_some_and(|e| e == "onnx") {
        return inspect_model(path, json);
    }
    let plugin = load_plugin(path)?;
    if json {
        let doc = serde_json::json!({
            "path": plugin.path, "sha256": plugin.digest, "metadata": plugin.meta,
            "imports": plugin.imports, "exports": plugin.exports,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", table::inspect(&plugin));
    }
    Ok(ExitCode::SUCCESS)
}

/// `weft inspect MODEL.onnx`: what `onnx-model` would see of it.
fn inspect_model(path: &Path, json: bool) -> Result<ExitCode> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let nodes = weft_models::graph::nodes(&bytes).unwrap_or_default();
    let model = weft_models::Models::default()
        .load(bytes)
        .with_context(|| format!("{}", path.display()))?;
    if json {
        let ports = |ports: &[weft_models::Port]| {
            ports
                .iter()
                .map(|p| serde_json::json!({"name": p.name, "type": p.onnx_type, "shape": p.shape}))
                .collect::<Vec<_>>()
        };
        let doc = serde_json::json!({
            "path": path, "sha256": model.digest(), "inputs": ports(model.inputs()),
            "outputs": ports(model.outputs()), "operators": table::operators(&nodes),
            "runsOn": model.runs_on(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", table::model(path, &model, &nodes));
    }
    Ok(ExitCode::SUCCESS)
}

fn head(file: &Path, rows: usize) -> Result<ExitCode> {
    let mut reader = weft_engine::data::Reader::open(file, rows.max(1))?;
    let batch = reader
        .next()
        .transpose()?
        .unwrap_or_else(|| arrow::record_batch::RecordBatch::new_empty(reader.schema()));
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches(&[batch.slice(0, rows.min(batch.num_rows()))])?
    );
    Ok(ExitCode::SUCCESS)
}

/// Print an error chain plainly and pick the exit code.
pub fn report_error(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", cut(&error.to_string()));
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {}", cut(&cause.to_string()));
    }
    ExitCode::from(EXIT_FAILED)
}

/// Longest message [`report_error`] prints of one error.
const MAX_ERROR: usize = 64 << 10;

/// `message`, cut after [`MAX_ERROR`] bytes (at a character boundary).
fn cut(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_ERROR {
        return message.into();
    }
    let end = (0..=MAX_ERROR)
        .rev()
        .find(|&i| message.is_char_boundary(i))
        .unwrap_or(0);
    format!(
        "{}... ({} more bytes)",
        &message[..end],
        message.len() - end
    )
    .into()
}
