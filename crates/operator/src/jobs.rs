//! The objects that run a pipeline on a cluster: the manifest in a
//! ConfigMap, and hardened Jobs: one per stage, or one per shard of a
//! sharded stage where the server has no Indexed Jobs.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    KeyToPath, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

use super::{pull_secret, ShardMode, TERMINATION_LOG};
use weft_manifest::Stage;
use weft_manifest::{Pipeline, Resources};

/// The image stage pods run when neither `spec.image` nor the operator sets one.
pub const DEFAULT_IMAGE: &str = "ghcr.io/weft-dev/weft:0.1.0";

/// Label of a shard's own Job and pods: the shard's number.
const SHARD_LABEL: &str = "weft.dev/shard";

/// Where the stage pod sees the pipeline's volume; manifest paths resolve
/// against it, because the manifest is mounted there too.
const DATA: &str = "/data";

/// The manifest's file name in the pod, next to the data it names.
const MANIFEST_FILE: &str = "pipeline.weft.yaml";

/// The Pipeline object that owns what is made for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The Pipeline's name.
    pub name: String,
    /// The Pipeline's uid.
    pub uid: String,
}

impl Owner {
    fn reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: "weft.dev/v1alpha1".into(),
            kind: "Pipeline".into(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// `name` cut to fit `max` characters, a short digest of the whole keeping
/// truncated names distinct.
fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    let mut end = max - 7;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let keep = name[..end].trim_end_matches('-');
    format!("{keep}-{}", &digest[..6])
}

/// Labels of everything made for `pipeline` (and `stage`, if given).
fn labels(pipeline: &str, stage: Option<usize>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/name".into(), "weft".into()),
        ("app.kubernetes.io/instance".into(), fit(pipeline, 63)),
        (
            "app.kubernetes.io/managed-by".into(),
            "weft-operator".into(),
        ),
        ("weft.dev/pipeline".into(), pipeline_label(pipeline)),
    ]);
    if let Some(stage) = stage {
        labels.insert("app.kubernetes.io/component".into(), "stage".into());
        labels.insert("weft.dev/stage".into(), stage.to_string());
    }
    labels
}

fn meta(
    name: String,
    pipeline: &Pipeline,
    stage: Option<usize>,
    owner: Option<&Owner>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: pipeline.metadata.namespace.clone(),
        labels: Some(labels(&pipeline.metadata.name, stage)),
        owner_references: owner.map(|o| vec![o.reference()]),
        ..ObjectMeta::default()
    }
}

/// The name of the ConfigMap holding the manifest of the pipeline `name`.
pub fn config_map_name(name: &str) -> String {
    fit(&format!("{name}-manifest"), 253)
}

/// The name of stage `index`'s Job of the pipeline `name`.
pub fn job_name(name: &str, index: usize) -> String {
    fit(&format!("{name}-stage-{index}"), 63)
}

/// The name of the Job of shard `shard` of stage `index` of the pipeline
/// `name`, in [`ShardMode::JobPerShard`].
pub fn shard_job_name(name: &str, index: usize, shard: u32) -> String {
    fit(&format!("{name}-stage-{index}-shard-{shard}"), 63)
}

/// The name of the Job of stage `index` or, if given, of its shard `shard`.
fn any_job_name(name: &str, index: usize, shard: Option<u32>) -> String {
    match shard {
        Some(i) => shard_job_name(name, index, i),
        None => job_name(name, index),
    }
}

/// The names of the Jobs that run `stage` of the pipeline `name`, in shard
/// order: [`job_name`], or a [`shard_job_name`] per shard.
pub fn job_names(name: &str, stage: &Stage, mode: ShardMode) -> Vec<String> {
    mode.jobs_of(stage)
        .into_iter()
        .map(|shard| any_job_name(name, stage.index, shard))
        .collect()
}

/// The value of the `weft.dev/pipeline` label of what is made for the
/// pipeline `name`.
pub fn pipeline_label(name: &str) -> String {
    fit(name, 63)
}

/// The ConfigMap `<pipeline>-manifest` holding the manifest the stage pods run.
pub fn manifest_config_map(
    pipeline: &Pipeline,
    owner: Option<&Owner>,
) -> Result<ConfigMap, serde_yaml::Error> {
    let name = config_map_name(&pipeline.metadata.name);
    Ok(ConfigMap {
        metadata: meta(name, pipeline, None, owner),
        data: Some(BTreeMap::from([(
            "pipeline.yaml".into(),
            serde_yaml::to_string(pipeline)?,
        )])),
        immutable: Some(true),
        ..ConfigMap::default()
    })
}

/// Requests (and limits, for memory and GPUs) of a stage's pod.
fn requirements(resources: &Resources) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(cpu) = &resources.cpu {
        requests.insert("cpu".into(), cpu.clone());
    }
    if let Some(memory) = &resources.memory {
        requests.insert("memory".into(), memory.clone());
        limits.insert("memory".into(), memory.clone());
    }
    if let Some(gpus) = resources.gpu {
        // Extended resources are requested through their limit.
        limits.insert("nvidia.com/gpu".into(), Quantity(gpus.to_string()));
    }
    ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    }
}

/// The stage's container: `weft run --stage N [--shard I]` on the manifest
/// mounted into the data folder (at `sub_path` of the claim), locked down.
fn container(pipeline: &Pipeline, stage: &Stage, shard: Option<u32>, image: &str) -> Container {
    let sub_path = pipeline
        .spec
        .storage
        .as_ref()
        .and_then(|s| s.sub_path.clone());
    let mut mounts = vec![
        VolumeMount {
            name: "data".into(),
            mount_path: DATA.into(),
            sub_path,
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "manifest".into(),
            mount_path: format!("{DATA}/{MANIFEST_FILE}"),
            sub_path: Some("pipeline.yaml".into()),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        },
    ];
    let mut env = vec![EnvVar {
        name: "WEFT_CACHE_DIR".into(),
        value: Some("/tmp/weft-cache".into()),
        ..EnvVar::default()
    }];
    if let Some((mount, var)) = pull_secret::mount_and_env(pipeline) {
        mounts.push(mount);
        env.push(var);
    }
    let mut args = vec![
        "run".into(),
        "--quiet".into(),
        "--stage".into(),
        stage.index.to_string(),
    ];
    if let Some(i) = shard {
        args.extend(["--shard".into(), i.to_string()]);
    }
    args.extend([
        "--summary-file".into(),
        TERMINATION_LOG.into(),
        format!("{DATA}/{MANIFEST_FILE}"),
    ]);
    Container {
        name: "weft".into(),
        image: Some(image.to_owned()),
        args: Some(args),
        termination_message_path: Some(TERMINATION_LOG.into()),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        working_dir: Some(DATA.into()),
        env: Some(env),
        resources: stage.resources.as_ref().map(requirements),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The pod's volumes: the pipeline's claim (an empty folder without one),
/// the manifest and a scratch `/tmp`.
fn volumes(pipeline: &Pipeline, config_map: &str) -> Vec<Volume> {
    let storage = pipeline.spec.storage.as_ref();
    let data = Volume {
        name: "data".into(),
        persistent_volume_claim: storage.map(|s| PersistentVolumeClaimVolumeSource {
            claim_name: s.claim_name.clone(),
            read_only: None,
        }),
        empty_dir: storage.is_none().then(EmptyDirVolumeSource::default),
        ..Volume::default()
    };
    let manifest = Volume {
        name: "manifest".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_owned(),
            items: Some(vec![KeyToPath {
                key: "pipeline.yaml".into(),
                path: "pipeline.yaml".into(),
                ..KeyToPath::default()
            }]),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let tmp = Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    [data, manifest, tmp]
        .into_iter()
        .chain(pull_secret::volume(pipeline))
        .collect()
}

/// The Job `<pipeline>-stage-<N>` that runs `stage`: `shards` pods as an
/// Indexed Job, `retries` as its backoffLimit, the pipeline's deadline,
/// TTL, node selector and tolerations; the pod non-root with a read-only
/// root filesystem, no capabilities, seccomp `RuntimeDefault` and no
/// service-account token. The image is `spec.image`, else `image`.
pub fn stage_job(pipeline: &Pipeline, stage: &Stage, image: &str, owner: Option<&Owner>) -> Job {
    job(pipeline, stage, None, image, owner)
}

/// The Jobs that run `stage` in `mode`: its [`stage_job`], or in
/// [`ShardMode::JobPerShard`], for a stage of more than one shard, one Job
/// `<pipeline>-stage-<N>-shard-<I>` per shard, labelled `weft.dev/shard`,
/// its one pod running `--shard I`. A shard's Job has no TTL: one finished
/// early and removed would be run again while the others still run.
pub fn stage_jobs(
    pipeline: &Pipeline,
    stage: &Stage,
    image: &str,
    owner: Option<&Owner>,
    mode: ShardMode,
) -> Vec<Job> {
    mode.jobs_of(stage)
        .into_iter()
        .map(|shard| job(pipeline, stage, shard, image, owner))
        .collect()
}

/// The Job of `stage`, or of its shard `shard`.
fn job(
    pipeline: &Pipeline,
    stage: &Stage,
    shard: Option<u32>,
    image: &str,
    owner: Option<&Owner>,
) -> Job {
    let spec = &pipeline.spec;
    let name = any_job_name(&pipeline.metadata.name, stage.index, shard);
    let config_map = config_map_name(&pipeline.metadata.name);
    let image = spec.image.as_deref().unwrap_or(image);
    let container = container(pipeline, stage, shard, image);
    let completions = match shard {
        Some(_) => 1,
        None => stage.shards as i32,
    };
    let mut labels = labels(&pipeline.metadata.name, Some(stage.index));
    if let Some(i) = shard {
        labels.insert(SHARD_LABEL.into(), i.to_string());
    }
    let metadata = ObjectMeta {
        labels: Some(labels.clone()),
        ..meta(name, pipeline, Some(stage.index), owner)
    };
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(stage.retries as i32),
            active_deadline_seconds: spec.active_deadline_seconds.map(i64::from),
            ttl_seconds_after_finished: spec
                .ttl_seconds_after_finished
                .filter(|_| shard.is_none())
                .map(|t| t as i32),
            completions: Some(completions),
            parallelism: Some(completions),
            // Unset is NonIndexed; leaving it out keeps the Jobs of
            // unsharded stages and of shards valid on servers older than 1.21.
            completion_mode: (completions > 1).then(|| "Indexed".into()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    node_selector: (!spec.node_selector.is_empty())
                        .then(|| spec.node_selector.clone()),
                    tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
                    image_pull_secrets: (!spec.image_pull_secrets.is_empty())
                        .then(|| spec.image_pull_secrets.clone()),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        fs_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes(pipeline, &config_map)),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}
