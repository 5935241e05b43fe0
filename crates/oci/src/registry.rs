//! A session with one registry: the client over HTTPS (or plain HTTP where
//! that is allowed and HTTPS does not answer), the credentials, and the
//! client's errors turned into [`OciError`]s that name the reference.

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};
use oci_wasm::WasmClient;

use crate::credentials::{self, Credentials, Login};
use crate::{OciError, OciRef};

/// A client that has reached the registry of `reference`.
pub(crate) struct Session<'r> {
    pub(crate) client: WasmClient,
    pub(crate) auth: RegistryAuth,
    pub(crate) reference: &'r OciRef,
    credentials: String,
}

/// Reach the registry of `reference` for `operation`: HTTPS first; plain
/// HTTP when HTTPS gets no answer and the registry is on loopback or
/// `insecure` is set.
pub(crate) async fn connect<'r>(
    reference: &'r OciRef,
    insecure: bool,
    operation: RegistryOperation,
    login: &Login,
) -> Result<Session<'r>, OciError> {
    // reqwest's rustls has no provider of its own here: use ring, which
    // the workspace builds already. A second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Credentials { auth, source } = credentials::for_registry(reference.registry(), login)?;
    let session = |client| Session {
        client,
        auth: auth.clone(),
        reference,
        credentials: source.clone(),
    };
    let https = client(ClientProtocol::Https);
    let registry = reference.registry();
    let https_url = format!("https://{registry}/v2/");
    let https_error = match https.auth(reference.inner(), &auth, operation).await {
        Ok(_) => return Ok(session(https)),
        Err(e) if untrusted_certificate(&e) => {
            return Err(OciError::Certificate {
                reference: reference.to_string(),
                url: https_url,
                cause: chain(&e),
            })
        }
        Err(e) if is_transport(&e) => chain(&e),
        Err(e) => return Err(session(https).error(e)),
    };
    if !(insecure || reference.is_loopback()) {
        return Err(if answers_tcp(registry).await {
            OciError::Insecure {
                reference: reference.to_string(),
                registry: registry.to_owned(),
                cause: https_error,
            }
        } else {
            OciError::Unreachable {
                reference: reference.to_string(),
                url: https_url,
                cause: https_error,
            }
        });
    }
    let http = client(ClientProtocol::Http);
    match http.auth(reference.inner(), &auth, operation).await {
        Ok(_) => Ok(session(http)),
        Err(e) if is_transport(&e) => Err(OciError::Unreachable {
            reference: reference.to_string(),
            url: format!("{https_url} and http://{registry}/v2/"),
            cause: format!("over HTTPS: {https_error}; over HTTP: {}", chain(&e)),
        }),
        Err(e) => Err(session(http).error(e)),
    }
}

fn client(protocol: ClientProtocol) -> WasmClient {
    WasmClient::new(Client::new(ClientConfig {
        protocol,
        // An image index is a list of per-platform images, never a
        // component: refuse it instead of picking linux/amd64.
        platform_resolver: None,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(120)),
        user_agent: concat!("weft/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    }))
}

/// Whether something accepts TCP connections at `registry` (port 443
/// unless it names one).
async fn answers_tcp(registry: &str) -> bool {
    let address = if !registry.contains(':') {
        format!("{registry}:443")
    } else {
        registry.to_owned()
    };
    let connect = tokio::net::TcpStream::connect(address);
    matches!(
        tokio::time::timeout(Duration::from_secs(10), connect).await,
        Ok(Ok(_))
    )
}

/// Whether `e` is about reaching the server at all (connection, TLS,
/// timeout), not about what it answered.
fn is_transport(e: &OciDistributionError) -> bool {
    matches!(e, OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() || r.is_request())
}

/// Whether `e` is the server's certificate failing verification (a
/// registry that speaks TLS, so plain HTTP is no way in).
fn untrusted_certificate(e: &OciDistributionError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if matches!(
            s.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        ) {
            return true;
        }
        // An io::Error's `source` skips the error it wraps: look inside.
        source = match s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => s.source(),
        };
    }
    false
}

/// `e` with its causes, `: `-separated.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

impl Session<'_> {
    /// The client's error `e` as an [`OciError`] about this reference.
    pub(crate) fn error(&self, e: OciDistributionError) -> OciError {
        use OciDistributionError as E;
        let reference = self.reference.to_string();
        let cause = chain(&e);
        let status = match &e {
            E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => Some(401),
            E::ImageManifestNotFoundError(_) => Some(404),
            E::ServerError { code, .. } => Some(*code),
            E::RequestError(r) => r.status().map(|s| s.as_u16()),
            E::RegistryError { envelope, .. } => {
                envelope.errors.iter().find_map(|x| match x.code {
                    OciErrorCode::Unauthorized | OciErrorCode::Denied => Some(401),
                    OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NotFound => Some(404),
                    _ => None,
                })
            }
            _ => None,
        };
        match (status, e) {
            (Some(401 | 403), _) => OciError::Auth {
                reference,
                registry: self.reference.registry().to_owned(),
                credentials: self.credentials.clone(),
                cause,
            },
            (Some(404), _) => OciError::NotFound { reference, cause },
            (_, E::RequestError(r)) if r.is_connect() || r.is_timeout() => OciError::Unreachable {
                reference,
                url: r
                    .url()
                    .map_or_else(|| self.reference.registry().to_owned(), |u| u.to_string()),
                cause,
            },
            (_, E::ImageIndexParsingNoPlatformResolverError) => OciError::NotComponent {
                reference,
                found: "an image index (a list of per-platform manifests)".into(),
            },
            (
                _,
                E::UnsupportedMediaTypeError(found) | E::IncompatibleLayerMediaTypeError(found),
            ) => OciError::NotComponent {
                reference,
                found: format!("media type {found}"),
            },
            _ => OciError::Registry { reference, cause },
        }
    }
}
