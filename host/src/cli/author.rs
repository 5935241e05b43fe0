//! `weft new` and `weft build`: what a plugin author runs outside this
//! repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The language of the step `weft new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A crate on the Rust weft-sdk.
    Rust,
    /// A module on the Python weft-sdk, built with componentize-py.
    Python,
}

/// The kind of step `weft new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Batches in, batches out, with a fitted state (a `Transform`).
    Transform,
    /// Batches in, metrics out (an `Evaluate`).
    Evaluate,
}

/// Where the new crate gets `weft-sdk` from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SdkSource {
    /// Use the SDK in this folder (a checkout's `sdk/`).
    #[arg(long, value_name = "DIR", conflicts_with = "sdk_git")]
    sdk_path: Option<PathBuf>,
    /// Use the SDK from this git repository (the weft repository).
    #[arg(long, value_name = "URL")]
    sdk_git: Option<String>,
    /// With --sdk-git: the branch, tag or commit.
    #[arg(long, value_name = "REV", requires = "sdk_git")]
    sdk_rev: Option<String>,
}

/// The folder `folder` of the source tree this binary was built from, if
/// it is still there and holds `marker` (e.g. `sdk`, `Cargo.toml`).
pub(super) fn built_from(folder: &str, marker: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(folder);
    dir.join(marker)
        .is_file()
        .then(|| dir.canonicalize().ok())
        .flatten()
}

/// Write `files` (path under `dir`, template) into `dir`, each
/// `{{key}}` of `vars` replaced by its value.
pub(super) fn write_templates<P: AsRef<Path>>(
    dir: &Path,
    files: impl IntoIterator<Item = (P, &'static str)>,
    vars: &[(&str, &str)],
) -> Result<()> {
    for (path, template) in files {
        let text = vars.iter().fold(template.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        });
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("a file in a folder"))
            .and_then(|()| std::fs::write(&file, text))
            .with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

impl SdkSource {
    /// The `weft-sdk = ...` line of the new crate's Cargo.toml.
    fn dependency(&self) -> Result<String> {
        let toml = |s: &str| serde_json::to_string(s).expect("a string");
        if let Some(url) = &self.sdk_git {
            let rev = self
                .sdk_rev
                .as_ref()
                .map(|r| format!(", rev = {}", toml(r)))
                .unwrap_or_default();
            return Ok(format!("weft-sdk = {{ git = {}{rev} }}", toml(url)));
        }
        let path = match &self.sdk_path {
            Some(dir) => Some(checked_sdk(dir)?),
            None => built_from("sdk", "Cargo.toml"),
        };
        Ok(match path {
            Some(dir) => format!("weft-sdk = {{ path = {} }}", toml(&dir.to_string_lossy())),
            None => format!("weft-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
        })
    }
}

/// `--sdk-path DIR`, absolute, checked to hold a crate.
fn checked_sdk(dir: &Path) -> Result<PathBuf> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("--sdk-path {}: no such folder", dir.display()))?;
    if !dir.join("Cargo.toml").is_file() {
        bail!(
            "--sdk-path {}: no Cargo.toml there; give the weft checkout's sdk/ folder",
            dir.display()
        );
    }
    Ok(dir)
}

/// The files of a new plugin: `(path in the crate, contents)`.
fn files(kind: Kind) -> [(&'static str, &'static str); 8] {
    macro_rules! template {
        ($file:literal) => {
            include_str!(concat!("../../templates/plugin/", $file))
        };
    }
    let (lib, tests, pipeline) = match kind {
        Kind::Transform => (
            template!("transform.rs"),
            template!("transform_tests.rs"),
            template!("transform-pipeline.yaml"),
        ),
        Kind::Evaluate => (
            template!("evaluate.rs"),
            template!("evaluate_tests.rs"),
            template!("evaluate-pipeline.yaml"),
        ),
    };
    [
        ("Cargo.toml", template!("Cargo.toml")),
        (".cargo/config.toml", template!("cargo-config.toml")),
        (".gitignore", template!("gitignore")),
        ("README.md", template!("README.md")),
        ("src/lib.rs", lib),
        ("src/tests.rs", tests),
        ("data/sample.csv", template!("sample.csv")),
        ("pipeline.yaml", pipeline),
    ]
}

/// A plugin name: a crate name that is also a step name.
fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!("{name:?} cannot name a plugin: use lowercase letters, digits and '-', starting with a letter (e.g. my-scaler)");
    }
    Ok(())
}

/// `weft new`: write a plugin at `dir` (its last component names the
/// plugin); refuses a folder that exists and is not empty.
pub fn new(dir: &Path, kind: Kind, lang: Lang, sdk: &SdkSource) -> Result<()> {
    let name = dir.file_name().and_then(|n| n.to_str()).with_context(|| {
        format!(
            "{}: the folder's name is the plugin's name; give one",
            dir.display()
        )
    })?;
    check_name(name)?;
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{}: exists and is not empty; pick a new folder",
            dir.display()
        );
    }
    if lang == Lang::Python {
        return super::author_py::new(dir, name, kind);
    }
    let sdk = sdk.dependency()?;
    let kind_name = format!("{kind:?}").to_lowercase();
    let crate_name = name.replace('-', "_");
    let vars = [
        ("name", name),
        ("crate", &crate_name),
        ("sdk", &sdk),
        ("kind", &kind_name),
    ];
    write_templates(dir, files(kind), &vars)?;
    eprintln!(
        "created {kind_name} plugin {name} in {} ({sdk})",
        dir.display()
    );
    eprintln!(
        "next: cd {} && cargo test && weft build . && weft run pipeline.yaml",
        dir.display()
    );
    Ok(())
}

/// `weft build`: build the plugin crate in `dir` for wasm32-wasip2
/// (release), or the Python step there with componentize-py, and return
/// the component's path.
pub fn build(dir: &Path) -> Result<PathBuf> {
    if !dir.join("Cargo.toml").is_file() {
        if dir.join("pyproject.toml").is_file() {
            return super::author_py::build(dir);
        }
        bail!(
            "{}: no Cargo.toml or pyproject.toml; give a plugin's folder (weft new makes one)",
            dir.display()
        );
    }
    // Run in the folder so that its .cargo/config.toml applies.
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start cargo; install Rust with rustup (https://rustup.rs)")?;
    if !output.status.success() {
        bail!(
            "{}: cargo build failed (its messages are above); if it says the wasm32-wasip2 target \
             is missing, run: rustup target add wasm32-wasip2",
            dir.display()
        );
    }
    component(&output.stdout).with_context(|| {
        format!(
            "{}: the build made no .wasm; is the crate's [lib] crate-type [\"cdylib\", \"rlib\"]?",
            dir.display()
        )
    })
}

/// The last `.wasm` a cdylib artifact in cargo's JSON messages names.
fn component(messages: &[u8]) -> Option<PathBuf> {
    String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_step_names() {
        for good in ["kbins", "my-scaler", "a1"] {
            check_name(good).unwrap();
        }
        for bad in ["", "My", "1a", "a_b", "a-", "a b"] {
            assert!(
                check_name(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("lowercase"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_component_is_the_cdylib_wasm() {
        let messages = br#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libserde.rlib"]}
not json
{"reason":"compiler-artifact","target":{"kind":["cdylib","rlib"]},"filenames":["/t/wasm32-wasip2/release/my_step.wasm","/t/wasm32-wasip2/release/libmy_step.rlib"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            component(messages),
            Some(PathBuf::from("/t/wasm32-wasip2/release/my_step.wasm"))
        );
        assert_eq!(component(b"{\"reason\":\"build-finished\"}"), None);
    }

    #[test]
    fn a_non_empty_folder_is_refused() {
        let dir = std::env::temp_dir().join(format!("weft-new-{}", std::process::id()));
        let target = dir.join("taken");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("x"), "").unwrap();
        let err = new(&target, Kind::Transform, Lang::Rust, &SdkSource::default()).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
