"""Reference results from scikit-learn for weft's parity tests.

Usage: parity.py SPEC.json

SPEC names the cases (see tests/tests/parity.rs):

    {"cases": [{"name": "impute-mean",
                "estimator": "SimpleImputer", "params": {"strategy": "mean"},
                "columns": ["a", "b"],
                "fit": "train.csv",
                "apply": [["train.csv", "out/impute-mean.train"], ...]}]}

For each case the estimator is fitted on the named columns of `fit` (read
with pandas, as weft reads it: empty fields are missing), then applied to each
`apply` file. For each application it writes PREFIX.parquet, the whole frame
weft is expected to produce (columns in weft's order: the case's columns
replaced in place by their outputs, the others passed through; numbers as
float64, missing as NaN; text as strings, missing as null), and PREFIX.json:
{"error": null or the message sklearn raised, "fitted": the fitted
attributes, for reports}.
"""

import json
import math
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)

ESTIMATORS = {
    "SimpleImputer": SimpleImputer,
    "StandardScaler": StandardScaler,
    "MinMaxScaler": MinMaxScaler,
    "RobustScaler": RobustScaler,
    "OneHotEncoder": OneHotEncoder,
    "KBinsDiscretizer": KBinsDiscretizer,
}

FITTED = [
    "statistics_", "mean_", "var_", "scale_", "center_", "min_",
    "data_min_", "data_max_", "data_range_", "categories_", "n_samples_seen_",
    "bin_edges_", "n_bins_",
]


def read(path):
    # Only empty fields are missing, as in weft's CSV reader.
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def plain(value):
    """JSON-friendly copy of a fitted attribute."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.dtype != object else [plain(v) for v in value]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        if math.isinf(value):
            # JSON has no infinity (KBinsDiscretizer's constant-column edges).
            return "inf" if value > 0 else "-inf"
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def label(value):
    """How weft names a category in a one-hot column: `col=value`, with
    missing values as the category `null` (scikit-learn's `nan`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return str(int(v)) if v.is_integer() else repr(v)
    return str(value)


def arrow_column(values):
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        return pa.array(values.astype(np.float64), type=pa.float64())
    return pa.array([None if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v) for v in values],
                    type=pa.string())


def run_case(case):
    fit = read(case["fit"])
    columns = case["columns"]
    params = dict(case["params"])
    if case["estimator"] == "OneHotEncoder":
        params["sparse_output"] = False
        if "dtype" in params:
            params["dtype"] = np.dtype(params["dtype"])
    for key in ("feature_range", "quantile_range"):
        if key in params:
            params[key] = tuple(params[key])
    estimator = ESTIMATORS[case["estimator"]](**params)
    estimator.fit(fit[columns])
    fitted = {k: plain(getattr(estimator, k)) for k in FITTED if hasattr(estimator, k)}
    for path, prefix in case["apply"]:
        frame = read(path)
        meta = {"error": None, "fitted": fitted, "sklearn": sklearn.__version__}
        try:
            result = estimator.transform(frame[columns])
        except ValueError as e:
            meta["error"] = str(e)
            result = None
        if result is not None:
            result = np.asarray(result)
            meta["dtype"] = str(result.dtype)
            if case["estimator"] == "OneHotEncoder":
                outputs, at = {}, 0
                for col, cats in zip(columns, estimator.categories_):
                    outputs[col] = [(f"{col}={label(c)}", result[:, at + j]) for j, c in enumerate(cats)]
                    at += len(cats)
            else:
                outputs = {col: [(col, result[:, j])] for j, col in enumerate(columns)}
            names, arrays = [], []
            for col in frame.columns:
                for name, values in outputs.get(col, [(col, frame[col].to_numpy())]):
                    names.append(name)
                    arrays.append(arrow_column(values))
            pq.write_table(pa.table(arrays, names=names), prefix + ".parquet")
        with open(prefix + ".json", "w") as f:
            json.dump(meta, f, indent=1)


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    for case in spec["cases"]:
        run_case(case)


if __name__ == "__main__":
    main()
