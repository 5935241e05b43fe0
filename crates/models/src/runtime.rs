//! ONNX Runtime, loaded once per process from `libonnxruntime.so` when the
//! first model is: weft runs without it until a step loads a model.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::ModelError;

/// The variable naming the ONNX Runtime library to load.
pub const ENV: &str = "WEFT_ONNXRUNTIME";

/// File names tried, newest soname first, beside the weft binary, in its
/// `../lib`, then on the loader's path.
const NAMES: [&str; 2] = ["libonnxruntime.so", "libonnxruntime.so.1"];

/// The loaded runtime: where it came from and its version.
pub struct Runtime {
    /// The library file loaded.
    pub path: PathBuf,
    /// ONNX Runtime's version, e.g. `1.23.2`.
    pub version: String,
    pub(crate) environment: Environment,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process's ONNX Runtime, loaded on first use from `$WEFT_ONNXRUNTIME`
/// (or `$ORT_DYLIB_PATH`), else beside the binary, else the loader's path.
pub fn runtime() -> Result<&'static Runtime, ModelError> {
    RUNTIME
        .get_or_init(load)
        .as_ref()
        .map_err(|e| ModelError::Runtime(e.clone()))
}

fn load() -> Result<Runtime, String> {
    let candidates = candidates();
    let mut tried = Vec::new();
    for path in &candidates {
        match ort::init_from(path) {
            Ok(builder) => {
                let environment = builder
                    .with_name("weft")
                    .build()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let version = version_of(path);
                tracing::info!(path = %path.display(), %version, "loaded ONNX Runtime");
                return Ok(Runtime {
                    path: path.clone(),
                    version,
                    environment,
                });
            }
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    Err(format!(
        "ONNX Runtime (libonnxruntime.so, 1.17 or newer) was not found; set {ENV} to its path \
         (`pip install onnxruntime` ships it as site-packages/onnxruntime/capi/libonnxruntime.so.*). \
         Tried: {}",
        tried.join("; ")
    ))
}

/// Where to look, in order.
fn candidates() -> Vec<PathBuf> {
    let named = [ENV, "ORT_DYLIB_PATH"]
        .iter()
        .filter_map(std::env::var_os)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .collect::<Vec<_>>();
    if !named.is_empty() {
        return named;
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned));
    let mut paths = Vec::new();
    for dir in beside.iter().flat_map(|d| [d.clone(), d.join("../lib")]) {
        paths.extend(NAMES.iter().map(|n| dir.join(n)).filter(|p| p.exists()));
    }
    paths.extend(NAMES.iter().map(PathBuf::from));
    paths
}

/// The version in the library's file name, links followed
/// (`libonnxruntime.so.1.32.0`), else what ONNX Runtime's build string says.
fn version_of(path: &Path) -> String {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let name = real.file_name().map(|n| n.to_string_lossy().into_owned());
    name.as_deref()
        .and_then(|n| n.strip_prefix("libonnxruntime.so."))
        .filter(|v| v.contains('.'))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let info = ort::info();
            info.split(", ")
                .find_map(|part| part.strip_prefix("git-branch=rel-"))
                .unwrap_or("unknown")
                .to_owned()
        })
}
