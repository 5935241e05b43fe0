//! Stage cutting and the generated objects, checked field by field.

use k8s_openapi::api::batch::v1::Job;

use super::*;
use weft_manifest::{stages, Manifest, Pipeline, Role, Stage};

/// A manifest of steps `a`..`e` given by their YAML tails, e.g.
/// `"resources: { nvidia.com/gpu: 1 }"`, each needing the one before.
pub(super) fn manifest(extra_spec: &str, steps: &[&str]) -> Manifest {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: churn, namespace: ml }}\n\
         spec:\n  plugins: {{ p: {{ path: p.wasm }} }}\n  input: {{ path: in.csv }}\n  output: {{ path: out/ }}\n{extra_spec}  steps:\n"
    );
    for (i, tail) in steps.iter().enumerate() {
        let name = (b'a' + i as u8) as char;
        let needs = match i {
            0 => String::new(),
            _ => format!(", needs: [{}]", (b'a' + i as u8 - 1) as char),
        };
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!(", {tail}")
        };
        yaml += &format!("    - {{ name: {name}, plugin: p{needs}{tail} }}\n");
    }
    let file = dir.path().join("pipeline.yaml");
    std::fs::write(&file, yaml).unwrap();
    Manifest::load(&file).unwrap()
}

fn cut(m: &Manifest) -> Vec<(Vec<usize>, u32, u32)> {
    stages(&m.pipeline.spec, &m.order)
        .into_iter()
        .map(|s| (s.steps, s.shards, s.retries))
        .collect()
}

fn roles(m: &Manifest) -> Vec<Role> {
    stages(&m.pipeline.spec, &m.order)
        .into_iter()
        .map(|s| s.role)
        .collect()
}

#[test]
fn consecutive_steps_share_a_stage_until_resources_or_shards_change() {
    let gpu = "resources: { nvidia.com/gpu: 1 }";
    let m = manifest("", &["", "retries: 2", gpu, gpu, "shards: 3", "", ""]);
    assert_eq!(
        cut(&m),
        [
            (vec![0, 1], 1, 2),
            (vec![2, 3], 1, 0),
            (vec![4], 3, 0),
            (vec![4], 1, 0),
            (vec![5, 6], 1, 0),
        ]
    );
    use Role::{FitShares, Merge, Run};
    assert_eq!(roles(&m), [Run, Run, FitShares, Merge, Run]);
    assert_eq!(cut(&manifest("", &["", "", ""])), [(vec![0, 1, 2], 1, 0)]);
    let two = manifest("", &["shards: 2", "shards: 2"]);
    assert_eq!(roles(&two), [FitShares, Merge, FitShares, Merge]);
    assert_eq!(roles(&manifest("", &["shards: 1", ""])), [Run]);
}

/// The pipeline of [`manifest`] and its stages.
pub(super) fn pipeline(extra_spec: &str, steps: &[&str]) -> (Pipeline, Vec<Stage>) {
    let m = manifest(extra_spec, steps);
    let stages = stages(&m.pipeline.spec, &m.order);
    (m.pipeline, stages)
}

fn job(p: &Pipeline, stage: &Stage) -> Job {
    let owner = Owner {
        name: "churn".into(),
        uid: "0b7c8f3e-1111-2222-3333-444455556666".into(),
    };
    stage_job(p, stage, DEFAULT_IMAGE, Some(&owner))
}

#[test]
fn a_stage_job_is_owned_labelled_and_hardened() {
    let (p, stages) = pipeline("", &["retries: 4"]);
    let j = job(&p, &stages[0]);
    assert_eq!(j.metadata.name.as_deref(), Some("churn-stage-0"));
    assert_eq!(j.metadata.namespace.as_deref(), Some("ml"));
    let owner = &j.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Pipeline", "churn")
    );
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    let labels = j.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["weft.dev/pipeline"], "churn");
    assert_eq!(labels["weft.dev/stage"], "0");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "weft-operator");
    let spec = j.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(4));
    assert_eq!(spec.completion_mode, None, "NonIndexed, the default");
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let c = &pod.containers[0];
    assert_eq!(
        c.args.as_deref().unwrap(),
        [
            "run",
            "--quiet",
            "--stage",
            "0",
            "--summary-file",
            "/dev/termination-log",
            "/data/pipeline.weft.yaml"
        ]
    );
    let security = c.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_owned()][..])
    );
}

#[test]
fn shards_resources_and_cluster_fields_reach_the_job() {
    let spec = "  image: registry.example/weft:9\n  storage: { claimName: data, subPath: churn }\n  \
                activeDeadlineSeconds: 600\n  ttlSecondsAfterFinished: 60\n  nodeSelector: { pool: gpu }\n  \
                tolerations: [{ key: nvidia.com/gpu, operator: Exists, effect: NoSchedule }]\n";
    let (p, stages) = pipeline(
        spec,
        &[
            "",
            "shards: 4, resources: { cpu: 2, memory: 4Gi, nvidia.com/gpu: 1 }",
        ],
    );
    let j = job(&p, &stages[1]);
    let s = j.spec.as_ref().unwrap();
    assert_eq!((s.completions, s.parallelism), (Some(4), Some(4)));
    assert_eq!(s.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!(s.active_deadline_seconds, Some(600));
    assert_eq!(s.ttl_seconds_after_finished, Some(60));
    let pod = s.template.spec.as_ref().unwrap();
    assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "gpu");
    assert_eq!(
        pod.tolerations.as_ref().unwrap()[0].key.as_deref(),
        Some("nvidia.com/gpu")
    );
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("registry.example/weft:9"));
    let r = c.resources.as_ref().unwrap();
    assert_eq!(r.requests.as_ref().unwrap()["cpu"].0, "2");
    assert_eq!(r.limits.as_ref().unwrap()["memory"].0, "4Gi");
    assert_eq!(r.limits.as_ref().unwrap()["nvidia.com/gpu"].0, "1");
    let data = &c.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(
        (data.mount_path.as_str(), data.sub_path.as_deref()),
        ("/data", Some("churn"))
    );
    let claim = pod.volumes.as_ref().unwrap()[0]
        .persistent_volume_claim
        .as_ref()
        .unwrap();
    assert_eq!(claim.claim_name, "data");
}

#[test]
fn the_manifest_config_map_round_trips_and_long_names_fit() {
    let (p, _) = pipeline("", &[""]);
    let cm = manifest_config_map(&p, None).unwrap();
    assert_eq!(cm.metadata.name.as_deref(), Some("churn-manifest"));
    let text = &cm.data.as_ref().unwrap()["pipeline.yaml"];
    let back: Pipeline = serde_yaml::from_str(text).unwrap();
    assert_eq!(back, p);

    let mut long = p.clone();
    long.metadata.name = "a".repeat(60);
    let stage = Stage {
        index: 12,
        steps: vec![0],
        resources: None,
        shards: 1,
        retries: 0,
        role: Role::Run,
    };
    let name = stage_job(&long, &stage, DEFAULT_IMAGE, None)
        .metadata
        .name
        .unwrap();
    assert!(name.len() <= 63, "{name}");
    let other = {
        let mut o = long.clone();
        o.metadata.name = format!("{}b", "a".repeat(59));
        stage_job(&o, &stage, DEFAULT_IMAGE, None)
            .metadata
            .name
            .unwrap()
    };
    assert_ne!(name, other, "truncated names stay distinct");
}

pub(super) mod progress {
    use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    use super::super::*;
    use super::manifest;
    use weft_manifest::{stages, Phase, PipelineStatus};

    /// `seconds` after the epoch.
    pub(crate) fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    /// The Job `name`, started at 10 s, whose controller wrote `condition`
    /// (Complete, Failed) at 20 s, or none.
    pub(crate) fn job(name: &str, condition: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            status: Some(JobStatus {
                start_time: Some(at(10)),
                conditions: condition.map(|c| {
                    vec![JobCondition {
                        type_: c.into(),
                        status: "True".into(),
                        reason: Some("BackoffLimitExceeded".into()),
                        last_transition_time: Some(at(20)),
                        ..JobCondition::default()
                    }]
                }),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    /// What `observe` makes of `m`'s stages, given `previous` and the
    /// `existing` Jobs, its stages run as `mode` asks.
    pub fn observe_jobs(
        m: &weft_manifest::Manifest,
        previous: &PipelineStatus,
        existing: &[Job],
        mode: ShardMode,
    ) -> Observed {
        let stages = stages(&m.pipeline.spec, &m.order);
        let states: Vec<StageJobs> = stages
            .iter()
            .map(|s| aggregate(&job_names("churn", s, mode), existing))
            .collect();
        let names = m.pipeline.spec.step_names();
        observe(
            &stages,
            &names,
            previous,
            |s| states[s.index].clone(),
            &at(99),
        )
    }

    /// `a` | `b`, `c` on a GPU: two stages.
    fn look(previous: &PipelineStatus, jobs: &[(usize, Option<&str>)]) -> Observed {
        let gpu = "resources: { nvidia.com/gpu: 1 }";
        let m = manifest("", &["", gpu, gpu]);
        let existing: Vec<Job> = jobs
            .iter()
            .map(|(i, c)| job(&job_name("churn", *i), *c))
            .collect();
        observe_jobs(&m, previous, &existing, ShardMode::Indexed)
    }

    #[test]
    fn a_new_pipeline_starts_its_first_stage() {
        let o = look(&PipelineStatus::default(), &[]);
        assert_eq!(o.start, Some(0));
        assert_eq!(o.transitions, [Transition::StageStarted(0)]);
        assert_eq!(o.status.phase, Phase::Running);
        assert_eq!(o.status.stages[0].start_time, Some(at(99)));
        assert_eq!(o.status.stages[0].job.as_deref(), Some("churn-stage-0"));
        assert_eq!(o.status.stages[1].phase, Phase::Pending);
        assert_eq!((o.status.steps_done, o.status.steps_total), (0, 3));
    }

    #[test]
    fn looking_again_at_the_same_jobs_changes_nothing() {
        let first = look(&PipelineStatus::default(), &[(0, None)]);
        let again = look(&first.status, &[(0, None)]);
        assert_eq!(again.status, first.status);
        assert_eq!((again.start, again.transitions.len()), (None, 0));
    }

    #[test]
    fn a_finished_stage_starts_the_next_and_stays_finished_without_its_job() {
        let running = look(&PipelineStatus::default(), &[(0, None)]).status;
        let o = look(&running, &[(0, Some("Complete"))]);
        assert_eq!(o.start, Some(1));
        assert_eq!(
            o.transitions,
            [Transition::StageSucceeded(0), Transition::StageStarted(1)]
        );
        assert_eq!(o.status.stages[0].finish_time, Some(at(20)));
        assert_eq!(o.status.steps_done, 1);
        // Stage 0's Job is gone (its TTL), stage 1's succeeded.
        let done = look(&o.status, &[(1, Some("Complete"))]);
        assert_eq!(done.start, None);
        assert_eq!(done.status.phase, Phase::Succeeded);
        assert_eq!(done.status.steps_done, 3);
        assert_eq!(
            done.transitions,
            [Transition::StageSucceeded(1), Transition::PipelineSucceeded]
        );
    }

    #[test]
    fn a_failed_stage_fails_the_pipeline_and_starts_nothing_more() {
        let running = look(&PipelineStatus::default(), &[(0, None)]).status;
        let o = look(&running, &[(0, Some("Failed"))]);
        assert_eq!(o.start, None);
        assert_eq!(o.status.phase, Phase::Failed);
        let message = o.status.message.unwrap();
        assert!(
            message.contains("stage 0 (steps a) failed: BackoffLimitExceeded"),
            "{message}"
        );
        assert!(
            message.contains("kubectl logs job/churn-stage-0"),
            "{message}"
        );
        assert!(matches!(
            &o.transitions[..],
            [Transition::StageFailed(0, _)]
        ));
    }

    #[test]
    fn a_deleted_running_job_is_started_again() {
        let running = look(&PipelineStatus::default(), &[(0, None)]).status;
        let o = look(&running, &[]);
        assert_eq!(o.start, Some(0));
        assert_eq!(o.transitions, [Transition::StageStarted(0)]);
    }
}

mod summary {
    use super::super::StageSummary;
    use weft_manifest::{MetricStatus, StepStatus};

    #[test]
    fn a_summary_fits_a_termination_message_dropping_metrics_first() {
        let metric = |i: usize| MetricStatus {
            name: format!("psi_{i}"),
            value: Some(i as f64),
            ..MetricStatus::default()
        };
        let step = |name: &str| StepStatus {
            name: name.into(),
            rows_out: Some(7),
            metrics: (0..100).map(metric).collect(),
            ..StepStatus::default()
        };
        let big = StageSummary {
            steps: vec![step("a"), step("b")],
            ..StageSummary::default()
        };
        let json = big.to_json();
        assert!(json.len() <= 4096, "{}", json.len());
        let back = StageSummary::parse(&json).unwrap();
        assert!(back.truncated);
        assert_eq!(back.steps.len(), 2, "steps stay, metrics go");
        assert_eq!(back.steps[1].rows_out, Some(7));
        assert!(back.steps[1].metrics.is_empty());

        let small = StageSummary {
            steps: vec![StepStatus {
                metrics: vec![metric(1)],
                ..step("a")
            }],
            ..StageSummary::default()
        };
        assert_eq!(StageSummary::parse(&small.to_json()), Some(small));
    }

    #[test]
    fn a_long_error_is_cut_to_fit() {
        let json = StageSummary::of_error(&"é".repeat(5000), None).to_json();
        assert!(json.len() <= 4096, "{}", json.len());
        let back = StageSummary::parse(&json).unwrap();
        assert!(back.truncated && back.error.unwrap().starts_with("éé"));
        assert_eq!(StageSummary::parse("FallbackToLogsOnError tail"), None);
    }
}
