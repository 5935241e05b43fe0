//! The Events the controller publishes on Pipelines: one per transition,
//! and warnings for refused specs and failed gates. Best effort.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use super::controller::Context;
use super::Transition;
use weft_manifest::{PipelineResource, PipelineStatus};

/// An Event of the reconcile, about the stage whose Job is `job`, if any.
/// The recorder folds Events with the same reason and related object into
/// one series, so each stage's Job is named: the Events of different stages
/// stay apart.
pub fn event(type_: EventType, reason: &str, note: &str, job: Option<&str>) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(clip(note)),
        action: "Reconcile".into(),
        secondary: job.map(|name| ObjectReference {
            api_version: Some("batch/v1".into()),
            kind: Some("Job".into()),
            name: Some(name.into()),
            ..ObjectReference::default()
        }),
    }
}

/// The Event for a transition; `status` names the stage's steps and, for a
/// failure, the reason.
pub async fn publish(ctx: &Context, p: &PipelineResource, t: &Transition, status: &PipelineStatus) {
    let job = |n: &usize| status.stages.get(*n).and_then(|s| s.job.as_deref());
    let steps = |n: &usize| {
        status
            .stages
            .get(*n)
            .map(|s| s.steps.join(", "))
            .unwrap_or_default()
    };
    let (type_, reason, note, related) = match t {
        Transition::StageStarted(n) => (
            EventType::Normal,
            "StageStarted",
            format!("stage {n} ({}) started", steps(n)),
            job(n),
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
                job(n),
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
                job(n),
            )
        }
        Transition::PipelineSucceeded => (
            EventType::Normal,
            "Succeeded",
            "every stage succeeded".into(),
            None,
        ),
    };
    send(ctx, p, event(type_, reason, &note, related)).await;
}

/// Publish an Event; a failure is logged, not fatal (Events are best effort).
pub async fn send(ctx: &Context, p: &PipelineResource, event: Event) {
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
