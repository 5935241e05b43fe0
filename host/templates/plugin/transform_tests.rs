//! Native tests: the step runs as the host runs it (fit over batches, state
//! through bytes, fresh instances on several workers), on the host's kernels.

use super::*;
use serde_json::json;
use weft_sdk::testing::{batch, Harness};

fn part(x: &[f64]) -> Batch {
    batch(&[("x", &Column::from_f64s(x, None)), ("id", &Column::from_s64s(&[1, 2], None))])
}

#[test]
fn centres_on_the_mean_of_every_batch() {
    let data = [part(&[1.0, 2.0]), part(&[3.0, 6.0])];
    let out = Harness::<Center>::new(json!({"columns": ["x"]})).run(&data, 2).unwrap();
    // mean 3
    assert_eq!(out[0].f64s("x").unwrap(), [-2.0, -1.0]);
    assert_eq!(out[1].f64s("x").unwrap(), [0.0, 3.0]);
    assert_eq!(out[1].f64s("id").unwrap(), [1.0, 2.0], "other columns pass through");
}

#[test]
fn scales_by_the_population_standard_deviation() {
    // mean 3, variance 4
    let data = [part(&[1.0, 5.0])];
    let out = Harness::<Center>::new(json!({"columns": ["x"], "scale": true})).run(&data, 1).unwrap();
    assert_eq!(out[0].f64s("x").unwrap(), [-1.0, 1.0]);
}

#[test]
fn shards_merge_into_the_state_of_the_whole() {
    let harness = Harness::<Center>::new(json!({"columns": ["x"]}));
    let data = [part(&[1.0, 2.0]), part(&[3.0, 6.0])];
    let whole = harness.state_of(&harness.fit(&data).unwrap()).unwrap();
    let merged = harness.state_of(&harness.fit_shards(&[&data[..1], &data[1..]]).unwrap()).unwrap();
    assert_eq!((merged[0].count, merged[0].mean, merged[0].m2), (whole[0].count, whole[0].mean, whole[0].m2));
}

#[test]
fn a_text_column_is_refused_by_name() {
    let text = batch(&[("x", &Column::from_strings(&["a".into(), "b".into()], None))]);
    let err = Harness::<Center>::new(json!({"columns": ["x"]})).run(&[text], 1).unwrap_err();
    assert!(err.to_string().contains("\"x\""), "{err}");
}
