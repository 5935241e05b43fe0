//! Why the pods of a stage cannot run, or how they died, read from their
//! status: the scheduler finding no node, the kubelet failing to pull the
//! image or create the container, the node under a running pod gone, a
//! container killed for memory. Pure, so the controller's verdicts are
//! unit-tested.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::SignedDuration;

/// Waiting reasons of a container whose image the kubelet cannot get.
const IMAGE_REASONS: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
];

/// Waiting reasons of a container the kubelet cannot create.
const CREATE_REASONS: [&str; 2] = ["CreateContainerConfigError", "CreateContainerError"];

/// Exit code of a process killed by SIGKILL, as the OOM killer does.
const SIGKILL_EXIT: i32 = 137;

/// Why a stage pod cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// The scheduler finds no node for it: the scheduler's message.
    Unschedulable(String),
    /// The kubelet cannot get its image.
    Image {
        /// The image.
        image: String,
        /// The container's waiting reason, e.g. ErrImagePull.
        reason: String,
        /// The kubelet's message.
        message: String,
    },
    /// The node it runs on is not ready: its kubelet stopped reporting, or
    /// the node went away. A single-node cluster never evicts (the node
    /// controller suspects its own network), so the pod would stay
    /// `Running` for ever.
    NodeLost {
        /// The node.
        node: String,
        /// Its Ready condition's reason and message.
        why: String,
    },
    /// The kubelet cannot create its container.
    Container {
        /// The pod.
        pod: String,
        /// The container's waiting reason, e.g. CreateContainerConfigError.
        reason: String,
        /// The kubelet's message.
        message: String,
    },
}

/// A stage pod that cannot run: since when, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// When it was found unschedulable, or was scheduled (else created).
    pub since: Time,
    /// Why it cannot run.
    pub cause: Cause,
}

/// What the pods of a running stage say about its chances.
#[derive(Debug, Clone, PartialEq)]
pub enum Outlook {
    /// No pod is stuck.
    Fine,
    /// A pod is stuck, for less than the grace period: look again after this long.
    Recheck(Duration),
    /// A pod has been stuck for the grace period: the stage cannot go on.
    Stuck(Fault),
}

impl Fault {
    /// The stage's message: what is wrong and what to check; `steps` are
    /// the stage's, `claim` the Pipeline's `spec.storage.claimName`.
    pub fn message(&self, steps: &[String], claim: Option<&str>) -> String {
        match &self.cause {
            Cause::Unschedulable(why) => format!(
                "its pods cannot be scheduled ({why}); {}",
                hints(why, steps, claim).join("; ")
            ),
            Cause::Image { image, reason, message } => format!(
                "its pods cannot start: image {image:?} cannot be pulled ({reason}: {message}); check the image name and pull policy, or spec.image"
            ),
            Cause::NodeLost { node, why } => format!(
                "its node {node} is not ready ({why}): its pods cannot finish there; check `kubectl get nodes`, and re-create the Pipeline once a node is back (finished stages are reused)"
            ),
            Cause::Container { pod, reason, message } => format!(
                "its pods cannot start: the container cannot be created ({reason}: {message}); see `kubectl describe pod {pod}`"
            ),
        }
    }
}

/// What to check when the scheduler finds no node, saying `why`: the claim
/// `claim` when it is unbound, the node when it is lost or not ready, and
/// always what `steps` ask of a node.
fn hints(why: &str, steps: &[String], claim: Option<&str>) -> Vec<String> {
    let mut hints = Vec::new();
    if why.contains("unbound immediate PersistentVolumeClaims") {
        hints.push(match claim {
            Some(c) => format!(
                "check spec.storage.claimName ({c:?}) and that the claim can bind (`kubectl describe pvc {c}`)"
            ),
            None => "check spec.storage.claimName and that the claim can bind".into(),
        });
    }
    let lost = [
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/not-ready",
    ];
    if lost.iter().any(|taint| why.contains(taint)) {
        hints.push("a node is gone or not ready (`kubectl get nodes`)".into());
    }
    hints.push(format!(
        "check the resources, nodeSelector and tolerations of steps {}",
        steps.join(", ")
    ));
    hints
}

/// Why `pod` cannot be scheduled: the scheduler's message, since it said so.
fn unschedulable(pod: &Pod) -> Option<Fault> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let stuck = conditions.iter().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    Some(Fault {
        since: stuck.last_transition_time.clone()?,
        cause: Cause::Unschedulable(
            stuck
                .message
                .clone()
                .unwrap_or_else(|| "no node fits".into()),
        ),
    })
}

/// When `pod` was scheduled, else created.
fn placed(pod: &Pod) -> Option<Time> {
    let scheduled = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "True")
        })
        .and_then(|c| c.last_transition_time.clone());
    scheduled.or_else(|| pod.metadata.creation_timestamp.clone())
}

/// Why a container of `pod` cannot start: its image cannot be pulled or it
/// cannot be created; since the pod was scheduled.
fn cannot_start(pod: &Pod) -> Option<Fault> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.clone()?;
        let message = waiting.message.clone().unwrap_or_default();
        let cause = if IMAGE_REASONS.contains(&reason.as_str()) {
            Cause::Image {
                image: c.image.clone(),
                reason,
                message,
            }
        } else if CREATE_REASONS.contains(&reason.as_str()) {
            Cause::Container {
                pod: pod.metadata.name.clone().unwrap_or_default(),
                reason,
                message,
            }
        } else {
            return None;
        };
        Some(Fault {
            since: placed(pod)?,
            cause,
        })
    })
}

/// Why `pod`, not finished, cannot finish: its node (among `nodes`) is not
/// ready, since the node said so last.
fn on_lost_node(pod: &Pod, nodes: &[Node]) -> Option<Fault> {
    let phase = pod.status.as_ref()?.phase.as_deref();
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    let name = pod.spec.as_ref()?.node_name.as_deref()?;
    let node = nodes
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(name))?;
    let conditions = node.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    if ready.status == "True" {
        return None;
    }
    let why = [ready.reason.as_deref(), ready.message.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    Some(Fault {
        since: ready.last_transition_time.clone()?,
        cause: Cause::NodeLost {
            node: name.to_owned(),
            why: format!("Ready={}, {why}", ready.status),
        },
    })
}

/// The nodes the not yet finished `pods` were placed on, by name.
pub fn nodes_of(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether a running stage whose pods are `pods` can go on at `now`: stuck
/// once one of them has had no node, could not start its container, or has
/// been on a node among `nodes` that is not ready, for `grace`.
pub fn outlook(pods: &[Pod], nodes: &[Node], now: &Time, grace: Duration) -> Outlook {
    let grace = SignedDuration::try_from(grace).unwrap_or(SignedDuration::MAX);
    let mut recheck: Option<Duration> = None;
    for fault in pods.iter().flat_map(|pod| {
        unschedulable(pod)
            .or_else(|| cannot_start(pod))
            .or_else(|| on_lost_node(pod, nodes))
    }) {
        let left = grace
            .checked_sub(now.0.duration_since(fault.since.0))
            .unwrap_or(SignedDuration::MAX);
        match Duration::try_from(left) {
            Ok(left) if !left.is_zero() => {
                recheck = Some(recheck.map_or(left, |r| r.min(left)));
            }
            _ => return Outlook::Stuck(fault),
        }
    }
    recheck.map_or(Outlook::Fine, Outlook::Recheck)
}

/// The memory limit of the container `name` of `pod`.
fn memory_limit(pod: &Pod, name: &str) -> Option<String> {
    let container = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == name)?;
    let limits = container.resources.as_ref()?.limits.as_ref()?;
    Some(limits.get("memory")?.0.clone())
}

/// How the container that ended last among `pods` (its current or last
/// state) ended, unless with exit code 0: killed for memory (reason
/// OOMKilled, or exit code 137), with what to raise among `steps`, or its
/// exit code and reason.
pub fn ending(pods: &[Pod], steps: &[String]) -> Option<String> {
    let ended = pods.iter().flat_map(|pod| {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref());
        statuses.into_iter().flatten().flat_map(move |c| {
            [c.state.as_ref(), c.last_state.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|s| s.terminated.as_ref())
                .map(move |t| (pod, c.name.as_str(), t))
        })
    });
    let (pod, container, t) = ended
        .filter(|(.., t)| t.exit_code != 0)
        .max_by(|a, b| a.2.finished_at.cmp(&b.2.finished_at))?;
    Some(describe(t, memory_limit(pod, container), steps))
}

/// `t` in words, the container's memory limit being `limit`.
fn describe(t: &ContainerStateTerminated, limit: Option<String>, steps: &[String]) -> String {
    let code = t.exit_code;
    let reason = t.reason.as_deref().unwrap_or("Error");
    if reason == "OOMKilled" || code == SIGKILL_EXIT {
        let steps = steps.join(", ");
        return match limit {
            Some(limit) => format!("its pod was OOM-killed (exit {code}) with a memory limit of {limit}; raise resources.memory of steps {steps}"),
            None => format!("its pod was OOM-killed (exit {code}) without a memory limit, its node short of memory; set resources.memory of steps {steps}"),
        };
    }
    match t
        .signal
        .or((code > 128 && code < 160).then_some(code - 128))
    {
        Some(signal) => format!("its pod ended with exit code {code} ({reason}, signal {signal})"),
        None => format!("its pod ended with exit code {code} ({reason})"),
    }
}

/// The pods among `pods` that the Jobs named `jobs` run (by the `job-name`
/// label the Job controller gives them).
pub fn run_by(pods: &[Pod], jobs: &[String]) -> Vec<Pod> {
    pods.iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("job-name"))
                .is_some_and(|j| jobs.contains(j))
        })
        .cloned()
        .collect()
}
