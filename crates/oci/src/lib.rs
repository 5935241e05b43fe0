//! Plugins from OCI registries: [`push`] a component file to a reference
//! in the CNCF Wasm artifact layout (config
//! `application/vnd.wasm.config.v0+json`, one `application/wasm` layer;
//! what `wkg` reads and writes), and [`pull`] a reference into a
//! content-addressed [`Store`].
//!
//! Files a step mounts (a trained model) travel the same way in the ORAS
//! file layout: [`push_file`], [`pull_file`], [`resolve_file`].
//!
//! The component's sha256 (the layer digest) is its identity, the same
//! sha256 a `path` plugin is pinned by; a file's is its layer's too.
//! Credentials come from the docker config file; plain HTTP is tried only
//! for loopback registries or when the caller says `insecure`.

mod artifact;
mod credentials;
mod error;
mod files;
mod pull;
mod push;
mod reference;
mod registry;
mod store;

use std::future::Future;
use std::path::{Path, PathBuf};

pub use credentials::Login;
pub use error::OciError;
pub use reference::OciRef;
pub use store::Store;

/// A component pulled into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The cached file, `<store>/sha256/<sha256>.wasm`.
    pub path: PathBuf,
    /// sha256 of the component, hex.
    pub sha256: String,
    /// The manifest digest (`sha256:<hex>`) the reference resolved to;
    /// `None` when a pinned component came from the store without asking
    /// the registry and the reference names a tag.
    pub manifest_digest: Option<String>,
}

/// A file pulled into the store, for a step mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledFile {
    /// The folder that holds the file, and nothing else: what a mount
    /// grants.
    pub folder: PathBuf,
    /// The file, `<folder>/<title>`.
    pub file: PathBuf,
    /// sha256 of the file, hex.
    pub sha256: String,
    /// The manifest digest (`sha256:<hex>`) the reference resolved to;
    /// `None` when a pinned file came from the store without asking the
    /// registry and the reference names a tag.
    pub manifest_digest: Option<String>,
}

/// What a reference names at the time it is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The manifest digest, `sha256:<hex>`.
    pub manifest_digest: String,
    /// sha256 of the component (or, from [`resolve_file`], the file), hex.
    pub sha256: String,
    /// The reference by digest: `registry/repository@sha256:<hex>`.
    pub pinned: String,
}

/// A component (or file) pushed to a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// sha256 of the component (or file), hex: the pin for a manifest.
    pub sha256: String,
    /// The manifest's digest, `sha256:<hex>`.
    pub manifest_digest: String,
    /// The reference by digest: `registry/repository@sha256:<hex>`.
    pub pinned: String,
}

/// Pull `reference` into `store` and return the cached component.
///
/// With `pin` (the component's sha256, hex) a component already in the
/// store is used without asking the registry; otherwise the manifest is
/// read, refused unless it is the Wasm layout, and checked against the
/// pin before the download and again after it. Nothing reaches the store
/// unless it hashes to the layer digest and is a component.
pub fn pull(
    store: &Store,
    reference: &str,
    pin: Option<&str>,
    insecure: bool,
) -> Result<Pulled, OciError> {
    let reference = OciRef::parse(reference)?;
    check_pin(&reference, pin)?;
    block_on(&reference, pull::pull(store, &reference, pin, insecure))
}

/// Refuse a pin that is not a sha256 before it names a file in the store.
fn check_pin(reference: &OciRef, pin: Option<&str>) -> Result<(), OciError> {
    match pin.filter(|p| p.len() != 64 || !p.chars().all(|c| c.is_ascii_hexdigit())) {
        Some(pin) => Err(OciError::Pin {
            reference: reference.to_string(),
            pin: pin.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Resolve `reference` (a tag, or a digest) to the manifest and component
/// digests it names now, checking the Wasm layout and `pin` as [`pull`]
/// does, without downloading the component; credentials from `login`.
/// What the operator does once per run, so every pod loads the same
/// component even if the tag moves.
pub fn resolve(
    reference: &str,
    pin: Option<&str>,
    insecure: bool,
    login: &Login,
) -> Result<Resolved, OciError> {
    let reference = OciRef::parse(reference)?;
    check_pin(&reference, pin)?;
    block_on(&reference, pull::resolve(&reference, pin, insecure, login))
}

/// Push the component `file` to `reference` (a tag).
pub fn push(file: &Path, reference: &str, insecure: bool) -> Result<Pushed, OciError> {
    let reference = OciRef::parse(reference)?;
    block_on(&reference, push::push(file, &reference, insecure))
}

/// Push `file`, whatever it holds, to `reference` (a tag) in the ORAS
/// file layout: one layer, titled by the file's name, under artifact type
/// `application/vnd.weft.file.v1` and the empty config.
pub fn push_file(file: &Path, reference: &str, insecure: bool) -> Result<Pushed, OciError> {
    let reference = OciRef::parse(reference)?;
    block_on(&reference, push::push_file(file, &reference, insecure))
}

/// Pull the one file `reference` names into `store`, for a step mount.
///
/// The artifact must be the ORAS file layout with one layer, titled by
/// an `org.opencontainers.image.title` annotation (any artifact type and
/// layer media type; a Wasm component is refused). With `pin` (the
/// file's sha256, hex) a file already in the store is used without
/// asking the registry; otherwise the pin is checked against the layer
/// digest before the download. A layer over `limit` bytes is refused
/// before the download (and a download that passes it is cut off); the
/// bytes are hashed as they arrive and kept only if they match.
pub fn pull_file(
    store: &Store,
    reference: &str,
    pin: Option<&str>,
    insecure: bool,
    limit: u64,
) -> Result<PulledFile, OciError> {
    let reference = OciRef::parse(reference)?;
    check_pin(&reference, pin)?;
    block_on(
        &reference,
        pull::pull_file(store, &reference, pin, insecure, limit),
    )
}

/// Resolve `reference` to the manifest digest and file sha256 it names
/// now, checking the file layout and `pin` as [`pull_file`] does, without
/// downloading the file; credentials from `login`. What the operator does
/// for each registry mount once per run.
pub fn resolve_file(
    reference: &str,
    pin: Option<&str>,
    insecure: bool,
    login: &Login,
) -> Result<Resolved, OciError> {
    let reference = OciRef::parse(reference)?;
    check_pin(&reference, pin)?;
    block_on(
        &reference,
        pull::resolve_file(&reference, pin, insecure, login),
    )
}

/// Run `future`, about `reference`, to completion on a runtime of its
/// own, on a thread of its own, so callers inside or outside a tokio
/// runtime can wait for it.
fn block_on<T, F>(reference: &OciRef, future: F) -> Result<T, OciError>
where
    F: Future<Output = Result<T, OciError>> + Send,
    T: Send,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OciError::Registry {
            reference: reference.to_string(),
            cause: format!("cannot start the network runtime: {e}"),
        })?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| runtime.block_on(future))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_must_be_a_sha256() {
        let store = Store::new(std::env::temp_dir().join("weft-oci-never-written"));
        for pin in ["abc", "../../etc/passwd", &"g".repeat(64)] {
            let err = pull(&store, "127.0.0.1:1/a/b:1", Some(pin), false).unwrap_err();
            assert!(matches!(err, OciError::Pin { .. }), "{err}");
            assert!(err.to_string().contains("is not 64 hex digits"), "{err}");
        }
        assert!(!store.dir().exists());
    }
}
