//! `weft operator`: the controller, its HTTP endpoints and, optionally,
//! leader election, on a tokio runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use weft_operator::{Elector, Metrics, ShardMode};

/// `--shard-mode`: how stages of more than one shard run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ShardFlag {
    /// As the API server allows: indexed from Kubernetes 1.22, else job-per-shard.
    Auto,
    /// One Indexed Job per stage; each pod takes its share from JOB_COMPLETION_INDEX.
    Indexed,
    /// One plain Job per shard, <pipeline>-stage-<n>-shard-<i>, running `--shard <i>`.
    JobPerShard,
}

/// Options of `weft operator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Watch Pipelines in this namespace only (default: all namespaces).
    #[arg(long)]
    namespace: Option<String>,
    /// Image of stage pods whose Pipeline sets no spec.image.
    #[arg(long, env = "WEFT_IMAGE", default_value = weft_operator::DEFAULT_IMAGE)]
    image: String,
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Reconcile only while holding a Lease, so that several replicas are safe.
    #[arg(long)]
    leader_elect: bool,
    /// Namespace of the Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", value_name = "NS")]
    lease_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "weft-operator")]
    lease_name: String,
    /// Seconds a Lease holder that stopped renewing keeps it.
    #[arg(long, default_value_t = 15)]
    lease_seconds: u64,
    /// This replica's name in the Lease and in Events (the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds a stage's pods may find no node (the scheduler reports them
    /// Unschedulable), or wait for an image that cannot be pulled or a
    /// container that cannot be created, before the stage and its Pipeline
    /// fail.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    unschedulable_seconds: u64,
    /// How a stage that fits a sharded step on N shares runs: as one
    /// Indexed Job (on by default from Kubernetes 1.22), or as N Jobs
    /// <pipeline>-stage-<n>-shard-<i>; auto asks the API server its version.
    #[arg(long, value_enum, default_value_t = ShardFlag::Auto)]
    shard_mode: ShardFlag,
}

/// Run the operator until SIGTERM or Ctrl-C.
pub fn operator(args: Args) -> Result<ExitCode> {
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(operate(args))
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?
        }
        None => Config::infer()
            .await
            .context("no cluster to talk to: set KUBECONFIG or --kubeconfig, or run in a pod")?,
    };
    Ok(Client::try_from(config)?)
}

async fn operate(args: Args) -> Result<ExitCode> {
    let client = client(args.kubeconfig.as_ref()).await?;
    let metrics = Arc::new(Metrics::default());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tokio::spawn(weft_operator::serve(listener, metrics.clone()));
    let identity = args.identity.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME")
            .unwrap_or_else(|_| format!("weft-operator-{}", std::process::id()))
    });
    let mut lost = None;
    if args.leader_elect {
        let Some(ns) = &args.lease_namespace else {
            bail!("--leader-elect needs the Lease's namespace: --lease-namespace or POD_NAMESPACE");
        };
        let duration = Duration::from_secs(args.lease_seconds.max(2));
        let elector = Elector::new(client.clone(), ns, &args.lease_name, &identity, duration);
        elector
            .acquire()
            .await
            .context("acquiring the leader Lease")?;
        lost = Some(tokio::spawn(async move { elector.keep().await }));
    }
    let shard_mode = match args.shard_mode {
        ShardFlag::Auto => ShardMode::detect(&client).await,
        ShardFlag::Indexed => ShardMode::Indexed,
        ShardFlag::JobPerShard => ShardMode::JobPerShard,
    };
    tracing::info!(?shard_mode, "sharded stages");
    let options = weft_operator::Options {
        namespace: args.namespace,
        image: args.image,
        instance: Some(identity),
        unschedulable: Duration::from_secs(args.unschedulable_seconds),
        shard_mode,
    };
    let controller = weft_operator::run(client, options, metrics, shutdown());
    match lost {
        None => controller.await,
        Some(lost) => tokio::select! {
            () = controller => {}
            why = lost => bail!("stopping: {}", why.unwrap_or_else(|e| e.to_string())),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM (a pod being stopped) or Ctrl-C.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}
