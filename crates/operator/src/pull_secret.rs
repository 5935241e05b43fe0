//! The pipeline's pull Secret in a stage pod: the kubelet pulls the image
//! with it, and its docker config file is mounted where `weft` looks for
//! one (`DOCKER_CONFIG`), so `oci` plugins are pulled with it too.

use k8s_openapi::api::core::v1::{EnvVar, KeyToPath, SecretVolumeSource, Volume, VolumeMount};

use weft_manifest::Pipeline;

/// The volume, and the folder `DOCKER_CONFIG` names.
const VOLUME: &str = "docker-config";
const DIR: &str = "/var/run/weft/docker";

/// The key of a kubernetes.io/dockerconfigjson Secret.
const KEY: &str = ".dockerconfigjson";

/// The Secret's volume, holding its docker config as `config.json`.
pub(crate) fn volume(pipeline: &Pipeline) -> Option<Volume> {
    let secret = pipeline.spec.image_pull_secrets.first()?;
    Some(Volume {
        name: VOLUME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.name.clone()),
            items: Some(vec![KeyToPath {
                key: KEY.into(),
                path: "config.json".into(),
                ..KeyToPath::default()
            }]),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    })
}

/// The container's mount of [`volume`] and the `DOCKER_CONFIG` pointing
/// at it, when the pipeline names a Secret.
pub(crate) fn mount_and_env(pipeline: &Pipeline) -> Option<(VolumeMount, EnvVar)> {
    pipeline.spec.image_pull_secrets.first()?;
    let mount = VolumeMount {
        name: VOLUME.into(),
        mount_path: DIR.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    let env = EnvVar {
        name: "DOCKER_CONFIG".into(),
        value: Some(DIR.into()),
        ..EnvVar::default()
    };
    Some((mount, env))
}

#[cfg(test)]
mod tests {
    use crate::tests::pipeline;
    use crate::{stage_job, DEFAULT_IMAGE};

    #[test]
    fn the_pull_secret_reaches_the_kubelet_and_weft() {
        let (p, stages) = pipeline("  imagePullSecrets: [{ name: regcred }]\n", &[""]);
        let job = stage_job(&p, &stages[0], DEFAULT_IMAGE, None);
        let pod = job.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "regcred");
        let volume = pod
            .volumes
            .unwrap()
            .into_iter()
            .find(|v| v.name == "docker-config")
            .unwrap();
        let secret = volume.secret.unwrap();
        assert_eq!(secret.secret_name.as_deref(), Some("regcred"));
        let item = &secret.items.unwrap()[0];
        assert_eq!(
            (item.key.as_str(), item.path.as_str()),
            (".dockerconfigjson", "config.json")
        );
        let c = &pod.containers[0];
        let mount = c
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.name == "docker-config")
            .unwrap();
        assert_eq!(
            (mount.mount_path.as_str(), mount.read_only),
            ("/var/run/weft/docker", Some(true))
        );
        let env = c.env.as_ref().unwrap();
        let docker = env.iter().find(|e| e.name == "DOCKER_CONFIG").unwrap();
        assert_eq!(docker.value.as_deref(), Some("/var/run/weft/docker"));
        assert!(env.iter().any(|e| e.name == "WEFT_CACHE_DIR"));
    }

    #[test]
    fn without_a_secret_there_is_no_docker_config() {
        let (p, stages) = pipeline("", &[""]);
        let pod = stage_job(&p, &stages[0], DEFAULT_IMAGE, None)
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        assert!(pod.image_pull_secrets.is_none());
        assert!(pod
            .volumes
            .unwrap()
            .iter()
            .all(|v| v.name != "docker-config"));
        let env = pod.containers[0].env.as_ref().unwrap();
        assert!(env.iter().all(|e| e.name != "DOCKER_CONFIG"));
    }
}
