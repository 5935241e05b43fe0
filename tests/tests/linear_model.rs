//! Live parity of the `linear-model` plugin with scikit-learn.
//!
//! `tests/python/linear_model.py` generates 20,000 rows (f64, f32 and s64
//! features), fits `LogisticRegression` and `LinearRegression`, and writes
//! their scores and their weights (as weights files). Each test runs the real
//! `weft` binary in batches of 4096 rows, with the weights inline in the
//! config or read from a mounted folder, and compares the score column with
//! scikit-learn's to 1e-9 relative / 1e-12 absolute. Other tests cover
//! missing values and the errors a person sees.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use weft_tests::*;

const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;
const ROWS: usize = 20_000;
const BATCH_ROWS: &str = "batchRows: 4096";
const MOUNT: &str = "mounts: [ { path: models, as: /models } ]";

/// The data, scikit-learn's scores and its models, made once per test binary.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("linear-model");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new(python())
            .arg(workspace().join("tests/python/linear_model.py"))
            .arg(&dir)
            .output()
            .expect("run linear_model.py");
        assert!(
            out.status.success(),
            "linear_model.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A scikit-learn model file: `{"features", "weights", "intercept"}`.
fn model(name: &str) -> Value {
    read_json(&fixture().join("models").join(format!("{name}.json")))
}

/// A work folder with the fixture's models under `models/`.
fn workdir() -> Workdir {
    let dir = Workdir::new();
    for name in ["logistic", "linear"] {
        let text = std::fs::read(fixture().join("models").join(format!("{name}.json"))).unwrap();
        dir.write(format!("models/{name}.json"), text);
    }
    dir
}

/// Run one `linear-model` step with `config` (and `extra`, e.g. mounts) over
/// the fixture's data; returns the run and the work folder.
fn score(config: Value, extra: &str) -> (Run, Workdir) {
    score_with(config, extra, &[])
}

/// [`score`] with extra `weft run` arguments.
fn score_with(config: Value, extra: &str, args: &[&str]) -> (Run, Workdir) {
    let dir = workdir();
    let input = fixture().join("data.parquet");
    let manifest = Pipeline::new(input.to_str().unwrap())
        .plugin("lm", &plugin("linear-model"))
        .spec(BATCH_ROWS)
        .step("score", "lm", config, extra)
        .write(&dir, "pipeline.yaml");
    (dir.run(&manifest, args), dir)
}

/// The run succeeded, passed the input through, appended `score` equal to
/// scikit-learn's `expected` column, and saw several batches.
#[track_caller]
fn assert_scores(run: &Run, dir: &Workdir, expected: &str) {
    run.ok();
    let input = read_parquet(&fixture().join("data.parquet"));
    let out = read_parquet(&dir.join("out/data.parquet"));
    let mut want_names = names(&input);
    want_names.push("score".into());
    assert_eq!(names(&out), want_names);
    for name in names(&input) {
        assert_eq!(dtype(&out, &name), dtype(&input, &name), "{name}");
        assert_eq!(
            strings(&out, &name),
            strings(&input, &name),
            "{name} changed"
        );
    }
    assert_eq!(dtype(&out, "score"), DataType::Float64);
    let want = f64s(&read_parquet(&fixture().join("expected.parquet")), expected);
    assert_eq!(want.len(), ROWS);
    assert_close(expected, &f64s(&out, "score"), &want, REL, ABS);
    let step = &read_json(&dir.join("out/report.json"))["steps"][0];
    assert_eq!(step["rowsOut"], ROWS, "{step:#}");
}

/// The config of `model` inline, with `link`.
fn inline(model: &Value, link: &str) -> Value {
    json!({
        "features": model["features"],
        "weights": model["weights"],
        "intercept": model["intercept"],
        "link": link,
    })
}

/// `precision: f32` scores through `compute.matmul`: on Mesa lavapipe
/// (`--compute gpu`) and on the CPU alike, within f32 rounding of
/// scikit-learn; the report names the device that ran it.
#[test]
fn f32_precision_runs_matmul_on_lavapipe_and_the_cpu_alike() {
    let mut config = inline(&model("logistic"), "identity");
    config["precision"] = json!("f32");
    let want = f64s(
        &read_parquet(&fixture().join("expected.parquet")),
        "decision",
    );
    let mut scores = Vec::new();
    for (compute, device) in [("gpu", "llvmpipe"), ("cpu", "\"cpu\"")] {
        let (run, dir) = score_with(config.clone(), "", &["--compute", compute]);
        run.ok();
        let got = f64s(&read_parquet(&dir.join("out/data.parquet")), "score");
        assert_close(compute, &got, &want, 1e-5, 1e-4);
        let step = &read_json(&dir.join("out/report.json"))["steps"][0];
        assert!(step["compute"].to_string().contains(device), "{step:#}");
        scores.push(got);
    }
    assert_close("lavapipe vs cpu", &scores[0], &scores[1], 1e-5, 1e-5);
}

#[test]
fn logistic_inline_matches_predict_proba() {
    let (run, dir) = score(inline(&model("logistic"), "logistic"), "");
    assert_scores(&run, &dir, "proba");
}

#[test]
fn identity_link_matches_decision_function() {
    let (run, dir) = score(inline(&model("logistic"), "identity"), "");
    assert_scores(&run, &dir, "decision");
}

#[test]
fn linear_inline_matches_predict() {
    let mut config = inline(&model("linear"), "identity");
    config.as_object_mut().unwrap().remove("link");
    let (run, dir) = score(config, "");
    assert_scores(&run, &dir, "predict");
}

#[test]
fn mounted_weights_files_match_predict_and_predict_proba() {
    let features = model("linear")["features"].clone();
    let config = json!({"features": features, "weights_file": "/models/linear.json"});
    let (run, dir) = score(config, MOUNT);
    assert_scores(&run, &dir, "predict");
    let config =
        json!({"features": features, "weights_file": "/models/logistic.json", "link": "logistic"});
    let (run, dir) = score(config, MOUNT);
    assert_scores(&run, &dir, "proba");
}

#[test]
fn null_or_nan_in_any_feature_gives_a_null_score() {
    let dir = workdir();
    let batch = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Float64Array::from(vec![
                Some(1.0),
                Some(f64::NAN),
                None,
                Some(1.0),
                Some(1.0),
                Some(-2.0),
            ])) as ArrayRef,
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![
                Some(2),
                Some(2),
                Some(2),
                None,
                Some(2),
                Some(0),
            ])) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float32Array::from(vec![
                Some(4.0),
                Some(4.0),
                Some(4.0),
                Some(4.0),
                None,
                Some(0.0),
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&dir.join("in.parquet"), &batch);
    let config =
        json!({"features": ["x", "n", "f"], "weights": [1.0, 2.0, 0.5], "intercept": -1.0});
    let manifest = Pipeline::new("in.parquet")
        .plugin("lm", &plugin("linear-model"))
        .step("score", "lm", config, "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(
        f64s(&out, "score"),
        [Some(6.0), None, None, None, None, Some(-3.0)]
    );
}

/// The run failed while configuring step `score`, saying all of `needles`.
#[track_caller]
fn refused(config: Value, extra: &str, needles: &[&str]) {
    let (run, dir) = score(config, extra);
    run.failed()
        .stderr_has(&["step \"score\""])
        .stderr_has(needles);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn weights_file_outside_a_mount_is_refused() {
    let dir = workdir();
    let host_path = dir.join("models/logistic.json");
    let host_path = host_path.to_str().unwrap();
    let features = model("logistic")["features"].clone();
    let config = json!({"features": features, "weights_file": host_path});
    let message = format!("weights_file {host_path:?} cannot be read");
    refused(
        config,
        "",
        &[&message, "under a folder granted to this step", "mounts:"],
    );
    // `..` does not climb out of a granted folder.
    let escape = "/models/../models/logistic.json";
    let config = json!({"features": features, "weights_file": escape});
    let message = format!("weights_file {escape:?} cannot be read");
    refused(config, MOUNT, &[&message, "granted"]);
}

#[test]
fn wrong_weight_count_names_weights() {
    let config = json!({"features": ["x0", "x1", "x2"], "weights": [1.0, 2.0]});
    refused(
        config,
        "",
        &[
            "refuses its config",
            "weights gives 2 weight(s) for 3 feature(s)",
        ],
    );
    let config = json!({"features": ["x0", "x1"], "weights_file": "/models/linear.json"});
    refused(
        config,
        MOUNT,
        &["weights_file \"/models/linear.json\" was trained on features"],
    );
}

#[test]
fn output_column_clash_is_an_error() {
    let config = json!({"features": ["x0"], "weights": [1.0], "output": "target"});
    refused(
        config,
        "",
        &["the input already has a column \"target\"", "\"output\""],
    );
}
