//! Files that are not components, in the ORAS file layout (what `oras push
//! REF model.onnx` writes): an OCI image manifest with an `artifactType`,
//! the empty config, and one layer per file named by its
//! `org.opencontainers.image.title` annotation. A step mount takes such an
//! artifact of one file.

use std::collections::BTreeMap;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_wasm::WASM_MANIFEST_CONFIG_MEDIA_TYPE;

use crate::{OciError, OciRef};

/// The `artifactType` weft writes (any is accepted).
pub(crate) const FILE_ARTIFACT_TYPE: &str = "application/vnd.weft.file.v1";
/// The media type weft gives a file's layer (any is accepted).
pub(crate) const FILE_LAYER_MEDIA_TYPE: &str = "application/octet-stream";
/// The annotation that names a layer's file.
pub(crate) const TITLE_ANNOTATION: &str = oci_client::annotations::ORG_OPENCONTAINERS_IMAGE_TITLE;
/// The OCI 1.1 empty descriptor's media type, and its content.
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";
/// Longest title taken: it becomes a file name in the store.
const MAX_TITLE: usize = 128;

/// The one file of a file artifact, as its manifest describes it.
#[derive(Debug, Clone)]
pub(crate) struct FileLayer {
    /// The layer's descriptor, to download it by.
    pub(crate) descriptor: OciDescriptor,
    /// The file's name, from the title annotation.
    pub(crate) title: String,
    /// sha256 of the file, hex, lowercase.
    pub(crate) sha256: String,
    /// Its size in bytes, as the manifest says.
    pub(crate) size: u64,
}

/// The layer, config and manifest that push `bytes` as the file `title`.
pub(crate) fn file_manifest(title: &str, bytes: Vec<u8>) -> (ImageLayer, Config, OciImageManifest) {
    let annotations = BTreeMap::from([(TITLE_ANNOTATION.to_owned(), title.to_owned())]);
    let layer = ImageLayer::new(bytes, FILE_LAYER_MEDIA_TYPE.to_owned(), Some(annotations));
    let config = Config::new(EMPTY_CONFIG.to_vec(), EMPTY_MEDIA_TYPE.to_owned(), None);
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    manifest.media_type = Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_owned());
    manifest.artifact_type = Some(FILE_ARTIFACT_TYPE.to_owned());
    (layer, config, manifest)
}

/// The one file `manifest` holds, or why it is not a file artifact: a
/// Wasm component, no layer or several, a layer without a title or with
/// a title that is not a plain file name, a digest that is not sha256.
pub(crate) fn file_layer(
    reference: &OciRef,
    manifest: &OciImageManifest,
) -> Result<FileLayer, OciError> {
    let refuse = |found: String| OciError::NotFile {
        reference: reference.to_string(),
        found,
    };
    if manifest.config.media_type == WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        return Err(refuse(
            "a Wasm component (use it as a plugin, under spec.plugins)".into(),
        ));
    }
    let layer = match manifest.layers.as_slice() {
        [one] => one,
        [] => return Err(refuse("no layers".into())),
        several => {
            let titles: Vec<&str> = several.iter().map(|l| title_of(l).unwrap_or("?")).collect();
            return Err(refuse(format!(
                "{} files ({}); a mount takes an artifact of one file",
                several.len(),
                titles.join(", ")
            )));
        }
    };
    let Some(title) = title_of(layer) else {
        return Err(refuse(format!(
            "a layer of media type {} without an {TITLE_ANNOTATION} annotation (a container image layer, not a file)",
            layer.media_type
        )));
    };
    check_title(title).map_err(|why| refuse(format!("a file titled {title:?}, which {why}")))?;
    let sha256 = match layer.digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            hex.to_ascii_lowercase()
        }
        _ => {
            return Err(refuse(format!(
                "a layer digest weft does not check ({}; it needs sha256)",
                layer.digest
            )))
        }
    };
    Ok(FileLayer {
        descriptor: layer.clone(),
        title: title.to_owned(),
        sha256,
        size: u64::try_from(layer.size).unwrap_or(u64::MAX),
    })
}

fn title_of(layer: &OciDescriptor) -> Option<&str> {
    layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(TITLE_ANNOTATION))
        .map(String::as_str)
}

/// Whether `title` may name a file in a mount's folder: one plain name
/// (no folder, no `..`, not hidden), at most [`MAX_TITLE`] bytes.
pub(crate) fn check_title(title: &str) -> Result<(), &'static str> {
    if title.is_empty() || title.len() > MAX_TITLE {
        return Err("is not 1 to 128 bytes long");
    }
    if title.starts_with('.') || title.contains(['/', '\\', '\0']) {
        return Err("is not a plain file name (no folders, not starting with '.')");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> OciRef {
        OciRef::parse("127.0.0.1:5000/models/churn:1").unwrap()
    }

    #[test]
    fn a_pushed_file_reads_back_as_its_one_layer() {
        let (layer, config, manifest) = file_manifest("churn.onnx", b"model".to_vec());
        let file = file_layer(&reference(), &manifest).unwrap();
        assert_eq!(file.title, "churn.onnx");
        assert_eq!(file.size, 5);
        assert_eq!(format!("sha256:{}", file.sha256), layer.sha256_digest());
        assert_eq!(manifest.config.digest, config.sha256_digest());
        assert_eq!(&config.data[..], b"{}");
        assert_eq!(manifest.artifact_type.as_deref(), Some(FILE_ARTIFACT_TYPE));
    }

    #[test]
    fn components_images_and_odd_titles_are_refused() {
        let (_, _, good) = file_manifest("m.onnx", b"x".to_vec());
        let mut wasm = good.clone();
        wasm.config.media_type = WASM_MANIFEST_CONFIG_MEDIA_TYPE.into();
        let mut untitled = good.clone();
        untitled.layers[0].annotations = None;
        let mut two = good.clone();
        two.layers.push(good.layers[0].clone());
        let mut nested = good.clone();
        nested.layers[0].annotations = Some(BTreeMap::from([(
            TITLE_ANNOTATION.to_owned(),
            "../etc/passwd".to_owned(),
        )]));
        for (manifest, says) in [
            (wasm, "a Wasm component"),
            (untitled, "without an org.opencontainers.image.title"),
            (two, "2 files (m.onnx, m.onnx)"),
            (nested, "not a plain file name"),
        ] {
            let err = file_layer(&reference(), &manifest).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
            assert!(err.contains("not a file artifact for a mount"), "{err}");
        }
    }
}
