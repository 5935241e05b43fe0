//! Plugins given by registry tag are resolved once, when a run starts: the
//! manifest the stage pods run names each `oci` plugin by manifest digest
//! and pins its component's sha256, so every pod of every stage loads the
//! same component even if the tag moves during the run.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use weft_manifest::{Pipeline, PluginRef};
use weft_oci::{Login, OciError};

use super::controller::OperatorError;

/// Why the plugins could not be pinned.
pub(crate) enum Unpinned {
    /// The spec cannot run as written: refuse it with this message.
    Refused(String),
    /// Something that may pass (a registry or the API server down): retry.
    Retry(OperatorError),
}

impl From<OperatorError> for Unpinned {
    fn from(e: OperatorError) -> Unpinned {
        Unpinned::Retry(e)
    }
}

impl From<kube::Error> for Unpinned {
    fn from(e: kube::Error) -> Unpinned {
        Unpinned::Retry(e.into())
    }
}

/// `pipeline` with every `oci` plugin named by digest and pinned by its
/// component's sha256, resolved with the credentials of the pipeline's
/// first `imagePullSecrets` Secret in `ns` (anonymously without one).
pub(crate) async fn pinned(
    client: &Client,
    ns: &str,
    mut pipeline: Pipeline,
) -> Result<Pipeline, Unpinned> {
    if !pipeline.spec.plugins.values().any(unpinned) {
        return Ok(pipeline);
    }
    let login = login(client, ns, &pipeline).await?;
    for (name, r) in pipeline
        .spec
        .plugins
        .iter_mut()
        .filter(|(_, r)| unpinned(r))
    {
        let Some(reference) = r.oci.clone() else {
            continue;
        };
        let (pin, insecure, login) = (r.sha256.clone(), r.insecure, login.clone());
        let resolved = tokio::task::spawn_blocking(move || {
            weft_oci::resolve(&reference, pin.as_deref(), insecure, &login)
        })
        .await
        .map_err(|e| {
            Unpinned::Retry(OperatorError::Render(format!(
                "resolving plugin {name:?}: {e}"
            )))
        })?
        .map_err(|e| match e {
            OciError::Unreachable { .. } | OciError::Registry { .. } => {
                Unpinned::Retry(OperatorError::Registry(format!("plugin {name:?}: {e}")))
            }
            other => Unpinned::Refused(format!("spec.plugins.{name}.oci: {other}")),
        })?;
        tracing::info!(plugin = %name, pinned = %resolved.pinned, sha256 = %resolved.sha256, "plugin resolved for this run");
        r.oci = Some(resolved.pinned);
        r.sha256 = Some(resolved.sha256);
    }
    Ok(pipeline)
}

/// Whether `r` is a registry plugin not yet named by digest and sha256.
fn unpinned(r: &PluginRef) -> bool {
    r.oci
        .as_deref()
        .is_some_and(|o| !o.contains('@') || r.sha256.is_none())
}

/// The docker config of the pipeline's first pull Secret, or anonymous.
async fn login(client: &Client, ns: &str, pipeline: &Pipeline) -> Result<Login, Unpinned> {
    let Some(secret) = pipeline.spec.image_pull_secrets.first() else {
        return Ok(Login::Anonymous);
    };
    let name = &secret.name;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Some(found) = secrets.get_opt(name).await? else {
        return Err(Unpinned::Refused(format!(
            "spec.imagePullSecrets: Secret {ns}/{name} does not exist"
        )));
    };
    let text = found
        .data
        .as_ref()
        .and_then(|d| d.get(".dockerconfigjson"))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .ok_or_else(|| {
            Unpinned::Refused(format!(
                "spec.imagePullSecrets: Secret {ns}/{name} has no .dockerconfigjson (create it with kubectl create secret docker-registry)"
            ))
        })?;
    Ok(Login::Given {
        text,
        source: format!("Secret {ns}/{name}"),
    })
}
