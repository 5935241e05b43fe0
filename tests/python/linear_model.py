"""Reference scores from scikit-learn for weft's linear-model tests.

Usage: linear_model.py OUTDIR

Generates 20,000 rows (fixed seed) with float64, float32 and int64 features,
fits LogisticRegression on a binary target and LinearRegression on a
continuous one, and writes (see tests/tests/linear_model.rs):

    OUTDIR/data.parquet        the input weft scores
    OUTDIR/expected.parquet    proba = predict_proba(X)[:, 1],
                               decision = decision_function(X),
                               predict = LinearRegression.predict(X)
    OUTDIR/models/logistic.json, OUTDIR/models/linear.json
                               {"features": [...], "weights": coef_, "intercept": intercept_}
"""

import json
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LinearRegression, LogisticRegression

ROWS = 20_000
FEATURES = ["x0", "x1", "x2", "x3", "count", "f32"]


def data(rng):
    """The input frame: features of three types, targets, and text."""
    df = pd.DataFrame({
        "id": np.arange(ROWS, dtype=np.int64),
        "x0": rng.normal(0.0, 1.0, ROWS),
        "x1": rng.normal(5.0, 2.0, ROWS),
        "x2": rng.uniform(-3.0, 3.0, ROWS),
        "x3": rng.lognormal(0.0, 1.0, ROWS),
        "count": rng.poisson(3.0, ROWS).astype(np.int64),
        "f32": rng.normal(0.0, 1.0, ROWS).astype(np.float32),
    })
    z = (0.8 * df.x0 - 0.5 * df.x1 + 1.2 * df.x2 + 0.2 * df.x3
         + 0.3 * df["count"] - 0.7 * df.f32 + 1.5)
    df["label"] = (z + rng.logistic(0.0, 1.0, ROWS) > 0).astype(np.int64)
    df["target"] = (3.0 * df.x0 - 2.0 * df.x1 + 0.5 * df.x2 + 0.25 * df.x3
                    + 1.5 * df["count"] + df.f32 + rng.normal(0.0, 0.5, ROWS))
    df["tag"] = np.where(df.id % 3 == 0, "a", "b")
    return df


def model_file(path, model):
    with open(path, "w") as f:
        json.dump({
            "features": FEATURES,
            "weights": [float(w) for w in np.ravel(model.coef_)],
            "intercept": float(np.ravel(model.intercept_)[0]),
        }, f)


def main(out):
    df = data(np.random.default_rng(20240611))
    X = df[FEATURES].to_numpy(dtype=np.float64)
    logistic = LogisticRegression(max_iter=1000).fit(X, df.label)
    linear = LinearRegression().fit(X, df.target)
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata()
    at = table.schema.get_field_index("tag")
    table = table.set_column(at, "tag", table["tag"].cast(pa.string()))
    pq.write_table(table, os.path.join(out, "data.parquet"))
    expected = pa.table({
        "proba": logistic.predict_proba(X)[:, 1],
        "decision": logistic.decision_function(X),
        "predict": linear.predict(X),
    })
    pq.write_table(expected, os.path.join(out, "expected.parquet"))
    model_file(os.path.join(out, "models", "logistic.json"), logistic)
    model_file(os.path.join(out, "models", "linear.json"), linear)


if __name__ == "__main__":
    main(sys.argv[1])
