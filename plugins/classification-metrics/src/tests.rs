//! Native tests: expected values worked out by hand, evaluated through the
//! SDK's [`Harness`] as the host evaluates.

use super::*;
use weft_sdk::testing::{batch, Harness};
use weft_sdk::Column;

/// The metrics of `batches` under `config`.
fn evaluate(config: serde_json::Value, batches: &[Batch]) -> Result<Vec<Metric>> {
    Harness::<ClassificationMetrics>::new(config).evaluate(&[], batches)
}

/// Why `config` is refused, parsed and checked as `configure` does.
fn config_error(config: serde_json::Value) -> String {
    match Harness::<ClassificationMetrics>::new(config).instance() {
        Err(e) => e.to_string(),
        Ok(_) => panic!("config accepted"),
    }
}

fn ints(v: &[i64]) -> Column {
    Column::from_s64s(v, None)
}

fn floats(v: &[f64]) -> Column {
    Column::from_f64s(v, None)
}

fn texts(v: &[&str]) -> Column {
    let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    Column::from_strings(&v, None)
}

/// The value of metric `name` with `labels`.
fn get(metrics: &[Metric], name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    metrics
        .iter()
        .find(|m| m.name == name && m.labels == labels)
        .unwrap_or_else(|| panic!("no metric {name} {labels:?} in {metrics:?}"))
        .value
}

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

fn binary(labels: &Column, scores: &Column) -> Result<Vec<Metric>> {
    let config = serde_json::json!({"label": "y", "score": "s"});
    evaluate(config, &[batch(&[("y", labels), ("s", scores)])])
}

#[test]
fn binary_metrics_and_confusion() {
    let m = binary(&ints(&[0, 0, 1, 1]), &floats(&[0.1, 0.4, 0.35, 0.8])).unwrap();
    close(get(&m, "accuracy", &[]), 0.75);
    close(get(&m, "precision", &[]), 1.0);
    close(get(&m, "recall", &[]), 0.5);
    close(get(&m, "f1", &[]), 2.0 / 3.0);
    close(get(&m, "roc_auc", &[]), 0.75);
    let ll = -(0.9f64.ln() + 0.6f64.ln() + 0.35f64.ln() + 0.8f64.ln()) / 4.0;
    close(get(&m, "log_loss", &[]), ll);
    for (cell, n) in [("tn", 2.0), ("fp", 0.0), ("fn", 1.0), ("tp", 1.0)] {
        close(get(&m, "confusion_matrix", &[("cell", cell)]), n);
    }
}

#[test]
fn tied_scores_count_half_and_threshold_is_inclusive() {
    let m = binary(&ints(&[0, 1, 0, 1]), &floats(&[0.5, 0.5, 0.2, 0.9])).unwrap();
    close(get(&m, "roc_auc", &[]), 0.875);
    close(get(&m, "confusion_matrix", &[("cell", "fp")]), 1.0);
    close(get(&m, "confusion_matrix", &[("cell", "tp")]), 2.0);
}

#[test]
fn batches_add_up_to_one_batch() {
    let (y, s) = ([1, 0, 1, 1, 0, 0], [0.9, 0.9, 0.3, 0.6, 0.1, 0.6]);
    let config = serde_json::json!({"label": "y", "score": "s", "threshold": 0.6});
    let part =
        |r: std::ops::Range<usize>| batch(&[("y", &ints(&y[r.clone()])), ("s", &floats(&s[r]))]);
    let three = evaluate(config.clone(), &[part(0..2), part(2..5), part(5..6)]).unwrap();
    assert_eq!(three, evaluate(config, &[part(0..6)]).unwrap());
    // Predicted positive: 0.9, 0.9, 0.6, 0.6; tp 2 (rows 0 and 3) of 3 positives.
    close(get(&three, "precision", &[]), 0.5);
    close(get(&three, "recall", &[]), 2.0 / 3.0);
}

#[test]
fn text_and_boolean_labels_match_positive() {
    let scores = floats(&[0.2, 0.7, 0.6]);
    let config = serde_json::json!({"label": "y", "score": "s", "positive": "yes"});
    let m = evaluate(
        config,
        &[batch(&[
            ("y", &texts(&["no", "yes", "no"])),
            ("s", &scores),
        ])],
    );
    close(get(&m.unwrap(), "roc_auc", &[]), 1.0);
    let bools = Column::from_bools(&[false, true, false], None);
    let m = binary(&bools, &scores).unwrap();
    close(get(&m, "confusion_matrix", &[("cell", "tp")]), 1.0);
    close(get(&m, "confusion_matrix", &[("cell", "fp")]), 1.0);
}

#[test]
fn positive_of_another_kind_is_an_error() {
    let e = binary(&texts(&["yes", "no"]), &floats(&[0.1, 0.2])).unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"y\" holds text, but `positive` is 1"),
        "{e}"
    );
}

#[test]
fn one_class_gives_nan_auc_and_a_log_loss() {
    let m = binary(&ints(&[1, 1]), &floats(&[0.5, 0.25])).unwrap();
    assert!(get(&m, "roc_auc", &[]).is_nan());
    close(
        get(&m, "log_loss", &[]),
        -(0.5f64.ln() + 0.25f64.ln()) / 2.0,
    );
    close(get(&m, "precision", &[]), 1.0);
}

#[test]
fn scores_outside_unit_interval_give_nan_log_loss_only() {
    let m = binary(&ints(&[0, 1]), &floats(&[-2.0, 3.0])).unwrap();
    assert!(get(&m, "log_loss", &[]).is_nan());
    close(get(&m, "roc_auc", &[]), 1.0);
}

#[test]
fn missing_values_and_empty_input_are_errors() {
    let nan = floats(&[f64::NAN, 0.5, f64::INFINITY]);
    let e = binary(&ints(&[0, 1, 1]), &nan).unwrap_err().to_string();
    assert!(
        e.contains("column \"s\" has 2 NaN, infinite or null values (of 3 rows)"),
        "{e}"
    );
    let labels = Column::from_s64s(&[0, 1, 1], Some(&[true, false, true]));
    let e = binary(&labels, &floats(&[0.1, 0.2, 0.3]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("column \"y\" has 1 null values"), "{e}");
    let e = binary(&ints(&[]), &floats(&[])).unwrap_err().to_string();
    assert!(e.contains("no rows to evaluate"), "{e}");
}

#[test]
fn config_errors_name_the_field() {
    let both = serde_json::json!({"label": "y", "score": "s", "prediction": "p"});
    assert!(config_error(both).contains("exactly one of `score`"));
    let neither = serde_json::json!({"label": "y"});
    assert!(config_error(neither).contains("exactly one of `score`"));
    let stray = serde_json::json!({"label": "y", "prediction": "p", "threshold": 0.3});
    assert!(config_error(stray).contains("`threshold` and `positive` apply only"));
    let unknown = serde_json::json!({"label": "y", "score": "s", "treshold": 0.3});
    assert!(config_error(unknown).contains("unknown field `treshold`"));
}

fn multiclass(labels: &Column, predictions: &Column) -> Result<Vec<Metric>> {
    let config = serde_json::json!({"label": "y", "prediction": "p"});
    evaluate(config, &[batch(&[("y", labels), ("p", predictions)])])
}

#[test]
fn multiclass_per_class_and_averages() {
    let m = multiclass(&ints(&[0, 1, 2, 0, 1, 2]), &ints(&[0, 2, 1, 0, 0, 1])).unwrap();
    close(get(&m, "accuracy", &[]), 1.0 / 3.0);
    close(get(&m, "precision", &[("class", "0")]), 2.0 / 3.0);
    close(get(&m, "f1", &[("class", "0")]), 0.8);
    close(get(&m, "recall", &[("class", "2")]), 0.0);
    close(get(&m, "support", &[("class", "1")]), 2.0);
    close(get(&m, "precision", &[("average", "macro")]), 2.0 / 9.0);
    close(get(&m, "f1", &[("average", "weighted")]), 0.8 / 3.0);
}

#[test]
fn multiclass_classes_are_the_union_of_labels_and_predictions() {
    let m = multiclass(&texts(&["a", "b"]), &texts(&["a", "c"])).unwrap();
    close(get(&m, "support", &[("class", "c")]), 0.0);
    close(get(&m, "precision", &[("class", "b")]), 0.0);
    close(get(&m, "precision", &[("average", "macro")]), 1.0 / 3.0);
    close(get(&m, "precision", &[("average", "weighted")]), 0.5);
    let e = multiclass(&texts(&["a"]), &ints(&[1]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds text but column \"p\" holds numbers"),
        "{e}"
    );
}
