//! Pulling a reference into the [`Store`]: the manifest checked for the
//! Wasm layout (a plugin) or the file layout (a mount), the pin checked
//! against the layer's digest before the download and against the bytes
//! after it.

use oci_client::manifest::OciImageManifest;
use oci_client::{Client, RegistryOperation};
use oci_wasm::{WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE};

use crate::artifact::{file_layer, FileLayer};
use crate::credentials::Login;
use crate::files::too_large;
use crate::registry::{self, Session};
use crate::{OciError, OciRef, Pulled, PulledFile, Resolved, Store};

/// Pull `reference` into `store`; see [`crate::pull`].
pub(crate) async fn pull(
    store: &Store,
    reference: &OciRef,
    pin: Option<&str>,
    insecure: bool,
) -> Result<Pulled, OciError> {
    if let Some(path) = pin.and_then(|hex| store.get(hex)) {
        return Ok(Pulled {
            path,
            sha256: pin.unwrap_or_default().to_ascii_lowercase(),
            manifest_digest: reference.digest().map(str::to_owned),
        });
    }
    let session = registry::connect(
        reference,
        insecure,
        RegistryOperation::Pull,
        &Login::ConfigFile,
    )
    .await?;
    let (manifest, manifest_digest, sha256) = checked_manifest(&session, pin).await?;
    let path = match store.get(&sha256) {
        Some(path) => path,
        None => {
            let bytes = download(&session, &manifest).await?;
            store.put(&reference.to_string(), &sha256, &bytes)?
        }
    };
    Ok(Pulled {
        path,
        sha256,
        manifest_digest: Some(manifest_digest),
    })
}

/// What `reference` names now, without downloading it; see
/// [`crate::resolve`].
pub(crate) async fn resolve(
    reference: &OciRef,
    pin: Option<&str>,
    insecure: bool,
    login: &Login,
) -> Result<Resolved, OciError> {
    let session = registry::connect(reference, insecure, RegistryOperation::Pull, login).await?;
    let (_, manifest_digest, sha256) = checked_manifest(&session, pin).await?;
    Ok(Resolved {
        pinned: reference.at_digest(&manifest_digest),
        manifest_digest,
        sha256,
    })
}

/// The session's reference's manifest, its digest and its component's
/// sha256, refused unless it is the Wasm layout and matches `pin`.
async fn checked_manifest(
    session: &Session<'_>,
    pin: Option<&str>,
) -> Result<(OciImageManifest, String, String), OciError> {
    let (manifest, manifest_digest) = fetch_manifest(session).await?;
    let sha256 = component_digest(session.reference, &manifest)?;
    check_pin(session.reference, "component", pin, &sha256)?;
    Ok((manifest, manifest_digest, sha256))
}

/// The session's reference's image manifest and its digest.
async fn fetch_manifest(session: &Session<'_>) -> Result<(OciImageManifest, String), OciError> {
    // oci-client's own call: the Wasm wrapper's errors are untyped.
    let client: &Client = session.client.as_ref();
    let (manifest, manifest_digest, _config) = client
        .pull_manifest_and_config(session.reference.inner(), &session.auth)
        .await
        .map_err(|e| session.error(e))?;
    Ok((manifest, manifest_digest))
}

/// Refuse `actual`, the sha256 of the `what` that `reference` names,
/// unless it is `pin` (or nothing is pinned).
fn check_pin(
    reference: &OciRef,
    what: &'static str,
    pin: Option<&str>,
    actual: &str,
) -> Result<(), OciError> {
    match pin.filter(|p| !p.eq_ignore_ascii_case(actual)) {
        Some(expected) => Err(OciError::Digest {
            reference: reference.to_string(),
            what,
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Pull the one file `reference` names into `store`; see
/// [`crate::pull_file`].
pub(crate) async fn pull_file(
    store: &Store,
    reference: &OciRef,
    pin: Option<&str>,
    insecure: bool,
    limit: u64,
) -> Result<PulledFile, OciError> {
    if let Some(kept) = pin.and_then(|hex| store.pinned_file(hex)) {
        let file = kept.folder.join(&kept.title);
        let size = std::fs::metadata(&file).map_or(0, |m| m.len());
        if size > limit {
            return Err(too_large(&reference.to_string(), &kept.title, size, limit));
        }
        return Ok(PulledFile {
            file,
            folder: kept.folder,
            sha256: pin.unwrap_or_default().to_ascii_lowercase(),
            manifest_digest: reference.digest().map(str::to_owned),
        });
    }
    let session = registry::connect(
        reference,
        insecure,
        RegistryOperation::Pull,
        &Login::ConfigFile,
    )
    .await?;
    let (layer, manifest_digest) = checked_file(&session, pin).await?;
    if layer.size > limit {
        return Err(too_large(
            &reference.to_string(),
            &layer.title,
            layer.size,
            limit,
        ));
    }
    let kept = match store.file(&layer.sha256, &layer.title) {
        Some(kept) => kept,
        None => {
            let (temp, mut capped) = store.partial(&layer, limit)?;
            let download = session
                .client
                .pull_blob(reference.inner(), &layer.descriptor, &mut capped)
                .await;
            if let (Err(e), None) = (download, capped.over()) {
                return Err(session.error(e));
            }
            store.keep(&reference.to_string(), &layer, temp, capped)?
        }
    };
    Ok(PulledFile {
        file: kept.folder.join(&kept.title),
        folder: kept.folder,
        sha256: layer.sha256,
        manifest_digest: Some(manifest_digest),
    })
}

/// What a file reference names now, without downloading it; see
/// [`crate::resolve_file`].
pub(crate) async fn resolve_file(
    reference: &OciRef,
    pin: Option<&str>,
    insecure: bool,
    login: &Login,
) -> Result<Resolved, OciError> {
    let session = registry::connect(reference, insecure, RegistryOperation::Pull, login).await?;
    let (layer, manifest_digest) = checked_file(&session, pin).await?;
    Ok(Resolved {
        pinned: reference.at_digest(&manifest_digest),
        manifest_digest,
        sha256: layer.sha256,
    })
}

/// The session's reference's one file and manifest digest, refused
/// unless it is the file layout and matches `pin`.
async fn checked_file(
    session: &Session<'_>,
    pin: Option<&str>,
) -> Result<(FileLayer, String), OciError> {
    let (manifest, manifest_digest) = fetch_manifest(session).await?;
    let layer = file_layer(session.reference, &manifest)?;
    check_pin(session.reference, "file", pin, &layer.sha256)?;
    Ok((layer, manifest_digest))
}

/// The sha256 (hex) of the one component layer of `manifest`, or what
/// the manifest holds instead.
fn component_digest(reference: &OciRef, manifest: &OciImageManifest) -> Result<String, OciError> {
    let layers: Vec<&str> = manifest
        .layers
        .iter()
        .map(|l| l.media_type.as_str())
        .collect();
    let config = manifest.config.media_type.as_str();
    if config != WASM_MANIFEST_CONFIG_MEDIA_TYPE || layers != [WASM_LAYER_MEDIA_TYPE] {
        return Err(OciError::NotComponent {
            reference: reference.to_string(),
            found: format!(
                "config media type {config}, layer media types [{}]",
                layers.join(", ")
            ),
        });
    }
    let digest = &manifest.layers[0].digest;
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(hex.to_ascii_lowercase())
        }
        _ => Err(OciError::NotComponent {
            reference: reference.to_string(),
            found: format!("a layer digest weft does not check ({digest}; it needs sha256)"),
        }),
    }
}

/// The component layer's bytes.
async fn download(session: &Session<'_>, manifest: &OciImageManifest) -> Result<Vec<u8>, OciError> {
    let mut bytes = Vec::new();
    session
        .client
        .pull_blob(session.reference.inner(), &manifest.layers[0], &mut bytes)
        .await
        .map_err(|e| session.error(e))?;
    Ok(bytes)
}
