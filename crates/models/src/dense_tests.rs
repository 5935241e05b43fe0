//! The dense plan on hand-encoded models shaped as skl2onnx and torch
//! export them.

use ort::value::TensorElementType;

use super::*;
use crate::testing::model;
use crate::wire::{put_bytes, put_int};

fn node(op: &str, inputs: &[&str], outputs: &[&str], attributes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    inputs
        .iter()
        .for_each(|i| put_bytes(&mut out, 1, i.as_bytes()));
    outputs
        .iter()
        .for_each(|o| put_bytes(&mut out, 2, o.as_bytes()));
    put_bytes(&mut out, 3, format!("{op}_{}", outputs[0]).as_bytes());
    put_bytes(&mut out, 4, op.as_bytes());
    attributes.iter().for_each(|a| put_bytes(&mut out, 5, a));
    if op == "Scaler" {
        put_bytes(&mut out, 7, b"ai.onnx.ml");
    }
    out
}

fn int(name: &str, value: i64) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, name.as_bytes());
    put_int(&mut out, 3, value as u64);
    out
}

fn float(name: &str, value: f32) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, name.as_bytes());
    out.push(2 << 3 | 5);
    out.extend(value.to_le_bytes());
    out
}

fn floats(name: &str, values: &[f32]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, name.as_bytes());
    let packed: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    put_bytes(&mut out, 7, &packed);
    out
}

/// A FLOAT tensor, its values in `raw_data` or in packed `float_data`.
fn tensor(name: &str, dims: &[i64], values: &[f32], raw: bool) -> Vec<u8> {
    let mut out = Vec::new();
    dims.iter().for_each(|&d| put_int(&mut out, 1, d as u64));
    put_int(&mut out, 2, 1);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    put_bytes(&mut out, if raw { 9 } else { 4 }, &bytes);
    put_bytes(&mut out, 8, name.as_bytes());
    out
}

fn ports(k: i64) -> Vec<Port> {
    vec![Port {
        name: "input".into(),
        onnx_type: format!("Tensor<f32>(dyn, {k})"),
        dtype: Some(weft_types::Dtype::F32),
        shape: vec![-1, k],
        element: Some(TensorElementType::Float32),
    }]
}

fn planned(bytes: &[u8], k: i64) -> Result<Dense, String> {
    plan(&Graph::parse(bytes).unwrap(), &ports(k))
}

/// skl2onnx's binary MLPClassifier: Scaler, Cast, MatMul/Add/Relu,
/// MatMul/Add/Sigmoid, then Sub and Concat making the probabilities.
#[test]
fn an_skl2onnx_classifier_splits_after_its_sigmoid() {
    let nodes = [
        node(
            "Scaler",
            &["input"],
            &["scaled"],
            &[floats("offset", &[1.0, 2.0]), floats("scale", &[0.5])],
        ),
        node("Cast", &["scaled"], &["x"], &[int("to", 1)]),
        node("MatMul", &["x", "c0"], &["m0"], &[]),
        node("Add", &["m0", "i0"], &["a0"], &[]),
        node("Relu", &["a0"], &["h0"], &[]),
        node("MatMul", &["h0", "c1"], &["m1"], &[]),
        node("Add", &["m1", "i1"], &["a1"], &[]),
        node("Sigmoid", &["a1"], &["s"], &[]),
        node("Sub", &["unity", "s"], &["neg"], &[]),
        node(
            "Concat",
            &["neg", "s"],
            &["probabilities"],
            &[int("axis", 1)],
        ),
    ];
    let constants = [
        tensor("c0", &[2, 3], &[1., 2., 3., 4., 5., 6.], false),
        tensor("i0", &[1, 3], &[0.1, 0.2, 0.3], false),
        tensor("c1", &[3, 1], &[1., -1., 2.], true),
        tensor("i1", &[1, 1], &[0.5], true),
        tensor("unity", &[], &[1.0], false),
    ];
    let bytes = model(&nodes, &constants, &["probabilities"]);
    let dense = planned(&bytes, 2).unwrap();
    assert_eq!((dense.boundary.as_str(), dense.width), ("s", 1));
    assert_eq!(dense.scaler, Some((vec![1.0, 2.0], vec![0.5])));
    let [first, last] = dense.layers.as_slice() else {
        panic!("two layers")
    };
    assert_eq!(
        (first.k, first.n, &*first.weights),
        (2, 3, &[1., 2., 3., 4., 5., 6.][..])
    );
    assert_eq!(first.bias.as_deref(), Some(&[0.1, 0.2, 0.3][..]));
    assert!(matches!(
        (&first.activation, &last.activation),
        (Activation::Relu, Activation::Sigmoid)
    ));
    let tail = dense.tail.expect("the probabilities need the tail");
    let graph = Graph::parse(&tail).unwrap();
    let ops: Vec<&str> = graph.ops.iter().map(|o| o.node.op_type.as_str()).collect();
    assert_eq!(ops, ["Sub", "Concat"]);
    let inputs: Vec<&str> = graph.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(inputs, ["s"]);
    let constants: Vec<&str> = graph.initializers.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(constants, ["unity"], "only what the tail reads");
}

/// torch's Linear: Gemm(transB=1) with the weights stored [n, k].
#[test]
fn gemm_weights_are_transposed_and_its_scales_kept() {
    let nodes = [
        node(
            "Gemm",
            &["input", "w", "b"],
            &["g"],
            &[int("transB", 1), float("alpha", 0.5), float("beta", 2.0)],
        ),
        node("Softmax", &["g"], &["p"], &[int("axis", -1)]),
        node("Identity", &["p"], &["probabilities"], &[]),
    ];
    let constants = [
        tensor("w", &[3, 2], &[1., 2., 3., 4., 5., 6.], true),
        tensor("b", &[3], &[1., 1., 1.], true),
    ];
    let dense = planned(&model(&nodes, &constants, &["probabilities"]), 2).unwrap();
    assert_eq!(
        dense.boundary, "probabilities",
        "an Identity moves the boundary"
    );
    assert!(dense.tail.is_none(), "nothing is left for ONNX Runtime");
    let layer = &dense.layers[0];
    assert_eq!(&*layer.weights, &[1., 3., 5., 2., 4., 6.]);
    assert_eq!((layer.alpha, layer.beta), (0.5, 2.0));
    assert!(matches!(layer.activation, Activation::Softmax));
}

#[test]
fn models_a_gpu_cannot_split_are_left_to_onnx_runtime() {
    let w = || tensor("w", &[2, 2], &[1., 0., 0., 1.], false);
    // A later node reads the first layer's input (a skip connection).
    let skip = [
        node("MatMul", &["input", "w"], &["m"], &[]),
        node("Relu", &["m"], &["h"], &[]),
        node("Add", &["h", "input"], &["y"], &[]),
    ];
    assert!(planned(&model(&skip, &[w()], &["y"]), 2).is_err());
    // A skip over the second layer: the first is the dense head.
    let later = [
        node("MatMul", &["input", "w"], &["m"], &[]),
        node("Relu", &["m"], &["h"], &[]),
        node("MatMul", &["h", "w"], &["m2"], &[]),
        node("Add", &["m2", "h"], &["y"], &[]),
    ];
    let dense = planned(&model(&later, &[w()], &["y"]), 2).unwrap();
    assert_eq!((dense.boundary.as_str(), dense.layers.len()), ("h", 1));
    let tail = Graph::parse(dense.tail.as_deref().unwrap()).unwrap();
    assert_eq!(tail.ops.len(), 2);
    assert_eq!(tail.initializers.len(), 1, "the tail reads w too");
    // Weights that are no initializer, and a width other than the input's.
    let computed = [node("MatMul", &["input", "other"], &["y"], &[])];
    assert!(planned(&model(&computed, &[w()], &["y"]), 2).is_err());
    let wrong = [node("MatMul", &["input", "w"], &["y"], &[])];
    assert!(planned(&model(&wrong, &[w()], &["y"]), 3).is_err());
    // transA is not a dense layer.
    let flipped = [node("Gemm", &["input", "w"], &["y"], &[int("transA", 1)])];
    assert!(planned(&model(&flipped, &[w()], &["y"]), 2).is_err());
}
