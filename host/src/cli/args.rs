//! The command line's grammar: commands, options and their help.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use weft_engine::sandbox::CompilerChoice;
use weft_gpu::Choice;

use super::{operate, registry, serving};

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
    pub(super) command: Command,
}

/// `--compiler`, of `run` and `serve`.
#[derive(Debug, clap::Args)]
pub(super) struct CompilerArg {
    /// Which compiler turns plugins into machine code: `auto` (Winch, which
    /// compiles about 4x faster, for components of 8 MiB and more, such as
    /// Python steps, unless Cranelift's code for one is already in the
    /// compile cache, as `weft build` leaves it; Cranelift, which makes
    /// faster code, for the others), `cranelift` or `winch`.
    #[arg(
        long,
        value_name = "auto|cranelift|winch",
        default_value = "auto",
        env = "WEFT_COMPILER"
    )]
    pub(super) compiler: CompilerChoice,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
        /// (same input, plugins, configs and states: its report's cacheKey).
        #[arg(long)]
        no_cache: bool,
        /// Compile plugins without the on-disk compile cache (neither read
        /// nor written; $WEFT_CACHE_DIR, default ~/.cache/weft/aot).
        #[arg(long)]
        no_compile_cache: bool,
        #[command(flatten)]
        compiler: CompilerArg,
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
    /// Check a manifest without running it: files, plugin digests, each
    /// step's config (against the plugin's schema, then by the plugin
    /// itself), and a dry run of every step on the first rows of the input
    /// (columns missing or of the wrong type), all located in the manifest.
    Validate {
        /// The Pipeline manifest (YAML).
        manifest: PathBuf,
        /// Rows of the input (and of reference files) the dry run reads;
        /// 0 runs the steps on no rows, with the input's columns only.
        #[arg(long, default_value_t = 1000, value_name = "N")]
        rows: usize,
    },
    /// Print the first rows of a data file (.csv, .parquet, .jsonl) as a table.
    Head {
        /// The data file.
        file: PathBuf,
        /// Rows to show.
        #[arg(short = 'n', long, default_value_t = 10)]
        rows: usize,
    },
    /// Create a plugin in DIR, anywhere on disk: a step written with
    /// weft-sdk (a Rust crate, or with --lang python a Python module), its
    /// native tests, sample data and a pipeline.yaml that runs it. Then:
    /// cargo test (or python -m unittest), weft build DIR, weft run
    /// DIR/pipeline.yaml.
    New {
        /// The folder to create; its name is the plugin's (e.g. my-scaler).
        dir: PathBuf,
        /// What the step does: transform batches (with a fitted state) or
        /// evaluate them into metrics.
        #[arg(long, value_enum, default_value = "transform")]
        kind: super::author::Kind,
        /// The language of the step: a Rust crate, or a Python module built
        /// with componentize-py.
        #[arg(long, value_enum, default_value = "rust")]
        lang: super::author::Lang,
        /// Where weft-sdk comes from (default: this weft's source tree if
        /// it is still where weft was built, else crates.io).
        #[command(flatten)]
        sdk: super::author::SdkSource,
    },
    /// Build the plugin in DIR (a crate for wasm32-wasip2, release; or a
    /// Python step with componentize-py into DIR/build/), check that the
    /// component is a weft step, and print its path as the last line.
    Build {
        /// The plugin crate's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Show what a plugin is (metadata, contract version, imports, exports,
    /// config schema), or what a model is (a `.onnx` file: its inputs and
    /// outputs, the columns `onnx-model` makes of them, its operators).
    Inspect {
        /// A plugin component (.wasm) or an ONNX model (.onnx).
        plugin: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Push a plugin component to an OCI registry in the CNCF Wasm layout
    /// (as `wkg oci push` does), after checking it loads as a weft step;
    /// or any other file (a trained model) for a step mount.
    ///
    /// A file that starts as Wasm does (`\0asm`) is pushed as a plugin;
    /// any other file, or any file with --file, in the ORAS file layout
    /// (as `oras push REF FILE` does: one layer titled by the file's name,
    /// artifact type application/vnd.weft.file.v1), which a step mounts
    /// with `mounts: [{ oci: REF, sha256: HEX, as: /models }]`.
    ///
    /// Credentials come from the docker config file ($DOCKER_CONFIG/config.json,
    /// else ~/.docker/config.json; `auths` entries only, no credential
    /// helpers). HTTPS unless the registry is on loopback or --insecure.
    /// Prints the manifest digest, the component's (or file's) sha256 (the
    /// pin for `sha256:` in a manifest) and, last, the reference by digest.
    Push(registry::PushArgs),
    /// Pull a plugin component from an OCI registry into the local cache
    /// ($WEFT_CACHE_DIR/oci, else ~/.cache/weft/oci; files named by their
    /// sha256) and print the cached file as the last line.
    ///
    /// Refuses artifacts that are not one Wasm component (naming the media
    /// types found) and, with --sha256, a component with another digest;
    /// nothing is cached unless it is verified.
    Pull(registry::PullArgs),
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
