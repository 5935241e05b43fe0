//! Plugins and mounted files given by registry tag are resolved once, when
//! a run starts: the manifest the stage pods run names each `oci` plugin
//! and `oci` mount by manifest digest and pins its component's (or file's)
//! sha256, so every pod of every stage loads the same bytes even if the
//! tag moves during the run. The pods pull them themselves.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use weft_manifest::{Pipeline, PluginRef};
use weft_oci::{Login, OciError, Resolved};

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

/// `pipeline` with every `oci` plugin and every `oci` mount named by
/// digest and pinned by its component's (or file's) sha256, resolved with
/// the credentials of the pipeline's first `imagePullSecrets` Secret in
/// `ns` (anonymously without one).
pub(crate) async fn pinned(
    client: &Client,
    ns: &str,
    mut pipeline: Pipeline,
) -> Result<Pipeline, Unpinned> {
    let mounts = pipeline
        .spec
        .steps
        .iter()
        .flat_map(|s| &s.mounts)
        .any(|m| unpinned(m.oci.as_deref(), m.sha256.as_deref()));
    if !mounts && !pipeline.spec.plugins.values().any(unpinned_plugin) {
        return Ok(pipeline);
    }
    let login = login(client, ns, &pipeline).await?;
    for (name, r) in pipeline.spec.plugins.iter_mut() {
        if !unpinned_plugin(r) {
            continue;
        }
        let Some(reference) = r.oci.clone() else {
            continue;
        };
        let field = format!("spec.plugins.{name}.oci");
        let (pin, insecure) = (r.sha256.clone(), r.insecure);
        let resolved = resolve(field, Kind::Plugin, reference, pin, insecure, &login).await?;
        r.oci = Some(resolved.pinned);
        r.sha256 = Some(resolved.sha256);
    }
    for step in &mut pipeline.spec.steps {
        for (k, m) in step.mounts.iter_mut().enumerate() {
            let Some(reference) = m.oci.clone() else {
                continue;
            };
            if !unpinned(Some(&reference), m.sha256.as_deref()) {
                continue;
            }
            let field = format!("spec.steps[{}].mounts[{k}].oci", step.name);
            let (pin, insecure) = (m.sha256.clone(), m.insecure);
            let resolved = resolve(field, Kind::File, reference, pin, insecure, &login).await?;
            m.oci = Some(resolved.pinned);
            m.sha256 = Some(resolved.sha256);
        }
    }
    Ok(pipeline)
}

/// What a reference must name.
#[derive(Clone, Copy)]
enum Kind {
    /// A component, for `spec.plugins`.
    Plugin,
    /// One file, for a step mount.
    File,
}

/// `reference`, written at `field`, resolved off the async runtime:
/// a registry that does not answer is retried, anything else refused.
async fn resolve(
    field: String,
    kind: Kind,
    reference: String,
    pin: Option<String>,
    insecure: bool,
    login: &Login,
) -> Result<Resolved, Unpinned> {
    let login = login.clone();
    let resolved = tokio::task::spawn_blocking(move || match kind {
        Kind::Plugin => weft_oci::resolve(&reference, pin.as_deref(), insecure, &login),
        Kind::File => weft_oci::resolve_file(&reference, pin.as_deref(), insecure, &login),
    })
    .await
    .map_err(|e| Unpinned::Retry(OperatorError::Render(format!("resolving {field}: {e}"))))?
    .map_err(|e| match e {
        OciError::Unreachable { .. } | OciError::Registry { .. } => {
            Unpinned::Retry(OperatorError::Registry(format!("{field}: {e}")))
        }
        other => Unpinned::Refused(format!("{field}: {other}")),
    })?;
    let what = match kind {
        Kind::Plugin => "plugin",
        Kind::File => "mounted file",
    };
    tracing::info!(%field, pinned = %resolved.pinned, sha256 = %resolved.sha256, "{what} resolved for this run");
    Ok(resolved)
}

/// Whether `r` is a registry plugin not yet named by digest and sha256.
fn unpinned_plugin(r: &PluginRef) -> bool {
    unpinned(r.oci.as_deref(), r.sha256.as_deref())
}

/// Whether `oci` is a reference not yet named by digest and pinned.
fn unpinned(oci: Option<&str>, sha256: Option<&str>) -> bool {
    oci.is_some_and(|o| !o.contains('@') || sha256.is_none())
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
