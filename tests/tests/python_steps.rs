//! Steps written in Python (`sdk/python`, built by componentize-py against
//! `wit/step.wit`) run in weft as the Rust steps do: the Python `scale`
//! (`plugins-py/scale`) gives the Rust `scale`'s output and state, bit for
//! bit, in `weft run`, answers `weft serve` requests with the batch run's
//! numbers, and its mistakes name the field, the column and the Python
//! line; the SDK's and the plugin's own tests pass under CPython (its native
//! backend against scikit-learn).

#[path = "served/mod.rs"]
mod served;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};
use served::{request_columns, training, Served};
use weft_tests::{
    assert_close, f64s, plugin, python_unittests, read_json, read_parquet, weft_build_python,
    weft_build_python_into, weft_with, workspace, Pipeline, Workdir,
};

/// `plugins-py/<name>` built into a component by `weft build` (into its
/// `build/`), once per test process.
fn python_plugin(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let wasm = built
        .entry(name.to_owned())
        .or_insert_with(|| weft_build_python(&workspace().join("plugins-py").join(name)));
    wasm.clone()
}

#[test]
fn the_sdk_and_the_plugin_pass_their_own_tests_under_cpython() {
    let sdk = workspace().join("sdk/python");
    python_unittests(&sdk, "tests", std::slice::from_ref(&sdk));
    for plugin in ["scale", "classification-metrics"] {
        let folder = workspace().join("plugins-py").join(plugin);
        python_unittests(&folder, "tests", &[sdk.clone(), folder.clone()]);
    }
}

/// 3000 rows in batches of 1000: x with NaN and nulls, y constant, t text.
fn input(dir: &Workdir) {
    let mut csv = String::from("x,y,t\n");
    for i in 0..3000u32 {
        let x = match i % 97 {
            0 => String::new(),
            1 => "NaN".into(),
            _ => format!("{}", (f64::from(i) * 0.37).sin() * 1e3),
        };
        csv.push_str(&format!("{x},2.5,r{}\n", i % 7));
    }
    dir.write("in.csv", csv);
}

#[test]
fn python_scale_equals_rust_scale_bit_for_bit() {
    let dir = Workdir::new();
    input(&dir);
    let wasm = python_plugin("scale");
    let configs = [
        json!({ "columns": ["x", "y"], "method": "standard" }),
        json!({ "columns": ["x", "y"], "method": "minmax", "feature_range": [-1.0, 2.0] }),
    ];
    for config in configs {
        let run = |path: &Path, out: &str, args: &[&str]| {
            let manifest = Pipeline::new("in.csv")
                .plugin("scale", path)
                .output(out)
                .spec("batchRows: 1000")
                .step("s", "scale", config.clone(), "")
                .write(&dir, "pipeline.yaml");
            dir.run(&manifest, args).ok();
            let report = read_json(&dir.join(out).join("report.json"));
            let state = report["steps"][0]["state"]["sha256"].clone();
            (read_parquet(&dir.join(out).join("data.parquet")), state)
        };
        let (rust, rust_state) = run(&plugin("scale"), "rust/", &[]);
        // Winch's code and Cranelift's give the same bits.
        for compiler in ["winch", "cranelift"] {
            let (py, py_state) = run(&wasm, "py/", &["--compiler", compiler]);
            for column in ["x", "y"] {
                let bits = |b| {
                    f64s(b, column)
                        .iter()
                        .map(|v| v.map(f64::to_bits))
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    bits(&py),
                    bits(&rust),
                    "{config} ({compiler}): column {column}"
                );
            }
            assert_eq!(py.schema(), rust.schema(), "{config}");
            assert!(rust_state.is_string(), "{rust_state}");
            assert_eq!(
                py_state, rust_state,
                "{config} ({compiler}): state bytes differ"
            );
            std::fs::remove_dir_all(dir.join("py")).unwrap();
        }
        std::fs::remove_dir_all(dir.join("rust")).unwrap();
    }
}

/// The compiled code files in the compile cache `dir`, by compiler.
fn cached(dir: &Path, compiler: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains(&format!("-{compiler}-"))
            })
            .count()
    })
}

#[test]
fn a_python_step_runs_on_winch_until_weft_build_leaves_cranelift_code() {
    let dir = Workdir::new();
    input(&dir);
    let source = workspace().join("plugins-py/scale");
    for file in ["scale.py", "pyproject.toml"] {
        dir.write(
            format!("scale/{file}"),
            std::fs::read(source.join(file)).unwrap(),
        );
    }
    let cache = dir.join("aot");
    let fresh = dir.join("fresh");
    let run = |wasm: &Path, cache: &Path| {
        let manifest = Pipeline::new("in.csv")
            .plugin("scale", wasm)
            .step(
                "s",
                "scale",
                json!({ "columns": ["x"], "method": "standard" }),
                "",
            )
            .write(&dir, "pipeline.yaml");
        let envs = [("WEFT_CACHE_DIR", cache.as_os_str())];
        weft_with(
            dir.path(),
            ["run".as_ref(), "--no-cache".as_ref(), manifest.as_os_str()],
            &envs,
        )
        .ok();
    };
    let wasm = weft_build_python_into(&dir.join("scale"), &cache);
    assert_eq!(
        (cached(&cache, "cranelift"), cached(&cache, "winch")),
        (1, 0),
        "weft build compiles with Cranelift"
    );
    run(&wasm, &cache);
    assert_eq!(
        cached(&cache, "winch"),
        0,
        "a run uses the cached Cranelift code"
    );
    run(&wasm, &fresh);
    assert_eq!(
        (cached(&fresh, "cranelift"), cached(&fresh, "winch")),
        (0, 1),
        "without it, Winch"
    );
}

/// A Python step that scores the churn example's model through the SDK's
/// `weft_sdk.model`.
const PYSCORE: &str = r#"
from dataclasses import dataclass

import weft_sdk as weft
from weft_sdk import Batch
from weft_sdk.model import Model


@dataclass
class Config:
    model: str
    features: list[str]


class Score(weft.Transform):
    meta = weft.Meta("pyscore", "0.1.0", "Score an ONNX model from Python")

    def configure(self, config: Config) -> None:
        self.config = config
        self.model = Model.open(config.model)

    def transform(self, batch: Batch) -> Batch:
        features = [batch.numeric(name) for name in self.config.features]
        [[_, p1]] = self.model.run(features, ["probabilities"])
        return batch.with_columns({"py_1": p1})


Step = weft.export(Score)
"#;

#[test]
fn a_python_step_scores_a_model_as_the_rust_step_does() {
    let dir = Workdir::new();
    let churn = workspace().join("examples/churn");
    dir.write(
        "train.csv",
        std::fs::read(churn.join("data/train.csv")).unwrap(),
    );
    dir.write(
        "models/churn.onnx",
        std::fs::read(churn.join("models/churn.onnx")).unwrap(),
    );
    dir.write("pyscore/pyscore.py", PYSCORE);
    let pyproject =
        std::fs::read_to_string(workspace().join("plugins-py/scale/pyproject.toml")).unwrap();
    dir.write(
        "pyscore/pyproject.toml",
        pyproject.replace("\"scale\"", "\"pyscore\""),
    );
    let wasm = weft_build_python(&dir.join("pyscore"));
    let features = json!([
        "age",
        "income",
        "plan=basic",
        "plan=enterprise",
        "plan=pro",
        "tenure_months",
        "monthly_charges"
    ]);
    let mount = "mounts: [{ path: models, as: /models }], needs: [encode]";
    let manifest = Pipeline::new("train.csv")
        .plugin("impute", &plugin("impute"))
        .plugin("one-hot", &plugin("one-hot"))
        .plugin("onnx", &plugin("onnx-model"))
        .plugin("pyscore", &wasm)
        .step("fill", "impute", json!({"columns": ["age", "income"], "strategy": "median"}), "")
        .step("fill-plan", "impute", json!({"columns": ["plan"], "strategy": "most_frequent"}), "")
        .step("encode", "one-hot", json!({"columns": ["plan"]}), "needs: [fill, fill-plan]")
        .step("rust", "onnx", json!({"model": "/models/churn.onnx", "features": features, "outputs": {"probabilities": "rs"}}), mount)
        .step("python", "pyscore", json!({"model": "/models/churn.onnx", "features": features}), mount)
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_close("py_1", &f64s(&out, "py_1"), &f64s(&out, "rs_1"), 0.0, 0.0);
}

#[test]
fn weft_serve_answers_with_the_python_step_as_the_batch_run_wrote() {
    let dir = Workdir::new();
    training(&dir);
    let manifest = Pipeline::new("train.parquet")
        .plugin("scale", &python_plugin("scale"))
        .step(
            "norm",
            "scale",
            json!({ "columns": ["x", "y"], "method": "standard" }),
            "",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let batch = read_parquet(&dir.join("out/data.parquet"));
    let served = Served::start(&dir, &manifest, &["--workers", "2"]);
    for _ in 0..3 {
        let (status, body) = served.json(&request_columns());
        assert_eq!(status, 200, "{body}");
        for column in ["x", "y"] {
            let got: Vec<Option<f64>> = body["columns"][column]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::as_f64)
                .collect();
            let want = f64s(&batch, column)[10..20].to_vec();
            assert_close(column, &got, &want, 0.0, 0.0);
        }
    }
}

#[test]
fn python_mistakes_name_the_field_the_column_and_the_line() {
    let dir = Workdir::new();
    input(&dir);
    let wasm = python_plugin("scale");
    let run = |config: serde_json::Value| {
        let manifest = Pipeline::new("in.csv")
            .plugin("scale", &wasm)
            .step("s", "scale", config, "")
            .write(&dir, "pipeline.yaml");
        dir.run(&manifest, &[])
    };
    run(json!({ "columns": ["x"], "method": "robust" }))
        .failed()
        .stderr_has(&["step \"s\"", "method", "robust"]);
    // Another method's option, refused by the schema (a tagged union).
    run(json!({ "columns": ["x"], "method": "standard", "clip": true }))
        .failed()
        .stderr_has(&["step \"s\"", "clip"]);
    run(json!({ "columns": ["x"], "method": "minmax", "feature_range": [1.0, 0.0] }))
        .failed()
        .stderr_has(&["feature_range: minimum not below maximum"]);
    // Too little memory for the interpreter's heap: said at load, with
    // what to set.
    let small = Pipeline::new("in.csv")
        .plugin("scale", &wasm)
        .spec("limits: { memory: 8Mi }")
        .step(
            "s",
            "scale",
            json!({ "columns": ["x"], "method": "standard" }),
            "",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&small, &[]).failed().stderr_has(&[
        "its linear memory starts larger than limits.memory allows (8388608 bytes",
        "a Python step starts at about 13 MiB",
    ]);
    run(json!({ "columns": ["t"], "method": "standard" }))
        .failed()
        .stderr_has(&["step \"s\" failed in fit", "\"t\"", "scale.py:"]);
}

#[test]
fn python_classification_metrics_report_what_the_rust_step_reports() {
    let dir = Workdir::new();
    let mut csv = String::from("y,score,kind,guess\n");
    for i in 0..2000u32 {
        let y = u32::from((i * 7919) % 13 < 6);
        let score = ((f64::from(i) * 0.61).sin() + 1.0) / 2.0 * 0.9 + f64::from(y) * 0.1;
        let kinds = ["cat", "dog", "eel"];
        let kind = kinds[(i % 3) as usize];
        let guess = kinds[((i * 5 + i / 7) % 3) as usize];
        csv.push_str(&format!("{y},{score},{kind},{guess}\n"));
    }
    dir.write("in.csv", csv);
    let configs = [
        json!({ "label": "y", "score": "score" }),
        json!({ "label": "y", "score": "score", "threshold": 0.3 }),
        json!({ "label": "kind", "prediction": "guess" }),
    ];
    let wasm = python_plugin("classification-metrics");
    for config in configs {
        let metrics = |path: &Path| {
            let manifest = Pipeline::new("in.csv")
                .plugin("m", path)
                .spec("batchRows: 300")
                .step("m", "m", config.clone(), "")
                .write(&dir, "pipeline.yaml");
            dir.run(&manifest, &[]).ok();
            let report = read_json(&dir.join("out/report.json"));
            std::fs::remove_dir_all(dir.join("out")).unwrap();
            report["steps"][0]["metrics"].clone()
        };
        let (rust, python) = (metrics(&plugin("classification-metrics")), metrics(&wasm));
        assert!(rust.as_array().is_some_and(|m| m.len() > 3), "{rust}");
        assert_eq!(python, rust, "{config}");
    }
}
