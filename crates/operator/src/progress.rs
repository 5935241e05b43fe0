//! Where a pipeline stands, worked out from the status written last time and
//! the Jobs that exist now: each stage's phase, the stage to start next, the
//! transitions worth an Event. Pure, so reconcile is idempotent by design.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{StageJobs, StageSummary};
use weft_manifest::Stage;
use weft_manifest::{Phase, PipelineStatus, StageStatus, StepStatus};

/// What a stage's Job says.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    /// No Job.
    Missing,
    /// Created, not finished.
    Running { start: Option<Time> },
    /// Every completion succeeded.
    Succeeded {
        start: Option<Time>,
        finish: Option<Time>,
    },
    /// Retries or the deadline are exhausted.
    Failed {
        start: Option<Time>,
        finish: Option<Time>,
        message: String,
    },
}

impl JobState {
    /// The state of `job`, from its conditions (as the Job controller
    /// writes them) or its count of succeeded pods.
    pub fn of(job: Option<&Job>) -> JobState {
        let Some(job) = job else {
            return JobState::Missing;
        };
        let status = job.status.clone().unwrap_or_default();
        let start = status
            .start_time
            .clone()
            .or_else(|| job.metadata.creation_timestamp.clone());
        let condition = |kind: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == kind && c.status == "True")
                .cloned()
        };
        if let Some(failed) = condition("Failed") {
            let message = [failed.reason, failed.message]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            return JobState::Failed {
                start,
                finish: failed.last_transition_time,
                message,
            };
        }
        let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
        let complete = condition("Complete");
        if complete.is_some() || status.succeeded.unwrap_or(0) >= completions {
            let finish = status
                .completion_time
                .or_else(|| complete.and_then(|c| c.last_transition_time));
            return JobState::Succeeded { start, finish };
        }
        JobState::Running { start }
    }

    /// When the Job started, if it exists.
    pub fn start(&self) -> Option<&Time> {
        match self {
            JobState::Missing => None,
            JobState::Running { start }
            | JobState::Succeeded { start, .. }
            | JobState::Failed { start, .. } => start.as_ref(),
        }
    }
}

/// Something that happened, worth an Event on the Pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A stage's Job is (re)created.
    StageStarted(usize),
    /// A stage succeeded.
    StageSucceeded(usize),
    /// A stage failed, and why.
    StageFailed(usize, String),
    /// Every stage succeeded.
    PipelineSucceeded,
}

/// The outcome of looking at a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The status to write (conditions and generation are the caller's).
    pub status: PipelineStatus,
    /// The stage whose missing Jobs must be created (again, if they were
    /// deleted): those its [`StageJobs`] lists as missing.
    pub start: Option<usize>,
    /// What changed since `previous`.
    pub transitions: Vec<Transition>,
}

/// Where the stages stand: a stage the previous status says finished stays
/// finished (its Jobs may be gone after their TTL); otherwise what its Jobs
/// say together (`jobs`) decides. The first stage missing a Job whose
/// predecessors all succeeded is the one to start. `steps` names the
/// pipeline's steps by index.
pub fn observe(
    stages: &[Stage],
    steps: &[String],
    previous: &PipelineStatus,
    jobs: impl Fn(&Stage) -> StageJobs,
    now: &Time,
) -> Observed {
    let mut out = Observed {
        status: PipelineStatus::default(),
        start: None,
        transitions: Vec::new(),
    };
    let mut blocked = false;
    for stage in stages {
        let before = previous
            .stages
            .get(stage.index)
            .filter(|s| s.index as usize == stage.index);
        let mut status = StageStatus {
            index: stage.index as u32,
            steps: stage.steps.iter().map(|&i| steps[i].clone()).collect(),
            ..before.cloned().unwrap_or_default()
        };
        let finished = matches!(
            before.map(|b| b.phase),
            Some(Phase::Succeeded | Phase::Failed)
        );
        if !finished {
            let jobs = jobs(stage);
            status.phase = Phase::Pending;
            status.job = Some(jobs.job);
            if !blocked {
                apply(&mut status, jobs.state, now);
                if status.phase == Phase::Running && !jobs.missing.is_empty() {
                    out.start = Some(stage.index);
                }
            }
        }
        let was = before.map(|b| b.phase).unwrap_or_default();
        if status.phase != was || out.start == Some(stage.index) {
            out.transitions.extend(transition(stage.index, &status));
        }
        blocked |= status.phase != Phase::Succeeded;
        out.status.stages.push(status);
    }
    summarise(&mut out.status, previous, steps.len());
    let done = out.status.phase == Phase::Succeeded;
    if done && previous.phase != Phase::Succeeded {
        out.transitions.push(Transition::PipelineSucceeded);
    }
    out
}

/// The stage's phase and times from its Job; a missing Job is started now.
fn apply(status: &mut StageStatus, job: JobState, now: &Time) {
    match job {
        JobState::Missing => {
            status.phase = Phase::Running;
            status.start_time.get_or_insert_with(|| now.clone());
        }
        JobState::Running { start } => {
            status.phase = Phase::Running;
            status.start_time = start.or(status.start_time.take());
        }
        JobState::Succeeded { start, finish } => {
            status.phase = Phase::Succeeded;
            status.start_time = start.or(status.start_time.take());
            status.finish_time = finish.or_else(|| Some(now.clone()));
        }
        JobState::Failed {
            start,
            finish,
            message,
        } => {
            status.phase = Phase::Failed;
            status.start_time = start.or(status.start_time.take());
            status.finish_time = finish.or_else(|| Some(now.clone()));
            status.message = Some(message);
        }
    }
}

fn transition(index: usize, status: &StageStatus) -> Option<Transition> {
    match status.phase {
        Phase::Running => Some(Transition::StageStarted(index)),
        Phase::Succeeded => Some(Transition::StageSucceeded(index)),
        Phase::Failed => Some(Transition::StageFailed(
            index,
            status.message.clone().unwrap_or_default(),
        )),
        Phase::Pending => None,
    }
}

/// Pipeline phase, step entries and counts from the stages; what the
/// previous status recorded of each step's run (rows, metrics, gates) stays.
fn summarise(status: &mut PipelineStatus, previous: &PipelineStatus, total: usize) {
    let phases: Vec<Phase> = status.stages.iter().map(|s| s.phase).collect();
    status.phase = if phases.contains(&Phase::Failed) {
        Phase::Failed
    } else if phases.iter().all(|p| *p == Phase::Succeeded) {
        Phase::Succeeded
    } else if phases.contains(&Phase::Running) {
        Phase::Running
    } else {
        Phase::Pending
    };
    status.message = failure_message(status);
    status.steps = status
        .stages
        .iter()
        .flat_map(|stage| {
            stage.steps.iter().map(|name| {
                let before = previous.steps.iter().find(|s| s.name == *name);
                StepStatus {
                    name: name.clone(),
                    phase: stage.phase,
                    start_time: stage.start_time.clone(),
                    finish_time: stage.finish_time.clone(),
                    ..before.cloned().unwrap_or_default()
                }
            })
        })
        .collect();
    status.steps_total = total as u32;
    status.steps_done = status
        .steps
        .iter()
        .filter(|s| s.phase == Phase::Succeeded)
        .count() as u32;
}

/// Why the pipeline failed: its failed stage, the reason, where to look.
fn failure_message(status: &PipelineStatus) -> Option<String> {
    let s = status.stages.iter().find(|s| s.phase == Phase::Failed)?;
    Some(format!(
        "stage {} (steps {}) failed: {}; see `kubectl logs job/{}`",
        s.index,
        s.steps.join(", "),
        s.message.as_deref().unwrap_or("no reason given"),
        s.job.as_deref().unwrap_or_default()
    ))
}

/// Record what stage `index`'s pod reported as it ended: rows, metrics and
/// gates of its steps, a cache hit, and, when it failed, its error or the
/// gates that failed, which become the stage's (and pipeline's) message.
pub fn record(status: &mut PipelineStatus, index: usize, summary: &StageSummary) {
    let Some(stage) = status.stages.get_mut(index) else {
        return;
    };
    stage.cache_hit = summary.cache_hit;
    let failed_gates = failed_gates(summary);
    if stage.phase == Phase::Failed {
        if let Some(error) = &summary.error {
            stage.message = Some(error.clone());
            stage.location = summary.location.clone();
        } else if !failed_gates.is_empty() {
            stage.message = Some(format!("gate failed: {}", failed_gates.join("; ")));
        }
    }
    for reported in &summary.steps {
        if let Some(step) = status.steps.iter_mut().find(|s| s.name == reported.name) {
            step.rows_out = reported.rows_out;
            step.metrics = reported.metrics.clone();
            step.gates = reported.gates.clone();
        }
    }
    status.message = failure_message(status);
}

/// The failed gates of a summary, in words.
pub fn failed_gates(summary: &StageSummary) -> Vec<String> {
    summary
        .steps
        .iter()
        .flat_map(|s| {
            s.gates
                .iter()
                .filter(|g| !g.passed)
                .map(|g| g.failure(&s.name))
        })
        .collect()
}

/// Add `why` (how its pod ended) to the message of the failed stage
/// `index`, after what its Job said.
pub fn explain(status: &mut PipelineStatus, index: usize, why: &str) {
    let Some(stage) = status
        .stages
        .get_mut(index)
        .filter(|s| s.phase == Phase::Failed)
    else {
        return;
    };
    stage.message = Some(match stage.message.take() {
        Some(job) => format!("{job}; {why}"),
        None => why.to_owned(),
    });
    status.message = failure_message(status);
}

/// Fail stage `index` (its Job is to be removed) for `message`; the
/// transition to publish.
pub fn fail(status: &mut PipelineStatus, index: usize, message: String, now: &Time) -> Transition {
    if let Some(stage) = status.stages.get_mut(index) {
        stage.phase = Phase::Failed;
        stage.finish_time = Some(now.clone());
        stage.message = Some(message.clone());
    }
    let previous = status.clone();
    summarise(status, &previous, previous.steps_total as usize);
    Transition::StageFailed(index, message)
}
