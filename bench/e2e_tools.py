"""The end-to-end benchmark's pipeline, written once per tool.

Every tool does the same: median imputation of the numeric columns, then
standard scaling (population std, as scikit-learn's StandardScaler); most
frequent imputation of the text columns (the smallest value among ties),
then one-hot encoding; `label` passes through. The output follows weft's
layout: each text column `c` is replaced, at its place, by `c=<value>`
uint8 columns in sorted order of the values (polars' `to_dummies` type,
weft's one-hot `dtype: uint8`, scikit-learn's `dtype=np.uint8`), so the
columns are n0..n5, c5=..., c40=..., label.

`python bench/e2e_tools.py TOOL IN OUT` runs one tool (polars, duckdb,
sklearn) as its own process; each imports only its own libraries, so its
peak RSS is its own. weft runs as its own binary on `weft_manifest`.
"""

import sys

NUM = [f"n{i}" for i in range(6)]
CAT = ["c5", "c40"]


def weft_manifest(plugins, source, out):
    """The weft Pipeline manifest (YAML) of the pipeline, all paths absolute.

    The numbers and the text columns are filled in two steps that both read
    the input; `scale` needs both, and `encode` follows `scale`, so the
    output is one chain's and holds every column once. (Had `scale` needed
    only fill-num and `encode` only fill-cat, the output would be the union
    of both branches, and the raw c5 and c40, which `encode` drops, would
    come back through `scale`'s branch, nulls and all.)

    Median imputation keeps its columns on the host until fit ends (about
    49 bytes a row for six float64 columns with nulls); past a quarter of
    the default host budget (256 MiB) weft moves them to a spill file in
    $TMPDIR and reads them back a column at a time, so every step runs
    with weft's default limits whatever the row count.
    """
    num, cat = ", ".join(NUM), ", ".join(CAT)
    return f"""apiVersion: weft.dev/v1alpha1
kind: Pipeline
metadata: {{ name: e2e }}
spec:
  plugins:
    impute: {{ path: {plugins}/impute.wasm }}
    scale: {{ path: {plugins}/scale.wasm }}
    one-hot: {{ path: {plugins}/one_hot.wasm }}
  input: {{ path: {source} }}
  output: {{ path: {out}/ }}
  steps:
    - name: fill-num
      plugin: impute
      config: {{ columns: [{num}], strategy: median }}
    - name: fill-cat
      plugin: impute
      config: {{ columns: [{cat}], strategy: most_frequent }}
    - name: scale
      plugin: scale
      needs: [fill-num, fill-cat]
      config: {{ columns: [{num}], method: standard }}
    - name: encode
      plugin: one-hot
      needs: [scale]
      config: {{ columns: [{cat}], dtype: uint8 }}
"""


def run_polars(source, out):
    """The pipeline in eager polars."""
    import polars as pl

    df = pl.read_parquet(source)
    df = df.with_columns(pl.col(c).fill_null(pl.col(c).median()) for c in NUM)
    df = df.with_columns((pl.col(c) - pl.col(c).mean()) / pl.col(c).std(ddof=0) for c in NUM)
    df = df.with_columns(pl.col(c).fill_null(df[c].drop_nulls().mode().min()) for c in CAT)
    # to_dummies puts `c=<value>` at c's place, values sorted, as weft does.
    df.to_dummies(CAT, separator="=").write_parquet(out)


def run_duckdb(source, out):
    """The pipeline as one DuckDB query; the categories come from a first query."""
    import duckdb

    con = duckdb.connect()
    src = f"read_parquet('{source}')"
    distinct = "SELECT DISTINCT {0} FROM {1} WHERE {0} IS NOT NULL ORDER BY 1"
    cats = {c: [v for (v,) in con.sql(distinct.format(c, src)).fetchall()] for c in CAT}
    medians = ", ".join(f"median({c}) AS {c}" for c in NUM)
    modes = "".join(
        f"mode_{c} AS (SELECT {c} AS v FROM src WHERE {c} IS NOT NULL"
        f" GROUP BY {c} ORDER BY count(*) DESC, {c} LIMIT 1),\n"
        for c in CAT
    )
    filled = ", ".join(
        [f"coalesce(src.{c}, med.{c}) AS {c}" for c in NUM]
        + [f"coalesce(src.{c}, mode_{c}.v) AS {c}" for c in CAT]
    )
    stats = ", ".join(f"avg({c}) AS m_{c}, stddev_pop({c}) AS s_{c}" for c in NUM)
    select = ", ".join(
        [f"({c} - m_{c}) / s_{c} AS {c}" for c in NUM]
        + [f"CASE WHEN {c} = '{v}' THEN 1 ELSE 0 END::UTINYINT AS \"{c}={v}\"" for c in CAT for v in cats[c]]
        + ["label"]
    )
    con.sql(f"""COPY (
        WITH src AS (SELECT * FROM {src}),
        med AS (SELECT {medians} FROM src),
        {modes}filled AS (SELECT {filled}, label FROM src, med, {", ".join(f"mode_{c}" for c in CAT)}),
        stats AS (SELECT {stats} FROM filled)
        SELECT {select} FROM filled, stats
    ) TO '{out}' (FORMAT parquet)""")


def run_sklearn(source, out):
    """The pipeline as a scikit-learn ColumnTransformer over pandas."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = pd.read_parquet(source, engine="pyarrow")
    # Indicator columns named `c=<value>`, as weft names them.
    encoder = OneHotEncoder(
        sparse_output=False, dtype=np.uint8, feature_name_combiner=lambda c, value: f"{c}={value}"
    )
    transformer = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUM),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), CAT),
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    transformer.fit_transform(df).to_parquet(out, index=False)


RUNNERS = {"polars": run_polars, "duckdb": run_duckdb, "sklearn": run_sklearn}

if __name__ == "__main__":
    tool, source, out = sys.argv[1:]
    RUNNERS[tool](source, out)
