//! `weft serve`: the online host on a tokio runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use weft_manifest::parse_bytes;

/// Options of `weft serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Pipeline manifest (YAML).
    manifest: PathBuf,
    /// Fitted states: a `weft run`'s OUTPUT/state folder.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Requests served at once, each on its own instances (default: cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Requests that may wait for a worker; past them a request gets 503
    /// with Retry-After.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Largest request body (e.g. 16Mi); larger ones get 413. A body may
    /// also decode into at most 8 cells (rows x columns) per byte (at
    /// least 1Mi, at most 16Mi cells; more get 413) and 10000 columns.
    #[arg(long, default_value = "16Mi", value_name = "BYTES")]
    max_body: String,
    /// Seconds a request may take, its body and waiting included; then 504
    /// (408 while the body is still arriving) and its steps are stopped.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// Connections open at once; more wait in the listen backlog until one
    /// closes.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Seconds a connection has to send a request's headers (an idle
    /// kept-alive one included) before it is closed.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    header_timeout: f64,
    /// Seconds requests in flight get to finish after SIGTERM.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    grace: f64,
    /// Seconds between checks of the manifest, plugins and states for
    /// changes, which reload the pipeline (0: only SIGHUP reloads).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    watch: f64,
    #[command(flatten)]
    compiler: super::args::CompilerArg,
}

fn seconds(value: f64, flag: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a number of seconds, got {value}"))
}

fn positive(value: f64, flag: &str) -> Result<Duration> {
    let duration = seconds(value, flag)?;
    anyhow::ensure!(!duration.is_zero(), "{flag} must be more than 0 seconds");
    Ok(duration)
}

/// Serve until SIGTERM or Ctrl-C.
pub fn serve(args: Args) -> Result<ExitCode> {
    let max_body =
        parse_bytes(&args.max_body).map_err(|e| anyhow::anyhow!("--max-body: {e}"))? as usize;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let watch = seconds(args.watch, "--watch")?;
    let options = weft_serve::Options {
        manifest: args.manifest,
        state: args.state,
        workers,
        queue: args.queue,
        max_body,
        deadline: seconds(args.timeout, "--timeout")?,
        watch: (!watch.is_zero()).then_some(watch),
        max_connections: args.max_connections,
        header_timeout: positive(args.header_timeout, "--header-timeout")?,
        compiler: args.compiler.compiler,
    };
    let grace = seconds(args.grace, "--grace")?;
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(weft_serve::serve(options, args.listen, grace))?;
    Ok(ExitCode::SUCCESS)
}
