//! `weft new --lang python` and `weft build` of a Python step: a module on
//! the Python weft-sdk (`sdk/python`), built into a component by
//! componentize-py against the WIT this weft was built with.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::author::{built_from, write_templates, Kind};

/// The contract the component is built against: this weft's own.
const WIT: &str = include_str!("../../../wit/step.wit");

/// The componentize-py release the SDK is tested with.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The files of a new Python step of `kind`: `(path, contents)`.
fn files(module: &str, kind: Kind) -> [(String, &'static str); 7] {
    macro_rules! template {
        ($file:literal) => {
            include_str!(concat!("../../templates/python/", $file))
        };
    }
    let (step, tests, pipeline) = match kind {
        Kind::Transform => (
            template!("transform.py"),
            template!("test_transform.py"),
            template!("transform-pipeline.yaml"),
        ),
        Kind::Evaluate => (
            template!("evaluate.py"),
            template!("test_evaluate.py"),
            template!("evaluate-pipeline.yaml"),
        ),
    };
    [
        ("pyproject.toml".into(), template!("pyproject.toml")),
        (".gitignore".into(), template!("gitignore")),
        ("README.md".into(), template!("README.md")),
        (format!("{module}.py"), step),
        (format!("tests/test_{module}.py"), tests),
        (
            "data/sample.csv".into(),
            include_str!("../../templates/plugin/sample.csv"),
        ),
        ("pipeline.yaml".into(), pipeline),
    ]
}

/// The Python module of the plugin named `name`.
fn module_of(name: &str) -> String {
    name.replace('-', "_")
}

/// The Python SDK: `$WEFT_PYTHON_SDK`, else that of the source tree this
/// binary was built from, if it is still there.
fn sdk() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEFT_PYTHON_SDK") {
        return Some(PathBuf::from(dir));
    }
    built_from("sdk/python", "pyproject.toml")
}

/// Write a Python step of `kind` named `name` into the empty folder `dir`.
pub fn new(dir: &Path, name: &str, kind: Kind) -> Result<()> {
    let module = module_of(name);
    let sdk = sdk().map_or_else(|| "weft-sdk".into(), |d| d.display().to_string());
    let vars = [("name", name), ("module", &module), ("sdk", &sdk)];
    write_templates(dir, files(&module, kind), &vars)?;
    let kind_name = format!("{kind:?}").to_lowercase();
    eprintln!(
        "created Python {kind_name} plugin {name} in {}",
        dir.display()
    );
    eprintln!(
        "next: cd {} && pip install -e {sdk}[native] {COMPONENTIZE_PY} && \
         python -m unittest discover -s tests && weft build . && weft run pipeline.yaml",
        dir.display()
    );
    Ok(())
}

/// `weft build` of the Python step in `dir`: its module (named after the
/// folder) into `dir/build/NAME.wasm`.
pub fn build(dir: &Path) -> Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{}: no such folder", dir.display()))?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("the folder has no name")?;
    let module = module_of(name);
    if !dir.join(format!("{module}.py")).is_file() {
        bail!(
            "{}: no {module}.py; weft build builds the module named after the folder \
             (weft new --lang python makes one)",
            dir.display()
        );
    }
    let wit = tempfile::tempdir().context("a temporary folder for the WIT")?;
    std::fs::write(wit.path().join("step.wit"), WIT)?;
    let wasm = dir.join("build").join(format!("{name}.wasm"));
    std::fs::create_dir_all(wasm.parent().expect("in build/"))?;
    let mut command = componentize_py();
    command
        .arg("-d")
        .arg(wit.path())
        .args(["-w", "plugin", "componentize", &module, "-p"])
        .arg(&dir);
    if let Some(sdk) = sdk() {
        command.arg("-p").arg(sdk);
    }
    let output = command.arg("-o").arg(&wasm).current_dir(&dir).output();
    let output = output.with_context(|| {
        format!("cannot start componentize-py: pip install {COMPONENTIZE_PY}, or set WEFT_COMPONENTIZE_PY")
    })?;
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!(
            "{}: componentize-py could not build {module}.py (its messages are above): a syntax \
             error names the file and line; an import it cannot bundle is a C extension (numpy, \
             pyarrow, ...), which cannot run in a component: leave the math to weft_sdk.compute",
            dir.display()
        );
    }
    Ok(wasm)
}

/// componentize-py: `$WEFT_COMPONENTIZE_PY`, else from PATH; its errors
/// without its own Rust backtrace, which says nothing about the step.
fn componentize_py() -> Command {
    let program =
        std::env::var_os("WEFT_COMPONENTIZE_PY").unwrap_or_else(|| "componentize-py".into());
    let mut command = Command::new(program);
    command.env("RUST_BACKTRACE", "0");
    command
}
