//! A fitted state is exact: every f64 a plugin fits comes back bit for bit
//! in every worker that loads it, in `weft run --state`, and in a serving
//! pod. Two checks, on data whose values need all 17 significant digits
//! (where a lossy text encoding rounds one ulp away):
//!
//! - for every stateful reference plugin, a run with `--state` writes the
//!   same bits as the run that fitted the state (several batches, several
//!   workers);
//! - fitted values that are data values stay data values: the minimum a
//!   min-max scaler fitted maps to exactly 0, and the median an imputer
//!   fitted is exactly the middle value.

use std::fmt::Write as _;

use arrow::array::{Array, Float64Array};
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use weft_tests::*;

/// Rows of the data; batches of 7 rows make several batches.
const ROWS: usize = 41;

/// The smallest value of `x`, which a lossy encoding rounds to
/// 42.93624497884208.
const X_MIN: f64 = 42.936244978842076;

/// `data.csv`: `x` and `y` with values of 17 significant digits (`y` with
/// missing cells), and a text column `plan`.
fn data() -> String {
    let mut rng = weft_fuzz::Rng::new(0xe8ac7);
    let mut csv = String::from("x,y,plan\n");
    for i in 0..ROWS {
        let x = X_MIN + (rng.next_u64() % 1_000_000) as f64 / 7.0;
        let x = if i == 17 { X_MIN } else { x };
        let y = if i % 5 == 3 {
            String::new()
        } else {
            format!("{:?}", (rng.next_u64() >> 11) as f64 / 3e6)
        };
        let plan = ["basic", "pro", "team"][rng.below(3)];
        let _ = writeln!(csv, "{x:?},{y},{plan}");
    }
    csv
}

/// The column `name` of `batch` as f64 bits (null as `None`).
fn bits(batch: &RecordBatch, name: &str) -> Vec<Option<u64>> {
    let col = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    let col = col
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap_or_else(|| panic!("{name} is not f64"));
    (0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i).to_bits()))
        .collect()
}

/// Every float column of `a` has the same bits in `b`; other columns equal.
fn same_bits(label: &str, a: &RecordBatch, b: &RecordBatch) {
    assert_eq!(names(a), names(b), "{label}: columns");
    for (i, field) in a.schema().fields().iter().enumerate() {
        if a.column(i).as_any().is::<Float64Array>() {
            assert_eq!(
                bits(a, field.name()),
                bits(b, field.name()),
                "{label}: column {}",
                field.name()
            );
        } else {
            assert_eq!(
                a.column(i).to_data(),
                b.column(i).to_data(),
                "{label}: column {}",
                field.name()
            );
        }
    }
}

/// A folder with `data.csv` and a pipeline of one step of `plugin` that
/// writes `out/`.
fn one_step(plugin_name: &str, config: Value) -> (Workdir, Pipeline) {
    let dir = Workdir::new();
    dir.write("data.csv", data());
    let pipeline = Pipeline::new("data.csv")
        .plugin(plugin_name, &plugin(plugin_name))
        .spec("batchRows: 7")
        .spec("workers: 3")
        .step("s", plugin_name, config, "");
    (dir, pipeline)
}

/// Run `pipeline` twice: fitting into `out/`, then with `out/state` into
/// `applied/`.
fn fit_then_apply(dir: &Workdir, pipeline: Pipeline) {
    dir.run(&pipeline.clone().write(dir, "fit.yaml"), &[]).ok();
    let state = dir.join("out/state");
    let apply = pipeline.output("applied/").write(dir, "apply.yaml");
    dir.run(&apply, &["--state", state.to_str().unwrap()]).ok();
}

#[test]
fn every_stateful_plugin_applies_its_state_bit_for_bit() {
    let cases = [
        (
            "scale",
            json!({"columns": ["x", "y"], "method": "standard"}),
        ),
        ("scale", json!({"columns": ["x", "y"], "method": "minmax"})),
        ("scale", json!({"columns": ["x", "y"], "method": "robust"})),
        ("impute", json!({"columns": ["x", "y"], "strategy": "mean"})),
        ("impute", json!({"columns": ["y"], "strategy": "median"})),
        ("one-hot", json!({"columns": ["plan"]})),
        (
            "kbins",
            json!({"columns": ["x", "y"], "n_bins": 4, "strategy": "quantile"}),
        ),
        (
            "kbins",
            json!({"columns": ["x", "y"], "n_bins": 4, "strategy": "uniform"}),
        ),
    ];
    for (plugin_name, config) in cases {
        let label = format!("{plugin_name} {config}");
        let (dir, pipeline) = one_step(plugin_name, config);
        fit_then_apply(&dir, pipeline);
        let fitted = read_parquet(&dir.join("out/data.parquet"));
        let applied = read_parquet(&dir.join("applied/data.parquet"));
        same_bits(&label, &fitted, &applied);
    }
}

#[test]
fn a_drift_reference_state_reports_the_same_numbers() {
    let dir = Workdir::new();
    dir.write("data.csv", data());
    let pipeline = Pipeline::new("data.csv")
        .plugin("drift", &plugin("drift"))
        .spec("batchRows: 7")
        .step(
            "drift",
            "drift",
            json!({"columns": ["x", "y"]}),
            "reference: { path: data.csv }",
        );
    fit_then_apply(&dir, pipeline);
    let metrics = |out: &str| {
        let report = read_json(&dir.join(out).join("report.json"));
        let steps = report["steps"].as_array().expect("steps").clone();
        let drift = steps
            .into_iter()
            .find(|s| s["name"] == "drift")
            .expect("drift step");
        drift["metrics"].clone()
    };
    let fitted = metrics("out");
    assert!(
        fitted.as_array().is_some_and(|m| !m.is_empty()),
        "drift reported no metrics: {fitted}"
    );
    assert_eq!(fitted, metrics("applied"));
}

#[test]
fn fitted_data_values_come_back_as_the_same_data_values() {
    let (dir, pipeline) = one_step("scale", json!({"columns": ["x"], "method": "minmax"}));
    dir.run(&pipeline.write(&dir, "pipeline.yaml"), &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(
        f64s(&out, "x")[17],
        Some(0.0),
        "the minimum scales to exactly 0"
    );

    let dir = Workdir::new();
    // An odd number of values: the median is the middle one, exactly.
    dir.write("data.csv", format!("y\n1.0\n\n{X_MIN:?}\n1e300\n"));
    let manifest = Pipeline::new("data.csv")
        .plugin("impute", &plugin("impute"))
        .step(
            "s",
            "impute",
            json!({"columns": ["y"], "strategy": "median"}),
            "",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(f64s(&out, "y")[1].map(f64::to_bits), Some(X_MIN.to_bits()));
}
