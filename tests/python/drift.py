"""Reference results for weft's `drift` step, from numpy and SciPy.

Usage: drift.py SPEC.json OUT.json

SPEC lists the cases (see tests/tests/drift.rs):

    {"cases": [{"name": "mixed", "reference": "ref.csv", "current": "cur.csv",
                "columns": ["x", "color"], "bins": 10, "epsilon": 1e-4}]}

Both files are read with pandas as weft reads them (only empty fields are
missing). A column is numeric when pandas reads numbers, else categorical.
For each case OUT gets the metrics weft must report, per column:

    {"mixed": [{"name": "psi", "column": "x", "value": 0.01}, ...]}

- rows, nulls: current rows, and current rows that are null or NaN;
- psi: sum((a - e) * log(a / e)) over buckets, each proportion first floored
  at epsilon (p = max(p, epsilon), no renormalisation). Numeric buckets: the
  interior edges np.unique(np.quantile(reference, np.arange(1, bins) / bins))
  (numpy's default linear method), a value x in bin np.searchsorted(edges, x,
  side="left") (right-closed bins, outer ones open). Categorical buckets: the
  reference categories, then one for categories the reference never had;
- numeric: ks_statistic, ks_pvalue = scipy.stats.ks_2samp(reference, current)
  with its defaults, on the valid values;
- categorical: unseen, current rows in the unseen bucket.

A column without a valid current value has no psi nor KS figures.
"""

import json
import sys

import numpy as np
import pandas as pd
from scipy import stats


def read(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def is_numeric(series):
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def psi(expected, actual, epsilon):
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric(ref, cur, bins, epsilon):
    ref = ref.to_numpy(dtype=float)
    ref = ref[~np.isnan(ref)]
    cur = cur.to_numpy(dtype=float)
    cur = cur[~np.isnan(cur)]
    if len(cur) == 0:
        return {}
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))

    def proportions(values):
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        return counts / len(values)

    ks = stats.ks_2samp(ref, cur)
    return {
        "psi": psi(proportions(ref), proportions(cur), epsilon),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
    }


def categorical(ref, cur, epsilon):
    ref = ref.dropna().map(str).value_counts()
    cur = cur.dropna().map(str).value_counts()
    categories = sorted(ref.index)
    unseen = int(sum(n for c, n in cur.items() if c not in ref.index))
    out = {"unseen": unseen}
    if cur.sum() > 0:
        expected = [ref[c] / ref.sum() for c in categories] + [0.0]
        actual = [cur.get(c, 0) / cur.sum() for c in categories] + [unseen / cur.sum()]
        out["psi"] = psi(expected, actual, epsilon)
    return out


def case(spec):
    ref, cur = read(spec["reference"]), read(spec["current"])
    metrics = []
    for column in spec["columns"]:
        r, c = ref[column], cur[column]
        found = {"rows": len(c), "nulls": int(c.isna().sum())}
        if is_numeric(r):
            found.update(numeric(r, c, spec["bins"], spec["epsilon"]))
        else:
            found.update(categorical(r, c, spec["epsilon"]))
        metrics += [{"name": k, "column": column, "value": float(v)} for k, v in found.items()]
    return metrics


def main():
    spec = json.load(open(sys.argv[1]))
    out = {c["name"]: case(c) for c in spec["cases"]}
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
