//! A plugin author's first minutes, outside this repository: `weft new`
//! writes a crate in a temporary folder, its own `cargo test` passes with a
//! lockfile resolved afresh, `weft build` prints the component's path as
//! its last line, and the crate's `pipeline.yaml`, unedited, runs it.
//!
//! The crates build into one cached folder (`target/scaffold`) so that a
//! rerun does not compile arrow again; the scaffold's `target` is a link to
//! it, where its pipeline.yaml looks for the component.

use std::path::{Path, PathBuf};

use weft_tests::*;

/// Where the scaffolds' builds go, kept between runs.
fn shared_target() -> PathBuf {
    target_dir().join("scaffold")
}

/// `cargo ARGS` in `dir` into the shared target folder; its stdout, or a
/// panic with its output on failure.
fn cargo_in(dir: &Path, args: &[&str]) -> String {
    output(
        cargo_at(dir)
            .args(args)
            .env("CARGO_TARGET_DIR", shared_target()),
    )
}

/// A new plugin of `kind` named `name` in a fresh temporary folder, with
/// `files` (path, text) written over the scaffold's, tested and built;
/// returns the folder (kept alive by the TempDir) and the component path
/// `weft build` printed.
fn scaffold(
    name: &str,
    kind: &str,
    files: &[(String, String)],
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let outside = tempfile::tempdir().expect("a temporary folder");
    assert!(
        !outside.path().starts_with(workspace()),
        "the scaffold must live outside the repository"
    );
    let dir = outside.path().join(name);
    weft_in(
        outside.path(),
        ["new", dir.to_str().unwrap(), "--kind", kind],
    )
    .ok();
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/lib.rs",
        "src/tests.rs",
        "data/sample.csv",
        "pipeline.yaml",
    ] {
        assert!(dir.join(file).is_file(), "weft new wrote no {file}");
    }
    for (path, text) in files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    let tests = cargo_in(&dir, &["test"]);
    assert!(tests.contains("test result: ok"), "{tests}");
    let built = weft_with(
        &dir,
        ["build", "."],
        &[("CARGO_TARGET_DIR", shared_target().as_os_str())],
    );
    built.ok();
    let wasm = PathBuf::from(
        built
            .stdout
            .lines()
            .last()
            .expect("weft build printed a path"),
    );
    assert!(
        wasm.is_file() && wasm.extension().is_some_and(|e| e == "wasm"),
        "{}",
        wasm.display()
    );
    std::os::unix::fs::symlink(shared_target(), dir.join("target")).unwrap();
    (outside, dir, wasm)
}

#[test]
fn a_new_transform_plugin_builds_tests_and_runs_outside_the_repository() {
    let (_keep, dir, wasm) = scaffold("my-center", "transform", &[]);
    assert!(
        wasm.ends_with("wasm32-wasip2/release/my_center.wasm"),
        "{}",
        wasm.display()
    );
    weft_in(&dir, ["run", "pipeline.yaml", "--quiet"]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_close("x", &f64s(&out, "x"), &sample_centred(), 1e-12, 1e-12);
    assert_eq!(f64s(&out, "y").len(), 6, "other columns pass through");
    // What the step emitted in `state()` reached the report, once.
    let report = read_json(&dir.join("out/report.json"));
    let metrics = report["steps"][0]["metrics"]
        .as_array()
        .expect("metrics")
        .clone();
    let fitted: Vec<_> = metrics
        .iter()
        .filter(|m| m["name"] == "fitted_values")
        .collect();
    assert_eq!(fitted.len(), 1, "{metrics:?}");
    assert_eq!(fitted[0]["value"], 5.0);
    assert_eq!(fitted[0]["labels"]["column"], "x");
}

#[test]
fn a_new_evaluate_plugin_builds_tests_and_reports_its_metric() {
    let (_keep, dir, _) = scaffold("my-mae", "evaluate", &[]);
    assert_reports_the_sample_mae(&dir);
}

/// data/sample.csv's x: 1.5, 2.5, (missing), 4.0, 6.0, 3.25.
const SAMPLE_X: [Option<f64>; 6] = [Some(1.5), Some(2.5), None, Some(4.0), Some(6.0), Some(3.25)];

/// The scaffold's transform of SAMPLE_X: centred on its mean 3.45 and
/// divided by its population sd, sqrt(11.55 / 5).
fn sample_centred() -> Vec<Option<f64>> {
    let sd = 2.31_f64.sqrt();
    SAMPLE_X
        .iter()
        .map(|x| x.map(|x| (x - 3.45) / sd))
        .collect()
}

/// The tutorial's `clip` of SAMPLE_X (fold 1): clipped to mean ± 1
/// population sd, and that lower bound.
fn sample_clipped() -> (Vec<Option<f64>>, f64) {
    let x: Vec<f64> = SAMPLE_X.iter().flatten().copied().collect();
    let mean = x.iter().sum::<f64>() / 5.0;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    let clip = |v: &Option<f64>| v.map(|v| v.clamp(mean - sd, mean + sd));
    (SAMPLE_X.iter().map(clip).collect(), mean - sd)
}

/// The mean absolute error the evaluate scaffold reports in `dir`'s run:
/// |y - p| over data/sample.csv is .25 + .5 + 1 + .5 + 1 + .5 = 3.75, / 6.
fn assert_reports_the_sample_mae(dir: &Path) {
    weft_in(dir, ["run", "pipeline.yaml", "--quiet"]).ok();
    let report = read_json(&dir.join("out/report.json"));
    let metric = &report["steps"][0]["metrics"][0];
    assert_eq!(metric["name"], "mean_absolute_error");
    let value = metric["value"].as_f64().expect("a value");
    assert!((value - 0.625).abs() < 1e-15, "{value}");
}

/// The files of the tutorial `page` (under docs/): each fenced block right
/// after a line that is a file name in bold code (`**`src/lib.rs`**`), as
/// (path, text).
fn tutorial_files(page: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(workspace().join("docs").join(page)).unwrap();
    let mut lines = text.lines();
    let mut files = Vec::new();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("**`").and_then(|l| l.strip_suffix("`**")) else {
            continue;
        };
        assert_eq!(lines.next(), Some(""), "a blank line after {path}'s name");
        let fence = lines.next().expect("a block after the name");
        assert!(
            fence.starts_with("```"),
            "{path}: no code block after its name"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        files.push((path.to_owned(), body.join("\n") + "\n"));
    }
    files
}

#[test]
fn the_tutorial_is_a_plugin_that_builds_tests_and_runs() {
    let files = tutorial_files("tutorial.md");
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["src/lib.rs", "src/tests.rs", "pipeline.yaml"]);
    let (_keep, dir, wasm) = scaffold("clip", "transform", &files);
    assert!(wasm.ends_with("wasm32-wasip2/release/clip.wasm"));
    weft_in(&dir, ["validate", "pipeline.yaml"]).ok();
    weft_in(&dir, ["run", "pipeline.yaml", "--quiet"]).ok();
    let (want, low) = sample_clipped();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_close("x", &f64s(&out, "x"), &want, 1e-12, 1e-12);
    assert_eq!(want[0], Some(low), "1.5 lies below the bound");
    assert!(dir.join("out/state/clip.bin").is_file());
}

#[test]
fn weft_new_and_build_refuse_bad_folders_clearly() {
    let dir = Workdir::new();
    dir.weft(["new", "Bad_Name"])
        .failed()
        .stderr_has(&["\"Bad_Name\" cannot name a plugin", "lowercase"]);
    dir.write("taken/file", "x");
    dir.weft(["new", "taken"])
        .failed()
        .stderr_has(&["taken: exists and is not empty"]);
    dir.weft(["build", "nowhere"])
        .failed()
        .stderr_has(&["nowhere: no Cargo.toml"]);
}

/// A new Python plugin of `kind` named `name` in a fresh temporary folder, with
/// `files` written over the scaffold's; its native tests pass (`tests`
/// of them) and `weft build` prints `build/NAME.wasm` last. Returns the
/// folder (kept alive by the TempDir) and the PATH that finds the test
/// venv's componentize-py.
fn python_scaffold(
    name: &str,
    kind: &str,
    files: &[(String, String)],
    tests: usize,
) -> (tempfile::TempDir, PathBuf, String) {
    let outside = tempfile::tempdir().expect("a temporary folder");
    let dir = outside.path().join(name);
    weft_in(
        outside.path(),
        [
            "new",
            dir.to_str().unwrap(),
            "--lang",
            "python",
            "--kind",
            kind,
        ],
    )
    .ok();
    for (path, text) in files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    let pythonpath = [workspace().join("sdk/python"), dir.clone()];
    let said = python_unittests(&dir, "tests", &pythonpath);
    assert!(said.contains(&format!("Ran {tests} tests")), "{said}");
    let wasm = weft_build_python(&dir);
    let want = dir
        .canonicalize()
        .unwrap()
        .join(format!("build/{name}.wasm"));
    assert_eq!(wasm, want);
    (outside, dir, venv_path())
}

#[test]
fn the_python_tutorial_is_a_step_that_tests_builds_and_runs() {
    let files = tutorial_files("tutorial-python.md");
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["clip.py", "tests/test_clip.py", "pipeline.yaml"]);
    let (_keep, dir, _) = python_scaffold("clip", "transform", &files, 3);
    weft_in(&dir, ["validate", "pipeline.yaml"]).ok();
    weft_in(&dir, ["run", "pipeline.yaml", "--quiet"]).ok();
    // The Rust tutorial's oracle.
    let (want, _) = sample_clipped();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_close("x", &f64s(&out, "x"), &want, 1e-12, 1e-12);
    assert!(dir.join("out/state/clip.bin").is_file());
}

#[test]
fn a_new_python_plugin_tests_builds_and_runs_outside_the_repository() {
    let (_keep, dir, path) = python_scaffold("py-center", "transform", &[], 4);
    for file in ["pyproject.toml", "py_center.py", "data/sample.csv"] {
        assert!(dir.join(file).is_file(), "weft new wrote no {file}");
    }
    let env = [("PATH", std::ffi::OsStr::new(&path))];
    weft_in(&dir, ["run", "pipeline.yaml", "--quiet"]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_close("x", &f64s(&out, "x"), &sample_centred(), 1e-12, 1e-12);

    // Build errors name the file and line, or say why an import cannot be
    // bundled.
    let source = dir.join("py_center.py");
    let good = std::fs::read_to_string(&source).unwrap();
    let broken = good.replace(
        "class Center(weft.Transform):",
        "class Center(weft.Transform)",
    );
    std::fs::write(&source, broken).unwrap();
    weft_with(&dir, ["build", "."], &env).failed().stderr_has(&[
        "SyntaxError",
        "py_center.py, line",
        "componentize-py could not build py_center.py",
    ]);
    let numpy = good.replace("import math\n", "import math\nimport numpy\n");
    std::fs::write(&source, numpy).unwrap();
    weft_with(&dir, ["build", "."], &env).failed().stderr_has(&[
        "numpy",
        "C extension (numpy, pyarrow, ...), which cannot run in a component",
    ]);
}

#[test]
fn a_new_python_evaluate_plugin_reports_its_metric() {
    let (_keep, dir, _) = python_scaffold("py-mae", "evaluate", &[], 2);
    assert_reports_the_sample_mae(&dir);
}
