//! Loading plugins: digest check, on-disk AOT cache keyed by the file's
//! sha256 and the engine, contract version check, `InstancePre`, metadata.

mod cache;
mod config;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::sandbox::bindings::{self, Kind};
use crate::sandbox::{self, Sandbox, StepCtx};

pub use cache::Cache;
pub use config::ConfigProblem;

/// The contract version this host implements.
pub const CONTRACT_VERSION: &str = "0.1.4";
const PACKAGE: &str = "weft:step/";

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("{path}: cannot read plugin: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's sha256 is not the one the manifest pins.
    #[error("{path}: sha256 is {actual} but the manifest expects {expected}; rebuild the plugin or update spec.plugins.*.sha256")]
    Digest {
        /// The file.
        path: PathBuf,
        /// Pinned digest.
        expected: String,
        /// Digest of the file.
        actual: String,
    },
    /// Built against an incompatible version of the contract.
    #[error("{path}: built for weft:step@{found}, but this host implements weft:step@{CONTRACT_VERSION}; rebuild it against a matching weft-sdk")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version the plugin targets.
        found: String,
    },
    /// Not a valid component, or not a weft step.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What a plugin says about itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Meta {
    /// Step name.
    pub name: String,
    /// Step version.
    pub version: String,
    /// `transform` or `evaluate`.
    pub kind: StepKind,
    /// One-line description.
    pub description: String,
    /// JSON Schema of the config.
    pub config_schema: serde_json::Value,
    /// Whether it must be fitted before transforming.
    pub stateful: bool,
}

pub use weft_record::{PluginOci, StepKind};

/// A loaded, compiled, checked plugin, ready to instantiate.
pub struct Plugin {
    /// Where it came from.
    pub path: PathBuf,
    /// sha256 of the file, hex.
    pub digest: String,
    /// The registry reference it was pulled from, for an `oci` plugin
    /// (set by whoever pulled it).
    pub oci: Option<PluginOci>,
    /// What it says about itself.
    pub meta: Meta,
    /// The component's imports and exports, as names.
    pub imports: Vec<String>,
    /// Exports.
    pub exports: Vec<String>,
    pre: bindings::PluginPre<StepCtx>,
    schema: Arc<jsonschema::Validator>,
}

/// Why a component would not compile for the sandbox; a memory that
/// starts larger than the pool allows (a Python step's interpreter heap
/// starts at about 13 MiB) is `limits.memory`'s to raise.
fn unloadable(error: &wasmtime::Error, sandbox: &Sandbox) -> String {
    let text = format!("{error:#}");
    if text.contains("memory") && text.contains("pooling allocator") {
        return format!(
            "its linear memory starts larger than limits.memory allows ({} bytes, the largest \
             of any step's): raise the step's limits.memory (a Python step starts at about \
             13 MiB and needs room for its data: 64Mi at least; the default is 512Mi); {text}",
            sandbox.max_memory_bytes()
        );
    }
    format!("not a loadable component: {text}")
}

/// sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Plugin {
    /// The component, compiled and linked, ready for
    /// [`sandbox::Instance::new`].
    pub fn pre(&self) -> &bindings::PluginPre<StepCtx> {
        &self.pre
    }

    /// Load `path`, checking its digest against `expected` when given.
    pub fn load(
        sandbox: &Sandbox,
        cache: &Cache,
        path: &Path,
        expected: Option<&str>,
    ) -> Result<Plugin, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        let digest = sha256_hex(&bytes);
        if let Some(expected) = expected {
            if !expected.eq_ignore_ascii_case(&digest) {
                return Err(PluginError::Digest {
                    path: path.to_owned(),
                    expected: expected.to_owned(),
                    actual: digest,
                });
            }
        }
        let invalid = |message: String| PluginError::Invalid {
            path: path.to_owned(),
            message,
        };
        let optimized = cache.holds(sandbox.optimizing(), &digest);
        let tier = sandbox.tier_for(&bytes, optimized);
        let component = cache
            .component(&tier, &digest, &bytes)
            .map_err(|e| invalid(unloadable(&e, sandbox)))?;
        let (imports, exports) = names(&component);
        check_version(path, imports.iter().chain(&exports))?;
        let instance_pre = tier.linker().instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "imports something the sandbox does not grant: {e:#}"
            ))
        })?;
        let pre = bindings::PluginPre::new(instance_pre).map_err(|e| {
            invalid(format!(
                "does not export the weft:step/step interface ({e:#}); a Rust plugin exports it with `weft_sdk::export_transform!(YourStep);` or `weft_sdk::export_evaluate!(YourStep);` at the end of its src/lib.rs, built with `weft build` or `cargo build --release --target wasm32-wasip2`"
            ))
        })?;
        let meta = describe(&pre).map_err(|e| invalid(format!("describe failed: {e:#}")))?;
        let schema = jsonschema::validator_for(&meta.config_schema)
            .map_err(|e| invalid(format!("its config schema is not a valid JSON Schema: {e}")))?;
        Ok(Plugin {
            path: path.to_owned(),
            digest,
            oci: None,
            meta,
            imports,
            exports,
            pre,
            schema: Arc::new(schema),
        })
    }

    /// Check a step config against the plugin's schema; one problem per
    /// mistake, placed in the config.
    pub fn check_config(&self, config: &serde_json::Value) -> Result<(), Vec<ConfigProblem>> {
        let problems = config::problems(&self.schema, &self.meta.config_schema, config);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn names(component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let engine = component.engine();
    let imports = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    let exports = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    (imports, exports)
}

/// Refuse plugins built for another line of the contract (another major,
/// or another `0.minor` before 1.0) or for a newer release of ours, whose
/// additions this host lacks.
fn check_version<'a>(
    path: &Path,
    names: impl Iterator<Item = &'a String>,
) -> Result<(), PluginError> {
    let ours = semver(CONTRACT_VERSION);
    for name in names.filter(|n| n.starts_with(PACKAGE)) {
        let found = name.rsplit_once('@').map_or("", |(_, v)| v);
        let compatible = match (semver(found), ours) {
            (Some(f), Some(o)) => line(f) == line(o) && f <= o,
            _ => false,
        };
        if !compatible {
            return Err(PluginError::Version {
                path: path.to_owned(),
                found: found.to_owned(),
            });
        }
    }
    Ok(())
}

/// `major.minor.patch` as numbers.
fn semver(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// The part of a version that must match: major, or `0.minor` before 1.0.
fn line((major, minor, _): (u64, u64, u64)) -> (u64, u64) {
    if major == 0 {
        (0, minor)
    } else {
        (major, 0)
    }
}

fn describe(pre: &bindings::PluginPre<StepCtx>) -> wasmtime::Result<Meta> {
    let m = sandbox::describe(pre).map_err(|f| wasmtime::format_err!("{f}"))?;
    let config_schema = serde_json::from_str(&m.config_schema)
        .map_err(|e| wasmtime::format_err!("config-schema is not JSON: {e}"))?;
    Ok(Meta {
        name: m.name,
        version: m.version,
        kind: match m.kind {
            Kind::Transform => StepKind::Transform,
            Kind::Evaluate => StepKind::Evaluate,
        },
        description: m.description,
        config_schema,
        stateful: m.stateful,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_semver() {
        let p = Path::new("x.wasm");
        let ok = [
            "weft:step/step@0.1.0".to_owned(),
            "weft:step/compute@0.1.1".to_owned(),
            "weft:step/types@0.1.2".to_owned(),
            "wasi:cli/env@0.2.0".to_owned(),
        ];
        assert!(check_version(p, ok.iter()).is_ok());
        for found in ["0.2.0", "0.1.5", "1.1.0"] {
            let bad = [format!("weft:step/step@{found}")];
            let err = check_version(p, bad.iter()).unwrap_err().to_string();
            assert!(
                err.contains(&format!("weft:step@{found}")) && err.contains("weft:step@0.1.4"),
                "{err}"
            );
        }
    }
}
