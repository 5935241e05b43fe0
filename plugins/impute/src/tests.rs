//! Native tests; expected values worked out by hand. Most run through the
//! SDK's [`Harness`], as the host runs the step: fit, state as bytes, fresh
//! instances that load it and transform.

use super::*;
use weft_sdk::testing::{batch, Harness};

fn step(config: serde_json::Value) -> Impute {
    Impute::new(serde_json::from_value(config).unwrap()).unwrap()
}

/// Fit `config` on `data` and transform `data` on `workers` instances.
fn run(config: serde_json::Value, data: &[Batch], workers: usize) -> Vec<Batch> {
    Harness::<Impute>::new(config).run(data, workers).unwrap()
}

fn nums(v: &[Option<f64>]) -> Column {
    let values: Vec<f64> = v.iter().map(|x| x.unwrap_or(0.0)).collect();
    let valid: Vec<bool> = v.iter().map(Option::is_some).collect();
    Column::from_f64s(&values, Some(&valid))
}

#[test]
fn mean_and_median_over_nulls_and_nan_on_three_workers() {
    let data = [
        batch(&[("x", &nums(&[Some(1.0), None]))]),
        batch(&[("x", &nums(&[Some(f64::NAN), Some(10.0)]))]),
        batch(&[("x", &nums(&[Some(4.0)]))]),
    ];
    let filled = |strategy| {
        let out = run(
            serde_json::json!({"columns": ["x"], "strategy": strategy}),
            &data,
            3,
        );
        out.iter().map(|b| b.f64s("x").unwrap()).collect::<Vec<_>>()
    };
    // The values are 1, 10 and 4: mean 5, median 4.
    assert_eq!(filled("mean"), [vec![1.0, 5.0], vec![5.0, 10.0], vec![4.0]]);
    assert_eq!(
        filled("median"),
        [vec![1.0, 4.0], vec![4.0, 10.0], vec![4.0]]
    );
}

#[test]
fn most_frequent_ties_take_the_smallest_text_and_number() {
    let text: Vec<String> = ["b", "a", "b", "a", ""].map(String::from).to_vec();
    let t = Column::from_strings(&text, Some(&[true, true, true, true, false]));
    let n = Column::from_s64s(&[3, 2, 3, 2, 0], Some(&[true, true, true, true, false]));
    let b = batch(&[("t", &t), ("n", &n)]);
    let config = serde_json::json!({"columns": ["t", "n"], "strategy": "most_frequent"});
    let out = run(config, &[b], 1);
    assert_eq!(out[0].column("t").unwrap().to_strings().unwrap()[4], "a");
    assert_eq!(out[0].column("n").unwrap().to_s64s().unwrap()[4], 2);
}

#[test]
fn constant_defaults_by_type_and_int_mean_becomes_float() {
    let t = Column::from_strings(&["x".into(), String::new()], Some(&[true, false]));
    let n = Column::from_s64s(&[1, 0], Some(&[true, false]));
    let b = batch(&[("t", &t), ("n", &n)]);
    let out = run(
        serde_json::json!({"columns": ["t", "n"], "strategy": "constant"}),
        &[b],
        1,
    );
    assert_eq!(
        out[0].column("t").unwrap().to_strings().unwrap(),
        ["x", "missing_value"]
    );
    assert_eq!(out[0].column("n").unwrap().to_s64s().unwrap(), [1, 0]);
    let n2 = Column::from_s64s(&[1, 2, 0], Some(&[true, true, false]));
    let out = run(
        serde_json::json!({"columns": ["n"]}),
        &[batch(&[("n", &n2)])],
        1,
    );
    assert_eq!(out[0].column("n").unwrap().dtype(), weft_sdk::Dtype::F64);
    assert_eq!(out[0].f64s("n").unwrap(), [1.0, 2.0, 1.5]);
}

#[test]
fn empty_column_is_dropped_unless_kept() {
    let b = batch(&[
        ("e", &nums(&[None, None])),
        ("k", &nums(&[Some(1.0), None])),
    ]);
    let config = serde_json::json!({"columns": ["e", "k"], "strategy": "mean"});
    let out = run(config, std::slice::from_ref(&b), 1);
    assert_eq!(out[0].column_names(), ["k"]);
    let out = run(
        serde_json::json!({"columns": ["e"], "keep_empty_features": true}),
        &[b],
        1,
    );
    assert_eq!(out[0].f64s("e").unwrap(), [0.0, 0.0]);
}

#[test]
fn shards_merge_bit_for_bit_for_mean_and_counts() {
    let data = [
        batch(&[("x", &nums(&[Some(1.0), Some(1.0), None]))]),
        batch(&[("x", &nums(&[Some(7.0), Some(7.0), Some(7.0)]))]),
        batch(&[("x", &nums(&[Some(1.0), Some(3.0)]))]),
    ];
    // The values sum to 27 exactly in any order, so the mean is 27 / 7 from
    // either state; 1 and 7 are seen three times each: the smaller wins.
    for (strategy, fill) in [("mean", 27.0 / 7.0), ("most_frequent", 1.0)] {
        let h = Harness::<Impute>::new(serde_json::json!({"columns": ["x"], "strategy": strategy}));
        let filled = |state: &[u8]| {
            let out = h.loaded(state).unwrap().transform(&data[0]).unwrap();
            out.f64s("x")
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        let whole = filled(&h.fit(&data).unwrap());
        let merged = filled(&h.fit_shards(&[&data[..1], &data[1..]]).unwrap());
        assert_eq!(whole, [1f64, 1.0, fill].map(f64::to_bits), "{strategy}");
        assert_eq!(merged, whole, "{strategy}");
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
