"""Networks whose dense layers weft runs on a GPU, with reference outputs.

Usage:
    dense_nets.py export --out DIR [--rows N] [--seed S]

Writes to DIR, on onnx_models.py's features f0..f7 (float32):

    data.parquet      f0..f7, label (2 classes), label3 (3 classes)
    dense_gemm.onnx   8 -> 32 -> 16 -> 2 as Gemm(transB=1) with weights in
                      raw_data; Relu, Relu (alpha 0.5, beta 2), Softmax
    dense_matmul.onnx the same shapes as MatMul + Add with weights in
                      float_data, biases [32], [1, 16] and, on the last
                      layer, Add(bias, product); Relu, Relu, Softmax
    dense_acts.onnx   Gemm layers with Tanh, LeakyRelu(0.1), Sigmoid
    mlp2.onnx         StandardScaler + MLPClassifier(32, 16), 2 classes
                      (skl2onnx: Scaler, Cast, three layers, then
                      Sub/Concat/ArgMax nodes making the outputs)
    mlp3.onnx         the same with tanh on 3 classes (Softmax output)
    forest.onnx       a 10-tree RandomForestClassifier: no dense layers
    dense_slow.onnx   8 -> 256, then 6 layers of one shared 256 x 256
                      matrix with Relu, summed: seconds a batch on lavapipe
    expected.parquet  <net>_p0, <net>_p1 from a float64 numpy forward pass;
                      mlp2_p*, mlp3_p*, forest_p* and *_label from
                      scikit-learn's predict_proba and predict

Every model has one input `input`, float [None, 8]; the classifiers give
`label` and `probabilities`, the dense nets `probabilities` only.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pandas as pd
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from onnx_models import FEATURES, OPSET, dataset

SIZES = [len(FEATURES), 32, 16, 2]


def layers(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights [k, n] and biases [n] for 8 -> 32 -> 16 -> 2, float32."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1 / np.sqrt(k), (k, n)).astype(np.float32),
             rng.normal(0, 0.1, n).astype(np.float32))
            for k, n in zip(SIZES, SIZES[1:])]


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "Relu": lambda v: np.maximum(v, 0),
    "Tanh": np.tanh,
    "LeakyRelu": lambda v: np.where(v < 0, 0.1 * v, v),
    "Sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "Softmax": softmax,
}


def forward(x: np.ndarray, weights, acts, scales) -> np.ndarray:
    """The reference in float64: act(alpha * x W + beta * b) per layer."""
    v = x.astype(np.float64)
    for (w, b), act, (alpha, beta) in zip(weights, acts, scales):
        v = ACTIVATIONS[act](alpha * v @ w.astype(np.float64) + beta * b.astype(np.float64))
    return v


def model(nodes, initializers, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializers)
    return helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", OPSET)])


def gemm_net(weights, acts, scales, name: str) -> onnx.ModelProto:
    """Gemm(transB=1) layers, weights stored [n, k] in raw_data."""
    nodes, inits, value = [], [], "input"
    for i, ((w, b), act, (alpha, beta)) in enumerate(zip(weights, acts, scales)):
        inits += [onnx.numpy_helper.from_array(np.ascontiguousarray(w.T), f"w{i}"),
                  onnx.numpy_helper.from_array(b, f"b{i}")]
        out = "probabilities" if i == len(weights) - 1 else f"h{i}"
        extra = {"alpha": 0.1} if act == "LeakyRelu" else {}
        nodes += [helper.make_node("Gemm", [value, f"w{i}", f"b{i}"], [f"g{i}"], transB=1,
                                   alpha=alpha, beta=beta),
                  helper.make_node(act, [f"g{i}"], [out], **extra)]
        value = out
    return model(nodes, inits, name)


def matmul_net(weights, name: str) -> onnx.ModelProto:
    """MatMul + Add layers, weights in float_data, biases [32], [1, 16], [2]."""
    nodes, inits, value = [], [], "input"
    for i, (w, b) in enumerate(weights):
        bias = b.reshape(1, -1) if i == 1 else b
        inits += [helper.make_tensor(f"w{i}", TensorProto.FLOAT, w.shape, w.flatten().tolist()),
                  helper.make_tensor(f"b{i}", TensorProto.FLOAT, bias.shape, bias.flatten().tolist())]
        add = [f"b{i}", f"m{i}"] if i == 2 else [f"m{i}", f"b{i}"]
        act = "Softmax" if i == 2 else "Relu"
        out = "probabilities" if i == 2 else f"h{i}"
        nodes += [helper.make_node("MatMul", [value, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", add, [f"a{i}"]),
                  helper.make_node(act, [f"a{i}"], [out])]
        value = out
    return model(nodes, inits, name)


def slow_net() -> onnx.ModelProto:
    """Six MatMul + Relu layers of one 256 x 256 matrix after a widening."""
    rng = np.random.default_rng(0)
    widen = onnx.numpy_helper.from_array(rng.normal(0, 0.3, (len(FEATURES), 256)).astype(np.float32), "widen")
    square = onnx.numpy_helper.from_array(rng.normal(0, 0.06, (256, 256)).astype(np.float32), "square")
    nodes = [helper.make_node("MatMul", ["input", "widen"], ["m0"]),
             helper.make_node("Relu", ["m0"], ["h0"])]
    for i in range(1, 7):
        nodes += [helper.make_node("MatMul", [f"h{i - 1}", "square"], [f"m{i}"]),
                  helper.make_node("Relu", [f"m{i}"], [f"h{i}"])]
    axes = onnx.numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    nodes.append(helper.make_node("ReduceSum", ["h6", "axes"], ["probabilities"], keepdims=1))
    graph = helper.make_graph(
        nodes, "dense_slow",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 1])],
        [widen, square, axes])
    return helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", OPSET)])


def sklearn_models(df: pd.DataFrame, seed: int) -> dict:
    """mlp2, mlp3 and forest, fitted."""
    x = df[FEATURES].to_numpy()

    def mlp(activation: str):
        return Pipeline([("scale", StandardScaler()),
                         ("mlp", MLPClassifier(hidden_layer_sizes=(32, 16), activation=activation,
                                               max_iter=300, random_state=seed))])
    fitted = {"mlp2": (mlp("relu"), "label"), "mlp3": (mlp("tanh"), "label3"),
              "forest": (RandomForestClassifier(n_estimators=10, max_depth=6, random_state=seed), "label")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for estimator, target in fitted.values():
            estimator.fit(x, df[target].to_numpy())
    return {name: estimator for name, (estimator, _) in fitted.items()}


def export(out: Path, rows: int, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    df = dataset(rows, seed)
    df["label3"] = np.digitize(df["target"], np.quantile(df["target"], [1 / 3, 2 / 3])).astype(np.int64)
    x = df[FEATURES].to_numpy()
    expected = {}
    nets = {
        "dense_gemm": (["Relu", "Relu", "Softmax"], [(1.0, 1.0), (0.5, 2.0), (1.0, 1.0)]),
        "dense_matmul": (["Relu", "Relu", "Softmax"], [(1.0, 1.0)] * 3),
        "dense_acts": (["Tanh", "LeakyRelu", "Sigmoid"], [(1.0, 1.0)] * 3),
    }
    for i, (name, (acts, scales)) in enumerate(nets.items()):
        weights = layers(seed + i)
        net = matmul_net(weights, name) if name == "dense_matmul" else gemm_net(weights, acts, scales, name)
        onnx.checker.check_model(net)
        onnx.save(net, out / f"{name}.onnx")
        p = forward(x, weights, acts, scales)
        expected.update({f"{name}_p{c}": p[:, c] for c in range(2)})
    for name, estimator in sklearn_models(df, seed).items():
        onnx.save(to_onnx(estimator, initial_types=[("input", FloatTensorType([None, len(FEATURES)]))],
                          target_opset=OPSET, options={"zipmap": False}), out / f"{name}.onnx")
        proba = estimator.predict_proba(x)
        expected.update({f"{name}_p{c}": proba[:, c] for c in range(proba.shape[1])})
        expected[f"{name}_label"] = estimator.predict(x).astype(np.int64)
    onnx.save(slow_net(), out / "dense_slow.onnx")
    df.to_parquet(out / "data.parquet", index=False)
    pd.DataFrame(expected).to_parquet(out / "expected.parquet", index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="write the nets, data and references")
    export_cmd.add_argument("--out", type=Path, required=True)
    export_cmd.add_argument("--rows", type=int, default=2000)
    export_cmd.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    export(args.out, args.rows, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
