//! References as written (`registry/ns/name:tag`, `...@sha256:<hex>`):
//! parsing, and whether plain HTTP may be tried for their registry.

use std::fmt;
use std::net::IpAddr;

use oci_client::Reference;

use crate::OciError;

/// A parsed plugin reference that names its registry.
#[derive(Debug, Clone)]
pub struct OciRef {
    text: String,
    parsed: Reference,
}

impl OciRef {
    /// Parse `text`; the first part must be a registry host (`host:port`,
    /// a dotted name or `localhost`): weft never guesses Docker Hub.
    pub fn parse(text: &str) -> Result<OciRef, OciError> {
        let error = |message: String| OciError::Reference {
            reference: text.to_owned(),
            message,
        };
        let first = text.split('/').next().unwrap_or_default();
        let is_host = text.contains('/') && (first.contains(['.', ':']) || first == "localhost");
        if !is_host {
            return Err(error(format!(
                "{first:?} is not a registry host (write the registry, e.g. ghcr.io/... or 127.0.0.1:5000/...)"
            )));
        }
        let parsed: Reference = text.parse().map_err(|e| error(format!("{e}")))?;
        Ok(OciRef {
            text: text.to_owned(),
            parsed,
        })
    }

    /// The reference as oci-client reads it.
    pub(crate) fn inner(&self) -> &Reference {
        &self.parsed
    }

    /// The registry, `host[:port]`.
    pub fn registry(&self) -> &str {
        self.parsed.resolve_registry()
    }

    /// The manifest digest (`sha256:<hex>`) the reference names, if any.
    pub fn digest(&self) -> Option<&str> {
        self.parsed.digest()
    }

    /// The same repository at manifest `digest`: what a pull by tag
    /// resolved to, and what pins it.
    pub fn at_digest(&self, digest: &str) -> String {
        format!(
            "{}/{}@{digest}",
            self.parsed.registry(),
            self.parsed.repository()
        )
    }

    /// Whether the registry's host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(host_of(self.registry()))
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The host part of `host[:port]` (references have no IPv6 literals).
fn host_of(registry: &str) -> &str {
    match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for r in [
            "127.0.0.1:5000/ns/a:1",
            "localhost:5000/a:1",
            "localhost/a:1",
            "127.0.0.2/a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert!(OciRef::parse(r).unwrap().is_loopback(), "{r}");
        }
        for r in [
            "ghcr.io/a/b:1",
            "10.0.0.1:5000/a:1",
            "localhost.example.com/a:1",
        ] {
            assert!(!OciRef::parse(r).unwrap().is_loopback(), "{r}");
        }
    }

    #[test]
    fn a_reference_must_name_its_registry() {
        for r in ["scale:1", "weft/scale:1", ""] {
            let err = OciRef::parse(r).unwrap_err().to_string();
            assert!(err.contains("not a registry host"), "{err}");
        }
        let err = OciRef::parse("ghcr.io/A B").unwrap_err().to_string();
        assert!(
            err.contains("\"ghcr.io/A B\" is not a registry reference"),
            "{err}"
        );
    }

    #[test]
    fn a_tag_resolves_to_a_digest_reference() {
        let r = OciRef::parse("127.0.0.1:5000/weft/scale:1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.digest(), None);
        assert_eq!(
            r.at_digest("sha256:ab"),
            "127.0.0.1:5000/weft/scale@sha256:ab"
        );
    }
}
