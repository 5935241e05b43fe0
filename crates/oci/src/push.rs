//! Pushing a component file in the CNCF Wasm layout (oci-wasm's config
//! and manifest, as `wkg oci push` writes them).

use std::path::Path;

use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;
use oci_wasm::WasmConfig;
use sha2::{Digest, Sha256};

use crate::credentials::Login;
use crate::registry::{self, chain};
use crate::store::check_component;
use crate::{OciError, OciRef, Pushed};

/// Push the component `file` to `reference`; see [`crate::push`].
pub(crate) async fn push(
    file: &Path,
    reference: &OciRef,
    insecure: bool,
) -> Result<Pushed, OciError> {
    if reference.digest().is_some() {
        return Err(OciError::Reference {
            reference: reference.to_string(),
            message: "a push names a tag, not a digest".into(),
        });
    }
    let bytes = std::fs::read(file).map_err(|source| OciError::Io {
        path: file.to_owned(),
        source,
    })?;
    let shown = file.display().to_string();
    check_component(&shown, &bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let (config, layer) =
        WasmConfig::from_raw_component(bytes, None).map_err(|e| OciError::NotComponent {
            reference: shown.clone(),
            found: format!("a component whose WIT cannot be read: {e:#}"),
        })?;
    let session = registry::connect(
        reference,
        insecure,
        RegistryOperation::Push,
        &Login::ConfigFile,
    )
    .await?;
    session
        .client
        .push(reference.inner(), &session.auth, layer, config, None)
        .await
        .map_err(|e| match e.downcast::<OciDistributionError>() {
            Ok(e) => session.error(e),
            Err(e) => OciError::Registry {
                reference: reference.to_string(),
                cause: chain(e.as_ref()),
            },
        })?;
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
