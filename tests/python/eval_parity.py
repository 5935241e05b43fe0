"""Data and scikit-learn reference metrics for weft's evaluate-step parity tests.

Usage: eval_parity.py SPEC.json

SPEC (written by tests/tests/eval_parity.rs):

    {"cases": [{"name": "binary-ties", "data": "binary_ties",
                "input": "/abs/binary_ties.parquet", "plugin": "classification-metrics",
                "config": {"label": "y", "score": "s"},
                "expected": "/abs/expected/binary-ties.json"}]}

For each distinct `input` this writes the data set `data` (generated with a
fixed seed; .parquet or .csv by the file's extension). For each case it reads
the file back as weft does (pandas; CSV floats parsed exactly) and writes to
`expected` {"metrics": [{"name", "value", "labels"}] or null, "error": null or
the message scikit-learn raised, "sklearn": version}. NaN values are written
as null. The metrics are what the plugin's crate doc promises, computed with
scikit-learn's own functions.
"""

import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn import metrics as skm
from sklearn.utils.multiclass import unique_labels

N = 20_000


def rng(name):
    return np.random.default_rng(sum(map(ord, name)) * 7919)


def binary_ties(r):
    y = (r.random(N) < 0.4).astype(np.int64)
    s = np.clip(np.round(0.3 * y + r.normal(0.35, 0.2, N), 2), 0.0, 1.0)
    return pd.DataFrame({"y": y, "s": s})


def imbalanced(r):
    y = r.random(N) < 0.02
    s = np.where(y, r.beta(5, 3, N), r.beta(2, 8, N))
    return pd.DataFrame({"y": y, "s": s})


def strings(r):
    yes = r.random(N) < 0.55
    s = np.round(np.clip(0.2 * yes + r.random(N) * 0.8, 0, 1), 3)
    return pd.DataFrame({"y": np.where(yes, "yes", "no"), "s": s})


def float_labels(r):
    y = (r.random(N) < 0.3).astype(np.float64)
    return pd.DataFrame({"y": y, "s": np.clip(0.25 * y + r.random(N) * 0.75, 0, 1)})


def decision_scores(r):
    y = (r.random(N) < 0.5).astype(np.int64)
    return pd.DataFrame({"y": y, "s": r.normal(0, 1.5, N) + y})


def one_class(r):
    return pd.DataFrame({"y": np.ones(N, dtype=np.int64), "s": np.round(r.random(N), 2)})


def nan_scores(r):
    frame = binary_ties(r)
    s = frame["s"].to_numpy().copy()
    s[r.choice(N, 42, replace=False)] = np.nan
    frame["s"] = s
    return frame


def null_labels(r):
    frame = binary_ties(r)
    y = pd.array(frame["y"].to_numpy(), dtype="Int64")
    y[r.choice(N, 13, replace=False)] = pd.NA
    frame["y"] = y
    return frame


def empty(r):
    return pd.DataFrame({"y": pd.Series([], dtype=np.int64), "s": pd.Series([], dtype=np.float64)})


def multiclass_int(r):
    y = r.choice(4, N, p=[0.4, 0.3, 0.25, 0.05]).astype(np.int64)
    right = r.random(N) < 0.7
    return pd.DataFrame({"y": y, "p": np.where(right & (y < 3), y, r.integers(0, 3, N))})


def multiclass_text(r):
    classes = np.array(["bird", "cat", "dog", "fish"])
    y = classes[r.choice(3, N, p=[0.2, 0.5, 0.3])]
    right = r.random(N) < 0.6
    return pd.DataFrame({"y": y, "p": np.where(right, y, classes[r.integers(0, 4, N)])})


def regression(r, n=100_000):
    magnitude = 10.0 ** r.uniform(-6, 7, n)
    y = np.where(r.random(n) < 0.01, 0.0, r.choice([-1.0, 1.0], n) * magnitude)
    p = y * (1 + r.normal(0, 0.05, n)) + r.normal(0, 0.01, n)
    return pd.DataFrame({"y": y, "s": p})


def regression_constant(r):
    return pd.DataFrame({"y": np.full(N, 3.0), "s": 3.0 + r.normal(0, 0.1, N)})


def regression_one_row(r):
    return pd.DataFrame({"y": [2.5], "s": [3.0]})


def regression_nan(r):
    frame = regression(r, N)
    y = frame["y"].to_numpy().copy()
    y[r.choice(N, 9, replace=False)] = np.nan
    frame["y"] = y
    return frame


DATA = {f.__name__: f for f in [
    binary_ties, imbalanced, strings, float_labels, decision_scores, one_class, nan_scores,
    null_labels, empty, multiclass_int, multiclass_text, regression, regression_constant,
    regression_one_row, regression_nan,
]}


def write(name, path):
    frame = DATA[name](rng(name))
    if path.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def read(path):
    if path.endswith(".csv"):
        return pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")
    return pd.read_parquet(path)


def metric(name, value, **labels):
    value = float(value)
    return {"name": name, "value": None if math.isnan(value) else value, "labels": labels}


def other_label(y, positive):
    """The negative label: the one other value, or a stand-in when absent."""
    others = [v for v in pd.unique(y) if v != positive]
    if others:
        return others[0]
    return (not positive) if isinstance(positive, bool) else positive + (1 if not isinstance(positive, str) else "_")


def log_loss(y, s):
    """log_loss with both classes known; NaN where scikit-learn rejects scores
    outside [0, 1] (the plugin's documented choice)."""
    try:
        return skm.log_loss(y, s, labels=[False, True])
    except ValueError as e:
        if "y_prob contains values" in str(e):
            return math.nan
        raise


def binary(frame, config):
    y, s = frame[config["label"]].to_numpy(), frame[config["score"]].to_numpy()
    positive, threshold = config.get("positive", 1), config.get("threshold", 0.5)
    negative = other_label(y, positive)
    predicted = np.where(s >= threshold, positive, negative)
    kw = {"pos_label": positive}
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted, labels=[negative, positive]).ravel()
    return [
        metric("accuracy", skm.accuracy_score(y, predicted)),
        metric("precision", skm.precision_score(y, predicted, **kw)),
        metric("recall", skm.recall_score(y, predicted, **kw)),
        metric("f1", skm.f1_score(y, predicted, **kw)),
        metric("roc_auc", skm.roc_auc_score(y == positive, s)),
        metric("log_loss", log_loss(y == positive, s)),
    ] + [metric("confusion_matrix", v, cell=c) for c, v in zip(["tn", "fp", "fn", "tp"], [tn, fp, fn, tp])] + roc_tpr(
        y == positive, s
    )


def roc_tpr(y, s):
    """The ROC curve at fpr 0, 0.05, ..., 1: the highest tpr the curve of
    roc_curve(drop_intermediate=False) reaches there, linear between its
    vertices. None with one class only, as the plugin."""
    if y.all() or not y.any():
        return []
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    out = []
    for i in range(21):
        x = i / 20
        best = -math.inf
        for f0, t0, f1, t1 in zip(fpr[:-1], tpr[:-1], fpr[1:], tpr[1:]):
            if f0 <= x <= f1:
                best = max(best, t1 if f1 == f0 else t0 + (t1 - t0) * (x - f0) / (f1 - f0))
        out.append(metric("roc_tpr", best, fpr=f"{x:.2f}"))
    return out


def class_text(value):
    """How the plugin writes a class: numbers in shortest form, booleans in
    lower case."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    if isinstance(value, (np.floating, float)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def multiclass(frame, config):
    y, p = frame[config["label"]].to_numpy(), frame[config["prediction"]].to_numpy()
    out = [metric("accuracy", skm.accuracy_score(y, p))]
    for average in ("macro", "weighted"):
        for name, f in [("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)]:
            out.append(metric(name, f(y, p, average=average), average=average))
    per_class = skm.precision_recall_fscore_support(y, p, average=None)
    for i, c in enumerate(unique_labels(y, p)):
        for name, values in zip(["precision", "recall", "f1", "support"], per_class):
            out.append(metric(name, values[i], **{"class": class_text(c)}))
    return out


def regression_metrics(frame, config):
    y, p = frame[config["target"]].to_numpy(), frame[config["prediction"]].to_numpy()
    return [
        metric("mae", skm.mean_absolute_error(y, p)),
        metric("mse", skm.mean_squared_error(y, p)),
        metric("rmse", skm.root_mean_squared_error(y, p)),
        metric("r2", skm.r2_score(y, p)),
        metric("mape", skm.mean_absolute_percentage_error(y, p)),
    ]


def expected(case):
    frame, config = read(case["input"]), case["config"]
    if case["plugin"] == "regression-metrics":
        compute = regression_metrics
    else:
        compute = binary if "score" in config else multiclass
    result = {"metrics": None, "error": None, "sklearn": sklearn.__version__}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result["metrics"] = compute(frame, config)
        except (ValueError, TypeError) as e:
            result["error"] = f"{type(e).__name__}: {e}"
    return result


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    written = set()
    for case in spec["cases"]:
        if case["input"] not in written:
            write(case["data"], case["input"])
            written.add(case["input"])
        with open(case["expected"], "w") as f:
            json.dump(expected(case), f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
