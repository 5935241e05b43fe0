//! Native tests: expected bins worked out by hand from scikit-learn's and
//! numpy's definitions (edges in the comments).

use super::*;
use weft_sdk::testing::batch;
use weft_sdk::Dtype;

fn step(config: serde_json::Value) -> KBins {
    KBins::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn column(values: &[Option<f64>]) -> Column {
    let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
    let numbers: Vec<f64> = values.iter().map(|v| v.unwrap_or(0.0)).collect();
    Column::from_f64s(&numbers, Some(&valid))
}

fn one(values: &[f64]) -> Batch {
    batch(&[("x", &Column::from_f64s(values, None))])
}

/// Fit on `fits` (one batch each), then bin `x`.
fn bins(config: serde_json::Value, fits: &[&[f64]], x: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut s = step(config);
    for values in fits {
        s.fit(&one(values)).unwrap();
    }
    let out = s.transform(&batch(&[("x", &column(x))])).unwrap();
    assert_eq!(out.column("x").unwrap().dtype(), Dtype::F64);
    out.nullable_f64s("x").unwrap()
}

fn some(v: &[f64]) -> Vec<Option<f64>> {
    v.iter().map(|x| Some(*x)).collect()
}

#[test]
fn uniform_edges_span_min_to_max() {
    // min 0, max 10, 5 bins: edges [0, 2, 4, 6, 8, 10], inner [2, 4, 6, 8];
    // out-of-range values fall in the first or last bin.
    let config = serde_json::json!({"columns": ["x"], "strategy": "uniform"});
    let x = some(&[-5.0, 0.0, 1.0, 2.0, 7.0, 8.0, 10.0, 12.0]);
    let got = bins(config, &[&[0.0, 1.0, 2.0], &[3.0, 4.0, 10.0]], &x);
    assert_eq!(got, some(&[0.0, 0.0, 0.0, 1.0, 3.0, 4.0, 4.0, 4.0]));
}

#[test]
fn quantile_edges_use_every_batch_and_the_method() {
    // 1..=10 in two batches, 4 bins: q = [0, .25, .5, .75, 1], n*q - 1 =
    // [-1, 1.5, 4, 6.5, 9]. averaged_inverted_cdf: [1, 3, (5+6)/2, 8, 10];
    // inverted_cdf: [1, 3, 5, 8, 10]; linear at 9q = [0, 2.25, 4.5, 6.75, 9]:
    // [1, 3.25, 5.5, 7.75, 10].
    let fits: [&[f64]; 2] = [&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]];
    let x = some(&[1.0, 3.0, 3.25, 5.0, 5.5, 6.0, 8.0, 10.0]);
    let cases = [
        (
            "averaged_inverted_cdf",
            [0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
        ),
        ("inverted_cdf", [0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0]),
        ("linear", [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]),
    ];
    for (method, want) in cases {
        let config = serde_json::json!({"columns": ["x"], "n_bins": 4, "quantile_method": method});
        assert_eq!(bins(config, &fits, &x), some(&want), "{method}");
    }
}

#[test]
fn narrow_quantile_bins_are_removed() {
    // [0 x6, 1, 2, 3, 4], 4 bins: edges [0, 0, 0, 2, 4]; the two zero-width
    // bins go, leaving [0, 2, 4] and the inner edge 2.
    let config = serde_json::json!({"columns": ["x"], "n_bins": 4});
    let fit = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0];
    let got = bins(config, &[&fit], &some(&[0.0, 1.0, 2.0, 3.0, 9.0]));
    assert_eq!(got, some(&[0.0, 0.0, 1.0, 1.0, 1.0]));
}

#[test]
fn a_constant_column_is_all_zero_and_missing_stays_null() {
    let config = serde_json::json!({"columns": ["x"]});
    let got = bins(
        config,
        &[&[7.0, 7.0, f64::NAN]],
        &[Some(7.0), Some(100.0), None],
    );
    assert_eq!(got, [Some(0.0), Some(0.0), None]);
}

#[test]
fn fit_skips_missing_values() {
    // Valid [1, 2, 3, 4], 2 bins: q = 0.5 -> index 1, gamma 0 -> (2+3)/2.
    let mut s = step(serde_json::json!({"columns": ["x"], "n_bins": 2}));
    s.fit(&batch(&[("x", &column(&[Some(1.0), None, Some(2.0)]))]))
        .unwrap();
    s.fit(&one(&[f64::NAN, 3.0, 4.0])).unwrap();
    let out = s
        .transform(&batch(&[("x", &column(&[Some(2.0), Some(3.0), None]))]))
        .unwrap();
    assert_eq!(
        out.nullable_f64s("x").unwrap(),
        [Some(0.0), Some(1.0), None]
    );
}

#[test]
fn uniform_shards_merge_exactly() {
    let config = serde_json::json!({"columns": ["x"], "strategy": "uniform"});
    let shard = |values: &[f64]| {
        let mut s = step(config.clone());
        s.fit(&one(values)).unwrap();
        s.state().unwrap()
    };
    let mut s = step(config.clone());
    let merged = s
        .merge(vec![shard(&[0.0, 4.0]), shard(&[10.0, 6.0])])
        .unwrap();
    s.load_state(merged).unwrap();
    // min 0, max 10: inner edges [2, 4, 6, 8].
    let out = s.transform(&one(&[1.0, 5.0, 9.0])).unwrap();
    assert_eq!(out.f64s("x").unwrap(), [0.0, 2.0, 4.0]);
}

#[test]
fn quantile_shards_are_refused() {
    let mut s = step(serde_json::json!({"columns": ["x"]}));
    s.fit(&one(&[1.0, 2.0, 3.0])).unwrap();
    let state = s.state().unwrap();
    assert!(s.merge(vec![state.clone()]).is_ok());
    let err = s.merge(vec![state.clone(), state]).err().unwrap();
    assert!(format!("{err:?}").contains("separate shards"), "{err:?}");
}

#[test]
fn configs_scikit_learn_refuses_are_refused() {
    let one_bin = serde_json::json!({"columns": ["x"], "n_bins": 1});
    assert!(KBins::new(serde_json::from_value(one_bin).unwrap()).is_err());
    // numpy has "nearest", scikit-learn does not; no one-hot encoding here.
    for bad in [
        serde_json::json!({"columns": ["x"], "quantile_method": "nearest"}),
        serde_json::json!({"columns": ["x"], "encode": "onehot"}),
    ] {
        assert!(
            serde_json::from_value::<Config>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn a_column_without_values_is_an_error() {
    let mut s = step(serde_json::json!({"columns": ["x"]}));
    s.fit(&one(&[f64::NAN])).unwrap();
    let err = s.state().err().unwrap();
    assert!(format!("{err:?}").contains("no values"), "{err:?}");
}

#[test]
fn the_schema_offers_scikit_learns_choices() {
    let schema = KBins::config_schema().to_string();
    for name in [
        "averaged_inverted_cdf",
        "inverted_cdf",
        "linear",
        "uniform",
        "quantile",
    ] {
        assert!(schema.contains(&format!("\"{name}\"")), "{schema}");
    }
    assert!(!schema.contains("nearest"), "{schema}");
}
