//! Registry credentials from the docker config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), the file
//! a kubernetes.io/dockerconfigjson Secret holds too. Credential helpers
//! (`credsStore`, `credHelpers`) are not run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::OciError;

/// Credentials for one registry and where they came from.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// What to send.
    pub(crate) auth: RegistryAuth,
    /// The file they came from, or why there are none (for errors).
    pub(crate) source: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The docker config file weft reads.
fn config_file() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
    }
}

/// Where registry credentials come from.
#[derive(Debug, Clone, Default)]
pub enum Login {
    /// The docker config file: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`.
    #[default]
    ConfigFile,
    /// No credentials.
    Anonymous,
    /// A docker config document given as text, such as a
    /// kubernetes.io/dockerconfigjson Secret's `.dockerconfigjson`;
    /// `source` names it in errors.
    Given {
        /// The document.
        text: String,
        /// Where it came from, e.g. `Secret ml/regcred`.
        source: String,
    },
}

/// The credentials for `registry`: its `auths` entry in the docker config
/// `login` names, else anonymous.
pub(crate) fn for_registry(registry: &str, login: &Login) -> Result<Credentials, OciError> {
    let anonymous = |source: String| Credentials {
        auth: RegistryAuth::Anonymous,
        source,
    };
    let (text, file) = match login {
        Login::Anonymous => return Ok(anonymous("none (asked anonymously)".into())),
        Login::Given { text, source } => (text.clone(), PathBuf::from(source)),
        Login::ConfigFile => {
            let Some(file) = config_file() else {
                return Ok(anonymous("none (no home folder, no DOCKER_CONFIG)".into()));
            };
            match std::fs::read_to_string(&file) {
                Ok(text) => (text, file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(anonymous(format!(
                        "none ({} does not exist)",
                        file.display()
                    )))
                }
                Err(source) => return Err(OciError::Io { path: file, source }),
            }
        }
    };
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| OciError::Credentials {
        path: file.clone(),
        message: e.to_string(),
    })?;
    match entry_for(&config, registry) {
        Some(entry) => Ok(Credentials {
            auth: basic(entry, &file)?,
            source: format!("the user in {}", file.display()),
        }),
        None => {
            if config.creds_store.is_some() || config.cred_helpers.contains_key(registry) {
                tracing::warn!(
                    file = %file.display(),
                    "{registry} has no `auths` entry; weft does not run docker credential helpers, so it pulls anonymously"
                );
            }
            Ok(anonymous(format!(
                "none ({} has no `auths` entry for it)",
                file.display()
            )))
        }
    }
}

/// The `auths` entry whose key, without scheme and path, is `registry`.
fn entry_for<'c>(config: &'c DockerConfig, registry: &str) -> Option<&'c Entry> {
    config.auths.iter().find_map(|(key, entry)| {
        let bare = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let host = bare.split('/').next().unwrap_or(bare);
        host.eq_ignore_ascii_case(registry).then_some(entry)
    })
}

/// Basic credentials of `entry`: `auth` (base64 `user:password`), else
/// `username` and `password`.
fn basic(entry: &Entry, file: &Path) -> Result<RegistryAuth, OciError> {
    let bad = |message: &str| OciError::Credentials {
        path: file.to_owned(),
        message: message.to_owned(),
    };
    if let Some(auth) = &entry.auth {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("an `auth` value is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("an `auth` value is not UTF-8"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| bad("an `auth` value is not base64 of user:password"))?;
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(RegistryAuth::Basic(u.clone(), p.clone())),
        _ => Err(bad(
            "an `auths` entry has neither `auth` nor `username` and `password`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn entries_match_by_host_whatever_the_scheme_or_path() {
        let c = config(
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"},
                          "127.0.0.1:5000": {"username": "a", "password": "b"}}}"#,
        );
        let hub = basic(entry_for(&c, "index.docker.io").unwrap(), Path::new("c")).unwrap();
        assert_eq!(hub, RegistryAuth::Basic("u".into(), "p".into()));
        let local = basic(entry_for(&c, "127.0.0.1:5000").unwrap(), Path::new("c")).unwrap();
        assert_eq!(local, RegistryAuth::Basic("a".into(), "b".into()));
        assert!(entry_for(&c, "ghcr.io").is_none());
    }

    #[test]
    fn a_broken_auth_value_names_the_file() {
        let c = config(r#"{"auths": {"r.io": {"auth": "not base64!"}}}"#);
        let err = basic(entry_for(&c, "r.io").unwrap(), Path::new("/x/config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/x/config.json: ") && err.contains("base64"),
            "{err}"
        );
    }
}
