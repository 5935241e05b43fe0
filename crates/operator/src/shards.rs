//! How a stage of shares becomes Jobs: one Indexed Job where the API server
//! runs them by default (Kubernetes 1.22 on), else one plain Job per share;
//! and what the Jobs of a stage say together.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::version::Info;
use kube::Client;

use super::JobState;
use weft_manifest::Stage;

/// The first version (major, minor) whose API server runs Indexed Jobs by
/// default: they are alpha, off by default, in 1.21 and unknown before.
const INDEXED_SINCE: (u32, u32) = (1, 22);

/// How a stage of more than one shard runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardMode {
    /// One Indexed Job, completions = parallelism = shards: each pod takes
    /// its share from `JOB_COMPLETION_INDEX`.
    Indexed,
    /// One plain Job per share, `<pipeline>-stage-<n>-shard-<i>`, passing
    /// `--shard <i>`: runs on any server.
    JobPerShard,
}

impl ShardMode {
    /// The mode for an API server of `version` (major, minor): Indexed from
    /// 1.22; JobPerShard before, and for an unknown version, as every
    /// server runs it.
    pub fn for_version(version: Option<(u32, u32)>) -> ShardMode {
        match version {
            Some(v) if v >= INDEXED_SINCE => ShardMode::Indexed,
            _ => ShardMode::JobPerShard,
        }
    }

    /// The mode for the API server whose `/version` is `info`; a version
    /// that cannot be read is warned about.
    pub fn of_server(info: &Info) -> ShardMode {
        let version = server_version(info);
        if version.is_none() {
            tracing::warn!(
                major = %info.major,
                minor = %info.minor,
                git_version = %info.git_version,
                "cannot read the API server's version: sharded stages run one Job per shard"
            );
        }
        ShardMode::for_version(version)
    }

    /// The mode for the API server `client` talks to; when it does not say
    /// its version, JobPerShard, with a warning.
    pub async fn detect(client: &Client) -> ShardMode {
        match client.apiserver_version().await {
            Ok(info) => ShardMode::of_server(&info),
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask the API server its version: sharded stages run one Job per shard");
                ShardMode::JobPerShard
            }
        }
    }

    /// The shards of `stage` with a Job of their own, in order; `[None]`
    /// when the stage runs as one Job.
    pub fn jobs_of(self, stage: &Stage) -> Vec<Option<u32>> {
        match self {
            ShardMode::JobPerShard if stage.shards > 1 => (0..stage.shards).map(Some).collect(),
            _ => vec![None],
        }
    }
}

/// The leading decimal digits of `text` ("20+" has minor 20).
fn leading_number(text: &str) -> Option<u32> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// The (major, minor) version of an API server from its `/version`: the
/// `major` and `minor` fields (providers suffix the minor, as in "20+"),
/// else `gitVersion` ("v1.20.15-gke.100").
pub fn server_version(info: &Info) -> Option<(u32, u32)> {
    let fields = leading_number(&info.major).zip(leading_number(&info.minor));
    fields.or_else(|| {
        let git = info.git_version.trim_start_matches('v');
        let (major, rest) = git.split_once('.')?;
        Some((major.parse().ok()?, leading_number(rest)?))
    })
}

/// What the Jobs of one stage say together.
#[derive(Debug, Clone, PartialEq)]
pub struct StageJobs {
    /// Failed when one of the Jobs failed (naming its shard), Succeeded
    /// when all did, Missing when none exists, Running otherwise.
    pub state: JobState,
    /// The Job the stage's status names: the one that failed, else the first.
    pub job: String,
    /// The Jobs to create (again) while the stage runs.
    pub missing: Vec<String>,
}

/// What the Jobs `wanted` (by name, in shard order) of a stage say, from
/// those of them in `existing`. A stage of one Job is that Job's state.
pub fn aggregate(wanted: &[String], existing: &[Job]) -> StageJobs {
    let states: Vec<JobState> = wanted
        .iter()
        .map(|name| {
            JobState::of(
                existing
                    .iter()
                    .find(|j| j.metadata.name.as_ref() == Some(name)),
            )
        })
        .collect();
    let missing = wanted
        .iter()
        .zip(&states)
        .filter(|(_, s)| **s == JobState::Missing)
        .map(|(name, _)| name.clone())
        .collect();
    let start = states.iter().filter_map(JobState::start).min().cloned();
    let failed = states.iter().enumerate().find_map(|(shard, s)| match s {
        JobState::Failed {
            finish, message, ..
        } => Some((shard, finish, message)),
        _ => None,
    });
    let state = if let Some((shard, finish, message)) = failed {
        let message = match wanted.len() {
            1 => message.clone(),
            _ => format!("shard {shard}: {message}"),
        };
        JobState::Failed {
            start,
            finish: finish.clone(),
            message,
        }
    } else if states.iter().all(|s| *s == JobState::Missing) {
        JobState::Missing
    } else if states
        .iter()
        .all(|s| matches!(s, JobState::Succeeded { .. }))
    {
        let finish = states.iter().filter_map(|s| match s {
            JobState::Succeeded { finish, .. } => finish.clone(),
            _ => None,
        });
        JobState::Succeeded {
            start,
            finish: finish.max(),
        }
    } else {
        JobState::Running { start }
    };
    let job = failed.map_or(0, |(shard, ..)| shard);
    StageJobs {
        state,
        job: wanted.get(job).cloned().unwrap_or_default(),
        missing,
    }
}
