//! Native tests: expected values worked out by hand, evaluated through the
//! SDK's [`Harness`] as the host evaluates.

use super::*;
use weft_sdk::testing::{batch, Harness};
use weft_sdk::Column;

fn harness() -> Harness<RegressionMetrics> {
    Harness::new(serde_json::json!({"target": "y", "prediction": "p"}))
}

/// The metrics of batches of target `y` and prediction `p`.
fn run(batches: &[(&[f64], &[f64])]) -> Result<Vec<Metric>> {
    let batches: Vec<Batch> = batches
        .iter()
        .map(|(y, p)| {
            batch(&[
                ("y", &Column::from_f64s(y, None)),
                ("p", &Column::from_f64s(p, None)),
            ])
        })
        .collect();
    harness().evaluate(&[], &batches)
}

fn values(metrics: &[Metric]) -> Vec<(&str, f64)> {
    metrics.iter().map(|m| (m.name.as_str(), m.value)).collect()
}

fn get(metrics: &[Metric], name: &str) -> f64 {
    values(metrics)
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

#[test]
fn metrics_worked_by_hand() {
    let m = run(&[(&[1.0, 2.0, 3.0, 4.0], &[1.5, 2.0, 2.0, 5.0])]).unwrap();
    let mape = (0.5 + 1.0 / 3.0 + 0.25) / 4.0;
    let want = [
        ("mae", 0.625),
        ("mse", 0.5625),
        ("rmse", 0.75),
        ("r2", 0.55),
        ("mape", mape),
    ];
    for ((name, got), (want_name, want)) in values(&m).into_iter().zip(want) {
        assert_eq!(name, want_name);
        assert!((got - want).abs() < 1e-15, "{name}: {got} vs {want}");
    }
}

#[test]
fn batches_agree_with_one_batch() {
    let y = [1e6, -3.5, 0.001, 42.0, 7e-9, -1e5];
    let p = [1.1e6, -3.0, 0.0, 40.0, 0.0, -0.9e5];
    let one = run(&[(&y, &p)]).unwrap();
    let three = run(&[(&y[..1], &p[..1]), (&y[1..4], &p[1..4]), (&y[4..], &p[4..])]).unwrap();
    for ((name, a), (_, b)) in values(&one).into_iter().zip(values(&three)) {
        assert!((a - b).abs() <= 1e-15 * a.abs(), "{name}: {a} vs {b}");
    }
}

#[test]
fn zero_targets_divide_by_machine_epsilon() {
    let m = run(&[(&[0.0, 1.0], &[1.0, 1.0])]).unwrap();
    assert_eq!(get(&m, "mape"), 2251799813685248.0);
}

#[test]
fn constant_target_and_single_row_r2() {
    let exact = run(&[(&[3.0, 3.0, 3.0], &[3.0, 3.0, 3.0])]).unwrap();
    assert_eq!(get(&exact, "r2"), 1.0);
    let off = run(&[(&[0.1, 0.1], &[0.1, 0.1]), (&[0.1], &[0.3])]);
    assert_eq!(get(&off.unwrap(), "r2"), 0.0);
    assert!(get(&run(&[(&[1.0], &[2.0])]).unwrap(), "r2").is_nan());
}

#[test]
fn compensated_sum_keeps_small_terms() {
    let s: sum::Sum = [1e16, 1.0, -1e16, 1.0].into_iter().collect();
    assert_eq!(s.value(), 2.0);
    let inf: sum::Sum = [f64::MAX, f64::MAX, 1.0].into_iter().collect();
    assert_eq!(inf.value(), f64::INFINITY);
}

#[test]
fn missing_values_and_empty_input_are_errors() {
    let e = run(&[(&[1.0, f64::NAN], &[1.0, 2.0]), (&[f64::NAN], &[1.0])]).unwrap_err();
    let e = e.to_string();
    assert!(
        e.contains("column \"y\" has 2 NaN, infinite or null values (of 3 rows)"),
        "{e}"
    );
    let e = run(&[(&[1.0, 2.0], &[f64::INFINITY, 2.0])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("column \"p\" has 1 NaN"), "{e}");
    let e = run(&[]).unwrap_err().to_string();
    assert!(e.contains("no rows to evaluate"), "{e}");
}

#[test]
fn text_columns_are_rejected() {
    let y = Column::from_strings(&["a".into()], None);
    let p = Column::from_f64s(&[1.0], None);
    let e = harness()
        .evaluate(&[], &[batch(&[("y", &y), ("p", &p)])])
        .unwrap_err();
    assert!(
        e.to_string().contains("column \"y\" holds Text values"),
        "{e}"
    );
}
