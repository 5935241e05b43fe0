//! What can go wrong between weft and a registry, each case naming the
//! reference (and the URL or file where there is one).

use std::path::PathBuf;

/// Why a push or pull failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The reference does not parse, or names no registry.
    #[error("{reference:?} is not a registry reference: {message}; write registry/namespace/name:tag or registry/namespace/name@sha256:<hex>")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        message: String,
    },
    /// Plain HTTP was the only way in, and the registry is not on loopback.
    #[error("{reference}: the registry {registry} does not answer over HTTPS ({cause}); plain HTTP is allowed only for loopback registries or with --insecure (insecure: true in the manifest)")]
    Insecure {
        /// The reference.
        reference: String,
        /// Its registry.
        registry: String,
        /// Why HTTPS failed.
        cause: String,
    },
    /// The registry's TLS certificate is not trusted.
    #[error("{reference}: the TLS certificate of {url} is not trusted ({cause}); if your own CA signed it, name the CA's PEM file in SSL_CERT_FILE")]
    Certificate {
        /// The reference.
        reference: String,
        /// The URL tried.
        url: String,
        /// What verification said.
        cause: String,
    },
    /// Nothing answers at the registry's address.
    #[error("{reference}: registry unreachable at {url}: {cause}")]
    Unreachable {
        /// The reference.
        reference: String,
        /// The URL(s) tried.
        url: String,
        /// What the connection said.
        cause: String,
    },
    /// The registry refused the credentials, or wants some.
    #[error("{reference}: the registry refused access ({cause}); credentials sent for {registry}: {credentials}")]
    Auth {
        /// The reference.
        reference: String,
        /// Its registry.
        registry: String,
        /// Where the credentials came from, or why there were none.
        credentials: String,
        /// What the registry said.
        cause: String,
    },
    /// The repository, tag or digest does not exist.
    #[error("{reference}: not found in the registry ({cause})")]
    NotFound {
        /// The reference.
        reference: String,
        /// What the registry said.
        cause: String,
    },
    /// The artifact is something other than one Wasm component.
    #[error("{reference}: not a Wasm component artifact: {found}; weft pulls the CNCF Wasm layout (config application/vnd.wasm.config.v0+json, one application/wasm layer holding a component), as `weft push` and `wkg oci push` write it")]
    NotComponent {
        /// The reference (or file, for a push).
        reference: String,
        /// What was found instead.
        found: String,
    },
    /// The artifact a mount names is not one file in the ORAS file layout.
    #[error("{reference}: not a file artifact for a mount: {found}; a mount takes an image manifest with one layer titled by an org.opencontainers.image.title annotation, as `weft push FILE REF` and `oras push REF FILE` write it")]
    NotFile {
        /// The reference.
        reference: String,
        /// What was found instead.
        found: String,
    },
    /// A file is larger than the caller allows.
    #[error("{reference}: the file {title:?} is {size} bytes, over the limit of {limit} bytes on what the step may pull (its limits.hostMemory); nothing was cached")]
    TooLarge {
        /// The reference.
        reference: String,
        /// The file's title.
        title: String,
        /// Its size (as the manifest says, or as far as the download got).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The pin is not a sha256.
    #[error(
        "{reference}: the pinned sha256 {pin:?} is not 64 hex digits (as `sha256sum` prints them)"
    )]
    Pin {
        /// The reference.
        reference: String,
        /// The pin as given.
        pin: String,
    },
    /// The component's (or file's) sha256 is not the one pinned, or not
    /// the one its manifest names.
    #[error("{reference}: the {what}'s sha256 is {actual} but {expected} is pinned; nothing was cached. Update the pin if the new artifact is the one you want")]
    Digest {
        /// The reference.
        reference: String,
        /// What was hashed: `component` or `file`.
        what: &'static str,
        /// The pinned sha256.
        expected: String,
        /// The sha256 found.
        actual: String,
    },
    /// Any other answer of the registry.
    #[error("{reference}: {cause}")]
    Registry {
        /// The reference.
        reference: String,
        /// What the registry or client said.
        cause: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The docker config file exists but does not parse.
    #[error("{path}: not a docker config file: {message}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
