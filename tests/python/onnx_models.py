"""ONNX models and reference predictions for weft's model-scoring tests.

Usage:
    onnx_models.py export --out DIR [--rows N] [--seed S]
    onnx_models.py check --dir DIR

`export` generates a binary classification set (make_classification, float32
features f0..f7) plus a regression target, fits six models and writes to DIR:

    data.parquet      f0..f7 (float32), label (int64), target (float64)
    expected.parquet  the libraries' own predictions on data.parquet:
                      <model>_label, <model>_p0, <model>_p1 (predict,
                      predict_proba) for classifiers, gbr_pred for gbr
    <model>.onnx      one input `input`, float32 [None, 8]
    models.json       per file: inputs/outputs (name, shape, type), the
                      opsets imported, and the (domain, op_type) pairs used
                      (the default domain is written "ai.onnx")
    metrics.json      per classifier, scikit-learn's accuracy, precision,
                      recall, f1, roc_auc and log_loss of its own
                      predict_proba(x)[:, 1] at threshold 0.5
    unsupported.onnx  a valid model whose node `mystery` is an operator
                      no runtime has (`Mystery` of domain `weft.test`)
    wide.onnx         the input tiled 625 times: an output [N, 5000]
    slow.onnx         40 chained 2048 x 2048 matrix products: seconds a batch
    nulls.parquet     data.parquet's features with every 7th f0 and every
                      11th f3 missing, and xgb_p1, lgbm_p1: the libraries'
                      predict_proba on them (both read a missing value)

The ONNX outputs, in order, and the expected columns they match:

    logreg, forest, mlp (skl2onnx, zipmap off), xgb (onnxmltools, never a
    zipmap), lgbm (onnxmltools, zipmap off):
        label          int64 [N]       <model>_label
        probabilities  float [N, 2]    <model>_p0, <model>_p1
    gbr (skl2onnx):
        variable       float [N, 1]    gbr_pred

skl2onnx models use opset 17, with the lowest ai.onnx.ml its nodes need
(1). onnxmltools refuses a target opset above 15 and imports the lowest
opsets its nodes need (ai.onnx 9 or none, ai.onnx.ml 1); the default domain
is then raised to 17 with onnx's version converter. Its LightGBM converter
declares `label` as [1] (onnxruntime warns on every run); the first output
dimension is cleared so that it reads [None] like the others.

`check` scores each model with onnxruntime (CPU, one thread) and prints the
largest absolute difference from expected.parquet per output; it exits 1 if
any exceeds 1e-5.
"""

import argparse
import json
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import pandas as pd
from lightgbm import LGBMClassifier
from onnx import helper, version_converter
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.base import BaseEstimator
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, f1_score, log_loss,
                             precision_score, recall_score, roc_auc_score)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

FEATURES = [f"f{i}" for i in range(8)]
OPSET = 17
TOLERANCE = 1e-5
REGRESSORS = {"gbr"}
ONNXMLTOOLS = {"xgb": convert_xgboost,
               "lgbm": partial(convert_lightgbm, zipmap=False)}


def dataset(rows: int, seed: int) -> pd.DataFrame:
    """Features f0..f7 (float32), a binary label and a continuous target."""
    x, y = make_classification(n_samples=rows, n_features=len(FEATURES),
                               n_informative=6, n_redundant=2,
                               random_state=seed)
    x = x.astype(np.float32)
    rng = np.random.default_rng(seed)
    x64 = x.astype(np.float64)
    target = x64 @ rng.normal(size=len(FEATURES)) + np.sin(x64[:, 0])
    df = pd.DataFrame(x, columns=FEATURES)
    df["label"] = y.astype(np.int64)
    df["target"] = target + rng.normal(0.0, 0.1, rows)
    return df


def estimators(seed: int) -> dict[str, BaseEstimator]:
    """The unfitted models, by name."""
    return {
        "logreg": LogisticRegression(max_iter=1000),
        "forest": RandomForestClassifier(n_estimators=50, max_depth=8,
                                         random_state=seed),
        "gbr": GradientBoostingRegressor(n_estimators=50, random_state=seed),
        "mlp": Pipeline([("scale", StandardScaler()),
                         ("mlp", MLPClassifier(hidden_layer_sizes=(32, 16),
                                               max_iter=300,
                                               random_state=seed))]),
        # One thread: OpenMP's spinning threads make these tiny fits take
        # seconds on a busy machine.
        "xgb": XGBClassifier(n_estimators=50, max_depth=4, n_jobs=1,
                             random_state=seed),
        "lgbm": LGBMClassifier(n_estimators=50, n_jobs=1, random_state=seed,
                               verbose=-1),
    }


def lift_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """Raise an onnxmltools model to OPSET (so IR 8) and clear its outputs'
    first dimension."""
    if all(o.domain not in ("", "ai.onnx") for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("", OPSET))
    model = version_converter.convert_version(model, OPSET)
    model.ir_version = max(model.ir_version, 8)
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[0].Clear()
    return model


def convert(name: str, model: BaseEstimator) -> onnx.ModelProto:
    """The fitted model as ONNX with one float32 [None, 8] input `input`."""
    shape = [None, len(FEATURES)]
    if name in ONNXMLTOOLS:
        # onnxmltools rejects target_opset > 15; lift_opset raises it. The
        # name replaces a random graph name, so that exports are repeatable.
        return lift_opset(ONNXMLTOOLS[name](
            model, name=name, initial_types=[("input", MlFloat(shape))],
            target_opset=15))
    options = None if name in REGRESSORS else {"zipmap": False}
    return to_onnx(model, initial_types=[("input", FloatTensorType(shape))],
                   target_opset=OPSET, options=options)


def predictions(name: str, model: BaseEstimator,
                x: np.ndarray) -> dict[str, np.ndarray]:
    """The model's own predictions, as expected.parquet columns."""
    if name in REGRESSORS:
        return {f"{name}_pred": model.predict(x).astype(np.float64)}
    proba = model.predict_proba(x).astype(np.float64)
    return {f"{name}_label": model.predict(x).astype(np.int64),
            f"{name}_p0": proba[:, 0], f"{name}_p1": proba[:, 1]}


def metrics(label: np.ndarray, p1: np.ndarray) -> dict[str, float]:
    """What classification-metrics reports, as scikit-learn computes it."""
    predicted = p1 >= 0.5
    return {"accuracy": accuracy_score(label, predicted),
            "precision": precision_score(label, predicted),
            "recall": recall_score(label, predicted),
            "f1": f1_score(label, predicted),
            "roc_auc": roc_auc_score(label, p1),
            "log_loss": log_loss(label, p1, labels=[0, 1])}


def unsupported() -> onnx.ModelProto:
    """A well-formed model whose one node no runtime implements."""
    node = helper.make_node("Mystery", ["input"], ["y"], name="mystery",
                            domain="weft.test")
    graph = helper.make_graph(
        [node], "unsupported",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                       [None, len(FEATURES)])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None])])
    return helper.make_model(graph, ir_version=8, opset_imports=[
        helper.make_opsetid("", OPSET), helper.make_opsetid("weft.test", 1)])


def wide() -> onnx.ModelProto:
    """A model whose output is 625 copies of its input side by side."""
    repeats = onnx.numpy_helper.from_array(np.array([1, 625], dtype=np.int64), "repeats")
    node = helper.make_node("Tile", ["input", "repeats"], ["wide"], name="tile")
    graph = helper.make_graph(
        [node], "wide",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("wide", onnx.TensorProto.FLOAT, [None, 625 * len(FEATURES)])],
        [repeats])
    return helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", OPSET)])


def slow() -> onnx.ModelProto:
    """A model that takes seconds a batch: 40 products by one 2048 x 2048
    matrix, after widening the input to 2048 columns."""
    rng = np.random.default_rng(0)
    widen = onnx.numpy_helper.from_array(rng.normal(0, 0.01, (len(FEATURES), 2048)).astype(np.float32), "widen")
    square = onnx.numpy_helper.from_array(rng.normal(0, 0.01, (2048, 2048)).astype(np.float32), "square")
    nodes = [helper.make_node("MatMul", ["input", "widen"], ["h0"], name="widen")]
    nodes += [helper.make_node("MatMul", [f"h{i}", "square"], [f"h{i + 1}"], name=f"square{i}") for i in range(40)]
    graph = helper.make_graph(
        nodes, "slow",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("h40", onnx.TensorProto.FLOAT, [None, 2048])],
        [widen, square])
    return helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", OPSET)])


def with_nulls(df: pd.DataFrame, fitted: dict[str, BaseEstimator]) -> pd.DataFrame:
    """The features with gaps, and XGBoost's and LightGBM's scores of them."""
    gaps = df[FEATURES].copy()
    gaps.loc[gaps.index % 7 == 0, "f0"] = np.nan
    gaps.loc[gaps.index % 11 == 0, "f3"] = np.nan
    for name in ["xgb", "lgbm"]:
        gaps[f"{name}_p1"] = fitted[name].predict_proba(gaps[FEATURES].to_numpy())[:, 1].astype(np.float64)
    return gaps


def value_info(value: onnx.ValueInfoProto) -> dict:
    """Name, shape (None for an unknown dimension) and element type."""
    tensor = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
             for d in tensor.shape.dim]
    return {"name": value.name, "shape": shape,
            "type": onnx.TensorProto.DataType.Name(tensor.elem_type).lower()}


def describe(path: Path) -> dict:
    """A model's inputs, outputs, opsets and operators, read back from disk."""
    model = onnx.load(path)
    graph = model.graph
    ops = sorted({(n.domain or "ai.onnx", n.op_type) for n in graph.node})
    return {"inputs": [value_info(v) for v in graph.input],
            "outputs": [value_info(v) for v in graph.output],
            "opsets": {o.domain or "ai.onnx": o.version
                       for o in model.opset_import},
            "ops": ops}


def export(out: Path, rows: int, seed: int) -> None:
    """Fit, convert and write every model with its data and predictions."""
    out.mkdir(parents=True, exist_ok=True)
    df = dataset(rows, seed)
    x = df[FEATURES].to_numpy()
    expected, described, models = {}, {}, estimators(seed)
    for name, model in models.items():
        start = time.perf_counter()
        y = df["target"] if name in REGRESSORS else df["label"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y.to_numpy())
        fitted = time.perf_counter()
        path = out / f"{name}.onnx"
        onnx.save(convert(name, model), path)
        expected.update(predictions(name, model, x))
        described[path.name] = describe(path)
        print(f"{name}: fit {fitted - start:.2f}s, "
              f"convert {time.perf_counter() - fitted:.2f}s")
    scores = {name: metrics(df["label"].to_numpy(), expected[f"{name}_p1"])
              for name in estimators(seed) if name not in REGRESSORS}
    (out / "metrics.json").write_text(json.dumps(scores, indent=2) + "\n")
    onnx.save(unsupported(), out / "unsupported.onnx")
    onnx.save(wide(), out / "wide.onnx")
    onnx.save(slow(), out / "slow.onnx")
    with_nulls(df, models).to_parquet(out / "nulls.parquet", index=False)
    df.to_parquet(out / "data.parquet", index=False)
    pd.DataFrame(expected).to_parquet(out / "expected.parquet", index=False)
    (out / "models.json").write_text(json.dumps(described, indent=2) + "\n")


def expected_columns(name: str) -> dict[str, list[str]]:
    """The expected.parquet columns each ONNX output is compared with."""
    if name in REGRESSORS:
        return {"variable": [f"{name}_pred"]}
    return {"label": [f"{name}_label"],
            "probabilities": [f"{name}_p0", f"{name}_p1"]}


def session(path: Path) -> ort.InferenceSession:
    """A single-threaded CPU session."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options,
                                providers=["CPUExecutionProvider"])


def check(directory: Path) -> int:
    """Score every model with onnxruntime; 1 if any output is off."""
    x = pd.read_parquet(directory / "data.parquet")[FEATURES].to_numpy()
    expected = pd.read_parquet(directory / "expected.parquet")
    files = json.loads((directory / "models.json").read_text())
    worst = 0.0
    for file in files:
        name = Path(file).stem
        sess = session(directory / file)
        names = [o.name for o in sess.get_outputs()]
        results = dict(zip(names, sess.run(None, {"input": x})))
        for output, columns in expected_columns(name).items():
            got = results[output].reshape(len(x), -1).astype(np.float64)
            want = expected[columns].to_numpy(np.float64)
            diff = float(np.abs(got - want).max())
            worst = max(worst, diff)
            print(f"{name:6} {output:13} {diff:.3g}")
    print(f"max abs difference {worst:.3g} (tolerance {TOLERANCE:g})")
    return int(worst > TOLERANCE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="fit and export models")
    export_cmd.add_argument("--out", type=Path, required=True)
    export_cmd.add_argument("--rows", type=int, default=2000)
    export_cmd.add_argument("--seed", type=int, default=0)
    check_cmd = commands.add_parser("check", help="score with onnxruntime")
    check_cmd.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "export":
        export(args.out, args.rows, args.seed)
        return 0
    return check(args.dir)


if __name__ == "__main__":
    sys.exit(main())
