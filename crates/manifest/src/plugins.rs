//! Checks of `spec.plugins`: each names a file or a registry reference,
//! exactly one, and pins it by a well-formed sha256.

use crate::{Manifest, ManifestError, PluginRef};

impl Manifest {
    /// Every entry of `spec.plugins`, on its own.
    pub(crate) fn check_plugins(&self) -> Result<(), ManifestError> {
        for (key, plugin) in &self.pipeline.spec.plugins {
            self.check_plugin(key, plugin)?;
        }
        Ok(())
    }

    fn check_plugin(&self, key: &str, plugin: &PluginRef) -> Result<(), ManifestError> {
        match (&plugin.path, &plugin.oci) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(self.plugin_error(
                    key,
                    None,
                    format!("plugin {key:?} needs exactly one of `path` (a component file) or `oci` (a registry reference such as ghcr.io/org/step:1.0)"),
                ))
            }
            (Some(_), None) if plugin.insecure => {
                return Err(self.plugin_error(
                    key,
                    Some("insecure"),
                    format!("plugin {key:?}: `insecure` allows plain HTTP to a registry, so it goes with `oci`, not `path`"),
                ))
            }
            _ => {}
        }
        if let Some(sha) = &plugin.sha256 {
            if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(self.plugin_error(
                    key,
                    Some("sha256"),
                    format!("plugin {key:?}: sha256 must be 64 hex digits (as `sha256sum` prints them), not {sha:?}"),
                ));
            }
        }
        Ok(())
    }

    /// An error about plugin `key`, located at its `field` (else its key)
    /// inside `spec.plugins`.
    pub fn plugin_error(&self, key: &str, field: Option<&str>, message: String) -> ManifestError {
        let source = self.source.as_str();
        let plugins = source.find("plugins").unwrap_or(0);
        let entry = source[plugins..]
            .match_indices(&format!("{key}:"))
            .map(|(i, _)| i + plugins)
            .find(|&i| {
                source[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| c.is_whitespace() || c == '{' || c == ',')
            });
        let at = match (entry, field) {
            (Some(start), Some(f)) => source[start..].find(f).map(|i| i + start).or(entry),
            _ => entry,
        };
        self.located(at, message)
    }
}
