//! Native tests: the step runs as the host runs it, on the host's kernels.

use super::*;
use serde_json::json;
use weft_sdk::testing::{batch, Harness};
use weft_sdk::Column;

fn part(y: &[f64], p: &[f64]) -> Batch {
    batch(&[("y", &Column::from_f64s(y, None)), ("p", &Column::from_f64s(p, None))])
}

fn harness() -> Harness<MeanAbsoluteError> {
    Harness::new(json!({"label": "y", "prediction": "p"}))
}

#[test]
fn averages_the_absolute_errors_of_every_batch() {
    let data = [part(&[1.0, 2.0], &[1.5, 2.0]), part(&[3.0], &[1.0])];
    let metrics = harness().evaluate(&[], &data).unwrap();
    // (0.5 + 0 + 2) / 3
    assert_eq!(metrics[0].name, "mean_absolute_error");
    assert_eq!(metrics[0].value, 2.5 / 3.0);
}

#[test]
fn a_missing_prediction_is_refused_with_its_row() {
    let p = Column::from_f64s(&[1.0, 0.0], Some(&[true, false]));
    let data = [batch(&[("y", &Column::from_f64s(&[1.0, 2.0], None)), ("p", &p)])];
    let err = harness().evaluate(&[], &data).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
}
