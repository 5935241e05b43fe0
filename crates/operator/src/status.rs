//! The Pipeline's status as the controller writes it: its conditions, and
//! the status of a spec it refuses.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::ResourceExt;
use serde_json::json;

use super::controller::{Context, OperatorError};
use super::events::{event, send};
use super::follow::Run;
use weft_manifest::{Phase, PipelineResource, PipelineStatus};

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

/// The status to write: `observed`'s, for the run `run`, with conditions.
pub fn conclude(
    mut status: PipelineStatus,
    previous: &PipelineStatus,
    run: &Run,
    generation: Option<i64>,
) -> PipelineStatus {
    status.observed_generation = generation;
    status.spec_digest = Some(run.digest.clone());
    let (ok, reason, message) = run.accepted.clone();
    status.conditions = vec![
        condition(previous, "SpecAccepted", ok, reason, message, generation),
        condition(
            previous,
            "Ready",
            status.phase == Phase::Succeeded,
            phase_name(status.phase),
            status.message.clone().unwrap_or_else(|| {
                format!("{} of {} steps done", status.steps_done, status.steps_total)
            }),
            generation,
        ),
    ];
    status
}

/// `phase` as a condition reason.
fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "Pending",
        Phase::Running => "Running",
        Phase::Succeeded => "Succeeded",
        Phase::Failed => "Failed",
    }
}

/// A spec the operator cannot run: the Pipeline fails with the reason.
pub async fn refuse(
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
        send(
            ctx,
            p,
            event(EventType::Warning, "InvalidSpec", &message, None),
        )
        .await;
    }
    let ns = p.namespace().unwrap_or_else(|| "default".into());
    write_status(ctx, p, &ns, &status).await?;
    Ok(Action::await_change())
}

/// Merge-patch `.status` when it differs from what is there.
pub async fn write_status(
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
