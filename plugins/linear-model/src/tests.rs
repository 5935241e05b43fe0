//! Native tests: expected values worked out by hand.

use super::*;
use serde_json::json;
use weft_sdk::testing::{batch, Harness};

fn step(config: serde_json::Value) -> Result<LinearModel> {
    LinearModel::new(serde_json::from_value(config).unwrap())
}

fn config_error(config: serde_json::Value) -> String {
    match step(config) {
        Err(StepError::InvalidConfig(m)) => m,
        Err(e) => panic!("expected invalid config, got {e}"),
        Ok(_) => panic!("expected invalid config, got a step"),
    }
}

/// A weights file with `contents` in the temporary folder; returns its path.
fn weights_file(name: &str, contents: &str) -> String {
    let path = std::env::temp_dir().join(format!("linear-model-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

fn input() -> Batch {
    batch(&[
        ("a", &Column::from_f64s(&[1.0, f64::NAN, 2.0, 0.0], None)),
        (
            "n",
            &Column::from_s64s(&[2, 3, 0, 1], Some(&[true, true, true, false])),
        ),
        ("f", &Column::from_f32s(&[0.5, 1.0, -1.0, 0.0], None)),
        (
            "t",
            &Column::from_strings(&["w", "x", "y", "z"].map(String::from), None),
        ),
    ])
}

#[test]
fn identity_scores_pass_columns_through_and_null_missing_rows() {
    let mut s =
        step(json!({"features": ["a", "n", "f"], "weights": [1.0, -2.0, 4.0], "intercept": 0.5}))
            .unwrap();
    let out = s.transform(&input()).unwrap();
    assert_eq!(out.column_names(), ["a", "n", "f", "t", "score"]);
    let score = out.nullable_f64s("score").unwrap();
    // 0.5 + 1 - 4 + 2 = -0.5; NaN in a; 0.5 + 2 - 0 - 4 = -1.5; null in n
    assert_eq!(score, [Some(-0.5), None, Some(-1.5), None]);
    assert_eq!(
        out.column("t").unwrap().to_strings().unwrap(),
        ["w", "x", "y", "z"]
    );
}

/// [`input`]'s numeric columns cut into three batches: rows 0, 1..3 and 3.
fn input_in_three() -> [Batch; 3] {
    let part = |a: &[f64], n: &[i64], valid: &[bool], f: &[f32]| {
        batch(&[
            ("a", &Column::from_f64s(a, None)),
            ("n", &Column::from_s64s(n, Some(valid))),
            ("f", &Column::from_f32s(f, None)),
        ])
    };
    [
        part(&[1.0], &[2], &[true], &[0.5]),
        part(&[f64::NAN, 2.0], &[3, 0], &[true, true], &[1.0, -1.0]),
        part(&[0.0], &[1], &[false], &[0.0]),
    ]
}

#[test]
fn three_batches_on_three_workers_score_as_one_in_both_precisions() {
    for precision in ["f64", "f32"] {
        let config = json!({"features": ["a", "n", "f"], "weights": [1.0, -2.0, 4.0], "intercept": 0.5, "precision": precision});
        let out = Harness::<LinearModel>::new(config)
            .run(&input_in_three(), 3)
            .unwrap();
        let scores: Vec<_> = out
            .iter()
            .map(|b| b.nullable_f64s("score").unwrap())
            .collect();
        // As in the test above, every product is exact in f32 too.
        assert_eq!(
            scores,
            [vec![Some(-0.5)], vec![None, Some(-1.5)], vec![None]],
            "{precision}"
        );
    }
}

#[test]
fn f32_precision_scores_through_matmul_with_the_same_nulls() {
    let config = |precision| json!({"features": ["a", "n", "f"], "weights": [1.0, -2.0, 4.0], "intercept": 0.5, "precision": precision});
    let out = step(config("f32")).unwrap().transform(&input()).unwrap();
    // The same figures as in f64: every product is exact in f32.
    assert_eq!(
        out.nullable_f64s("score").unwrap(),
        [Some(-0.5), None, Some(-1.5), None]
    );
}

#[test]
fn logistic_link_is_a_stable_expit() {
    let mut s =
        step(json!({"features": ["x"], "weights": [1.0], "link": "logistic", "output": "p"}))
            .unwrap();
    let x = [0.0, 2.0, -2.0, -745.0, 800.0];
    let out = s
        .transform(&batch(&[("x", &Column::from_f64s(&x, None))]))
        .unwrap();
    let p = out.f64s("p").unwrap();
    let e2 = 2f64.exp();
    assert_eq!(p[0], 0.5);
    assert!((p[1] - e2 / (1.0 + e2)).abs() < 1e-15);
    assert!((p[2] - 1.0 / (1.0 + e2)).abs() < 1e-15);
    assert!(p[3] > 0.0 && p[3] < 1e-320, "{}", p[3]);
    assert_eq!(p[4], 1.0);
}

#[test]
fn weights_file_gives_weights_and_intercept() {
    let path = weights_file(
        "ok.json",
        r#"{"weights": [2, 1], "intercept": -1, "features": ["a", "f"]}"#,
    );
    let mut s = step(json!({"features": ["a", "f"], "weights_file": path})).unwrap();
    let score = s
        .transform(&input())
        .unwrap()
        .nullable_f64s("score")
        .unwrap();
    assert_eq!(score, [Some(1.5), None, Some(2.0), Some(-1.0)]);
}

#[test]
fn weight_count_names_weights() {
    let m = config_error(json!({"features": ["a", "n"], "weights": [1.0]}));
    assert!(
        m.contains("weights gives 1 weight(s) for 2 feature(s)"),
        "{m}"
    );
    let path = weights_file("short.json", r#"{"weights": [1, 2, 3]}"#);
    let m = config_error(json!({"features": ["a"], "weights_file": path}));
    assert!(
        m.contains(&format!("weights in {path:?} gives 3 weight(s)")),
        "{m}"
    );
}

#[test]
fn exactly_one_of_weights_and_weights_file() {
    let m = config_error(json!({"features": ["a"], "weights": [1.0], "weights_file": "/m.json"}));
    assert!(m.contains("both weights and weights_file"), "{m}");
    let m = config_error(json!({"features": ["a"]}));
    assert!(
        m.contains("give weights (and intercept) inline, or weights_file"),
        "{m}"
    );
    let m = config_error(json!({"features": ["a"], "intercept": 1.0, "weights_file": "/m.json"}));
    assert!(m.contains("intercept comes from weights_file"), "{m}");
}

#[test]
fn bad_weights_files_are_named() {
    let m = config_error(json!({"features": ["a"], "weights_file": "/no/such/model.json"}));
    assert!(
        m.contains("weights_file \"/no/such/model.json\" cannot be read"),
        "{m}"
    );
    assert!(m.contains("under a folder granted to this step"), "{m}");
    let path = weights_file("bad.json", "{\"weights\": [1,");
    let m = config_error(json!({"features": ["a"], "weights_file": path}));
    assert!(m.contains("is not a weights file"), "{m}");
    let path = weights_file("other.json", r#"{"weights": [1], "features": ["b"]}"#);
    let m = config_error(json!({"features": ["a"], "weights_file": path}));
    assert!(m.contains("trained on features [\"b\"]"), "{m}");
}

#[test]
fn non_finite_weights_are_refused() {
    let config = |weights: Vec<f64>, intercept| Config {
        features: vec!["a".into()],
        weights: Some(weights),
        intercept: Some(intercept),
        weights_file: None,
        link: Link::Identity,
        output: "score".into(),
        precision: Precision::F64,
    };
    let m = LinearModel::new(config(vec![f64::NAN], 0.0)).err().unwrap();
    assert_eq!(
        m,
        StepError::InvalidConfig("weights: weight 0 is not a finite number".into())
    );
    let m = LinearModel::new(config(vec![1.0], f64::INFINITY))
        .err()
        .unwrap();
    assert_eq!(
        m,
        StepError::InvalidConfig("intercept is not a finite number".into())
    );
}

#[test]
fn output_clash_and_text_features_are_input_errors() {
    let mut s = step(json!({"features": ["a"], "weights": [1.0], "output": "n"})).unwrap();
    let Err(StepError::InvalidInput(m)) = s.transform(&input()) else {
        panic!("no error")
    };
    assert!(m.contains("already has a column \"n\""), "{m}");
    let mut s = step(json!({"features": ["t"], "weights": [1.0]})).unwrap();
    assert!(matches!(
        s.transform(&input()),
        Err(StepError::InvalidInput(_))
    ));
}

#[test]
fn unknown_fields_and_links_are_refused() {
    let parse = |v| {
        serde_json::from_value::<Config>(v)
            .err()
            .unwrap()
            .to_string()
    };
    assert!(parse(json!({"features": ["a"], "weight": [1.0]})).contains("unknown field `weight`"));
    assert!(
        parse(json!({"features": ["a"], "link": "probit"})).contains("unknown variant `probit`")
    );
}
