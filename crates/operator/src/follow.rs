//! Following a run's stages: what their Jobs say together, the next
//! stage's missing Jobs made, a running stage whose pods cannot run failed,
//! and what the pods of finished stages left read into the status.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::events::EventType;
use kube::ResourceExt;

use super::controller::{apply, Context, OperatorError};
use super::events::{event, send};
use super::faults::{ending, nodes_of, outlook, run_by, Outlook};
use super::jobs::pipeline_label;
use super::progress::{explain, fail, failed_gates, record};
use super::{
    aggregate, job_names, observe, stage_jobs, Observed, Owner, StageJobs, StageSummary, Transition,
};
use weft_manifest::{stages, Manifest, Phase, PipelineResource, PipelineStatus, Stage};

/// The run a reconcile drives.
pub struct Run {
    /// The Pipeline's namespace.
    pub ns: String,
    /// The manifest it executes: the held one while a changed spec waits.
    pub manifest: Manifest,
    /// The digest of its spec.
    pub digest: String,
    /// The SpecAccepted condition: whether it holds, its reason and message.
    pub accepted: (bool, &'static str, String),
    /// The Pipeline, owner of what is made for it.
    pub owner: Owner,
}

/// What a reconcile found of a run, and what is left to do.
pub struct Found {
    /// The stages' state; the status to write.
    pub observed: Observed,
    /// The Jobs of a stage failed because its pods cannot run: removed once
    /// the status says so.
    pub doomed: Vec<String>,
    /// When to look again at pods stuck for less than the grace period.
    pub recheck: Option<Duration>,
}

/// Where `run`'s stages stand: start the next stage's missing Jobs, fail
/// the running stage whose pods cannot run, and read what the pods of
/// stages that finished left. `None` when a missing Job's stage turns out
/// to have finished: the cached status was stale.
pub async fn follow(
    ctx: &Context,
    p: &PipelineResource,
    previous: &PipelineStatus,
    run: &Run,
) -> Result<Option<Found>, OperatorError> {
    let name = &run.owner.name;
    // What the status says of another run's stages (or a stale copy of it)
    // does not count for this one.
    let this_run = match previous.spec_digest.as_deref() == Some(run.digest.as_str()) {
        true => previous.clone(),
        false => PipelineStatus::default(),
    };
    let stages = stages(&run.manifest.pipeline.spec, &run.manifest.order);
    let names: Vec<Vec<String>> = stages
        .iter()
        .map(|s| job_names(name, s, ctx.shard_mode))
        .collect();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &run.ns);
    let jobs = owned_jobs(&jobs_api, name, Some(&run.owner.uid)).await?;
    let states: Vec<StageJobs> = stages
        .iter()
        .map(|s| {
            aggregate(
                &names[s.index],
                jobs.get(&s.index).map_or(&[], Vec::as_slice),
            )
        })
        .collect();
    let now = Time(Timestamp::now());
    let step_names = run.manifest.pipeline.spec.step_names();
    let observed = observe(
        &stages,
        &step_names,
        &this_run,
        |s| states[s.index].clone(),
        &now,
    );
    tracing::debug!(pipeline = %name, phase = ?observed.status.phase, start = ?observed.start, jobs = jobs.len(), "observed");
    if let Some(n) = observed.start {
        if !start(ctx, run, &this_run, &stages[n], &states[n].missing).await? {
            return Ok(None);
        }
    }
    let mut found = Found {
        observed,
        doomed: Vec::new(),
        recheck: None,
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &run.ns);
    let pods = pods.list(&of_pipeline(name)).await?.items;
    let claim = run
        .manifest
        .pipeline
        .spec
        .storage
        .as_ref()
        .map(|s| s.claim_name.as_str());
    let nodes = nodes(ctx, &pods).await;
    let grace = ctx.unschedulable;
    if let Some(n) = stuck(&mut found, (&pods, &nodes), &names, claim, &now, grace) {
        let stage_jobs = jobs.get(&n).into_iter().flatten();
        found.doomed = stage_jobs.map(ResourceExt::name_any).collect();
    }
    read_pods(ctx, p, &mut found.observed, &pods, &names).await;
    Ok(Some(found))
}

/// Create the `missing` Jobs of `stage`; false, creating nothing, when its
/// Jobs went missing while it ran and the API server says it finished:
/// the cached status `this_run` was stale (the operator removes the Jobs
/// of a stage whose pods cannot run).
async fn start(
    ctx: &Context,
    run: &Run,
    this_run: &PipelineStatus,
    stage: &Stage,
    missing: &[String],
) -> Result<bool, OperatorError> {
    let n = stage.index;
    let ran = this_run
        .stages
        .get(n)
        .is_some_and(|s| s.phase == Phase::Running);
    if ran && finished(ctx, &run.ns, &run.owner.name, &run.digest, n).await? {
        return Ok(false);
    }
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &run.ns);
    let (pipeline, owner) = (&run.manifest.pipeline, Some(&run.owner));
    for job in stage_jobs(pipeline, stage, &ctx.image, owner, ctx.shard_mode) {
        let name = job.name_any();
        if missing.contains(&name) {
            apply(&api, &name, &job).await?;
        }
    }
    Ok(true)
}

/// The nodes under the pipeline's unfinished `pods`. One that cannot be
/// read (the operator may lack `nodes: get` under an older chart) is left
/// out, with a warning: only the lost-node check needs them.
async fn nodes(ctx: &Context, pods: &[Pod]) -> Vec<Node> {
    let api: Api<Node> = Api::all(ctx.client.clone());
    let mut nodes = Vec::new();
    for name in nodes_of(pods) {
        match api.get_opt(&name).await {
            Ok(node) => nodes.extend(node),
            Err(e) => tracing::warn!(node = %name, error = %e, "cannot read a stage pod's node"),
        }
    }
    nodes
}

/// Fail the running stage (not being started) whose pods, among `pods`,
/// cannot run for `grace` (on their `nodes`), naming the stage's steps and
/// `claim`; its index. A stage whose pods are stuck for less sets when to
/// look again.
fn stuck(
    found: &mut Found,
    (pods, nodes): (&[Pod], &[Node]),
    names: &[Vec<String>],
    claim: Option<&str>,
    now: &Time,
    grace: Duration,
) -> Option<usize> {
    let observed = &mut found.observed;
    let running = observed
        .status
        .stages
        .iter()
        .find(|s| s.phase == Phase::Running && observed.start != Some(s.index as usize))?;
    let n = running.index as usize;
    match outlook(&run_by(pods, &names[n]), nodes, now, grace) {
        Outlook::Fine => None,
        Outlook::Recheck(after) => {
            // Just past the grace period.
            found.recheck = Some(after + Duration::from_secs(1));
            None
        }
        Outlook::Stuck(fault) => {
            let message = fault.message(&running.steps, claim);
            let t = fail(&mut observed.status, n, message, now);
            observed.transitions.push(t);
            Some(n)
        }
    }
}

/// For each stage that finished, what its pods left: rows, metrics, gates
/// (a failed gate is a GateFailed Event), the error; for a failed stage
/// whose pods left no reason, how its pod ended (killed for memory, an
/// exit code). A failed stage's pods are those of the Job that failed.
async fn read_pods(
    ctx: &Context,
    p: &PipelineResource,
    observed: &mut Observed,
    pods: &[Pod],
    names: &[Vec<String>],
) {
    for t in observed.transitions.clone() {
        let (n, failed) = match t {
            Transition::StageSucceeded(n) => (n, false),
            Transition::StageFailed(n, _) => (n, true),
            Transition::StageStarted(_) | Transition::PipelineSucceeded => continue,
        };
        let stage = &observed.status.stages[n];
        let ran = match (failed, &stage.job) {
            (true, Some(job)) => run_by(pods, std::slice::from_ref(job)),
            _ => run_by(pods, &names[n]),
        };
        let (steps, job) = (stage.steps.clone(), stage.job.clone());
        let summary = StageSummary::latest(&ran);
        if let Some(summary) = &summary {
            record(&mut observed.status, n, summary);
            let gates = failed_gates(summary);
            if !gates.is_empty() {
                let note = format!("stage {n}: {}", gates.join("; "));
                let gate_failed = event(EventType::Warning, "GateFailed", &note, job.as_deref());
                send(ctx, p, gate_failed).await;
            }
        }
        let explained = summary
            .as_ref()
            .is_some_and(|s| s.error.is_some() || !failed_gates(s).is_empty());
        if failed && !explained {
            if let Some(why) = ending(&ran, &steps) {
                explain(&mut observed.status, n, &why);
            }
        }
    }
}

/// The stage Jobs of the pipeline `name` (owned by uid `uid`, if given),
/// by stage: one, or one per shard.
pub async fn owned_jobs(
    api: &Api<Job>,
    name: &str,
    uid: Option<&str>,
) -> Result<BTreeMap<usize, Vec<Job>>, OperatorError> {
    let owned = |j: &Job| uid.is_none_or(|uid| j.owner_references().iter().any(|o| o.uid == uid));
    let mut by_stage: BTreeMap<usize, Vec<Job>> = BTreeMap::new();
    for job in api.list(&of_pipeline(name)).await?.items {
        let stage = job
            .labels()
            .get("weft.dev/stage")
            .and_then(|s| s.parse().ok());
        if let Some(stage) = stage.filter(|_| owned(&job)) {
            by_stage.entry(stage).or_default().push(job);
        }
    }
    Ok(by_stage)
}

/// What is labelled as made for the pipeline `name`.
fn of_pipeline(name: &str) -> ListParams {
    ListParams::default().labels(&format!("weft.dev/pipeline={}", pipeline_label(name)))
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
