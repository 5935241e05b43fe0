//! The `weft` command line: a thin layer over the library.

mod operate;
mod progress;
mod serving;
mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use weft_engine::exec::{self, RunError, RunOptions, RunReport};
use weft_engine::plugin::{Cache, Plugin};
use weft_engine::sandbox::{PoolSize, Sandbox};
use weft_gpu::Choice;
use weft_manifest::Manifest;
use weft_operator::StageSummary;
use weft_report::exposition;

/// Run machine-learning pipeline steps as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about = None)]
pub struct Cli {
    /// Log level filter (also RUST_LOG), e.g. `info`, `weft=debug`.
    #[arg(long, global = true, default_value = "warn", env = "WEFT_LOG")]
    pub log: String,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline: fit stateful steps, transform the input, write outputs.
    ///
    /// Writes the data (OUTPUT/data.parquet, or the file spec.output.path
    /// names), OUTPUT/report.json, OUTPUT/metrics.prom and
    /// OUTPUT/state/<step>.bin atomically: a failed run leaves no partial
    /// files. Exit status: 0 success, 1 failure, 3 a gate failed (outputs
    /// written).
    Run {
        /// The Pipeline manifest (YAML).
        manifest: PathBuf,
        /// Use fitted states from this folder (a previous run's OUTPUT/state) instead of fitting.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Worker threads for the transform pass (default: spec.workers, else all cores).
        #[arg(long)]
        workers: Option<usize>,
        /// Run even when the output folder holds this very run's outputs
        /// (same input, plugins, configs and states: its report's cacheKey),
        /// and compile plugins without the on-disk cache.
        #[arg(long)]
        no_cache: bool,
        /// No progress bar and no summary table.
        #[arg(long, short)]
        quiet: bool,
        /// Also push the run's metrics to this Prometheus Pushgateway
        /// (e.g. http://pushgateway:9091), grouped by job=weft and pipeline.
        #[arg(long, value_name = "URL", env = "WEFT_PUSHGATEWAY")]
        pushgateway: Option<String>,
        /// Where compute kernels run: `auto` (a hardware GPU if present,
        /// else the CPU), `gpu` (any adapter, software ones included; fail
        /// without one) or `cpu`. Default: WEFT_COMPUTE, else spec.compute,
        /// else auto.
        #[arg(long, value_name = "auto|gpu|cpu", value_parser = choice)]
        compute: Option<Choice>,
        /// Run only stage N of the pipeline (`weft plan` lists them), as a
        /// cluster stage pod does: on stage N-1's hand-off
        /// (weft-stages/N-1/ beside the manifest; the input for stage 0),
        /// writing weft-stages/N/ or, for the last stage, the output.
        #[arg(long, value_name = "N")]
        stage: Option<usize>,
        /// With --stage, of a stage that fits a sharded step on shares of
        /// the input files: which share (from 0). An Indexed Job's pod gets
        /// it from JOB_COMPLETION_INDEX.
        #[arg(
            long,
            value_name = "I",
            env = "JOB_COMPLETION_INDEX",
            requires = "stage"
        )]
        shard: Option<u32>,
        /// Also write a JSON summary of the run (rows, metrics and gates per
        /// step, whether the outputs were reused, or the error), at most 4
        /// KiB: what a stage pod leaves in /dev/termination-log for the
        /// operator.
        #[arg(long, value_name = "FILE")]
        summary_file: Option<PathBuf>,
    },
    /// Show the metrics and gates of a finished run (its OUTPUT folder or report.json).
    Report {
        /// A run's output folder, or its report.json.
        #[arg(required_unless_present = "schema")]
        run: Option<PathBuf>,
        /// Print the JSON Schema of report.json instead.
        #[arg(long, conflicts_with_all = ["run", "html"])]
        schema: bool,
        /// Also write a self-contained HTML page (confusion matrix, ROC curve, drift) here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Merge states fitted on shards of the data into one set, through each
    /// plugin's merge (exact for means, variances, extrema, counts, categories).
    MergeStates {
        /// The Pipeline manifest the shards ran.
        manifest: PathBuf,
        /// Each shard run's state folder (OUTPUT/state).
        #[arg(required = true, num_args = 1..)]
        shards: Vec<PathBuf>,
        /// Folder to write the merged `<step>.bin` and index.json into.
        #[arg(long, short, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check a manifest, its files, plugin digests and step configs without running.
    Validate {
        /// The Pipeline manifest (YAML).
        manifest: PathBuf,
    },
    /// Print the first rows of a data file (.csv, .parquet, .jsonl) as a table.
    Head {
        /// The data file.
        file: PathBuf,
        /// Rows to show.
        #[arg(short = 'n', long, default_value_t = 10)]
        rows: usize,
    },
    /// Show what a plugin is: metadata, contract version, imports, exports, config schema.
    Inspect {
        /// A plugin component (.wasm).
        plugin: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the `pipelines.weft.dev` CustomResourceDefinition (YAML), made
    /// from the same types `run` reads: `weft crd | kubectl apply -f -`.
    Crd,
    /// Show how a pipeline runs on a cluster: its stages (one Job each) and,
    /// with `--objects`, the ConfigMap and Jobs the operator creates for it
    /// (YAML, without the owner references only a live Pipeline has).
    Plan {
        /// The Pipeline manifest (YAML).
        manifest: PathBuf,
        /// Print the objects instead of the stage table.
        #[arg(long)]
        objects: bool,
        /// Image of the stage pods when the manifest sets no `spec.image`.
        #[arg(long, default_value = weft_operator::DEFAULT_IMAGE)]
        image: String,
    },
    /// Run the Kubernetes operator: turn Pipelines into stage Jobs, follow
    /// them and write each Pipeline's status and Events. Connects with
    /// KUBECONFIG (or --kubeconfig), else the pod's service account.
    /// Serves /metrics, /healthz and /readyz on --listen.
    Operator(operate::Args),
    /// Serve a pipeline's transform steps over HTTP with fitted states:
    /// POST /v1/transform (JSON columns or records, or an Arrow IPC stream;
    /// answered in kind), /v1/evaluate when the pipeline evaluates,
    /// /healthz, /readyz, /metrics. Reloads on SIGHUP and when its files
    /// change; drains on SIGTERM.
    Serve(serving::Args),
}

/// `--compute`'s value.
fn choice(value: &str) -> Result<Choice, String> {
    value
        .parse()
        .map_err(|_| "expected auto, gpu or cpu".to_owned())
}

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
                    compute,
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
            Command::Validate { manifest } => validate(&manifest),
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
        }
    }
}

/// `weft plan`: the stage table, or the objects as a YAML stream.
fn plan(path: &Path, objects: bool, image: &str) -> Result<ExitCode> {
    let manifest = Manifest::load(path)?;
    let pipeline = &manifest.pipeline;
    let stages = weft_operator::stages(&pipeline.spec, &manifest.order);
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
/// Which part of a pipeline `weft run` runs.
struct Part {
    /// A stage (`--stage`).
    stage: Option<usize>,
    /// Its share of the input (`--shard`).
    shard: Option<u32>,
}

fn run(
    path: &Path,
    part: Part,
    options: &RunOptions,
    quiet: bool,
    gateway: Option<&str>,
) -> Result<(ExitCode, RunReport)> {
    let started = Instant::now();
    let mut manifest = Manifest::load(path)?;
    let mut options = options.clone();
    let (mut merge, mut gather) = (Vec::new(), Vec::new());
    if let Some(n) = part.stage {
        let plan = weft_operator::stage_run(&manifest, n, part.shard)?;
        (manifest, merge, gather) = (plan.manifest, plan.merge, plan.gather);
        options.share = plan.share;
        options.fit_only = plan.fit_only;
    }
    let pipeline = manifest.pipeline.metadata.name.clone();
    let result = exec::prepare(manifest, &options).and_then(|p| {
        if !merge.is_empty() {
            let shares: Vec<PathBuf> = merge
                .iter()
                .map(|d| p.manifest.resolve(&d.to_string_lossy()))
                .collect();
            let merged = p.output().dir.join(".weft-merged-state");
            p.merge_states(&shares, &merged)?;
            options.state_dir = Some(merged);
        }
        let report = p.run(&options, &progress::Bar::new(quiet))?;
        if !gather.is_empty() {
            let earlier: Vec<PathBuf> = gather
                .iter()
                .map(|d| p.manifest.resolve(&d.to_string_lossy()))
                .collect();
            exec::gather_states(&earlier, &p.output().dir.join("state"))?;
        }
        Ok((p.output(), report))
    });
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

fn validate(path: &Path) -> Result<ExitCode> {
    let manifest = Manifest::load(path)?;
    let input = manifest.resolve(&manifest.pipeline.spec.input.path);
    weft_engine::data::Reader::open(&input, 1)
        .with_context(|| format!("{}: spec.input.path", path.display()))?;
    let prepared = exec::prepare(manifest, &RunOptions::default())?;
    println!(
        "{}: ok ({} steps, {} plugins)",
        path.display(),
        prepared.steps.len(),
        prepared.manifest.pipeline.spec.plugins.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn inspect(path: &Path, json: bool) -> Result<ExitCode> {
    let sandbox = Sandbox::new(PoolSize {
        instances: 2,
        max_memory_bytes: 512 << 20,
        fuel: false,
    })
    .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let plugin = Plugin::load(&sandbox, &Cache::default_location(), path, None)?;
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
