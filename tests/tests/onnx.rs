//! Live parity of the `onnx-model` step with the libraries that trained the
//! models: `tests/python/onnx_models.py` fits scikit-learn's
//! LogisticRegression, RandomForestClassifier, GradientBoostingRegressor and
//! a StandardScaler + MLPClassifier pipeline, XGBoost and LightGBM on
//! generated data, exports them with skl2onnx / onnxmltools and writes the
//! libraries' own `predict_proba` / `predict`. weft scores every model in
//! one pipeline (the host's ONNX Runtime, loaded from the test venv's
//! wheel) and must agree to 1e-5, give the same metrics through
//! `classification-metrics`, answer `weft serve` with the batch numbers,
//! and refuse bad models and configs naming the step and the model.

#[path = "served/mod.rs"]
mod served;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use served::Served;
use weft_tests::*;

const TOLERANCE: f64 = 1e-5;
const ROWS: usize = 2000;
const CLASSIFIERS: [&str; 5] = ["logreg", "forest", "mlp", "xgb", "lgbm"];
const MOUNT: &str = "mounts: [ { path: models, as: /models } ]";

/// The data, the models and the libraries' predictions, made once.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("onnx-models");
        let _ = std::fs::remove_dir_all(&dir);
        let args = ["export".as_ref(), "--out".as_ref(), dir.as_os_str()];
        python_fixture("onnx_models.py", &args);
        dir
    })
}

/// A work folder with the fixture's models under `models/`.
fn workdir() -> Workdir {
    let dir = Workdir::new();
    for entry in std::fs::read_dir(fixture()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".onnx") {
            dir.write(
                format!("models/{name}"),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    dir
}

fn features() -> Value {
    json!((0..8).map(|i| format!("f{i}")).collect::<Vec<_>>())
}

/// A pipeline over the fixture's data.
fn pipeline() -> Pipeline {
    Pipeline::new(fixture().join("data.parquet").to_str().unwrap())
        .plugin("onnx", &plugin("onnx-model"))
        .plugin("metrics", &plugin("classification-metrics"))
        .spec("batchRows: 512")
}

/// One scoring step of `model` writing `outputs`.
fn score(p: Pipeline, model: &str, outputs: Value) -> Pipeline {
    let config = json!({
        "model": format!("/models/{model}.onnx"),
        "features": features(),
        "outputs": outputs,
    });
    p.step(model, "onnx", config, MOUNT)
}

/// Every model in one run: each step reads the input and adds its columns.
fn all_models() -> (Workdir, Run) {
    let mut p = pipeline();
    for name in CLASSIFIERS {
        let outputs =
            json!({"label": format!("{name}_label"), "probabilities": format!("{name}_p")});
        p = score(p, name, outputs);
    }
    p = score(p, "gbr", json!({"variable": "gbr_pred"}));
    let dir = workdir();
    let manifest = p.write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &[]);
    (dir, run)
}

#[test]
fn every_model_scores_as_its_library_predicts() {
    let (dir, run) = all_models();
    run.ok();
    let want = read_parquet(&fixture().join("expected.parquet"));
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(out.num_rows(), ROWS);
    for name in CLASSIFIERS {
        for class in 0..2 {
            let got = f64s(&out, &format!("{name}_p_{class}"));
            assert_close(
                name,
                &got,
                &f64s(&want, &format!("{name}_p{class}")),
                0.0,
                TOLERANCE,
            );
        }
        let p1 = f64s(&want, &format!("{name}_p1"));
        let (got, expected) = (
            f64s(&out, &format!("{name}_label")),
            f64s(&want, &format!("{name}_label")),
        );
        for (row, (g, w)) in got.iter().zip(&expected).enumerate() {
            let tie = (p1[row].unwrap() - 0.5).abs() < 1e-6;
            assert!(
                g == w || tie,
                "{name} row {row}: label {g:?}, the library says {w:?}"
            );
        }
    }
    assert_close(
        "gbr",
        &f64s(&out, "gbr_pred"),
        &f64s(&want, "gbr_pred"),
        0.0,
        TOLERANCE,
    );
    let report = read_json(&dir.join("out/report.json"));
    for step in report["steps"].as_array().unwrap() {
        let compute = step["compute"].to_string();
        // Tree ensembles run on weft's own evaluator, the rest on ONNX Runtime.
        let trees = ["forest", "gbr", "xgb", "lgbm"].contains(&step["name"].as_str().unwrap());
        let ran = if trees {
            "weft trees (cpu)"
        } else {
            "onnxruntime 1."
        };
        assert!(
            compute.contains(ran) && (trees != compute.contains("onnxruntime")),
            "report.json says where {} ran: {compute}",
            step["name"]
        );
    }
}

#[test]
fn missing_values_read_as_the_libraries_read_them() {
    let data = fixture().join("nulls.parquet");
    let mut p = Pipeline::new(data.to_str().unwrap())
        .plugin("onnx", &plugin("onnx-model"))
        .spec("batchRows: 512");
    for name in ["xgb", "lgbm"] {
        p = score(p, name, json!({"probabilities": format!("{name}_p")}));
    }
    let dir = workdir();
    let manifest = p.write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let (out, want) = (
        read_parquet(&dir.join("out/data.parquet")),
        read_parquet(&data),
    );
    assert!(
        f64s(&want, "f0").iter().any(Option::is_none),
        "the fixture has gaps"
    );
    for name in ["xgb", "lgbm"] {
        let got = f64s(&out, &format!("{name}_p_1"));
        assert_close(
            name,
            &got,
            &f64s(&want, &format!("{name}_p1")),
            0.0,
            TOLERANCE,
        );
    }
}

#[test]
fn a_model_past_the_steps_deadline_is_stopped() {
    let dir = workdir();
    let config = json!({"model": "/models/slow.onnx", "features": features()});
    let extra = format!("{MOUNT}, limits: {{ timeoutSeconds: 1 }}");
    one_step(&dir, config, &extra).failed().stderr_has(&[
        "step \"s\"",
        "ran longer than its limit of 1s (limits.timeoutSeconds)",
    ]);
}

#[test]
fn metrics_of_the_scores_are_the_librarys() {
    let want: Value = read_json(&fixture().join("metrics.json"));
    let mut p = pipeline();
    for name in ["xgb", "mlp"] {
        p = score(p, name, json!({"probabilities": format!("{name}_p")}));
        let config = json!({"label": "label", "score": format!("{name}_p_1")});
        p = p.step(
            &format!("{name}-metrics"),
            "metrics",
            config,
            &format!("needs: [{name}]"),
        );
    }
    let dir = workdir();
    let manifest = p.write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let report = read_json(&dir.join("out/report.json"));
    for name in ["xgb", "mlp"] {
        let step = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == format!("{name}-metrics"))
            .unwrap();
        for metric in [
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss",
        ] {
            let got = step["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| {
                    m["name"] == metric && m["labels"].as_object().is_none_or(|l| l.is_empty())
                })
                .unwrap_or_else(|| panic!("{name}: no {metric} in {step:#}"))["value"]
                .as_f64()
                .unwrap();
            let expected = want[name][metric].as_f64().unwrap();
            // Scores within 1e-5 move AUC and log loss by less than 1e-4;
            // the counts at threshold 0.5 only at near-ties.
            assert!(
                (got - expected).abs() < 1e-4,
                "{name} {metric}: {got} vs scikit-learn's {expected}"
            );
        }
    }
}

#[test]
fn weft_serve_scores_as_the_batch_run() {
    let dir = workdir();
    let manifest =
        score(pipeline(), "forest", json!({"probabilities": "p"})).write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let batch = read_parquet(&dir.join("out/data.parquet"));
    let data = read_parquet(&fixture().join("data.parquet"));
    let mut columns = serde_json::Map::new();
    for i in 0..8 {
        let name = format!("f{i}");
        columns.insert(name.clone(), json!(f64s(&data, &name)[..16].to_vec()));
    }
    let served = Served::start(&dir, &manifest, &["--workers", "2"]);
    let (status, body) = served.json(&json!({ "columns": columns }));
    assert_eq!(status, 200, "{body}");
    for class in 0..2 {
        let name = format!("p_{class}");
        let got: Vec<Option<f64>> = body["columns"][&name]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::as_f64)
            .collect();
        // The batch run's f32 values, which JSON writes in f32's shortest form.
        assert_close(&name, &got, &f64s(&batch, &name)[..16], 1e-7, 0.0);
    }
}

/// One `onnx-model` step `s` with `config` over the fixture's data.
fn one_step(dir: &Workdir, config: Value, extra: &str) -> Run {
    let manifest = pipeline()
        .step("s", "onnx", config, extra)
        .write(dir, "pipeline.yaml");
    dir.run(&manifest, &[])
}

#[test]
fn bad_models_and_configs_are_refused_naming_the_step_and_the_model() {
    let dir = workdir();
    let models = dir.join("models");
    let bytes = std::fs::read(models.join("forest.onnx")).unwrap();
    dir.write("models/truncated.onnx", &bytes[..bytes.len() / 2]);
    let config = |model: &str| json!({"model": format!("/models/{model}"), "features": features()});
    one_step(&dir, config("truncated.onnx"), MOUNT)
        .failed()
        .stderr_has(&[
            "step \"s\"",
            "/models/truncated.onnx",
            "corrupt or truncated",
        ]);
    one_step(&dir, config("unsupported.onnx"), MOUNT)
        .failed()
        .stderr_has(&[
            "step \"s\"",
            "/models/unsupported.onnx",
            "node \"mystery\" (weft.test:Mystery)",
        ]);
    one_step(&dir, config("missing.onnx"), MOUNT)
        .failed()
        .stderr_has(&["step \"s\"", "/models/missing.onnx"]);
    one_step(
        &dir,
        json!({"model": "/models/../models/forest.onnx", "features": features()}),
        MOUNT,
    )
    .failed()
    .stderr_has(&["the path leaves its grant"]);
    one_step(&dir, config("forest.onnx"), "")
        .failed()
        .stderr_has(&["no grant of the step holds it", "mounts"]);
    one_step(
        &dir,
        json!({"model": "/models/forest.onnx", "features": ["f0", "f1"]}),
        MOUNT,
    )
    .failed()
    .stderr_has(&[
        "step \"s\"",
        "features: the model takes 8 columns",
        "2 listed",
    ]);
    one_step(
        &dir,
        json!({"model": "/models/forest.onnx", "features": features(), "outputs": {"proba": "p"}}),
        MOUNT,
    )
    .failed()
    .stderr_has(&["no output \"proba\"", "label, probabilities"]);
    one_step(&dir, config("forest.onnx"), MOUNT)
        .failed()
        .stderr_has(&[
            "would replace the column \"label\"",
            "outputs: {label: predicted}",
        ]);
    let twice = json!({"model": "/models/forest.onnx", "features": features(),
                       "outputs": {"label": "y", "probabilities": "y"}});
    one_step(&dir, twice, MOUNT)
        .failed()
        .stderr_has(&["two outputs would both be written as \"y\""]);
    // 512 rows x 5000 f32 columns are 10 MB: refused before they are made.
    let wide = json!({"model": "/models/wide.onnx", "features": features()});
    one_step(
        &dir,
        wide,
        &format!("{MOUNT}, limits: {{ hostMemory: 4Mi }}"),
    )
    .failed()
    .stderr_has(&[
        "step \"s\"",
        "model \"/models/wide.onnx\"",
        "output \"wide\" would take 10240000 bytes",
    ]);
    // forest.onnx is about 300 KiB.
    one_step(
        &dir,
        config("forest.onnx"),
        &format!("{MOUNT}, limits: {{ hostMemory: 128Ki }}"),
    )
    .failed()
    .stderr_has(&[
        "/models/forest.onnx",
        "bytes: more than the step's host memory",
        "limits.hostMemory",
    ]);
}

#[test]
fn without_onnx_runtime_the_error_says_where_to_get_it() {
    let dir = workdir();
    let manifest =
        score(pipeline(), "logreg", json!({"probabilities": "p"})).write(&dir, "pipeline.yaml");
    let run = weft_with(
        dir.path(),
        ["run".as_ref(), manifest.as_os_str()],
        &[(
            "WEFT_ONNXRUNTIME",
            "/nonexistent/libonnxruntime.so".as_ref(),
        )],
    );
    run.failed().stderr_has(&[
        "step \"logreg\"",
        "WEFT_ONNXRUNTIME",
        "pip install onnxruntime",
    ]);
}

#[test]
fn the_churn_example_scores_its_exported_model_as_training_prepared_it() {
    let churn = workspace().join("examples/churn");
    let manifest = churn.join("pipeline-model.yaml");
    weft_in(
        workspace(),
        ["run".as_ref(), "--no-cache".as_ref(), manifest.as_os_str()],
    )
    .ok();
    let out = read_parquet(&churn.join("out/model/data.parquet"));
    // The same model on the features as train_model.py prepares them.
    let script = "import sys, json, onnxruntime as ort, pandas as pd; sys.path.insert(0, sys.argv[1]); \
                  import train_model as t; x = t.features(pd.read_csv(sys.argv[1] + '/data/train.csv')); \
                  s = ort.InferenceSession(sys.argv[1] + '/models/churn.onnx'); \
                  print(json.dumps(s.run(['probabilities'], {'input': x})[0][:, 1].tolist()))";
    let printed = Command::new(python())
        .args(["-c", script])
        .arg(&churn)
        .output()
        .unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let want: Vec<Option<f64>> = serde_json::from_slice(&printed.stdout).unwrap();
    assert_close("churn_1", &f64s(&out, "churn_1"), &want, 0.0, 1e-6);
    // roc_auc 0.887, as train_model.py prints it; the gate asks 0.8.
    let report = read_json(&churn.join("out/model/report.json"));
    let steps = report["steps"].as_array().unwrap();
    let evaluate = steps.iter().find(|s| s["name"] == "evaluate").unwrap();
    let gate = &evaluate["gates"][0];
    assert_eq!(
        (gate["metric"].as_str(), gate["passed"].as_bool()),
        (Some("roc_auc"), Some(true)),
        "{gate}"
    );
}

#[test]
fn weft_inspect_shows_what_the_step_makes_of_a_model() {
    let model = fixture().join("xgb.onnx");
    weft_in(workspace(), ["inspect".as_ref(), model.as_os_str()])
        .ok()
        .stdout_has(&[
            "inputs (features: 8 columns, in this order)",
            "input            Tensor<f32>(dyn, 8)",
            "probabilities_0 .. probabilities_1",
            "operators: ai.onnx.ml:TreeEnsembleClassifier",
            "runs on: weft's tree evaluator (cpu)",
        ]);
    let json = weft_in(
        workspace(),
        ["inspect".as_ref(), "--json".as_ref(), model.as_os_str()],
    );
    let doc: Value = serde_json::from_str(&json.ok().stdout).unwrap();
    assert_eq!(doc["inputs"][0]["shape"], json!([-1, 8]), "{doc}");
    assert_eq!(doc["sha256"].as_str().map(str::len), Some(64));
    let mlp = fixture().join("mlp.onnx");
    let json = weft_in(
        workspace(),
        ["inspect".as_ref(), "--json".as_ref(), mlp.as_os_str()],
    );
    let doc: Value = serde_json::from_str(&json.ok().stdout).unwrap();
    let ops = doc["operators"].as_array().unwrap();
    let matmuls = ops.iter().filter(|op| *op == "ai.onnx:MatMul").count();
    assert_eq!(matmuls, 1, "each operator once: {doc}");
    let runs_on = doc["runsOn"].as_str().unwrap();
    assert!(
        runs_on.starts_with("its 3 dense layers on a GPU")
            && runs_on.contains("after them on ONNX Runtime"),
        "{runs_on}"
    );
    let broken = Workdir::new();
    let bytes = std::fs::read(&model).unwrap();
    let half = broken.write("half.onnx", &bytes[..bytes.len() / 2]);
    broken
        .weft(["inspect".as_ref(), half.as_os_str()])
        .failed()
        .stderr_has(&["half.onnx", "corrupt or truncated"]);
}
