//! Native tests of the step through the `Evaluate` calls the host makes,
//! mostly through the SDK's [`Harness`]: the reference is fitted, saved as
//! bytes and loaded into a fresh instance before any current data.

use super::*;
use serde_json::json;
use weft_sdk::testing::{batch, Harness};
use weft_sdk::Column;

fn step(config: serde_json::Value) -> Drift {
    Drift::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn f64s(values: &[f64]) -> Column {
    Column::from_f64s(values, None)
}

fn texts(values: &[Option<&str>]) -> Column {
    let strings: Vec<String> = values.iter().map(|v| v.unwrap_or("").to_string()).collect();
    let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
    Column::from_strings(&strings, Some(&valid))
}

/// Fit `reference` batches, save the state as the host does (bytes), load
/// it into a fresh instance and feed it `current` batches.
fn run(config: serde_json::Value, reference: &[Batch], current: &[Batch]) -> Vec<Metric> {
    Harness::<Drift>::new(config)
        .evaluate(reference, current)
        .unwrap()
}

/// The value of metric `name` for `column`, and its `exact` label.
fn get(metrics: &[Metric], name: &str, column: &str) -> (f64, Option<String>) {
    let m = metrics
        .iter()
        .find(|m| m.name == name && m.labels.contains(&("column".into(), column.into())))
        .unwrap_or_else(|| panic!("no {name} for {column} in {metrics:?}"));
    let exact = m.labels.iter().find(|(k, _)| k == "exact");
    (m.value, exact.map(|(_, v)| v.clone()))
}

#[test]
fn identical_data_has_no_drift() {
    let values: Vec<f64> = (0..100).map(|i| (i % 17) as f64 * 0.5).collect();
    let b = batch(&[("x", &f64s(&values))]);
    let m = run(
        json!({"columns": ["x"]}),
        std::slice::from_ref(&b),
        std::slice::from_ref(&b),
    );
    assert_eq!(get(&m, "psi", "x"), (0.0, Some("true".into())));
    assert_eq!(get(&m, "ks_statistic", "x").0, 0.0);
    assert_eq!(get(&m, "ks_pvalue", "x").0, 1.0);
    assert_eq!(get(&m, "rows", "x"), (100.0, None));
    assert_eq!(get(&m, "nulls", "x").0, 0.0);
}

#[test]
fn shifted_numbers_over_several_batches_match_the_formulas() {
    let reference: Vec<f64> = (0..200).map(|i| (i * 7 % 200) as f64).collect();
    let current: Vec<f64> = (0..150).map(|i| (i * 11 % 150) as f64 + 60.0).collect();
    let m = run(
        json!({"columns": ["x"], "bins": 4}),
        &[
            batch(&[("x", &f64s(&reference[..120]))]),
            batch(&[("x", &f64s(&reference[120..]))]),
        ],
        &[
            batch(&[("x", &f64s(&current[..50]))]),
            batch(&[("x", &f64s(&current[50..]))]),
        ],
    );
    // Quartiles of 0..200: 49.75, 99.5, 149.25; bins of 50 each.
    let e = [0.25; 4];
    let a = [0.0, 40.0 / 150.0, 50.0 / 150.0, 60.0 / 150.0];
    assert_eq!(get(&m, "psi", "x").0, psi::psi(&e, &a, 1e-4));
    let (mut r, mut c) = (reference.clone(), current.clone());
    r.sort_by(f64::total_cmp);
    c.sort_by(f64::total_cmp);
    let ks = ks::two_sample(&r, &c);
    assert_eq!(get(&m, "ks_statistic", "x").0, ks.statistic);
    assert_eq!(get(&m, "ks_pvalue", "x").0, ks.pvalue);
    assert!(ks.statistic > 0.2 && ks.pvalue < 1e-6, "{ks:?}");
}

#[test]
fn categories_count_unseen_and_nulls() {
    let reference = texts(&[Some("a"), Some("a"), Some("b"), None]);
    let current = texts(&[Some("a"), Some("c"), Some("c"), None, None, Some("b")]);
    let m = run(
        json!({"columns": ["t"]}),
        &[batch(&[("t", &reference)])],
        &[batch(&[("t", &current)])],
    );
    assert_eq!(get(&m, "unseen", "t").0, 2.0);
    assert_eq!(get(&m, "nulls", "t").0, 2.0);
    assert_eq!(get(&m, "rows", "t").0, 6.0);
    let (e, a) = ([2.0 / 3.0, 1.0 / 3.0, 0.0], [0.25, 0.25, 0.5]);
    assert_eq!(
        get(&m, "psi", "t"),
        (psi::psi(&e, &a, 1e-4), Some("true".into()))
    );
    assert!(m.iter().all(|x| x.name != "ks_pvalue"));
}

#[test]
fn booleans_are_categories_and_integers_compare_with_floats() {
    let flags = |v: &[bool]| Column::from_bools(v, None);
    let m = run(
        json!({"columns": ["f", "n"]}),
        &[batch(&[
            ("f", &flags(&[true, true, false])),
            ("n", &Column::from_s64s(&[1, 2, 3], None)),
        ])],
        &[batch(&[
            ("f", &flags(&[false, false, false])),
            ("n", &f64s(&[1.0, 2.0, 3.0])),
        ])],
    );
    assert_eq!(get(&m, "unseen", "f").0, 0.0);
    assert!(get(&m, "psi", "f").0 > 0.5);
    assert_eq!(get(&m, "ks_pvalue", "n").0, 1.0);
}

#[test]
fn nulls_and_nan_are_counted_not_compared() {
    let valid = [true, false, true, true];
    let reference = Column::from_f64s(&[1.0, 0.0, f64::NAN, 2.0], Some(&valid));
    let current = Column::from_f64s(&[1.0, 0.0, 2.0, f64::NAN], Some(&valid));
    let m = run(
        json!({"columns": ["x"]}),
        &[batch(&[("x", &reference)])],
        &[batch(&[("x", &current)])],
    );
    assert_eq!(get(&m, "nulls", "x").0, 2.0);
    assert_eq!(get(&m, "ks_statistic", "x").0, 0.0);
    assert_eq!(get(&m, "psi", "x").0, 0.0);
}

#[test]
fn past_max_sample_the_figures_say_they_are_approximate() {
    let values: Vec<f64> = (0..5000).map(|i| (i * 37 % 5000) as f64).collect();
    let config = json!({"columns": ["x"], "max_sample": 1000});
    let b = batch(&[("x", &f64s(&values))]);
    let m = run(
        config.clone(),
        std::slice::from_ref(&b),
        std::slice::from_ref(&b),
    );
    assert_eq!(get(&m, "ks_pvalue", "x").1.as_deref(), Some("false"));
    assert_eq!(get(&m, "psi", "x").1.as_deref(), Some("false"));
    assert!(get(&m, "ks_statistic", "x").0 < 0.1);
    assert_eq!(
        m,
        run(config, std::slice::from_ref(&b), std::slice::from_ref(&b)),
        "deterministic"
    );
    let small = batch(&[("x", &f64s(&values[..1000]))]);
    let m = run(
        json!({"columns": ["x"], "max_sample": 1000}),
        std::slice::from_ref(&small),
        std::slice::from_ref(&small),
    );
    assert_eq!(get(&m, "ks_pvalue", "x").1.as_deref(), Some("true"));
}

#[test]
fn merged_shards_report_like_one_fit() {
    let h = Harness::<Drift>::new(json!({"columns": ["x", "t"]}));
    let xs: Vec<f64> = (0..300).map(|i| (i * 13 % 97) as f64).collect();
    let ts: Vec<Option<&str>> = (0..300).map(|i| Some(["a", "b", "c"][i % 3])).collect();
    let part =
        |r: std::ops::Range<usize>| batch(&[("x", &f64s(&xs[r.clone()])), ("t", &texts(&ts[r]))]);
    let reference = [part(0..100), part(100..220), part(220..300)];
    let current = [part(0..90), part(90..150)];
    // Everything fits max_sample: the merged sample and counts are exactly
    // those of one fit, and so is every figure.
    let report = |state: &[u8]| {
        let mut d = h.loaded(state).unwrap();
        current.iter().for_each(|b| d.update(b).unwrap());
        let mut m = d.report().unwrap();
        m.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        m
    };
    let whole = report(&h.fit(&reference).unwrap());
    let merged = report(&h.fit_shards(&[&reference[..1], &reference[1..]]).unwrap());
    let bits = |m: &[Metric]| {
        m.iter()
            .map(|m| (m.name.clone(), m.labels.clone(), m.value.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&merged), bits(&whole));
    assert_eq!(get(&whole, "unseen", "t").0, 0.0);
    assert_eq!(get(&whole, "rows", "x").0, 150.0);
}

#[test]
fn update_without_a_reference_is_refused() {
    let mut d = step(json!({"columns": ["x"]}));
    let err = d.update(&batch(&[("x", &f64s(&[1.0]))])).unwrap_err();
    assert!(
        matches!(&err, StepError::InvalidInput(m) if m.contains("no reference") && m.contains("\"x\"")),
        "{err}"
    );
}

#[test]
fn bad_input_names_the_column() {
    let config = json!({"columns": ["x"]});
    let mut d = step(config.clone());
    let err = d.fit(&batch(&[("y", &f64s(&[1.0]))])).unwrap_err();
    assert!(err.to_string().contains("no column \"x\""), "{err}");

    let mut d = step(config.clone());
    d.fit(&batch(&[("x", &f64s(&[f64::NAN]))])).unwrap();
    let state = d.state().unwrap();
    let err = step(config.clone()).load_state(state).unwrap_err();
    assert!(
        err.to_string().contains("\"x\"") && err.to_string().contains("no valid values"),
        "{err}"
    );

    let mut d = step(config.clone());
    d.fit(&batch(&[("x", &f64s(&[1.0]))])).unwrap();
    let err = d
        .update(&batch(&[("x", &texts(&[Some("a")]))]))
        .unwrap_err();
    assert!(
        err.to_string().contains("\"x\"") && err.to_string().contains("text"),
        "{err}"
    );
    let state = d.state().unwrap();
    let err = step(json!({"columns": ["z"]}))
        .load_state(state)
        .unwrap_err();
    assert!(err.to_string().contains("[\"x\"]"), "{err}");
}

#[test]
fn config_is_checked() {
    let parse = |v| serde_json::from_value::<Config>(v);
    assert!(parse(json!({"columns": ["x"], "bin": 3})).is_err());
    for bad in [
        json!({"columns": []}),
        json!({"columns": ["x", "x"]}),
        json!({"columns": ["x"], "bins": 0}),
        json!({"columns": ["x"], "epsilon": 0.0}),
        json!({"columns": ["x"], "max_sample": 0}),
    ] {
        assert!(
            matches!(
                Drift::new(parse(bad.clone()).unwrap()),
                Err(StepError::InvalidConfig(_))
            ),
            "{bad}"
        );
    }
    let d = parse(json!({"columns": ["x"]})).unwrap();
    assert_eq!((d.bins, d.epsilon, d.max_sample), (10, 1e-4, 100_000));
}

#[test]
fn a_column_without_any_value_is_only_counted() {
    let m = run(
        json!({"columns": ["x"]}),
        &[batch(&[("x", &f64s(&[1.0, 2.0]))])],
        &[batch(&[("x", &texts(&[None, None, None]))])],
    );
    assert_eq!(get(&m, "rows", "x").0, 3.0);
    assert_eq!(get(&m, "nulls", "x").0, 3.0);
    assert!(
        m.iter().all(|x| x.name != "psi" && x.name != "ks_pvalue"),
        "{m:?}"
    );
}
