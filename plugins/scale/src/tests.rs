//! Native tests: expected values worked out by hand. Most run through the
//! SDK's [`Harness`], as the host runs the step: fit, state as bytes, fresh
//! instances that load it and transform.

use super::*;
use weft_sdk::testing::{batch, Harness};

fn step(config: serde_json::Value) -> Scale {
    Scale::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn harness(config: serde_json::Value) -> Harness<Scale> {
    Harness::new(config)
}

/// A batch of one f64 column `x`.
fn xs(x: &[f64]) -> Batch {
    batch(&[("x", &Column::from_f64s(x, None))])
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
fn standard_over_three_batches_with_nan_and_passthrough_on_two_workers() {
    let part = |x: &[f64], t: &[&str]| {
        let t: Vec<String> = t.iter().map(|s| s.to_string()).collect();
        batch(&[
            ("x", &Column::from_f64s(x, None)),
            ("t", &Column::from_strings(&t, None)),
        ])
    };
    let data = [
        part(&[1.0, f64::NAN], &["a", "b"]),
        part(&[3.0], &["c"]),
        part(&[5.0], &["d"]),
    ];
    let out = harness(serde_json::json!({"columns": ["x"], "method": "standard"}))
        .run(&data, 2)
        .unwrap();
    // mean 3, population variance 8/3
    let sd = (8.0f64 / 3.0).sqrt();
    close(&values(&out[0], "x"), &[-2.0 / sd, f64::NAN]);
    close(&values(&out[1], "x"), &[0.0]);
    close(&values(&out[2], "x"), &[2.0 / sd]);
    assert_eq!(
        out[0].column("t").unwrap().to_strings().unwrap(),
        ["a", "b"]
    );
}

#[test]
fn constant_column_is_centered_not_divided() {
    let b = batch(&[("x", &Column::from_s64s(&[7, 7, 7], None))]);
    let out = harness(serde_json::json!({"columns": ["x"], "method": "standard"}))
        .run(&[b], 1)
        .unwrap();
    close(&values(&out[0], "x"), &[0.0, 0.0, 0.0]);
}

#[test]
fn minmax_to_custom_range_and_clip() {
    let out = harness(
        serde_json::json!({"columns": ["x"], "method": "minmax", "feature_range": [-1.0, 2.0], "clip": true}),
    )
    .transform(&[xs(&[0.0, 10.0])], &[xs(&[5.0, 20.0])], 1)
    .unwrap();
    close(&values(&out[0], "x"), &[0.5, 2.0]);
}

#[test]
fn robust_uses_exact_quantiles_over_all_batches() {
    let out = harness(serde_json::json!({"columns": ["x"], "method": "robust"}))
        .transform(&[xs(&[1.0, 2.0, 3.0]), xs(&[4.0, 5.0])], &[xs(&[5.0])], 1)
        .unwrap();
    // median 3, q25 2, q75 4 -> (x - 3) / 2
    close(&values(&out[0], "x"), &[1.0]);
}

/// The transform of `probe` with the state fitted over all `data`, and with
/// the state merged from fitting `data[..1]` and `data[1..]` apart.
fn whole_and_merged(
    config: serde_json::Value,
    data: &[Batch],
    probe: &Batch,
) -> (Vec<f64>, Vec<f64>) {
    let h = harness(config);
    let mut whole = h.loaded(&h.fit(data).unwrap()).unwrap();
    let mut merged = h
        .loaded(&h.fit_shards(&[&data[..1], &data[1..]]).unwrap())
        .unwrap();
    (
        values(&whole.transform(probe).unwrap(), "x"),
        values(&merged.transform(probe).unwrap(), "x"),
    )
}

#[test]
fn merged_minmax_shards_equal_one_fit_bit_for_bit() {
    let data = [xs(&[1.0, 2.0, 9.0]), xs(&[4.0, -6.0]), xs(&[0.5, f64::NAN])];
    let config = serde_json::json!({"columns": ["x"], "method": "minmax"});
    let (whole, merged) = whole_and_merged(config, &data, &xs(&[3.0, 10.0, -6.0]));
    // min -6, max 9: (x + 6) / 15; extrema merge exactly.
    close(&whole, &[0.6, 16.0 / 15.0, 0.0]);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&merged), bits(&whole));
}

#[test]
fn merged_standard_shards_equal_one_fit_within_rounding() {
    let data = [xs(&[1.0, 2.0, 9.0]), xs(&[4.0, -6.0]), xs(&[0.5, 7.25])];
    let config = serde_json::json!({"columns": ["x"], "method": "standard"});
    let (whole, merged) = whole_and_merged(config, &data, &xs(&[3.0, 10.0]));
    // mean 17.75 / 7; the sums of squared deviations merge in another
    // order than fit adds the batches, so the last bits may differ.
    let mean = 17.75 / 7.0;
    let all = [1.0, 2.0, 9.0, 4.0, -6.0, 0.5, 7.25];
    let sd = (all.iter().map(|x: &f64| (x - mean).powi(2)).sum::<f64>() / 7.0).sqrt();
    close(&whole, &[(3.0 - mean) / sd, (10.0 - mean) / sd]);
    close(&merged, &whole);
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
