//! Native tests: expected values worked out by hand.

use super::*;
use weft_sdk::testing::batch;

fn step(config: serde_json::Value) -> Scale {
    Scale::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn values(b: &Batch, name: &str) -> Vec<f64> {
    b.f64s(name).unwrap()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12,
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn standard_over_two_batches_with_nan_and_passthrough() {
    let mut s = step(serde_json::json!({"columns": ["x"], "method": "standard"}));
    let text = Column::from_strings(&["a".into(), "b".into()], None);
    let b1 = batch(&[
        ("x", &Column::from_f64s(&[1.0, f64::NAN], None)),
        ("t", &text),
    ]);
    let b2 = batch(&[("x", &Column::from_f64s(&[3.0, 5.0], None)), ("t", &text)]);
    s.fit(&b1).unwrap();
    s.fit(&b2).unwrap();
    // mean 3, population variance 8/3
    let sd = (8.0f64 / 3.0).sqrt();
    close(&values(&s.transform(&b2).unwrap(), "x"), &[0.0, 2.0 / sd]);
    let out = s.transform(&b1).unwrap();
    close(&values(&out, "x"), &[-2.0 / sd, f64::NAN]);
    assert_eq!(out.column("t").unwrap().to_strings().unwrap(), ["a", "b"]);
}

#[test]
fn constant_column_is_centered_not_divided() {
    let mut s = step(serde_json::json!({"columns": ["x"], "method": "standard"}));
    let b = batch(&[("x", &Column::from_s64s(&[7, 7, 7], None))]);
    s.fit(&b).unwrap();
    close(&values(&s.transform(&b).unwrap(), "x"), &[0.0, 0.0, 0.0]);
}

#[test]
fn minmax_to_custom_range_and_clip() {
    let mut s = step(
        serde_json::json!({"columns": ["x"], "method": "minmax", "feature_range": [-1.0, 2.0], "clip": true}),
    );
    s.fit(&batch(&[("x", &Column::from_f64s(&[0.0, 10.0], None))]))
        .unwrap();
    let out = s
        .transform(&batch(&[("x", &Column::from_f64s(&[5.0, 20.0], None))]))
        .unwrap();
    close(&values(&out, "x"), &[0.5, 2.0]);
}

#[test]
fn robust_uses_exact_quantiles_over_all_batches() {
    let mut s = step(serde_json::json!({"columns": ["x"], "method": "robust"}));
    s.fit(&batch(&[("x", &Column::from_f64s(&[1.0, 2.0, 3.0], None))]))
        .unwrap();
    s.fit(&batch(&[("x", &Column::from_f64s(&[4.0, 5.0], None))]))
        .unwrap();
    // median 3, q25 2, q75 4 -> (x - 3) / 2
    let out = s
        .transform(&batch(&[("x", &Column::from_f64s(&[5.0], None))]))
        .unwrap();
    close(&values(&out, "x"), &[1.0]);
}

#[test]
fn merged_shards_equal_one_fit() {
    let config = serde_json::json!({"columns": ["x"], "method": "standard"});
    let (a, b) = ([1.0, 2.0, 9.0], [4.0, -6.0]);
    let mut whole = step(config.clone());
    whole
        .fit(&batch(&[(
            "x",
            &Column::from_f64s(&[1.0, 2.0, 9.0, 4.0, -6.0], None),
        )]))
        .unwrap();
    let shard = |v: &[f64]| {
        let mut s = step(config.clone());
        s.fit(&batch(&[("x", &Column::from_f64s(v, None))]))
            .unwrap();
        s.state().unwrap()
    };
    let mut merged = step(config.clone());
    let state = merged.merge(vec![shard(&a), shard(&b)]).unwrap();
    merged.load_state(state).unwrap();
    let probe = batch(&[("x", &Column::from_f64s(&[3.0, 10.0], None))]);
    close(
        &values(&merged.transform(&probe).unwrap(), "x"),
        &values(&whole.transform(&probe).unwrap(), "x"),
    );
}

#[test]
fn bad_input_and_config_are_named() {
    let mut s = step(serde_json::json!({"columns": ["x"], "method": "standard"}));
    let err = s
        .fit(&batch(&[("y", &Column::from_f64s(&[1.0], None))]))
        .unwrap_err();
    assert!(
        err.to_string().contains("no column \"x\"") && err.to_string().contains("y"),
        "{err}"
    );
    let err = s
        .fit(&batch(&[("x", &Column::from_strings(&["a".into()], None))]))
        .unwrap_err();
    assert!(
        err.to_string().contains("\"x\"") && err.to_string().contains("Text"),
        "{err}"
    );
    let bad: std::result::Result<Config, _> = serde_json::from_value(
        serde_json::json!({"columns": ["x"], "method": "minmax", "with_mean": true}),
    );
    assert!(bad.is_err());
    let range: Config = serde_json::from_value(
        serde_json::json!({"columns": ["x"], "method": "minmax", "feature_range": [1.0, 0.0]}),
    )
    .unwrap();
    assert!(
        matches!(Scale::new(range), Err(StepError::InvalidConfig(m)) if m.contains("feature_range"))
    );
}
