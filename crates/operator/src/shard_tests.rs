//! Sharded stages in both shard modes: their Jobs, the mode a server's
//! version picks, and what a stage's Jobs say together.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::version::Info;

use super::tests::pipeline;
use super::tests::progress::{at, job, observe_jobs};
use super::*;
use weft_manifest::{Phase, PipelineStatus};

/// A step fitted on 3 shares after an unsharded one: stage 1 is the shares.
const SPEC: &str = "  ttlSecondsAfterFinished: 60\n";

fn args(j: &Job) -> Vec<String> {
    let pod = j.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    pod.containers[0].args.clone().unwrap()
}

fn label<'a>(j: &'a Job, key: &str) -> Option<&'a str> {
    j.metadata
        .labels
        .as_ref()
        .unwrap()
        .get(key)
        .map(String::as_str)
}

fn pod_label<'a>(j: &'a Job, key: &str) -> Option<&'a str> {
    let template = &j.spec.as_ref().unwrap().template;
    let labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
    labels.get(key).map(String::as_str)
}

#[test]
fn an_indexed_sharded_stage_is_one_job_of_as_many_completions() {
    let (p, stages) = pipeline(SPEC, &["", "shards: 3"]);
    let jobs = stage_jobs(&p, &stages[1], DEFAULT_IMAGE, None, ShardMode::Indexed);
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!(j.metadata.name.as_deref(), Some("churn-stage-1"));
    assert_eq!(j, &stage_job(&p, &stages[1], DEFAULT_IMAGE, None));
    let s = j.spec.as_ref().unwrap();
    assert_eq!((s.completions, s.parallelism), (Some(3), Some(3)));
    assert_eq!(s.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!(s.ttl_seconds_after_finished, Some(60));
    assert_eq!(label(j, "weft.dev/shard"), None);
    assert!(!args(j).contains(&"--shard".to_owned()), "{:?}", args(j));
    assert_eq!(
        job_names("churn", &stages[1], ShardMode::Indexed),
        ["churn-stage-1"]
    );
}

#[test]
fn a_job_per_shard_stage_is_plain_jobs_each_told_its_shard() {
    let (p, stages) = pipeline(SPEC, &["", "shards: 3"]);
    let jobs = stage_jobs(&p, &stages[1], DEFAULT_IMAGE, None, ShardMode::JobPerShard);
    let names: Vec<_> = jobs
        .iter()
        .map(|j| j.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "churn-stage-1-shard-0",
            "churn-stage-1-shard-1",
            "churn-stage-1-shard-2"
        ]
    );
    assert_eq!(
        job_names("churn", &stages[1], ShardMode::JobPerShard),
        names
    );
    for (i, j) in jobs.iter().enumerate() {
        let shard = i.to_string();
        for labelled in [label(j, "weft.dev/shard"), pod_label(j, "weft.dev/shard")] {
            assert_eq!(labelled, Some(shard.as_str()));
        }
        assert_eq!(label(j, "weft.dev/stage"), Some("1"));
        assert_eq!(pod_label(j, "weft.dev/stage"), Some("1"));
        assert_eq!(label(j, "weft.dev/pipeline"), Some("churn"));
        let s = j.spec.as_ref().unwrap();
        assert_eq!((s.completions, s.parallelism), (Some(1), Some(1)));
        assert_eq!(s.completion_mode, None, "plain Jobs run on any server");
        assert_eq!(
            s.ttl_seconds_after_finished, None,
            "a shard done early stays"
        );
        assert_eq!(
            args(j)[..6],
            ["run", "--quiet", "--stage", "1", "--shard", &shard]
        );
    }
    // A stage of one shard is one Job in either mode.
    let unsharded = stage_jobs(&p, &stages[0], DEFAULT_IMAGE, None, ShardMode::JobPerShard);
    assert_eq!(unsharded, [stage_job(&p, &stages[0], DEFAULT_IMAGE, None)]);
    assert_eq!(label(&unsharded[0], "weft.dev/shard"), None);
}

#[test]
fn long_shard_job_names_fit_and_stay_distinct() {
    let names: Vec<String> = (0..12)
        .map(|i| shard_job_name(&"p".repeat(60), 3, i))
        .collect();
    assert!(names.iter().all(|n| n.len() <= 63), "{names:?}");
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len());
}

fn info(major: &str, minor: &str, git_version: &str) -> Info {
    Info {
        major: major.into(),
        minor: minor.into(),
        git_version: git_version.into(),
        ..Info::default()
    }
}

#[test]
fn the_server_version_picks_the_shard_mode() {
    let cases = [
        (info("1", "20", "v1.20.15"), Some((1, 20))),
        (info("1", "21+", "v1.21.14-eks-1"), Some((1, 21))),
        (info("1", "22", "v1.22.0"), Some((1, 22))),
        (info("", "", "v1.20"), Some((1, 20))),
        (info("1", "", "v1.31.2+k3s1"), Some((1, 31))),
        (info("1", "", ""), None),
        (info("one", "twenty", "devel"), None),
    ];
    for (info, version) in &cases {
        assert_eq!(server_version(info), *version, "{info:?}");
    }
    use ShardMode::{Indexed, JobPerShard};
    let mode = |i: usize| ShardMode::of_server(&cases[i].0);
    assert_eq!(
        [mode(0), mode(1), mode(2), mode(4)],
        [JobPerShard, JobPerShard, Indexed, Indexed]
    );
    assert_eq!(
        mode(6),
        JobPerShard,
        "an unreadable version: what every server runs"
    );
    assert_eq!(ShardMode::for_version(Some((2, 0))), Indexed);
}

fn shards() -> Vec<String> {
    (0..3).map(|i| shard_job_name("churn", 1, i)).collect()
}

#[test]
fn one_failed_shard_fails_the_stage_naming_it() {
    let wanted = shards();
    let existing = [
        job(&wanted[0], Some("Complete")),
        job(&wanted[1], Some("Failed")),
    ];
    let s = aggregate(&wanted, &existing);
    assert_eq!(
        s.state,
        JobState::Failed {
            start: Some(at(10)),
            finish: Some(at(20)),
            message: "shard 1: BackoffLimitExceeded".into()
        }
    );
    assert_eq!(
        s.job, "churn-stage-1-shard-1",
        "the status names the failed Job"
    );
}

#[test]
fn a_stage_runs_until_every_shard_succeeded_and_its_missing_shards_are_made() {
    let wanted = shards();
    let mut done = vec![
        job(&wanted[0], Some("Complete")),
        job(&wanted[1], Some("Complete")),
    ];
    let s = aggregate(&wanted, &done);
    assert_eq!(
        s.state,
        JobState::Running {
            start: Some(at(10))
        }
    );
    assert_eq!(s.missing, ["churn-stage-1-shard-2"]);
    assert_eq!(s.job, "churn-stage-1-shard-0");

    let mut last = job(&wanted[2], Some("Complete"));
    last.status.as_mut().unwrap().completion_time = Some(at(50));
    done.push(last);
    let s = aggregate(&wanted, &done);
    assert_eq!(
        s.state,
        JobState::Succeeded {
            start: Some(at(10)),
            finish: Some(at(50))
        },
        "finished when the last shard did"
    );
    assert!(s.missing.is_empty());

    let none = aggregate(&wanted, &[]);
    assert_eq!(
        (none.state, none.missing),
        (JobState::Missing, wanted.clone())
    );
    // One Job: its own state, its message as the Job controller wrote it.
    let one = [job_name("churn", 0)];
    let failed = aggregate(&one, &[job(&one[0], Some("Failed"))]);
    assert_eq!(
        failed.state,
        JobState::of(Some(&job(&one[0], Some("Failed"))))
    );
}

/// `a`, then `b` fitted on 3 shares (stages 1 and 2), as one Job per shard.
fn look(previous: &PipelineStatus, existing: &[Job]) -> Observed {
    let m = super::tests::manifest("", &["", "shards: 3"]);
    observe_jobs(&m, previous, existing, ShardMode::JobPerShard)
}

#[test]
fn a_shard_job_deleted_while_its_stage_runs_is_made_again() {
    let stage_0 = job(&job_name("churn", 0), Some("Complete"));
    let running = look(&PipelineStatus::default(), std::slice::from_ref(&stage_0));
    assert_eq!(running.start, Some(1), "all 3 shard Jobs to make");
    let made: Vec<Job> = shards().iter().map(|n| job(n, None)).collect();
    let all = [vec![stage_0.clone()], made.clone()].concat();
    let o = look(&running.status, &all);
    assert_eq!((o.start, o.transitions.len()), (None, 0));
    assert_eq!(
        o.status.stages[1].job.as_deref(),
        Some("churn-stage-1-shard-0")
    );
    // Shard 2's Job is deleted.
    let o = look(&o.status, &all[..3]);
    assert_eq!(o.start, Some(1));
    assert_eq!(o.status.stages[1].phase, Phase::Running);
    // Shard 1 fails: the pipeline says where to look.
    let mut failing = all.clone();
    failing[2] = job(&shards()[1], Some("Failed"));
    let o = look(&o.status, &failing);
    assert_eq!(o.start, None);
    let message = o.status.message.unwrap();
    assert!(
        message.contains("stage 1 (steps b) failed: shard 1: BackoffLimitExceeded"),
        "{message}"
    );
    assert!(
        message.contains("kubectl logs job/churn-stage-1-shard-1"),
        "{message}"
    );
}
