//! The controller: [`reconcile`] brings a Pipeline's ConfigMap and stage
//! Jobs in line with its spec and writes what they say into its status;
//! [`error_policy`] retries failures with backoff. Both are kube-runtime's
//! contract; [`run`] wires them to watches of Pipelines, their Jobs and pods.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::events::publish;
use super::follow::{follow, owned_jobs, Run};
use super::jobs::config_map_name;
use super::metrics::Metrics;
use super::pin::{pinned, Unpinned};
use super::status::{conclude, refuse, write_status};
use super::{manifest_config_map, Owner, ShardMode};
use weft_manifest::{
    Manifest, ObjectMeta, Phase, Pipeline, PipelineResource, PipelineStatus, API_VERSION,
};

/// Field manager of everything the operator applies.
const MANAGER: &str = "weft-operator";

/// Annotation of the manifest ConfigMap: the digest of the spec it holds.
const SPEC_DIGEST: &str = "weft.dev/spec-sha256";

/// Where a stage pod finds the manifest; errors in a spec name it.
const MANIFEST_PATH: &str = "/data/pipeline.weft.yaml";

/// How often a running Pipeline is looked at when nothing happens.
const IDLE: Duration = Duration::from_secs(300);

/// What reconcile needs besides the Pipeline.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Stage pods' image when a Pipeline sets none.
    pub image: String,
    /// Publishes Events on Pipelines.
    pub recorder: Recorder,
    /// Counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// How long a stage's pods may find no node, or fail to start their
    /// container, before the stage fails.
    pub unschedulable: Duration,
    /// How stages of more than one shard run.
    pub shard_mode: ShardMode,
}

/// Why a reconcile failed; retried by [`error_policy`].
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The API server refused or could not be reached.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be rendered.
    #[error("rendering {0}")]
    Render(String),
    /// A plugin's registry could not be reached.
    #[error("registry: {0}")]
    Registry(String),
}

/// The manifest document of a Pipeline object.
fn document(p: &PipelineResource) -> Pipeline {
    Pipeline {
        api_version: API_VERSION.into(),
        kind: "Pipeline".into(),
        metadata: ObjectMeta {
            name: p.name_any(),
            namespace: p.namespace(),
            labels: p.labels().clone(),
        },
        spec: p.spec.clone(),
    }
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn render(what: &str, e: impl std::fmt::Display) -> OperatorError {
    OperatorError::Render(format!("{what}: {e}"))
}

/// One reconcile of `pipeline`: validate its spec, apply its ConfigMap,
/// start the next stage's Jobs (again, if they were deleted), fail a stage
/// whose pods cannot run, write the status and publish Events for what
/// changed. Running it twice changes nothing.
pub async fn reconcile(
    pipeline: Arc<PipelineResource>,
    ctx: Arc<Context>,
) -> Result<Action, OperatorError> {
    ctx.metrics.reconciled();
    let p = pipeline.as_ref();
    let previous = p.status.clone().unwrap_or_default();
    let text = serde_yaml::to_string(&document(p)).map_err(|e| render("the manifest", e))?;
    let manifest = match Manifest::parse(Path::new(MANIFEST_PATH), text.clone()) {
        Ok(m) => m,
        Err(e) => return refuse(&ctx, p, &previous, e.to_string()).await,
    };
    let run = match prepare(&ctx, p, &previous, manifest, &text).await {
        Ok(run) => run,
        Err(Unpinned::Refused(message)) => return refuse(&ctx, p, &previous, message).await,
        Err(Unpinned::Retry(e)) => return Err(e),
    };
    let Some(found) = follow(&ctx, p, &previous, &run).await? else {
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    for t in &found.observed.transitions {
        publish(&ctx, p, t, &found.observed.status).await;
    }
    let status = conclude(
        found.observed.status,
        &previous,
        &run,
        p.metadata.generation,
    );
    write_status(&ctx, p, &run.ns, &status).await?;
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &run.ns);
    for job in &found.doomed {
        jobs.delete(job, &background()).await?;
    }
    ctx.metrics.recovered(&p.name_any());
    let again = found.recheck.map_or(IDLE, |r| r.min(IDLE));
    Ok(match status.phase {
        Phase::Succeeded | Phase::Failed => Action::await_change(),
        Phase::Pending | Phase::Running => Action::requeue(again),
    })
}

/// Settle which run of `p` goes on and apply its ConfigMap: a finished
/// Pipeline whose spec changed starts over; a running one finishes with
/// the spec it started with. A new run's registry plugins are pinned to
/// what their tags name now; a run goes on with the pins it started with.
async fn prepare(
    ctx: &Context,
    p: &PipelineResource,
    previous: &PipelineStatus,
    manifest: Manifest,
    text: &str,
) -> Result<Run, Unpinned> {
    let ns = p.namespace().unwrap_or_else(|| "default".into());
    let name = p.name_any();
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let wanted = digest(text);
    let running = config_maps
        .get_opt(&config_map_name(&name))
        .await?
        .and_then(|cm| Some((cm.annotations().get(SPEC_DIGEST)?.clone(), cm)));
    let mut accepted = (true, "Accepted", "the spec is valid".to_owned());
    let (manifest, digest) = match running {
        Some((held, cm)) if held != wanted && previous.phase == Phase::Running => {
            accepted = (
                false,
                "SpecChangedWhileRunning",
                "the spec changed while the pipeline runs: this run finishes with the spec it started with, then the new spec runs".into(),
            );
            (held_manifest(&cm)?, held)
        }
        Some((held, cm)) if held == wanted => (held_manifest(&cm)?, held),
        Some(_) => {
            let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
            restart(&config_maps, &jobs, &name).await?;
            (pinned_manifest(&ctx.client, &ns, manifest).await?, wanted)
        }
        None => (pinned_manifest(&ctx.client, &ns, manifest).await?, wanted),
    };
    let owner = Owner {
        name: name.clone(),
        uid: p.uid().unwrap_or_default(),
    };
    let mut cm = manifest_config_map(&manifest.pipeline, Some(&owner))
        .map_err(|e| render("the manifest ConfigMap", e))?;
    cm.annotations_mut()
        .insert(SPEC_DIGEST.into(), digest.clone());
    apply(&config_maps, &config_map_name(&name), &cm).await?;
    Ok(Run {
        ns,
        manifest,
        digest,
        accepted,
        owner,
    })
}

/// `manifest` with its registry plugins pinned (see [`pinned`]).
async fn pinned_manifest(
    client: &Client,
    ns: &str,
    manifest: Manifest,
) -> Result<Manifest, Unpinned> {
    let pipeline = pinned(client, ns, manifest.pipeline.clone()).await?;
    if pipeline == manifest.pipeline {
        return Ok(manifest);
    }
    let text =
        serde_yaml::to_string(&pipeline).map_err(|e| Unpinned::Retry(render("the manifest", e)))?;
    Manifest::parse(Path::new(MANIFEST_PATH), text).map_err(|e| Unpinned::Refused(e.to_string()))
}

/// The manifest a running pipeline started with, from its ConfigMap.
fn held_manifest(cm: &ConfigMap) -> Result<Manifest, OperatorError> {
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get("pipeline.yaml"))
        .ok_or_else(|| render("the held manifest", "its ConfigMap has no pipeline.yaml"))?;
    Manifest::parse(Path::new(MANIFEST_PATH), text.clone())
        .map_err(|e| render("the held manifest", e))
}

/// A finished pipeline whose spec changed starts over: its Jobs and
/// ConfigMap go (the ConfigMap is immutable).
async fn restart(
    config_maps: &Api<ConfigMap>,
    jobs: &Api<Job>,
    name: &str,
) -> Result<(), OperatorError> {
    for job in owned_jobs(jobs, name, None).await?.values().flatten() {
        jobs.delete(&job.name_any(), &background()).await?;
    }
    config_maps
        .delete(&config_map_name(name), &background())
        .await?;
    Ok(())
}

/// Server-side apply of `object` as the operator.
pub async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<(), OperatorError>
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(object),
    )
    .await?;
    Ok(())
}

/// Delete what depends on the object too, in the background.
fn background() -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    }
}

/// Retry a failed reconcile after a backoff that doubles with each
/// consecutive failure of the same Pipeline (1 s up to 5 min).
pub fn error_policy(p: Arc<PipelineResource>, error: &OperatorError, ctx: Arc<Context>) -> Action {
    let failures = ctx.metrics.failed(&p.name_any());
    tracing::warn!(pipeline = %p.name_any(), %error, failures, "reconcile failed");
    Action::requeue(Duration::from_secs((1u64 << failures.min(9)).min(300)))
}

/// Options of [`run`].
pub struct Options {
    /// Watch Pipelines in this namespace only (all when `None`).
    pub namespace: Option<String>,
    /// Stage pods' image when a Pipeline sets none.
    pub image: String,
    /// The reporting instance of Events (the pod name).
    pub instance: Option<String>,
    /// How long a stage's pods may find no node, or fail to start their
    /// container, before the stage fails.
    pub unschedulable: Duration,
    /// How stages of more than one shard run ([`ShardMode::detect`] picks
    /// it for the server).
    pub shard_mode: ShardMode,
}

/// Watch Pipelines and their Jobs and ConfigMaps, reconciling, until
/// `shutdown` resolves.
pub async fn run(
    client: Client,
    options: Options,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (pipelines, jobs, config_maps, pods): (
        Api<PipelineResource>,
        Api<Job>,
        Api<ConfigMap>,
        Api<Pod>,
    ) = match &options.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    };
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: options.instance,
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        image: options.image,
        metrics: metrics.clone(),
        unschedulable: options.unschedulable,
        shard_mode: options.shard_mode,
    });
    let managed = watcher::Config::default().labels("app.kubernetes.io/managed-by=weft-operator");
    // Stage pods say when they cannot be scheduled, and what they reported.
    let of_pipeline = |pod: Pod| {
        let name = pod.labels().get("weft.dev/pipeline")?.clone();
        Some(ObjectRef::new(&name).within(&pod.namespace()?))
    };
    let controller = Controller::new(pipelines, watcher::Config::default())
        .owns(jobs, managed.clone())
        .owns(config_maps, managed.clone())
        .watches(pods, managed, of_pipeline)
        .graceful_shutdown_on(shutdown);
    metrics.watch(controller.store());
    metrics.set_ready();
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
}
