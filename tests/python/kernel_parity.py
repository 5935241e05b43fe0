"""numpy's answers for weft's kernel parity test (tests/tests/kernel_parity.rs).

Usage: kernel_parity.py SPEC.json OUT.json

SPEC:

    {"methods": ["inverted_cdf", ...],
     "datasets": [{"name": "ties",
                   "values": [1.5, null, "nan", "inf", ...],
                   "qs": [0.0, 0.25, ...],
                   "edges": [[-1.0, 0.0, 2.5], ...]}]}

A value is a number, "nan", "inf", "-inf", or null (a missing value).
For each dataset, OUT holds `numpy.quantile(valid, qs, method=m)` for every
method, where `valid` are the values that are neither null nor NaN (weft's
kernels skip both), and `numpy.digitize(valid, edges, right)` for every
edge list and both `right`s, put back at the values' positions with null
where the value is missing (numpy would bin NaN past the last edge; weft
gives null). Floats that JSON cannot hold are written as "nan", "inf",
"-inf":

    {"numpy": "2.4.6",
     "datasets": [{"name": "ties",
                   "quantiles": {"inverted_cdf": [...], ...},
                   "digitize": [{"edges": 0, "right": false, "bins": [2, null, ...]}, ...]}]}
"""

import json
import math
import sys

import numpy as np


def number(v):
    return float(v) if isinstance(v, str) else v


def plain(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def run(dataset, methods):
    values = [None if v is None else number(v) for v in dataset["values"]]
    present = [i for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    valid = np.array([values[i] for i in present], dtype=np.float64)
    qs = np.array(dataset["qs"], dtype=np.float64)
    out = {"name": dataset["name"], "quantiles": {}, "digitize": []}
    for method in methods:
        out["quantiles"][method] = [plain(x) for x in np.quantile(valid, qs, method=method)]
    for at, edges in enumerate(dataset["edges"]):
        edges = np.array([number(e) for e in edges], dtype=np.float64)
        for right in (False, True):
            bins = [None] * len(values)
            for i, b in zip(present, np.digitize(valid, edges, right=right)):
                bins[i] = int(b)
            out["digitize"].append({"edges": at, "right": right, "bins": bins})
    return out


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    result = {
        "numpy": np.__version__,
        "datasets": [run(d, spec["methods"]) for d in spec["datasets"]],
    }
    with open(sys.argv[2], "w") as f:
        json.dump(result, f, allow_nan=False)


if __name__ == "__main__":
    main()
