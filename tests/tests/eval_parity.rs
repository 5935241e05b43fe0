//! Live parity of the evaluate plugins (`classification-metrics`,
//! `regression-metrics`) with scikit-learn 1.9.
//!
//! `tests/python/eval_parity.py` writes each case's data set (fixed seeds,
//! 20 000 rows, 100 000 for regression; Parquet, one CSV) and what
//! scikit-learn's metric functions give on it. Each test runs the real `weft`
//! binary on that file with the plugin as the only step, in batches of 4096
//! rows, and compares every metric in `report.json` (name, labels, value to
//! 1e-9 relative; NaN, written as null, matches NaN only). Edge cases where
//! scikit-learn raises must fail the run with the plugin's own message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use weft_tests::*;

const REL: f64 = 1e-9;
const ABS: f64 = 1e-15;
const CLASSIFICATION: &str = "classification-metrics";
const REGRESSION: &str = "regression-metrics";

/// What a case must do.
enum Expect {
    /// Match scikit-learn; these metrics (by name) must be NaN.
    Match(&'static [&'static str]),
    /// Fail (scikit-learn raises too) with every one of these fragments.
    Error(&'static [&'static str]),
}

struct Case {
    name: &'static str,
    /// Data set generator in eval_parity.py, and the file's extension.
    data: (&'static str, &'static str),
    plugin: &'static str,
    config: Value,
    expect: Expect,
}

fn cases() -> Vec<Case> {
    let c = |name, data, plugin, config, expect| Case {
        name,
        data,
        plugin,
        config,
        expect,
    };
    let binary = json!({"label": "y", "score": "s"});
    let regression = json!({"target": "y", "prediction": "s"});
    let multiclass = json!({"label": "y", "prediction": "p"});
    use Expect::*;
    vec![
        c(
            "binary-ties",
            ("binary_ties", "parquet"),
            CLASSIFICATION,
            binary.clone(),
            Match(&[]),
        ),
        c(
            "binary-imbalanced-bool-labels",
            ("imbalanced", "parquet"),
            CLASSIFICATION,
            json!({"label": "y", "score": "s", "threshold": 0.3, "positive": true}),
            Match(&[]),
        ),
        c(
            "binary-string-labels",
            ("strings", "parquet"),
            CLASSIFICATION,
            json!({"label": "y", "score": "s", "positive": "yes"}),
            Match(&[]),
        ),
        c(
            "binary-float-labels-csv",
            ("float_labels", "csv"),
            CLASSIFICATION,
            json!({"label": "y", "score": "s", "threshold": 0.25, "positive": 1}),
            Match(&[]),
        ),
        c(
            "binary-decision-scores",
            ("decision_scores", "parquet"),
            CLASSIFICATION,
            binary.clone(),
            Match(&["log_loss"]),
        ),
        c(
            "binary-one-class",
            ("one_class", "parquet"),
            CLASSIFICATION,
            binary.clone(),
            Match(&["roc_auc"]),
        ),
        c(
            "binary-nan-scores",
            ("nan_scores", "parquet"),
            CLASSIFICATION,
            binary.clone(),
            Error(&["column \"s\" has 42 NaN, infinite or null values (of 20000 rows)"]),
        ),
        c(
            "binary-null-labels",
            ("null_labels", "parquet"),
            CLASSIFICATION,
            binary.clone(),
            Error(&["column \"y\" has 13 null values (of 20000 rows)"]),
        ),
        c(
            "binary-empty",
            ("empty", "parquet"),
            CLASSIFICATION,
            binary,
            Error(&["no rows to evaluate"]),
        ),
        c(
            "multiclass-absent-prediction",
            ("multiclass_int", "parquet"),
            CLASSIFICATION,
            multiclass.clone(),
            Match(&[]),
        ),
        c(
            "multiclass-text-extra-prediction",
            ("multiclass_text", "parquet"),
            CLASSIFICATION,
            multiclass,
            Match(&[]),
        ),
        c(
            "regression-mixed-magnitudes",
            ("regression", "parquet"),
            REGRESSION,
            regression.clone(),
            Match(&[]),
        ),
        c(
            "regression-constant-target",
            ("regression_constant", "parquet"),
            REGRESSION,
            regression.clone(),
            Match(&[]),
        ),
        c(
            "regression-one-row",
            ("regression_one_row", "parquet"),
            REGRESSION,
            regression.clone(),
            Match(&["r2"]),
        ),
        c(
            "regression-nan-target",
            ("regression_nan", "parquet"),
            REGRESSION,
            regression.clone(),
            Error(&["column \"y\" has 9 NaN, infinite or null values (of 20000 rows)"]),
        ),
        c(
            "regression-empty",
            ("empty", "parquet"),
            REGRESSION,
            regression,
            Error(&["no rows to evaluate"]),
        ),
    ]
}

/// Where the data and scikit-learn's results live, made once per run.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("eval-parity");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("expected")).unwrap();
        let spec = json!({
            "cases": cases().iter().map(|c| json!({
                "name": c.name,
                "data": c.data.0,
                "input": input(&dir, c),
                "plugin": c.plugin,
                "config": c.config,
                "expected": dir.join("expected").join(format!("{}.json", c.name)),
            })).collect::<Vec<_>>(),
        });
        let spec_path = dir.join("spec.json");
        std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        let out = Command::new(python())
            .arg(workspace().join("tests/python/eval_parity.py"))
            .arg(&spec_path)
            .output()
            .expect("run eval_parity.py");
        assert!(
            out.status.success(),
            "eval_parity.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn input(dir: &Path, case: &Case) -> PathBuf {
    dir.join(format!("{}.{}", case.data.0, case.data.1))
}

/// A metric's identity (`name{label=value,...}`) and value (null as NaN).
fn metrics(list: &Value) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a metric list: {list}"))
        .iter()
        .map(|m| {
            let labels = m["labels"].as_object().cloned().unwrap_or_default();
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            let key = format!("{}{{{}}}", m["name"].as_str().unwrap(), labels.join(","));
            (key, m["value"].as_f64().unwrap_or(f64::NAN))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Compare weft's metrics with scikit-learn's, key by key.
#[track_caller]
fn compare(case: &Case, got: &Value, want: &Value, nan: &[&str]) {
    let (got, want) = (metrics(got), metrics(want));
    let keys = |m: &[(String, f64)]| m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&got),
        keys(&want),
        "case {}: metric names or labels differ",
        case.name
    );
    let bad: Vec<String> = got
        .iter()
        .zip(&want)
        .filter(|((_, g), (_, w))| !close(Some(*g), Some(*w), REL, ABS))
        .map(|((k, g), (_, w))| format!("{k}: weft {g:e}, scikit-learn {w:e}"))
        .collect();
    assert!(
        bad.is_empty(),
        "case {} (config {}):\n  {}",
        case.name,
        case.config,
        bad.join("\n  ")
    );
    for name in nan {
        let (_, v) = got
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{name}{{")))
            .unwrap();
        assert!(
            v.is_nan(),
            "case {}: {name} is {v}, expected NaN",
            case.name
        );
    }
}

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .expect("known case")
}

/// Run case `name` through weft and check it against scikit-learn.
fn check(name: &str) {
    run_case(&case(name));
}

/// Run `case` through weft and check it against scikit-learn's results for
/// the case of that name.
fn run_case(case: &Case) {
    let fx = fixture();
    let dir = Workdir::new();
    let data = input(fx, case);
    let manifest = Pipeline::new(data.to_str().unwrap())
        .name(case.name)
        .plugin(case.plugin, &plugin(case.plugin))
        .spec("batchRows: 4096")
        .step("eval", case.plugin, case.config.clone(), "")
        .write(&dir, "pipeline.yaml");
    let want = read_json(&fx.join("expected").join(format!("{}.json", case.name)));
    let run = dir.run(&manifest, &[]);
    match case.expect {
        Expect::Match(nan) => {
            run.ok();
            assert!(
                want["error"].is_null(),
                "case {}: scikit-learn raised {}",
                case.name,
                want["error"]
            );
            let report = read_json(&dir.join("out/report.json"));
            let step = &report["steps"][0];
            assert_eq!(step["name"], "eval", "{report:#}");
            compare(case, &step["metrics"], &want["metrics"], nan);
        }
        Expect::Error(fragments) => {
            run.failed()
                .stderr_has(&["step \"eval\""])
                .stderr_has(fragments);
            assert_no_outputs(&dir.join("out"));
            assert!(
                want["error"].is_string(),
                "case {}: scikit-learn accepted the data: {want}",
                case.name
            );
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn binary_with_tied_scores() {
    check("binary-ties");
}

#[test]
fn binary_imbalanced_with_boolean_labels() {
    check("binary-imbalanced-bool-labels");
}

#[test]
fn binary_string_labels_with_positive_yes() {
    check("binary-string-labels");
}

#[test]
fn binary_float_labels_from_csv() {
    check("binary-float-labels-csv");
}

#[test]
fn binary_scores_outside_unit_interval_give_nan_log_loss() {
    check("binary-decision-scores");
}

#[test]
fn binary_one_class_gives_nan_roc_auc() {
    check("binary-one-class");
}

#[test]
fn binary_nan_scores_are_an_error_with_their_count() {
    check("binary-nan-scores");
}

#[test]
fn binary_null_labels_are_an_error() {
    check("binary-null-labels");
}

#[test]
fn binary_empty_input_is_an_error() {
    check("binary-empty");
}

#[test]
fn multiclass_with_a_class_never_predicted() {
    check("multiclass-absent-prediction");
}

#[test]
fn multiclass_text_with_a_predicted_only_class() {
    check("multiclass-text-extra-prediction");
}

#[test]
fn regression_mixed_magnitudes() {
    check("regression-mixed-magnitudes");
}

#[test]
fn regression_constant_target() {
    check("regression-constant-target");
}

#[test]
fn regression_one_row_gives_nan_r2() {
    check("regression-one-row");
}

#[test]
fn regression_nan_target_is_an_error_with_its_count() {
    check("regression-nan-target");
}

#[test]
fn regression_empty_input_is_an_error() {
    check("regression-empty");
}

/// A threshold other than scikit-learn's: the comparison must catch it.
#[test]
#[should_panic(expected = "case binary-ties (config")]
fn comparison_catches_a_difference() {
    let mut control = case("binary-ties");
    control.config["threshold"] = json!(0.55);
    run_case(&control);
}

/// Config mistakes fail before any data is read, naming the field.
#[test]
fn config_errors_name_the_field() {
    let dir = Workdir::new();
    let data = input(fixture(), &cases()[0]);
    let attempt = |config: Value| {
        let manifest = Pipeline::new(data.to_str().unwrap())
            .plugin(CLASSIFICATION, &plugin(CLASSIFICATION))
            .step("eval", CLASSIFICATION, config, "")
            .write(&dir, "pipeline.yaml");
        dir.run(&manifest, &[])
    };
    attempt(json!({"label": "y", "score": "s", "treshold": 0.3}))
        .failed()
        .stderr_has(&["treshold"]);
    attempt(json!({"label": "y", "score": "s", "prediction": "s"}))
        .failed()
        .stderr_has(&["exactly one of `score`"]);
    attempt(json!({"label": "y", "score": "s", "positive": "yes"}))
        .failed()
        .stderr_has(&["column \"y\" holds numbers, but `positive` is yes"]);
}

#[test]
fn every_case_has_a_test() {
    let src = include_str!("eval_parity.rs");
    for c in cases() {
        assert!(
            src.contains(&format!("check(\"{}\")", c.name)),
            "case {} is never checked",
            c.name
        );
    }
}
