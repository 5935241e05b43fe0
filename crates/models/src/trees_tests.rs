//! The tree evaluator on hand-encoded ensembles shaped as skl2onnx and
//! onnxmltools export them; the expected values follow ONNX Runtime's
//! semantics (and `tests/tests/onnx.rs` checks real models against it).

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use ort::value::TensorElementType;

use super::*;
use crate::testing::{model, named};
use crate::wire::{put_bytes, put_int};

/// A node: `(id, mode, feature, threshold, true id, false id, NaN goes true)`.
type N = (i64, &'static str, i64, f32, i64, i64, i64);
/// A leaf weight: `(tree, node, class or target, weight)`.
type W = (i64, i64, i64, f32);

fn ints(name: &str, values: impl IntoIterator<Item = i64>) -> Vec<u8> {
    let mut out = named(name);
    values
        .into_iter()
        .for_each(|v| put_int(&mut out, 8, v as u64));
    out
}

fn floats(name: &str, values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    let mut out = named(name);
    let packed: Vec<u8> = values.into_iter().flat_map(f32::to_le_bytes).collect();
    put_bytes(&mut out, 7, &packed);
    out
}

fn int(name: &str, value: u64) -> Vec<u8> {
    let mut out = named(name);
    put_int(&mut out, 3, value);
    out
}

fn text(name: &str, value: &str) -> Vec<u8> {
    let mut out = named(name);
    put_bytes(&mut out, 4, value.as_bytes());
    out
}

fn node(
    op: &str,
    domain: &str,
    inputs: &[&str],
    outputs: &[&str],
    attributes: &[Vec<u8>],
) -> Vec<u8> {
    let mut out = Vec::new();
    inputs
        .iter()
        .for_each(|i| put_bytes(&mut out, 1, i.as_bytes()));
    outputs
        .iter()
        .for_each(|o| put_bytes(&mut out, 2, o.as_bytes()));
    put_bytes(&mut out, 4, op.as_bytes());
    attributes.iter().for_each(|a| put_bytes(&mut out, 5, a));
    put_bytes(&mut out, 7, domain.as_bytes());
    out
}

/// The attributes of `trees` (tree `t` is `trees[t]`) with `weights`
/// under `prefix` (`class` or `target`).
fn ensemble(trees: &[&[N]], weights: &[W], prefix: &str) -> Vec<Vec<u8>> {
    let all = || {
        trees
            .iter()
            .enumerate()
            .flat_map(|(t, n)| n.iter().map(move |n| (t as i64, n)))
    };
    let strings = {
        let mut out = named("nodes_modes");
        all().for_each(|(_, n)| put_bytes(&mut out, 9, n.1.as_bytes()));
        out
    };
    vec![
        ints("nodes_treeids", all().map(|(t, _)| t)),
        ints("nodes_nodeids", all().map(|(_, n)| n.0)),
        strings,
        ints("nodes_featureids", all().map(|(_, n)| n.2)),
        floats("nodes_values", all().map(|(_, n)| n.3)),
        ints("nodes_truenodeids", all().map(|(_, n)| n.4)),
        ints("nodes_falsenodeids", all().map(|(_, n)| n.5)),
        ints("nodes_missing_value_tracks_true", all().map(|(_, n)| n.6)),
        ints(&format!("{prefix}_treeids"), weights.iter().map(|w| w.0)),
        ints(&format!("{prefix}_nodeids"), weights.iter().map(|w| w.1)),
        ints(&format!("{prefix}_ids"), weights.iter().map(|w| w.2)),
        floats(&format!("{prefix}_weights"), weights.iter().map(|w| w.3)),
    ]
}

fn port(name: &str, shape: Vec<i64>) -> Port {
    Port {
        name: name.into(),
        onnx_type: String::new(),
        dtype: Some(weft_types::Dtype::F32),
        shape,
        element: Some(TensorElementType::Float32),
    }
}

fn planned(bytes: &[u8]) -> Result<Trees, String> {
    plan(&Graph::parse(bytes).unwrap(), &[port("input", vec![-1, 2])])
}

/// The columns of output `name` for `rows` (two features each).
fn scored(trees: &Trees, rows: &[[f32; 2]], name: &str) -> Vec<Vec<f64>> {
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let made = trees
        .run(&x, rows.len(), &[&port(name, vec![])], u64::MAX, None)
        .unwrap();
    let wide = |c: &ArrayRef| arrow::compute::cast(c, &arrow::datatypes::DataType::Float64);
    let wide = made[0].iter().map(|c| wide(c).unwrap());
    wide.map(|c| c.as_primitive::<Float64Type>().values().to_vec())
        .collect()
}

/// A model of the one ensemble node `op` reading `input`.
fn lone(op: &str, attributes: &[Vec<u8>], outputs: &[&str]) -> Result<Trees, String> {
    let nodes = [node(op, "ai.onnx.ml", &["input"], outputs, attributes)];
    planned(&model(&nodes, &[], outputs))
}

/// Two stumps: `x0 <= 0.5` (NaN goes true) and `x1 < 1` (NaN goes false).
const STUMPS: [&[N]; 2] = [
    &[
        (0, "BRANCH_LEQ", 0, 0.5, 1, 2, 1),
        (1, "LEAF", 0, 0.0, 0, 0, 0),
        (2, "LEAF", 0, 0.0, 0, 0, 0),
    ],
    &[
        (0, "BRANCH_LT", 1, 1.0, 2, 1, 0),
        (2, "LEAF", 0, 0.0, 0, 0, 0),
        (1, "LEAF", 0, 0.0, 0, 0, 0),
    ],
];

/// A weight of 1 or 2 for each leaf of [`STUMPS`].
const ONES_TWOS: [W; 4] = [
    (0, 1, 0, 1.0),
    (0, 2, 0, 2.0),
    (1, 2, 0, 1.0),
    (1, 1, 0, 2.0),
];

#[test]
fn a_regressor_sums_its_trees_and_sends_missing_values_their_way() {
    let weights = [
        (0, 1, 0, 1.0),
        (0, 2, 0, 2.0),
        (1, 2, 0, 10.0),
        (1, 1, 0, 20.0),
    ];
    let mut attributes = ensemble(&STUMPS, &weights, "target");
    attributes.extend([int("n_targets", 1), floats("base_values", [0.5])]);
    let trees = lone("TreeEnsembleRegressor", &attributes, &["variable"]).unwrap();
    let rows = [[0.0, 0.0], [1.0, 2.0], [f32::NAN, f32::NAN], [0.5, 1.0]];
    assert_eq!(
        scored(&trees, &rows, "variable"),
        [vec![11.5, 22.5, 21.5, 21.5]]
    );
}

#[test]
fn an_average_min_and_max_over_two_targets_add_their_base_values() {
    // Tree 0 gives target 0 only: target 1 has no score from it.
    let weights = [
        (0, 1, 0, 1.0),
        (0, 2, 0, 3.0),
        (1, 2, 0, 5.0),
        (1, 2, 1, 7.0),
        (1, 1, 1, -1.0),
    ];
    let run = |aggregate: &str| {
        let mut attributes = ensemble(&STUMPS, &weights, "target");
        attributes.extend([int("n_targets", 2), text("aggregate_function", aggregate)]);
        attributes.push(floats("base_values", [100.0, 200.0]));
        let trees = lone("TreeEnsembleRegressor", &attributes, &["y"]).unwrap();
        scored(&trees, &[[0.0, 0.0], [1.0, 2.0]], "y")
    };
    assert_eq!(run("AVERAGE"), [vec![103.0, 101.5], vec![203.5, 199.5]]);
    assert_eq!(run("MIN"), [vec![101.0, 103.0], vec![207.0, 199.0]]);
    assert_eq!(run("MAX"), [vec![105.0, 103.0], vec![207.0, 199.0]]);
}

/// XGBoost's binary classifier: one weight column, signed weights, a
/// base value, LOGISTIC; the label is the sign of the margin.
#[test]
fn a_binary_classifier_of_one_weight_column_gives_both_probabilities() {
    let weights = [
        (0, 1, 0, -1.0),
        (0, 2, 0, 2.0),
        (1, 2, 0, 0.5),
        (1, 1, 0, -0.25),
    ];
    let mut attributes = ensemble(&STUMPS, &weights, "class");
    attributes.extend([
        ints("classlabels_int64s", [3, 7]),
        floats("base_values", [0.1]),
    ]);
    attributes.push(text("post_transform", "LOGISTIC"));
    let trees = lone("TreeEnsembleClassifier", &attributes, &["label", "p"]).unwrap();
    let rows = [[0.0, 0.0], [1.0, 2.0]];
    let margins = [-1.0f32 + 0.5 + 0.1, 2.0 - 0.25 + 0.1];
    let logistic = |v: f32| f64::from(1.0 / (1.0 + (-v).exp()));
    let p = scored(&trees, &rows, "p");
    for (row, m) in margins.iter().enumerate() {
        assert!((p[0][row] - logistic(-m)).abs() < 1e-6 && (p[1][row] - logistic(*m)).abs() < 1e-6);
    }
    assert_eq!(scored(&trees, &rows, "label"), [vec![3.0, 7.0]]);
}

/// scikit-learn's forest: one column of positive weights, the label
/// past 0.5, the other class its complement.
#[test]
fn a_forest_of_positive_weights_gives_the_complement_and_labels_past_a_half() {
    let weights = [
        (0, 1, 0, 0.25),
        (0, 2, 0, 0.5),
        (1, 2, 0, 0.25),
        (1, 1, 0, 0.125),
    ];
    let mut attributes = ensemble(&STUMPS, &weights, "class");
    attributes.push(ints("classlabels_int64s", [0, 1]));
    let trees = lone("TreeEnsembleClassifier", &attributes, &["label", "p"]).unwrap();
    let rows = [[0.0, 0.0], [1.0, 2.0]];
    assert_eq!(
        scored(&trees, &rows, "p"),
        [vec![0.5, 0.375], vec![0.5, 0.625]]
    );
    assert_eq!(scored(&trees, &rows, "label"), [vec![0.0, 1.0]]);
}

#[test]
fn several_classes_take_a_softmax_and_the_best_label() {
    let weights = [
        (0, 1, 0, 1.0),
        (0, 1, 1, 2.0),
        (0, 2, 2, 3.0),
        (1, 1, 0, 1.0),
        (1, 2, 1, 0.0),
    ];
    let mut attributes = ensemble(&STUMPS, &weights, "class");
    attributes.extend([
        ints("classlabels_int64s", [10, 20, 30]),
        text("post_transform", "SOFTMAX"),
    ]);
    let trees = lone("TreeEnsembleClassifier", &attributes, &["label", "p"]).unwrap();
    // Row 0: scores [1, 2, 0] (class 2 has none); row 1: [1, 0, 3].
    let rows = [[0.0, 0.0], [1.0, 2.0]];
    assert_eq!(scored(&trees, &rows, "label"), [vec![20.0, 30.0]]);
    let p = scored(&trees, &rows, "p");
    let e = |v: f64| v.exp();
    let sum0 = e(-1.0) + e(0.0) + e(-2.0);
    assert!((p[1][0] - 1.0 / sum0).abs() < 1e-6 && (p[2][0] - e(-2.0) / sum0).abs() < 1e-6);
}

/// onnxmltools' LightGBM: Identities, a Cast of the label and a Mul of
/// the probabilities by a constant after the ensemble.
#[test]
fn identities_casts_and_a_constant_factor_around_the_ensemble_run_here() {
    let weights = [
        (0, 1, 0, 0.5),
        (0, 2, 0, -0.5),
        (1, 2, 0, 0.0),
        (1, 1, 0, 0.0),
    ];
    let mut attributes = ensemble(&STUMPS, &weights, "class");
    attributes.extend([
        ints("classlabels_int64s", [0, 1]),
        text("post_transform", "LOGISTIC"),
    ]);
    let nodes = [
        node("Cast", "", &["input"], &["x"], &[int("to", 1)]),
        node(
            "TreeEnsembleClassifier",
            "ai.onnx.ml",
            &["x"],
            &["l", "p"],
            &attributes,
        ),
        node("Identity", "", &["l"], &["l2"], &[]),
        node("Cast", "", &["l2"], &["label"], &[int("to", 7)]),
        node("Mul", "", &["p", "two"], &["probabilities"], &[]),
    ];
    let mut two = Vec::new();
    put_int(&mut two, 2, 1);
    put_bytes(&mut two, 9, &2f32.to_le_bytes());
    put_bytes(&mut two, 8, b"two");
    let trees = planned(&model(&nodes, &[two], &["label", "probabilities"])).unwrap();
    let p = scored(&trees, &[[0.0, 0.0]], "probabilities");
    let half = 1.0 / (1.0 + (-0.5f32).exp());
    assert!((p[1][0] - f64::from(2.0 * half)).abs() < 1e-6, "{p:?}");
    assert_eq!(scored(&trees, &[[0.0, 0.0]], "label"), [vec![1.0]]);
}

#[test]
fn ensembles_weft_does_not_evaluate_are_left_to_onnx_runtime() {
    let classifier = |extra: Vec<u8>| {
        let mut attributes = ensemble(&STUMPS, &ONES_TWOS, "class");
        attributes.push(extra);
        lone("TreeEnsembleClassifier", &attributes, &["label", "p"])
    };
    let strings = {
        let mut a = named("classlabels_strings");
        put_bytes(&mut a, 9, b"no");
        put_bytes(&mut a, 9, b"yes");
        a
    };
    let why = classifier(strings).unwrap_err();
    assert!(why.contains("strings"), "{why}");
    assert!(classifier(ints("classlabels_int64s", [0, 1])).is_ok());
    let mut probit = ensemble(&STUMPS, &ONES_TWOS, "target");
    probit.extend([int("n_targets", 1), text("post_transform", "PROBIT")]);
    assert!(
        lone("TreeEnsembleRegressor", &probit, &["y"]).is_err(),
        "PROBIT"
    );
    // A node other than the ensemble's (skl2onnx's ZipMap).
    let mut attributes = ensemble(&STUMPS, &ONES_TWOS, "class");
    attributes.push(ints("classlabels_int64s", [0, 1]));
    let zipped = [
        node(
            "TreeEnsembleClassifier",
            "ai.onnx.ml",
            &["input"],
            &["label", "p"],
            &attributes,
        ),
        node("ZipMap", "ai.onnx.ml", &["p"], &["z"], &[]),
    ];
    assert!(
        planned(&model(&zipped, &[], &["label", "z"])).is_err(),
        "ZipMap"
    );
    // A node its tree's first node does not reach.
    let lost: [&[N]; 1] = [&[
        (1, "LEAF", 0, 0.0, 0, 0, 0),
        (0, "BRANCH_LEQ", 0, 0.5, 1, 2, 0),
        (2, "LEAF", 0, 0.0, 0, 0, 0),
    ]];
    let mut attributes = ensemble(&lost, &[(0, 1, 0, 1.0), (0, 2, 0, 2.0)], "target");
    attributes.push(int("n_targets", 1));
    let why = lone("TreeEnsembleRegressor", &attributes, &["y"]).unwrap_err();
    assert!(why.contains("not under its tree's first node"), "{why}");
}

#[test]
fn a_run_checks_its_budget_first_and_stops_at_its_deadline() {
    let mut attributes = ensemble(&STUMPS, &ONES_TWOS, "target");
    attributes.push(int("n_targets", 1));
    let trees = lone("TreeEnsembleRegressor", &attributes, &["y"]).unwrap();
    let x = vec![0f32; 2 * 1000];
    let y = port("y", vec![-1, 1]);
    let refused = trees.run(&x, 1000, &[&y], 3999, None);
    assert!(matches!(refused, Err(ModelError::Output(m)) if m.contains("4000 bytes")));
    let past = Some(Instant::now());
    assert!(matches!(
        trees.run(&x, 1000, &[&y], u64::MAX, past),
        Err(ModelError::Deadline)
    ));
}
