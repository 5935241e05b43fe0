//! Pushing a component file in the CNCF Wasm layout (oci-wasm's config
//! and manifest, as `wkg oci push` writes them), or any other file in the
//! ORAS file layout a mount reads.

use std::path::Path;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::RegistryOperation;
use oci_wasm::{ToConfig, WasmConfig, WASM_MANIFEST_MEDIA_TYPE};
use sha2::{Digest, Sha256};

use crate::artifact::{check_title, file_manifest};
use crate::credentials::Login;
use crate::registry;
use crate::store::check_component;
use crate::{OciError, OciRef, Pushed};

/// Push the component `file` to `reference`; see [`crate::push`].
pub(crate) async fn push(
    file: &Path,
    reference: &OciRef,
    insecure: bool,
) -> Result<Pushed, OciError> {
    let bytes = read(file, reference)?;
    let shown = file.display().to_string();
    check_component(&shown, &bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let (config, layer) =
        WasmConfig::from_raw_component(bytes, None).map_err(|e| OciError::NotComponent {
            reference: shown.clone(),
            found: format!("a component whose WIT cannot be read: {e:#}"),
        })?;
    let config = config.to_config().map_err(|e| OciError::NotComponent {
        reference: shown,
        found: format!("a component whose config cannot be written: {e:#}"),
    })?;
    // As oci-wasm's own push builds it.
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    manifest.media_type = Some(WASM_MANIFEST_MEDIA_TYPE.to_owned());
    send(reference, insecure, layer, config, manifest, sha256).await
}

/// Push `file`, whatever it holds, to `reference` as one file titled by
/// its name; see [`crate::push_file`].
pub(crate) async fn push_file(
    file: &Path,
    reference: &OciRef,
    insecure: bool,
) -> Result<Pushed, OciError> {
    let bytes = read(file, reference)?;
    let title = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    check_title(title).map_err(|why| OciError::NotFile {
        reference: file.display().to_string(),
        found: format!("a file named {title:?}, which {why}"),
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let (layer, config, manifest) = file_manifest(title, bytes);
    send(reference, insecure, layer, config, manifest, sha256).await
}

/// The bytes of `file`, to push to `reference` (a tag).
fn read(file: &Path, reference: &OciRef) -> Result<Vec<u8>, OciError> {
    if reference.digest().is_some() {
        return Err(OciError::Reference {
            reference: reference.to_string(),
            message: "a push names a tag, not a digest".into(),
        });
    }
    std::fs::read(file).map_err(|source| OciError::Io {
        path: file.to_owned(),
        source,
    })
}

/// Push `layer`, `config` and `manifest` to `reference`; what was pushed,
/// `sha256` being the layer's.
async fn send(
    reference: &OciRef,
    insecure: bool,
    layer: ImageLayer,
    config: Config,
    manifest: OciImageManifest,
    sha256: String,
) -> Result<Pushed, OciError> {
    let session = registry::connect(
        reference,
        insecure,
        RegistryOperation::Push,
        &Login::ConfigFile,
    )
    .await?;
    let client: &oci_client::Client = session.client.as_ref();
    client
        .push(
            reference.inner(),
            &[layer],
            config,
            &session.auth,
            Some(manifest),
        )
        .await
        .map_err(|e| session.error(e))?;
    let manifest_digest = session
        .client
        .fetch_manifest_digest(reference.inner(), &session.auth)
        .await
        .map_err(|e| session.error(e))?;
    Ok(Pushed {
        pinned: reference.at_digest(&manifest_digest),
        manifest_digest,
        sha256,
    })
}
