//! The controller: [`reconcile`] brings a Pipeline's ConfigMap and stage
//! Jobs in line with its spec and writes what they say into its status;
//! [`error_policy`] retries failures with backoff. Both are kube-runtime's
//! contract; [`run`] wires them to watches of Pipelines and their Jobs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::jobs::{config_map_name, job_name, pipeline_label};
use super::metrics::Metrics;
use super::progress::{observe, Transition};
use super::{manifest_config_map, stage_job, stages, Owner};
use crate::manifest::{
    Manifest, ObjectMeta, Phase, Pipeline, PipelineResource, PipelineStatus, API_VERSION,
};

/// Field manager of everything the operator applies.
const MANAGER: &str = "weft-operator";

/// Annotation of the manifest ConfigMap: the digest of the spec it holds.
const SPEC_DIGEST: &str = "weft.dev/spec-sha256";

/// Where a stage pod finds the manifest; errors in a spec name it.
const MANIFEST_PATH: &str = "/data/pipeline.weft.yaml";

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

/// A condition, keeping its transition time while its status holds.
fn condition(
    previous: &PipelineStatus,
    kind: &str,
    holds: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    let status = if holds { "True" } else { "False" };
    let since = previous
        .conditions
        .iter()
        .find(|c| c.type_ == kind && c.status == status)
        .map_or_else(
            || Time(Timestamp::now()),
            |c| c.last_transition_time.clone(),
        );
    Condition {
        type_: kind.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: since,
    }
}

/// One reconcile of `pipeline`: validate its spec, apply its ConfigMap,
/// start the next stage's Job (again, if it was deleted), write the status
/// and publish Events for what changed. Running it twice changes nothing.
pub async fn reconcile(
    pipeline: Arc<PipelineResource>,
    ctx: Arc<Context>,
) -> Result<Action, OperatorError> {
    ctx.metrics.reconciled();
    let p = pipeline.as_ref();
    let ns = p.namespace().unwrap_or_else(|| "default".into());
    let name = p.name_any();
    let generation = p.metadata.generation;
    let mut previous = p.status.clone().unwrap_or_default();
    let doc = document(p);
    let text = serde_yaml::to_string(&doc).map_err(|e| render("the manifest", e))?;
    let manifest = match Manifest::parse(Path::new(MANIFEST_PATH), text.clone()) {
        Ok(m) => m,
        Err(e) => return refuse(&ctx, p, &previous, e.to_string()).await,
    };
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let wanted = digest(&text);
    let running = config_maps
        .get_opt(&config_map_name(&name))
        .await?
        .and_then(|cm| Some((cm.annotations().get(SPEC_DIGEST)?.clone(), cm)));
    let mut accepted = (true, "Accepted", "the spec is valid".to_owned());
    let manifest = match running {
        Some((held, cm)) if held != wanted && previous.phase == Phase::Running => {
            accepted = (
                false,
                "SpecChangedWhileRunning",
                "the spec changed while the pipeline runs: this run finishes with the spec it started with, then the new spec runs".into(),
            );
            held_manifest(&cm)?
        }
        Some((held, _)) if held != wanted => {
            restart(&config_maps, &jobs_api, &name).await?;
            previous = PipelineStatus::default();
            manifest
        }
        _ => manifest,
    };
    let owner = Owner {
        name: name.clone(),
        uid: p.uid().unwrap_or_default(),
    };
    let mut cm = manifest_config_map(&manifest.pipeline, Some(&owner))
        .map_err(|e| render("the manifest ConfigMap", e))?;
    cm.annotations_mut()
        .insert(SPEC_DIGEST.into(), digest_of(&manifest)?);
    apply(&config_maps, &config_map_name(&name), &cm).await?;
    let stages = stages(&manifest.pipeline.spec, &manifest.order);
    let step_names = manifest.pipeline.spec.step_names();
    let jobs = owned_jobs(&jobs_api, &name, Some(&owner.uid)).await?;
    let now = Time(Timestamp::now());
    let observed = observe(
        &stages,
        &step_names,
        &previous,
        &jobs,
        |s| job_name(&name, s.index),
        &now,
    );
    tracing::debug!(pipeline = %name, phase = ?observed.status.phase, start = ?observed.start, jobs = jobs.len(), "observed");
    if let Some(n) = observed.start {
        let job = stage_job(&manifest.pipeline, &stages[n], &ctx.image, Some(&owner));
        apply(&jobs_api, &job_name(&name, n), &job).await?;
    }
    for t in &observed.transitions {
        publish(&ctx, p, t, &stages_steps(&observed.status, t)).await;
    }
    let mut status = observed.status;
    status.observed_generation = generation;
    let (ok, reason, message) = accepted;
    status.conditions = vec![
        condition(&previous, "SpecAccepted", ok, reason, message, generation),
        condition(
            &previous,
            "Ready",
            status.phase == Phase::Succeeded,
            phase_name(status.phase),
            status.message.clone().unwrap_or_else(|| {
                format!("{} of {} steps done", status.steps_done, status.steps_total)
            }),
            generation,
        ),
    ];
    write_status(&ctx, p, &ns, &status).await?;
    ctx.metrics.recovered(&name);
    Ok(match status.phase {
        Phase::Succeeded | Phase::Failed => Action::await_change(),
        Phase::Pending | Phase::Running => Action::requeue(Duration::from_secs(300)),
    })
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "Pending",
        Phase::Running => "Running",
        Phase::Succeeded => "Succeeded",
        Phase::Failed => "Failed",
    }
}

/// The spec digest the ConfigMap of `manifest` carries.
fn digest_of(manifest: &Manifest) -> Result<String, OperatorError> {
    let text = serde_yaml::to_string(&manifest.pipeline).map_err(|e| render("the manifest", e))?;
    Ok(digest(&text))
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
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    for job in owned_jobs(jobs, name, None).await?.values() {
        jobs.delete(&job.name_any(), &background).await?;
    }
    config_maps
        .delete(&config_map_name(name), &background)
        .await?;
    Ok(())
}

/// Server-side apply of `object` as the operator.
async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<(), OperatorError>
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

/// The stage Jobs of the pipeline `name` (owned by uid `uid`, if given), by stage.
async fn owned_jobs(
    api: &Api<Job>,
    name: &str,
    uid: Option<&str>,
) -> Result<BTreeMap<usize, Job>, OperatorError> {
    let selector =
        ListParams::default().labels(&format!("weft.dev/pipeline={}", pipeline_label(name)));
    let owned = |j: &Job| uid.is_none_or(|uid| j.owner_references().iter().any(|o| o.uid == uid));
    Ok(api
        .list(&selector)
        .await?
        .items
        .into_iter()
        .filter(owned)
        .filter_map(|j| {
            let stage = j.labels().get("weft.dev/stage")?.parse().ok()?;
            Some((stage, j))
        })
        .collect())
}

/// A spec the operator cannot run: the Pipeline fails with the reason.
async fn refuse(
    ctx: &Context,
    p: &PipelineResource,
    previous: &PipelineStatus,
    message: String,
) -> Result<Action, OperatorError> {
    let generation = p.metadata.generation;
    let status = PipelineStatus {
        phase: Phase::Failed,
        message: Some(message.clone()),
        observed_generation: generation,
        steps_total: p.spec.steps.len() as u32,
        conditions: vec![
            condition(
                previous,
                "SpecAccepted",
                false,
                "InvalidSpec",
                message.clone(),
                generation,
            ),
            condition(
                previous,
                "Ready",
                false,
                "Failed",
                message.clone(),
                generation,
            ),
        ],
        ..PipelineStatus::default()
    };
    if previous.message.as_deref() != Some(message.as_str()) {
        let event = Event {
            type_: EventType::Warning,
            reason: "InvalidSpec".into(),
            note: Some(clip(&message)),
            action: "Validate".into(),
            secondary: None,
        };
        send(ctx, p, event).await;
    }
    let ns = p.namespace().unwrap_or_else(|| "default".into());
    write_status(ctx, p, &ns, &status).await?;
    Ok(Action::await_change())
}

/// The steps of the stage a transition is about, for its Event.
fn stages_steps(status: &PipelineStatus, t: &Transition) -> String {
    let index = match t {
        Transition::StageStarted(n)
        | Transition::StageSucceeded(n)
        | Transition::StageFailed(n, _) => *n,
        Transition::PipelineSucceeded => return String::new(),
    };
    status
        .stages
        .get(index)
        .map(|s| s.steps.join(", "))
        .unwrap_or_default()
}

/// The Event for a transition.
async fn publish(ctx: &Context, p: &PipelineResource, t: &Transition, steps: &str) {
    let (type_, reason, note) = match t {
        Transition::StageStarted(n) => (
            EventType::Normal,
            "StageStarted",
            format!("stage {n} ({steps}) started"),
        ),
        Transition::StageSucceeded(n) => (
            EventType::Normal,
            "StageSucceeded",
            format!("stage {n} ({steps}) succeeded"),
        ),
        Transition::StageFailed(n, why) => (
            EventType::Warning,
            "StageFailed",
            format!("stage {n} ({steps}) failed: {why}"),
        ),
        Transition::PipelineSucceeded => (
            EventType::Normal,
            "Succeeded",
            "every stage succeeded".into(),
        ),
    };
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(clip(&note)),
        action: "Reconcile".into(),
        secondary: None,
    };
    send(ctx, p, event).await;
}

/// Publish an Event; a failure is logged, not fatal (Events are best effort).
async fn send(ctx: &Context, p: &PipelineResource, event: Event) {
    if let Err(e) = ctx.recorder.publish(&event, &p.object_ref(&())).await {
        tracing::warn!(pipeline = %p.name_any(), error = %e, "cannot publish an event");
    }
}

/// At most 1 kB, as Events require.
fn clip(text: &str) -> String {
    let mut end = text.len().min(1000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Merge-patch `.status` when it differs from what is there.
async fn write_status(
    ctx: &Context,
    p: &PipelineResource,
    ns: &str,
    status: &PipelineStatus,
) -> Result<(), OperatorError> {
    if p.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<PipelineResource> = Api::namespaced(ctx.client.clone(), ns);
    api.patch_status(
        &p.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    Ok(())
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
}

/// Watch Pipelines and their Jobs and ConfigMaps, reconciling, until
/// `shutdown` resolves.
pub async fn run(
    client: Client,
    options: Options,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (pipelines, jobs, config_maps): (Api<PipelineResource>, Api<Job>, Api<ConfigMap>) =
        match &options.namespace {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (
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
    });
    let managed = watcher::Config::default().labels("app.kubernetes.io/managed-by=weft-operator");
    let controller = Controller::new(pipelines, watcher::Config::default())
        .owns(jobs, managed.clone())
        .owns(config_maps, managed)
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
