//! The `weft` command line: a thin layer over the library.

mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::exec::{self, Progress, RunOptions};
use crate::manifest::Manifest;
use crate::plugin::{Cache, Plugin};
use crate::sandbox::{PoolSize, Sandbox};

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
    /// names), OUTPUT/report.json and OUTPUT/state/<step>.bin atomically:
    /// a failed run leaves no partial files.
    Run {
        /// The Pipeline manifest (YAML).
        manifest: PathBuf,
        /// Use fitted states from this folder (a previous run's OUTPUT/state) instead of fitting.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Worker threads for the transform pass (default: spec.workers, else all cores).
        #[arg(long)]
        workers: Option<usize>,
        /// Compile plugins without the on-disk cache.
        #[arg(long)]
        no_cache: bool,
        /// No progress bar and no summary table.
        #[arg(long, short)]
        quiet: bool,
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
}

/// Exit code of a run that failed in a step or on bad input.
const EXIT_FAILED: u8 = 1;

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
            } => {
                let options = RunOptions {
                    state_dir: state,
                    workers,
                    cache: None,
                    no_cache,
                };
                run(&manifest, &options, quiet)
            }
            Command::Validate { manifest } => validate(&manifest),
            Command::Inspect { plugin, json } => inspect(&plugin, json),
            Command::Head { file, rows } => head(&file, rows),
        }
    }
}

fn run(manifest: &Path, options: &RunOptions, quiet: bool) -> Result<ExitCode> {
    let manifest = Manifest::load(manifest)?;
    let prepared = exec::prepare(manifest, options)?;
    let report = prepared.run(options, &Progress::new(quiet))?;
    if !quiet {
        print!("{}", table::summary(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(path: &Path) -> Result<ExitCode> {
    let manifest = Manifest::load(path)?;
    let input = manifest.resolve(&manifest.pipeline.spec.input.path);
    crate::data::Reader::open(&input, 1)
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
    let mut reader = crate::data::Reader::open(file, rows.max(1))?;
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
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::from(EXIT_FAILED)
}
