"""Random tree ensembles with ONNX Runtime's outputs, to check weft's own
tree evaluator against the reference runtime on shapes no library exports.

Usage:
    random_trees.py --out DIR [--count N] [--seed S]

Writes to DIR, for each case i that ONNX Runtime accepts: `i.onnx`, one
`ai.onnx.ml` TreeEnsembleClassifier (outputs `label` int64 [N], `scores`
float [N, C]) or TreeEnsembleRegressor (`scores` float [N, T]) over an input
`x` float [N, 5]; `i.x`, 200 rows of x (float32, little-endian, row-major,
with NaNs and values exactly on the thresholds); `i.z`, ONNX Runtime's
scores (float32 LE, row-major); `i.label`, its labels (int64 LE), for
classifiers. The ensembles vary every comparison mode (mixed within a
tree too), the missing-value direction, node order and ids, leaf weights
per class, every post_transform and aggregate function, base values, and
nodes_values against nodes_values_as_tensor.
"""

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]
K = 5
SHUFFLED = 0.5
MIXED = 0.3
GRID = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=np.float32)
rng = np.random.RandomState(0)
one_id_cls = 0


def tree(tid, depth, mixed, mode, width, many):
    """One tree of at most `depth` levels: its nodes and its leaf weights."""
    nodes = []  # (nodeid, mode, feat, val, true, false, track)
    leaves = []
    ids = iter(rng.permutation(1000))
    def grow(d):
        nid = int(next(ids))
        if d == 0 or (d < depth and rng.rand() < 0.3):
            nodes.append([nid, "LEAF", 0, 0.0, 0, 0, 0])
            cls = range(width) if many else [int(rng.randint(width))]
            for c in cls:
                leaves.append((nid, c, float(rng.randn())))
            return nid
        rec = [nid, rng.choice(MODES) if mixed else mode, int(rng.randint(K)), float(rng.choice(GRID)), 0, 0, int(rng.rand() < 0.5)]
        nodes.append(rec)
        rec[4] = grow(d - 1); rec[5] = grow(d - 1)
        return nid
    grow(depth)
    remap = dict(zip(sorted(n[0] for n in nodes), rng.permutation(len(nodes)).tolist()))
    for n in nodes:
        n[0] = remap[n[0]]
        if n[1] != "LEAF": n[4] = remap[n[4]]; n[5] = remap[n[5]]
    leaves = [(remap[a], b, c) for a, b, c in leaves]
    order = [0] + list(1 + rng.permutation(len(nodes) - 1)) if rng.rand() < SHUFFLED else range(len(nodes))
    return [nodes[i] for i in order], leaves

def make(i):
    """Case i: a classifier or regressor of 1-5 trees, and which it is."""
    classifier = rng.rand() < 0.6
    mixed = rng.rand() < MIXED
    mode = rng.choice(MODES)
    ntrees = int(rng.randint(1, 6))
    if classifier:
        ncls = int(rng.choice([2, 2, 3, 4]))
        width = ncls
    else:
        width = int(rng.choice([1, 1, 2, 3]))
    many = rng.rand() < 0.5
    one_id = classifier and ncls == 2 and not many and rng.rand() < 0.7
    N = {k: [] for k in ["treeids","nodeids","featureids","values","modes","true","false","tracks"]}
    W = {k: [] for k in ["treeids","nodeids","ids","weights"]}
    positive = rng.rand() < 0.4
    for t in range(ntrees):
        nodes, leaves = tree(t, int(rng.randint(0, 5)), mixed, mode, width, many)
        for n in nodes:
            N["treeids"].append(t); N["nodeids"].append(n[0]); N["modes"].append(n[1]); N["featureids"].append(n[2])
            N["values"].append(n[3]); N["true"].append(n[4]); N["false"].append(n[5]); N["tracks"].append(n[6])
        for nid, c, w in leaves:
            if one_id: c = int(one_id_cls)
            W["treeids"].append(t); W["nodeids"].append(nid); W["ids"].append(c)
            W["weights"].append(abs(w) / 3 if positive else w)
    post = str(rng.choice(["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]))
    nbase = int(rng.choice([0, width]))
    base = [float(v) for v in rng.randn(nbase)] if nbase else None
    attrs = dict(nodes_treeids=N["treeids"], nodes_nodeids=N["nodeids"], nodes_featureids=N["featureids"],
                 nodes_modes=N["modes"], nodes_truenodeids=N["true"], nodes_falsenodeids=N["false"],
                 nodes_missing_value_tracks_true=N["tracks"], post_transform=post)
    if rng.rand() < 0.3:
        attrs["nodes_values_as_tensor"] = helper.make_tensor("v", TensorProto.FLOAT, [len(N["values"])], N["values"])
    else:
        attrs["nodes_values"] = N["values"]
    if base: attrs["base_values"] = base
    if classifier:
        attrs.update(class_treeids=W["treeids"], class_nodeids=W["nodeids"], class_ids=W["ids"], class_weights=W["weights"],
                     classlabels_int64s=[int(v) for v in rng.permutation(10)[:ncls]])
        node = helper.make_node("TreeEnsembleClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml", **attrs)
        outs = [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, width])]
    else:
        attrs.update(target_treeids=W["treeids"], target_nodeids=W["nodeids"], target_ids=W["ids"], target_weights=W["weights"],
                     n_targets=width, aggregate_function=str(rng.choice(["SUM", "AVERAGE", "MIN", "MAX"])))
        node = helper.make_node("TreeEnsembleRegressor", ["x"], ["scores"], domain="ai.onnx.ml", **attrs)
        outs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, width])]
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, K])], outs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    return m, classifier

def main() -> None:
    global rng, one_id_cls
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(args.seed)
    for i in range(args.count):
        one_id_cls = rng.randint(2)
        model, classifier = make(i)
        x = rng.choice(np.append(GRID, [np.nan, 0.25, -0.75]), size=(200, K)).astype(np.float32)
        try:
            session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            results = session.run(None, {"x": x})
        except Exception:  # ONNX Runtime refuses some random shapes: not a case
            continue
        onnx.save(model, args.out / f"{i}.onnx")
        x.tofile(args.out / f"{i}.x")
        if classifier:
            results[0].astype(np.int64).tofile(args.out / f"{i}.label")
        results[-1].astype(np.float32).tofile(args.out / f"{i}.z")


if __name__ == "__main__":
    main()
