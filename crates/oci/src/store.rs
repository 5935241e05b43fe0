//! The content-addressed cache of pulled components:
//! `<dir>/sha256/<hex>.wasm` (and of files for mounts, `files.rs`), each file written under a temporary name in
//! the same folder and renamed only once its sha256 is verified, so a
//! file there is always whole and always what its name says.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::OciError;

/// The first eight bytes of a component binary (magic, version 0x0d, layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Where pulled components and files are kept.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir`.
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// Beside the compile cache: `$WEFT_CACHE_DIR/oci`, else the user's
    /// cache folder (`~/.cache/weft/oci`).
    pub fn default_location() -> Store {
        let dir = std::env::var_os("WEFT_CACHE_DIR")
            .map(|d| PathBuf::from(d).join("oci"))
            .or_else(|| dirs::cache_dir().map(|d| d.join("weft").join("oci")))
            .unwrap_or_else(|| std::env::temp_dir().join("weft-oci"));
        Store::new(dir)
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the component whose sha256 is `hex` is kept.
    pub fn path(&self, hex: &str) -> PathBuf {
        self.dir
            .join("sha256")
            .join(format!("{}.wasm", hex.to_ascii_lowercase()))
    }

    /// The cached component `hex`, if present.
    pub(crate) fn get(&self, hex: &str) -> Option<PathBuf> {
        let path = self.path(hex);
        path.is_file().then_some(path)
    }

    /// Keep `bytes`, which `reference` named as component `expected`
    /// (sha256 hex): refused, and nothing written, unless they hash to it
    /// and are a component.
    pub(crate) fn put(
        &self,
        reference: &str,
        expected: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, OciError> {
        let actual = hex::encode(Sha256::digest(bytes));
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(OciError::Digest {
                reference: reference.to_owned(),
                what: "component",
                expected: expected.to_owned(),
                actual,
            });
        }
        check_component(reference, bytes)?;
        let path = self.path(&actual);
        let folder = path.parent().expect("a store path has a folder");
        let io = |source| OciError::Io {
            path: folder.to_owned(),
            source,
        };
        std::fs::create_dir_all(folder).map_err(io)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(folder)
            .map_err(io)?;
        temp.write_all(bytes).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(&path).map_err(|e| io(e.error))?;
        Ok(path)
    }
}

/// Refuse anything but a component binary (a core module, text, a tar).
pub(crate) fn check_component(reference: &str, bytes: &[u8]) -> Result<(), OciError> {
    if bytes.starts_with(&COMPONENT_HEADER) {
        return Ok(());
    }
    let found = if bytes.starts_with(b"\0asm") {
        "a core Wasm module, not a component (build for wasm32-wasip2, or wrap it with `wasm-tools component new`)".to_owned()
    } else {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!(
            "a layer of {} bytes that is not Wasm (starts {})",
            bytes.len(),
            head.join(" ")
        )
    };
    Err(OciError::NotComponent {
        reference: reference.to_owned(),
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component() -> Vec<u8> {
        let mut bytes = COMPONENT_HEADER.to_vec();
        bytes.extend_from_slice(b"rest");
        bytes
    }

    fn files(dir: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir.join("sha256")) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_verified_component_is_kept_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let bytes = component();
        let hex = hex::encode(Sha256::digest(&bytes));
        let path = store.put("r/x:1", &hex, &bytes).unwrap();
        assert_eq!(path, dir.path().join("sha256").join(format!("{hex}.wasm")));
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(store.get(&hex), Some(path));
        assert_eq!(files(dir.path()), vec![format!("{hex}.wasm")]);
    }

    #[test]
    fn a_mismatch_or_a_module_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let err = store
            .put("r/x:1", &"0".repeat(64), &component())
            .unwrap_err();
        assert!(matches!(err, OciError::Digest { .. }), "{err}");
        let module = b"\0asm\x01\0\0\0".to_vec();
        let hex = hex::encode(Sha256::digest(&module));
        let err = store.put("r/x:1", &hex, &module).unwrap_err().to_string();
        assert!(
            err.contains("r/x:1: not a Wasm component artifact: a core Wasm module"),
            "{err}"
        );
        assert!(files(dir.path()).is_empty());
    }
}
