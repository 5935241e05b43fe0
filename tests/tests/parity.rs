//! Live parity of the reference plugins with scikit-learn.
//!
//! One data set (NaNs, a constant column, ±1e12 and 1e-12, integer columns
//! with and without gaps, text with tied categories) is written as
//! `train.csv`, and new data with unseen categories as `apply.csv`.
//! `tests/python/parity.py` fits each case's scikit-learn estimator on
//! `train.csv` and writes what weft should produce for both files. Each test
//! then runs weft three times: fit and transform `train.csv` in one batch,
//! the same in three batches, and `apply.csv` with the first run's state
//! (`--state`), and compares every column with scikit-learn's to 1e-9
//! relative / 1e-12 absolute, with missing values (NaN or null) in the same
//! places.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use weft_tests::*;

const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

/// Rows of `train.csv`, and the batch size that splits them into 3 batches.
const TRAIN_ROWS: usize = 40;
const SMALL_BATCH: usize = 15;

struct Case {
    name: &'static str,
    /// Plugin package.
    plugin: &'static str,
    config: Value,
    estimator: &'static str,
    params: Value,
    /// What weft must say when applying to `apply.csv` fails in scikit-learn.
    apply_error: &'static [&'static str],
}

fn case(name: &str) -> Case {
    let cases = cases();
    let at = cases
        .iter()
        .position(|c| c.name == name)
        .expect("known case");
    cases.into_iter().nth(at).unwrap()
}

fn cases() -> Vec<Case> {
    let c = |name, plugin, config: Value, estimator, params: Value| Case {
        name,
        plugin,
        config,
        estimator,
        params,
        apply_error: &[],
    };
    let numbers = ["f_nan", "const", "extreme", "i", "i_nan"];
    vec![
        c(
            "impute-mean",
            "impute",
            json!({ "columns": ["f_nan", "i_nan", "extreme", "const", "tie"], "strategy": "mean" }),
            "SimpleImputer",
            json!({ "strategy": "mean" }),
        ),
        c(
            "impute-median",
            "impute",
            json!({ "columns": ["f_nan", "i_nan", "extreme", "tie"], "strategy": "median" }),
            "SimpleImputer",
            json!({ "strategy": "median" }),
        ),
        c(
            "impute-most-frequent",
            "impute",
            json!({ "columns": ["tie", "i_nan", "f_nan"], "strategy": "most_frequent" }),
            "SimpleImputer",
            json!({ "strategy": "most_frequent" }),
        ),
        c(
            "impute-most-frequent-text",
            "impute",
            json!({ "columns": ["cat"], "strategy": "most_frequent" }),
            "SimpleImputer",
            json!({ "strategy": "most_frequent" }),
        ),
        c(
            "impute-constant",
            "impute",
            json!({ "columns": ["f_nan", "i_nan", "extreme"], "strategy": "constant", "fill_value": -1.5 }),
            "SimpleImputer",
            json!({ "strategy": "constant", "fill_value": -1.5 }),
        ),
        c(
            "impute-constant-text",
            "impute",
            json!({ "columns": ["cat"], "strategy": "constant", "fill_value": "missing" }),
            "SimpleImputer",
            json!({ "strategy": "constant", "fill_value": "missing" }),
        ),
        c(
            "scale-standard",
            "scale",
            json!({ "columns": numbers, "method": "standard" }),
            "StandardScaler",
            json!({}),
        ),
        c(
            "scale-standard-without-mean",
            "scale",
            json!({ "columns": numbers, "method": "standard", "with_mean": false }),
            "StandardScaler",
            json!({ "with_mean": false }),
        ),
        c(
            "scale-standard-without-std",
            "scale",
            json!({ "columns": numbers, "method": "standard", "with_std": false }),
            "StandardScaler",
            json!({ "with_std": false }),
        ),
        c(
            "scale-minmax",
            "scale",
            json!({ "columns": numbers, "method": "minmax", "feature_range": [-1, 2] }),
            "MinMaxScaler",
            json!({ "feature_range": [-1, 2] }),
        ),
        c(
            "scale-minmax-clip",
            "scale",
            json!({ "columns": numbers, "method": "minmax", "feature_range": [-1, 2], "clip": true }),
            "MinMaxScaler",
            json!({ "feature_range": [-1, 2], "clip": true }),
        ),
        c(
            "scale-robust",
            "scale",
            json!({ "columns": numbers, "method": "robust" }),
            "RobustScaler",
            json!({}),
        ),
        c(
            "scale-robust-quantile-range",
            "scale",
            json!({ "columns": numbers, "method": "robust", "quantile_range": [10, 90] }),
            "RobustScaler",
            json!({ "quantile_range": [10, 90] }),
        ),
        c(
            "scale-robust-without-centering",
            "scale",
            json!({ "columns": numbers, "method": "robust", "quantile_range": [10, 90], "with_centering": false }),
            "RobustScaler",
            json!({ "quantile_range": [10, 90], "with_centering": false }),
        ),
        c(
            "scale-robust-without-scaling",
            "scale",
            json!({ "columns": numbers, "method": "robust", "with_scaling": false }),
            "RobustScaler",
            json!({ "with_scaling": false }),
        ),
        c(
            "one-hot-ignore",
            "one-hot",
            json!({ "columns": ["color", "small"], "handle_unknown": "ignore" }),
            "OneHotEncoder",
            json!({ "handle_unknown": "ignore" }),
        ),
        c(
            "one-hot-missing-is-a-category",
            "one-hot",
            json!({ "columns": ["cat"], "handle_unknown": "error" }),
            "OneHotEncoder",
            json!({ "handle_unknown": "error" }),
        ),
        c(
            "one-hot-uint8",
            "one-hot",
            json!({ "columns": ["color", "small"], "handle_unknown": "ignore", "dtype": "uint8" }),
            "OneHotEncoder",
            json!({ "handle_unknown": "ignore", "dtype": "uint8" }),
        ),
        c(
            "one-hot-bool",
            "one-hot",
            json!({ "columns": ["color"], "handle_unknown": "ignore", "dtype": "bool" }),
            "OneHotEncoder",
            json!({ "handle_unknown": "ignore", "dtype": "bool" }),
        ),
        c(
            "one-hot-float32",
            "one-hot",
            json!({ "columns": ["cat"], "dtype": "float32" }),
            "OneHotEncoder",
            json!({ "dtype": "float32" }),
        ),
        // `i` has five values, eight times each, so quantile edges fall
        // between and on ties (inverted_cdf makes a zero-width bin that both
        // remove); `id` is 0..39 and `apply.csv` lies beyond it; `const` is
        // constant.
        c(
            "kbins-uniform",
            "kbins",
            json!({ "columns": ["id", "i", "const"], "n_bins": 4, "strategy": "uniform" }),
            "KBinsDiscretizer",
            json!({ "n_bins": 4, "strategy": "uniform", "encode": "ordinal", "subsample": null }),
        ),
        // Both sides' defaults: 5 bins, quantile, averaged_inverted_cdf.
        c(
            "kbins-quantile-defaults",
            "kbins",
            json!({ "columns": ["id", "i", "const"] }),
            "KBinsDiscretizer",
            json!({ "encode": "ordinal", "subsample": null }),
        ),
        c(
            "kbins-quantile-inverted-cdf",
            "kbins",
            json!({ "columns": ["id", "i", "const"], "quantile_method": "inverted_cdf" }),
            "KBinsDiscretizer",
            json!({ "quantile_method": "inverted_cdf", "encode": "ordinal", "subsample": null }),
        ),
        c(
            "kbins-quantile-linear",
            "kbins",
            json!({ "columns": ["id", "i", "const"], "n_bins": 3, "quantile_method": "linear" }),
            "KBinsDiscretizer",
            json!({ "n_bins": 3, "quantile_method": "linear", "encode": "ordinal", "subsample": null }),
        ),
        // Deliberately different (weft centres, scikit-learn does not): the
        // comparison must catch it.
        c(
            "control-mismatch",
            "scale",
            json!({ "columns": ["f_nan"], "method": "standard" }),
            "StandardScaler",
            json!({ "with_mean": false }),
        ),
        Case {
            apply_error: &["purple"],
            ..c(
                "one-hot-error",
                "one-hot",
                json!({ "columns": ["color"], "handle_unknown": "error" }),
                "OneHotEncoder",
                json!({ "handle_unknown": "error" }),
            )
        },
    ]
}

/// A number as CSV text that both Arrow and pandas read back exactly.
fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

const HEADER: &str = "id,f_nan,const,extreme,i,i_nan,tie,cat,color,small";

/// `train.csv`: every column has something scikit-learn treats specially.
fn train_csv() -> String {
    let mut csv = format!("{HEADER}\n");
    let ties = [3.0, 1.0, 2.0, 3.0, 1.0, f64::NAN, 5.0, 2.0];
    // Per 10 rows: red 3, blue 3, green 2, amber 1, missing 1 (a red/blue tie).
    let cats = [
        "red", "blue", "green", "red", "blue", "", "green", "blue", "red", "amber",
    ];
    let colors = ["blue", "green", "red", "green"];
    for r in 0..TRAIN_ROWS {
        let f_nan = if r % 7 == 3 {
            f64::NAN
        } else {
            ((r * 37) % 23) as f64 * 0.37 - 3.1
        };
        let extreme = match r {
            5 => 1e12,
            11 => -1e12,
            17 => 1e-12,
            23 => -3e-12,
            20 | 31 => f64::NAN,
            _ => (r as f64) * 1.25 - 7.0,
        };
        let i_nan = if r % 6 == 2 {
            String::new()
        } else {
            ((r * 7) % 11).to_string()
        };
        let _ = writeln!(
            csv,
            "{r},{},{},{},{},{i_nan},{},{},{},{}",
            num(f_nan),
            num(0.1),
            num(extreme),
            (r % 5) as i64 * 3 - 4,
            num(ties[r % ties.len()]),
            cats[r % cats.len()],
            colors[r % colors.len()],
            r % 3 + 1,
        );
    }
    csv
}

/// `apply.csv`: new rows, gaps, values outside the training range, and
/// categories the encoder has not seen (`purple`, `9`).
fn apply_csv() -> String {
    let rows = [
        "100,1.5,0.1,3.5,2,4,3,red,blue,1",
        "101,,0.1,,-4,,,,purple,2",
        "102,-30.25,0.1,2000000000000,11,,1,blue,green,9",
        "103,7.75,0.1,-0.5,-1,10,,amber,red,3",
        "104,0.001,0.1,0.000000000001,8,0,2,green,red,1",
        "105,,0.1,12.5,5,3,5,,green,2",
    ];
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn train(&self) -> PathBuf {
        self.dir.join("train.csv")
    }
    fn apply(&self) -> PathBuf {
        self.dir.join("apply.csv")
    }
    /// scikit-learn's result for `case` on `which` (`train` or `apply`), and
    /// its meta document.
    fn expected(&self, case: &Case, which: &str) -> (Option<RecordBatch>, Value) {
        let prefix = self
            .dir
            .join("sklearn")
            .join(format!("{}.{which}", case.name));
        let file = |ext: &str| PathBuf::from(format!("{}.{ext}", prefix.display()));
        let meta: Value = serde_json::from_slice(&std::fs::read(file("json")).unwrap()).unwrap();
        let data = file("parquet");
        (data.exists().then(|| read_parquet(&data)), meta)
    }
}

/// The data and scikit-learn's results for every case, made once per run.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = scratch().join("parity");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sklearn")).unwrap();
        let fx = Fixture { dir };
        std::fs::write(fx.train(), train_csv()).unwrap();
        std::fs::write(fx.apply(), apply_csv()).unwrap();
        let spec = json!({
            "cases": cases().iter().map(|c| json!({
                "name": c.name,
                "estimator": c.estimator,
                "params": c.params,
                "columns": c.config["columns"],
                "fit": fx.train(),
                "apply": [
                    [fx.train(), fx.dir.join("sklearn").join(format!("{}.train", c.name))],
                    [fx.apply(), fx.dir.join("sklearn").join(format!("{}.apply", c.name))],
                ],
            })).collect::<Vec<_>>(),
        });
        let spec_path = fx.dir.join("spec.json");
        std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        let out = Command::new(python())
            .arg(workspace().join("tests/python/parity.py"))
            .arg(&spec_path)
            .output()
            .expect("run parity.py");
        assert!(
            out.status.success(),
            "parity.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fx
    })
}

/// Missing values compare equal whether null or NaN.
fn numbers(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    f64s(batch, name)
        .into_iter()
        .map(|v| Some(v.unwrap_or(f64::NAN)))
        .collect()
}

/// Compare weft's output with the expected frame column by column.
#[track_caller]
fn compare(label: &str, got: &RecordBatch, want: &RecordBatch, rel: f64, abs: f64, context: &str) {
    assert_eq!(
        names(got),
        names(want),
        "{label}: columns differ\n{context}"
    );
    for name in names(want) {
        let what = format!("{label}: column {name:?}\n{context}\n");
        match dtype(want, &name) {
            DataType::Utf8 | DataType::LargeUtf8 => {
                assert_eq!(strings(got, &name), strings(want, &name), "{what}")
            }
            _ => assert_close(&what, &numbers(got, &name), &numbers(want, &name), rel, abs),
        }
    }
}

/// Run one case: train in one batch, train in three, apply with the state.
/// The indicator columns (`c=v`) of `got` are of the type scikit-learn's
/// output had (numpy's name in `meta["dtype"]`).
#[track_caller]
fn same_indicator_type(got: &RecordBatch, meta: &Value) {
    let want = match meta["dtype"].as_str() {
        Some("float64") => DataType::Float64,
        Some("float32") => DataType::Float32,
        Some("uint8") => DataType::UInt8,
        Some("bool") => DataType::Boolean,
        other => panic!("scikit-learn's output type {other:?}"),
    };
    for field in got
        .schema()
        .fields()
        .iter()
        .filter(|f| f.name().contains('='))
    {
        assert_eq!(field.data_type(), &want, "{}: {meta}", field.name());
    }
}

fn check(name: &str) {
    let case = case(name);
    let fx = fixture();
    let dir = Workdir::new();
    let plugin_path = plugin(case.plugin);
    let pipeline = |input: &PathBuf, output: &str| {
        Pipeline::new(input.to_str().unwrap())
            .name(case.name)
            .plugin(case.plugin, &plugin_path)
            .output(output)
            .step("s", case.plugin, case.config.clone(), "")
    };
    let context = |meta: &Value| {
        format!(
            "case {} — weft config {}; scikit-learn {}({}) fitted {}",
            case.name, case.config, case.estimator, case.params, meta["fitted"]
        )
    };

    // Fit and transform train.csv in one batch.
    let one = pipeline(&fx.train(), "one/").write(&dir, "one.yaml");
    dir.run(&one, &[]).ok();
    let got_one = read_parquet(&dir.join("one/data.parquet"));
    let (want, meta) = fx.expected(&case, "train");
    let want = want.unwrap_or_else(|| panic!("scikit-learn failed on train.csv: {meta}"));
    compare("train, 1 batch", &got_one, &want, REL, ABS, &context(&meta));
    if case.estimator == "OneHotEncoder" {
        same_indicator_type(&got_one, &meta);
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("one/report.json")).unwrap()).unwrap();
    assert_eq!(report["steps"][0]["fitRows"], TRAIN_ROWS, "{report:#}");

    // The same in three batches: fitting accumulates across batches.
    let three = pipeline(&fx.train(), "three/")
        .spec(&format!("batchRows: {SMALL_BATCH}"))
        .write(&dir, "three.yaml");
    dir.run(&three, &[]).ok();
    let got_three = read_parquet(&dir.join("three/data.parquet"));
    compare(
        "train, 3 batches vs 1 batch",
        &got_three,
        &got_one,
        1e-12,
        1e-15,
        &context(&meta),
    );
    compare(
        "train, 3 batches",
        &got_three,
        &want,
        REL,
        ABS,
        &context(&meta),
    );

    // New data through the state fitted on train.csv.
    let apply = pipeline(&fx.apply(), "apply/").write(&dir, "apply.yaml");
    let state = dir.join("one/state");
    let run = dir.run(&apply, &["--state", state.to_str().unwrap()]);
    let (want, meta) = fx.expected(&case, "apply");
    match want {
        None => {
            assert!(
                !case.apply_error.is_empty(),
                "scikit-learn failed on apply.csv: {}",
                meta["error"]
            );
            run.failed()
                .stderr_has(&["step \"s\""])
                .stderr_has(case.apply_error);
            assert_no_outputs(&dir.join("apply"));
        }
        Some(want) => {
            assert!(
                case.apply_error.is_empty(),
                "scikit-learn accepted apply.csv"
            );
            run.ok();
            let got = read_parquet(&dir.join("apply/data.parquet"));
            compare(
                "apply.csv with the train state",
                &got,
                &want,
                REL,
                ABS,
                &context(&meta),
            );
        }
    }
}

#[test]
fn impute_mean() {
    check("impute-mean");
}

#[test]
fn impute_median() {
    check("impute-median");
}

#[test]
fn impute_most_frequent_breaks_ties_like_sklearn() {
    check("impute-most-frequent");
}

#[test]
fn impute_most_frequent_text() {
    check("impute-most-frequent-text");
}

#[test]
fn impute_constant() {
    check("impute-constant");
}

#[test]
fn impute_constant_text() {
    check("impute-constant-text");
}

#[test]
fn scale_standard() {
    check("scale-standard");
}

#[test]
fn scale_standard_without_mean() {
    check("scale-standard-without-mean");
}

#[test]
fn scale_standard_without_std() {
    check("scale-standard-without-std");
}

#[test]
fn scale_minmax_feature_range() {
    check("scale-minmax");
}

#[test]
fn scale_minmax_clip() {
    check("scale-minmax-clip");
}

#[test]
fn scale_robust() {
    check("scale-robust");
}

#[test]
fn scale_robust_quantile_range() {
    check("scale-robust-quantile-range");
}

#[test]
fn scale_robust_without_centering() {
    check("scale-robust-without-centering");
}

#[test]
fn scale_robust_without_scaling() {
    check("scale-robust-without-scaling");
}

#[test]
fn one_hot_ignores_unseen_categories() {
    check("one-hot-ignore");
}

#[test]
fn one_hot_missing_is_a_category() {
    check("one-hot-missing-is-a-category");
}

#[test]
fn one_hot_uint8_is_scikit_learns() {
    check("one-hot-uint8");
}

#[test]
fn one_hot_bool_is_scikit_learns() {
    check("one-hot-bool");
}

#[test]
fn one_hot_float32_is_scikit_learns() {
    check("one-hot-float32");
}

#[test]
fn one_hot_error_names_the_unseen_value() {
    check("one-hot-error");
}

#[test]
fn kbins_uniform() {
    check("kbins-uniform");
}

#[test]
fn kbins_quantile_defaults_are_sklearns() {
    check("kbins-quantile-defaults");
}

#[test]
fn kbins_quantile_inverted_cdf() {
    check("kbins-quantile-inverted-cdf");
}

#[test]
fn kbins_quantile_linear() {
    check("kbins-quantile-linear");
}

#[test]
#[should_panic(expected = "train, 1 batch: column \"f_nan\"")]
fn comparison_catches_a_difference() {
    check("control-mismatch");
}

#[test]
fn every_case_has_a_test() {
    let src = include_str!("parity.rs");
    for c in cases() {
        assert!(
            src.contains(&format!("check(\"{}\")", c.name)),
            "case {} is never checked",
            c.name
        );
    }
}
