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
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::jobs::{config_map_name, job_name, pipeline_label};
use super::metrics::Metrics;
use super::progress::{fail, failed_gates, observe, record, unschedulable, Observed, Transition};
use super::{manifest_config_map, stage_job, stages, Owner, StageSummary};
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
    /// How long a stage's pods may find no node before the stage fails.
    pub unschedulable: Duration,
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
    let previous = p.status.clone().unwrap_or_default();
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
    // The manifest this run executes, and its digest.
    let (manifest, running) = match running {
        Some((held, cm)) if held != wanted && previous.phase == Phase::Running => {
            accepted = (
                false,
                "SpecChangedWhileRunning",
                "the spec changed while the pipeline runs: this run finishes with the spec it started with, then the new spec runs".into(),
            );
            (held_manifest(&cm)?, held)
        }
        Some((held, _)) if held != wanted => {
            restart(&config_maps, &jobs_api, &name).await?;
            (manifest, wanted)
        }
        _ => (manifest, wanted),
    };
    let owner = Owner {
        name: name.clone(),
        uid: p.uid().unwrap_or_default(),
    };
    let mut cm = manifest_config_map(&manifest.pipeline, Some(&owner))
        .map_err(|e| render("the manifest ConfigMap", e))?;
    cm.annotations_mut()
        .insert(SPEC_DIGEST.into(), running.clone());
    apply(&config_maps, &config_map_name(&name), &cm).await?;
    // What the status says of another run's stages (or a stale copy of it)
    // does not count for this one.
    let this_run = match previous.spec_digest.as_deref() == Some(running.as_str()) {
        true => previous.clone(),
        false => PipelineStatus::default(),
    };
    let stages = stages(&manifest.pipeline.spec, &manifest.order);
    let step_names = manifest.pipeline.spec.step_names();
    let jobs = owned_jobs(&jobs_api, &name, Some(&owner.uid)).await?;
    let now = Time(Timestamp::now());
    let mut observed = observe(
        &stages,
        &step_names,
        &this_run,
        &jobs,
        |s| job_name(&name, s.index),
        &now,
    );
    tracing::debug!(pipeline = %name, phase = ?observed.status.phase, start = ?observed.start, jobs = jobs.len(), "observed");
    if let Some(n) = observed.start {
        // A Job that went missing while its stage ran is made again, unless
        // the cached status was stale and the stage in fact finished (the
        // operator removes the Job of a stage it fails for want of a node).
        let recreate = this_run
            .stages
            .get(n)
            .is_some_and(|s| s.phase == Phase::Running);
        if recreate && finished(&ctx, &ns, &name, &running, n).await? {
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let job = stage_job(&manifest.pipeline, &stages[n], &ctx.image, Some(&owner));
        apply(&jobs_api, &job_name(&name, n), &job).await?;
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    // Its Job goes once the status says the stage failed.
    let mut stuck_job = None;
    if let Some(stuck) = stuck_stage(&observed, &pods, &name, &now, ctx.unschedulable).await? {
        stuck_job = Some(job_name(&name, stuck.0));
        let t = fail(&mut observed.status, stuck.0, stuck.1, &now);
        observed.transitions.push(t);
    }
    for t in &observed.transitions {
        if let Transition::StageSucceeded(n) | Transition::StageFailed(n, _) = t {
            if let Some(summary) = pod_summary(&pods, &job_name(&name, *n)).await? {
                record(&mut observed.status, *n, &summary);
                for gate in failed_gates(&summary) {
                    let note = format!("stage {n}: {gate}");
                    send(&ctx, p, event(EventType::Warning, "GateFailed", &note)).await;
                }
            }
        }
    }
    for t in &observed.transitions {
        publish(&ctx, p, t, &observed.status).await;
    }
    let mut status = observed.status;
    status.observed_generation = generation;
    status.spec_digest = Some(running);
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
    if let Some(job) = stuck_job {
        jobs_api.delete(&job, &background()).await?;
    }
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
        send(ctx, p, event(EventType::Warning, "InvalidSpec", &message)).await;
    }
    let ns = p.namespace().unwrap_or_else(|| "default".into());
    write_status(ctx, p, &ns, &status).await?;
    Ok(Action::await_change())
}

/// An Event of the reconcile.
fn event(type_: EventType, reason: &str, note: &str) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(clip(note)),
        action: "Reconcile".into(),
        secondary: None,
    }
}

/// The Event for a transition; `status` names the stage's steps and, for a
/// failure, the reason.
async fn publish(ctx: &Context, p: &PipelineResource, t: &Transition, status: &PipelineStatus) {
    let steps = |n: &usize| {
        status
            .stages
            .get(*n)
            .map(|s| s.steps.join(", "))
            .unwrap_or_default()
    };
    let (type_, reason, note) = match t {
        Transition::StageStarted(n) => (
            EventType::Normal,
            "StageStarted",
            format!("stage {n} ({}) started", steps(n)),
        ),
        Transition::StageSucceeded(n) => {
            let reused = status.stages.get(*n).is_some_and(|s| s.cache_hit);
            let how = if reused {
                " (outputs reused: cache hit)"
            } else {
                ""
            };
            (
                EventType::Normal,
                "StageSucceeded",
                format!("stage {n} ({}) succeeded{how}", steps(n)),
            )
        }
        Transition::StageFailed(n, _) => {
            let why = status
                .stages
                .get(*n)
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            (
                EventType::Warning,
                "StageFailed",
                format!("stage {n} ({}) failed: {why}", steps(n)),
            )
        }
        Transition::PipelineSucceeded => (
            EventType::Normal,
            "Succeeded",
            "every stage succeeded".into(),
        ),
    };
    send(ctx, p, event(type_, reason, &note)).await;
}

/// Whether the API server (not the controller's cache) holds a status of
/// the run with spec digest `digest` in which stage `n` has finished.
async fn finished(
    ctx: &Context,
    ns: &str,
    name: &str,
    digest: &str,
    n: usize,
) -> Result<bool, OperatorError> {
    let api: Api<PipelineResource> = Api::namespaced(ctx.client.clone(), ns);
    let status = api.get_status(name).await?.status.unwrap_or_default();
    let stage = status.stages.get(n).map(|s| s.phase);
    Ok(status.spec_digest.as_deref() == Some(digest)
        && matches!(stage, Some(Phase::Succeeded | Phase::Failed)))
}

/// The running stage whose pods the scheduler has placed nowhere for
/// `grace`, with why.
async fn stuck_stage(
    observed: &Observed,
    pods: &Api<Pod>,
    name: &str,
    now: &Time,
    grace: Duration,
) -> Result<Option<(usize, String)>, OperatorError> {
    let Some(running) = observed
        .status
        .stages
        .iter()
        .find(|s| s.phase == Phase::Running && observed.start != Some(s.index as usize))
    else {
        return Ok(None);
    };
    let job = job_name(name, running.index as usize);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await?;
    Ok(unschedulable(&list.items, now, grace).map(|why| {
        let message = format!(
            "its pods cannot be scheduled ({why}); check the resources, nodeSelector and tolerations of steps {}",
            running.steps.join(", ")
        );
        (running.index as usize, message)
    }))
}

/// Delete what depends on the object too, in the background.
fn background() -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    }
}

/// What the newest pod of `job` that ended with a summary left in its
/// termination message.
async fn pod_summary(pods: &Api<Pod>, job: &str) -> Result<Option<StageSummary>, OperatorError> {
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await?;
    let ended = list.items.into_iter().flat_map(|pod| {
        let statuses = pod
            .status
            .and_then(|s| s.container_statuses)
            .unwrap_or_default();
        statuses.into_iter().filter_map(|c| {
            let ended = c.state?.terminated?;
            let summary = StageSummary::parse(ended.message.as_deref()?)?;
            Some((ended.finished_at, summary))
        })
    });
    Ok(ended
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, summary)| summary))
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
    /// How long a stage's pods may find no node before the stage fails.
    pub unschedulable: Duration,
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
