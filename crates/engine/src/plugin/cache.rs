//! Compiled components cached on disk, keyed by the sha256 of the `.wasm`
//! and the engine's compatibility hash, so a plugin compiles once.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::component::Component;

use crate::sandbox::Tier;

/// Where compiled components are kept; `None` compiles every time.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    /// The cache in `dir`, or no cache.
    pub fn new(dir: Option<PathBuf>) -> Cache {
        Cache { dir }
    }

    /// `$WEFT_CACHE_DIR`, else the user's cache folder (`~/.cache/weft/aot`).
    pub fn default_location() -> Cache {
        let dir = std::env::var_os("WEFT_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("weft").join("aot")));
        Cache::new(dir)
    }

    /// Whether `tier`'s compiled code for the component whose sha256 is
    /// `digest` is cached.
    pub fn holds(&self, tier: &Tier, digest: &str) -> bool {
        self.file(tier, digest).is_some_and(|f| f.exists())
    }

    /// Where `tier`'s code for the component `digest` is kept: the name
    /// carries the digest, the compiler and the engine's settings.
    fn file(&self, tier: &Tier, digest: &str) -> Option<PathBuf> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        tier.engine()
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let compiler = tier.compiler().name();
        let name = format!("{digest}-{compiler}-{:016x}.cwasm", hasher.finish());
        self.dir.as_ref().map(|d| d.join(name))
    }

    /// The component for `bytes` whose sha256 is `digest`, compiled by
    /// `tier`'s engine.
    pub fn component(
        &self,
        tier: &Tier,
        digest: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let engine = tier.engine();
        let Some(file) = self.file(tier, digest) else {
            return Component::new(engine, bytes);
        };
        if file.exists() {
            // SAFETY: the file was written by `Component::serialize` of this
            // engine configuration (the name carries both the module digest
            // and the engine hash); wasmtime checks its header again.
            if let Ok(c) = unsafe { Component::deserialize_file(engine, &file) } {
                return Ok(c);
            }
            tracing::warn!(file = %file.display(), "cached component unusable; recompiling");
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|b| crate::data::write_atomic(&file, &b).map_err(|e| e.to_string()))
        {
            tracing::warn!(file = %file.display(), "cannot write the compile cache: {e}");
        }
        Ok(component)
    }
}
