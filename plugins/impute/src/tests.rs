//! Native tests; expected values worked out by hand.

use super::*;
use weft_sdk::testing::batch;

fn step(config: serde_json::Value) -> Impute {
    Impute::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn fitted(config: serde_json::Value, b: &Batch) -> Impute {
    let mut s = step(config);
    s.fit(b).unwrap();
    s
}

fn nums(v: &[Option<f64>]) -> Column {
    let values: Vec<f64> = v.iter().map(|x| x.unwrap_or(0.0)).collect();
    let valid: Vec<bool> = v.iter().map(Option::is_some).collect();
    Column::from_f64s(&values, Some(&valid))
}

#[test]
fn mean_and_median_over_nulls_and_nan() {
    let b = batch(&[(
        "x",
        &nums(&[Some(1.0), None, Some(f64::NAN), Some(10.0), Some(4.0)]),
    )]);
    let out = fitted(
        serde_json::json!({"columns": ["x"], "strategy": "mean"}),
        &b,
    )
    .transform(&b)
    .unwrap();
    assert_eq!(out.f64s("x").unwrap(), [1.0, 5.0, 5.0, 10.0, 4.0]);
    let out = fitted(
        serde_json::json!({"columns": ["x"], "strategy": "median"}),
        &b,
    )
    .transform(&b)
    .unwrap();
    assert_eq!(out.f64s("x").unwrap(), [1.0, 4.0, 4.0, 10.0, 4.0]);
}

#[test]
fn most_frequent_ties_take_the_smallest_text_and_number() {
    let text: Vec<String> = ["b", "a", "b", "a", ""].map(String::from).to_vec();
    let t = Column::from_strings(&text, Some(&[true, true, true, true, false]));
    let n = Column::from_s64s(&[3, 2, 3, 2, 0], Some(&[true, true, true, true, false]));
    let b = batch(&[("t", &t), ("n", &n)]);
    let out = fitted(
        serde_json::json!({"columns": ["t", "n"], "strategy": "most_frequent"}),
        &b,
    )
    .transform(&b)
    .unwrap();
    assert_eq!(out.column("t").unwrap().to_strings().unwrap()[4], "a");
    assert_eq!(out.column("n").unwrap().to_s64s().unwrap()[4], 2);
}

#[test]
fn constant_defaults_by_type_and_int_mean_becomes_float() {
    let t = Column::from_strings(&["x".into(), String::new()], Some(&[true, false]));
    let n = Column::from_s64s(&[1, 0], Some(&[true, false]));
    let b = batch(&[("t", &t), ("n", &n)]);
    let out = fitted(
        serde_json::json!({"columns": ["t", "n"], "strategy": "constant"}),
        &b,
    )
    .transform(&b)
    .unwrap();
    assert_eq!(
        out.column("t").unwrap().to_strings().unwrap(),
        ["x", "missing_value"]
    );
    assert_eq!(out.column("n").unwrap().to_s64s().unwrap(), [1, 0]);
    let n2 = Column::from_s64s(&[1, 2, 0], Some(&[true, true, false]));
    let b2 = batch(&[("n", &n2)]);
    let out = fitted(serde_json::json!({"columns": ["n"]}), &b2)
        .transform(&b2)
        .unwrap();
    assert_eq!(out.column("n").unwrap().dtype(), weft_sdk::Dtype::F64);
    assert_eq!(out.f64s("n").unwrap(), [1.0, 2.0, 1.5]);
}

#[test]
fn empty_column_is_dropped_unless_kept() {
    let b = batch(&[
        ("e", &nums(&[None, None])),
        ("k", &nums(&[Some(1.0), None])),
    ]);
    let out = fitted(
        serde_json::json!({"columns": ["e", "k"], "strategy": "mean"}),
        &b,
    )
    .transform(&b)
    .unwrap();
    assert_eq!(out.column_names(), ["k"]);
    let out = fitted(
        serde_json::json!({"columns": ["e"], "keep_empty_features": true}),
        &b,
    )
    .transform(&b)
    .unwrap();
    assert_eq!(out.f64s("e").unwrap(), [0.0, 0.0]);
}

#[test]
fn shards_merge_exactly_for_mean_and_counts() {
    let (a, b) = (
        batch(&[("x", &nums(&[Some(1.0), Some(1.0), None]))]),
        batch(&[("x", &nums(&[Some(7.0), Some(7.0), Some(7.0)]))]),
    );
    for strategy in ["mean", "most_frequent"] {
        let config = serde_json::json!({"columns": ["x"], "strategy": strategy});
        let whole = batch(&[(
            "x",
            &nums(&[Some(1.0), Some(1.0), None, Some(7.0), Some(7.0), Some(7.0)]),
        )]);
        let mut one = fitted(config.clone(), &whole);
        let mut merged = step(config.clone());
        let states = vec![
            fitted(config.clone(), &a).state().unwrap(),
            fitted(config.clone(), &b).state().unwrap(),
        ];
        let state = merged.merge(states).unwrap();
        merged.load_state(state).unwrap();
        assert_eq!(
            merged.transform(&a).unwrap().f64s("x").unwrap(),
            one.transform(&a).unwrap().f64s("x").unwrap(),
            "{strategy}"
        );
    }
}

#[test]
fn missing_column_and_text_mean_are_named() {
    let b = batch(&[("t", &Column::from_strings(&["a".into()], None))]);
    let err = step(serde_json::json!({"columns": ["x"]}))
        .fit(&b)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"x\"") && err.contains("t"), "{err}");
    let err = step(serde_json::json!({"columns": ["t"], "strategy": "mean"}))
        .fit(&b)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"t\"") && err.contains("numbers"), "{err}");
}
