//! Why stage pods cannot run or how they died, from hand-built pods.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Node, NodeCondition, NodeStatus, Pod, PodCondition, PodSpec, PodStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::faults::{ending, nodes_of, outlook, run_by, Cause, Fault, Outlook};
use super::progress::{explain, record};
use super::tests::progress::at;
use super::StageSummary;
use weft_manifest::{Location, Phase, PipelineStatus, StageStatus};

const GRACE: Duration = Duration::from_secs(300);

/// Pod `name` of Job `job`, created at 0 s, its container limited to
/// `memory`, with `status`.
fn pod(name: &str, job: &str, memory: Option<&str>, status: PodStatus) -> Pod {
    let limits = memory.map(|m| BTreeMap::from([("memory".to_owned(), Quantity(m.into()))]));
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("job-name".into(), job.into())])),
            creation_timestamp: Some(at(0)),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "weft".into(),
                resources: Some(ResourceRequirements {
                    limits,
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(status),
    }
}

/// A PodScheduled condition.
fn scheduled(status: &str, reason: Option<&str>, message: &str, since: i64) -> PodCondition {
    PodCondition {
        type_: "PodScheduled".into(),
        status: status.into(),
        reason: reason.map(Into::into),
        message: Some(message.into()),
        last_transition_time: Some(at(since)),
        ..PodCondition::default()
    }
}

/// A pod the scheduler has found no node for since `since`, saying `why`.
fn unschedulable(why: &str, since: i64) -> Pod {
    let status = PodStatus {
        conditions: Some(vec![scheduled("False", Some("Unschedulable"), why, since)]),
        ..PodStatus::default()
    };
    pod("churn-stage-0-x", "churn-stage-0", None, status)
}

/// The status of a pod whose container is in `state` (and was in `last`).
fn container(
    state: ContainerState,
    last: Option<ContainerState>,
    scheduled_at: Option<i64>,
) -> PodStatus {
    PodStatus {
        conditions: scheduled_at.map(|t| vec![scheduled("True", None, "", t)]),
        container_statuses: Some(vec![ContainerStatus {
            name: "weft".into(),
            image: "weft:missing".into(),
            state: Some(state),
            last_state: last,
            ..ContainerStatus::default()
        }]),
        ..PodStatus::default()
    }
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: Some(message.into()),
        }),
        ..ContainerState::default()
    }
}

fn terminated(
    exit_code: i32,
    reason: &str,
    finished: i64,
    message: Option<&str>,
) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            reason: Some(reason.into()),
            finished_at: Some(at(finished)),
            message: message.map(Into::into),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

fn steps() -> Vec<String> {
    vec!["a".into(), "b".into()]
}

fn stuck_message(pods: &[Pod], now: i64) -> String {
    match outlook(pods, &[], &at(now), GRACE) {
        Outlook::Stuck(fault) => fault.message(&steps(), Some("data")),
        other => panic!("not stuck: {other:?}"),
    }
}

#[test]
fn pods_nowhere_to_run_for_the_grace_period_are_stuck() {
    let why = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
    assert_eq!(
        outlook(&[unschedulable(why, 800)], &[], &at(1000), GRACE),
        Outlook::Recheck(Duration::from_secs(100))
    );
    assert_eq!(
        outlook(&[unschedulable(why, 700)], &[], &at(1000), GRACE),
        Outlook::Stuck(Fault {
            since: at(700),
            cause: Cause::Unschedulable(why.into())
        })
    );
    assert_eq!(
        stuck_message(&[unschedulable(why, 0)], 1000),
        format!("its pods cannot be scheduled ({why}); check the resources, nodeSelector and tolerations of steps a, b")
    );
    let gated = PodStatus {
        conditions: Some(vec![scheduled("False", Some("SchedulingGated"), "", 0)]),
        ..PodStatus::default()
    };
    assert_eq!(
        outlook(&[pod("p", "j", None, gated)], &[], &at(1000), GRACE),
        Outlook::Fine
    );
    assert_eq!(outlook(&[], &[], &at(1000), GRACE), Outlook::Fine);
}

#[test]
fn an_unbound_claim_or_a_lost_node_is_named() {
    let claim = "0/1 nodes are available: 1 node(s) had unbound immediate PersistentVolumeClaims.";
    let message = stuck_message(&[unschedulable(claim, 0)], 1000);
    assert!(
        message.contains("check spec.storage.claimName (\"data\") and that the claim can bind (`kubectl describe pvc data`)"),
        "{message}"
    );
    let taint = "0/1 nodes are available: 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate.";
    let message = stuck_message(&[unschedulable(taint, 0)], 1000);
    assert!(message.contains("a node is gone or not ready"), "{message}");
    assert!(!message.contains("claim"), "{message}");
    let unreachable = taint.replace("not-ready", "unreachable");
    let message = stuck_message(&[unschedulable(&unreachable, 0)], 1000);
    assert!(message.contains("a node is gone or not ready"), "{message}");
}

#[test]
fn an_image_that_cannot_be_pulled_fails_after_the_grace_period() {
    let kubelet = "Container image \"weft:missing\" is not present with pull policy of Never";
    let never = |scheduled_at| {
        let status = container(waiting("ErrImageNeverPull", kubelet), None, scheduled_at);
        pod("churn-stage-0-x", "churn-stage-0", None, status)
    };
    // Measured from when the pod was scheduled, else created.
    assert_eq!(
        outlook(&[never(Some(900))], &[], &at(1000), GRACE),
        Outlook::Recheck(Duration::from_secs(200))
    );
    assert_eq!(
        stuck_message(&[never(None)], 1000),
        format!("its pods cannot start: image \"weft:missing\" cannot be pulled (ErrImageNeverPull: {kubelet}); check the image name and pull policy, or spec.image")
    );
    for reason in ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"] {
        let status = container(waiting(reason, "x"), None, Some(0));
        let message = stuck_message(&[pod("p", "j", None, status)], 1000);
        assert!(
            message.contains(&format!("cannot be pulled ({reason}: x)")),
            "{message}"
        );
    }
    let creating = container(waiting("ContainerCreating", ""), None, Some(0));
    assert_eq!(
        outlook(&[pod("p", "j", None, creating)], &[], &at(1000), GRACE),
        Outlook::Fine
    );
}

#[test]
fn a_container_that_cannot_be_created_fails_naming_its_pod() {
    let status = container(
        waiting(
            "CreateContainerConfigError",
            "configmap \"churn-manifest\" not found",
        ),
        None,
        Some(0),
    );
    assert_eq!(
        stuck_message(&[pod("churn-stage-0-x", "churn-stage-0", None, status)], 1000),
        "its pods cannot start: the container cannot be created (CreateContainerConfigError: configmap \"churn-manifest\" not found); see `kubectl describe pod churn-stage-0-x`"
    );
}

#[test]
fn a_killed_pod_says_how_it_died() {
    let oom = |memory| {
        let status = container(
            terminated(137, "OOMKilled", 50, Some("log tail")),
            None,
            Some(0),
        );
        pod("p", "j", memory, status)
    };
    assert_eq!(
        ending(&[oom(Some("16Mi"))], &steps()).as_deref(),
        Some("its pod was OOM-killed (exit 137) with a memory limit of 16Mi; raise resources.memory of steps a, b")
    );
    let message = ending(&[oom(None)], &steps()).unwrap();
    assert!(message.contains("without a memory limit"), "{message}");
    assert!(
        message.contains("set resources.memory of steps a, b"),
        "{message}"
    );
    let code = |exit, reason: &str| {
        let status = container(terminated(exit, reason, 50, None), None, Some(0));
        ending(&[pod("p", "j", None, status)], &steps())
    };
    assert_eq!(
        code(1, "Error").as_deref(),
        Some("its pod ended with exit code 1 (Error)")
    );
    assert_eq!(
        code(143, "Error").as_deref(),
        Some("its pod ended with exit code 143 (Error, signal 15)")
    );
    assert!(code(137, "Error")
        .unwrap()
        .contains("OOM-killed (exit 137)"));
    assert_eq!(code(0, "Completed"), None);
    // The container that ended last counts, its last state too.
    let retried = container(
        waiting("ContainerCreating", ""),
        Some(terminated(2, "Error", 90, None)),
        Some(0),
    );
    let pods = [oom(Some("16Mi")), pod("q", "j", None, retried)];
    assert_eq!(
        ending(&pods, &steps()).as_deref(),
        Some("its pod ended with exit code 2 (Error)")
    );
}

#[test]
fn the_reason_a_pod_died_follows_what_its_job_said() {
    let mut status = PipelineStatus {
        phase: Phase::Failed,
        stages: vec![StageStatus {
            phase: Phase::Failed,
            steps: steps(),
            job: Some("churn-stage-0".into()),
            message: Some(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into(),
            ),
            ..StageStatus::default()
        }],
        ..PipelineStatus::default()
    };
    explain(&mut status, 0, "its pod was OOM-killed (exit 137)");
    assert_eq!(
        status.message.as_deref(),
        Some("stage 0 (steps a, b) failed: BackoffLimitExceeded: Job has reached the specified backoff limit; its pod was OOM-killed (exit 137); see `kubectl logs job/churn-stage-0`")
    );
}

#[test]
fn a_manifest_error_keeps_its_location_from_the_pod_to_the_stage_status() {
    let location = Location {
        file: "/data/pipeline.weft.yaml".into(),
        line: 14,
        column: 9,
    };
    let message = "/data/pipeline.weft.yaml:14:9: step \"scale\": config does not match";
    let sent = StageSummary::of_error(message, Some(location.clone())).to_json();
    let summary = StageSummary::parse(&sent).expect("a summary reads back");
    let mut status = PipelineStatus {
        stages: vec![StageStatus {
            phase: Phase::Failed,
            steps: steps(),
            ..StageStatus::default()
        }],
        ..PipelineStatus::default()
    };
    record(&mut status, 0, &summary);
    assert_eq!(status.stages[0].location, Some(location));
    assert_eq!(status.stages[0].message.as_deref(), Some(message));
}

#[test]
fn summaries_and_faults_come_from_the_pods_of_the_stage_jobs() {
    let summary = StageSummary::of_error("no such column: x", None).to_json();
    let pods = [
        pod(
            "a",
            "churn-stage-0",
            None,
            container(terminated(1, "Error", 10, Some(&summary)), None, None),
        ),
        pod(
            "b",
            "churn-stage-0",
            None,
            container(terminated(1, "Error", 20, Some("panicked at")), None, None),
        ),
        pod(
            "c",
            "churn-stage-1",
            None,
            container(terminated(1, "Error", 30, Some(&summary)), None, None),
        ),
    ];
    let mine = run_by(&pods, &["churn-stage-0".to_owned()]);
    let names: Vec<_> = mine
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let latest = StageSummary::latest(&mine).unwrap();
    assert_eq!(
        latest.error.as_deref(),
        Some("no such column: x"),
        "a log tail is no summary"
    );
    assert_eq!(StageSummary::latest(&mine[1..]), None);
}

/// Node `name` whose Ready condition is `status` since `since`.
fn node(name: &str, status: &str, since: i64) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                reason: Some("NodeStatusUnknown".into()),
                message: Some("Kubelet stopped posting node status.".into()),
                last_transition_time: Some(at(since)),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

#[test]
fn a_pod_on_a_node_that_is_not_ready_is_stuck_after_the_grace_period() {
    let mut running = container(waiting("ContainerCreating", ""), None, Some(10));
    running.phase = Some("Running".into());
    running.container_statuses = None;
    let mut on = pod("churn-stage-0-x", "churn-stage-0", None, running);
    on.spec.as_mut().unwrap().node_name = Some("n1".into());
    assert_eq!(nodes_of(std::slice::from_ref(&on)), ["n1"]);
    let lost = [node("n1", "Unknown", 900)];
    let Outlook::Stuck(fault) = outlook(std::slice::from_ref(&on), &lost, &at(1200), GRACE) else {
        panic!("a pod on a lost node is stuck once the grace period is over");
    };
    let message = fault.message(&steps(), None);
    assert!(message.contains("its node n1 is not ready (Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status.)"), "{message}");
    assert!(message.contains("kubectl get nodes"), "{message}");
    // Within the grace period: look again when it ends.
    assert_eq!(
        outlook(std::slice::from_ref(&on), &lost, &at(1000), GRACE),
        Outlook::Recheck(Duration::from_secs(200))
    );
    // A ready node, another node, or a pod that finished: nothing wrong.
    let fine =
        |nodes: &[Node], pod: &Pod| outlook(std::slice::from_ref(pod), nodes, &at(1200), GRACE);
    assert_eq!(fine(&[node("n1", "True", 900)], &on), Outlook::Fine);
    assert_eq!(fine(&[node("n2", "Unknown", 900)], &on), Outlook::Fine);
    let mut done = on.clone();
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    assert_eq!(fine(&lost, &done), Outlook::Fine);
    assert!(nodes_of(&[done]).is_empty());
}
