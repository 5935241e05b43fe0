"""Scoring a trained model: weft's `onnx-model` step against ONNX Runtime
(PyPI) and the library's own `predict_proba`, on ROWS rows x 8 float32
features, for a 100-tree random forest, a 300-round XGBoost model and a
3-layer MLP (each trained on 20,000 rows, exported with skl2onnx /
onnxmltools as tests/python/onnx_models.py does). Run by bench/models.sh:

    .venv/bin/python bench/models.py [--rows 1000000] [--repeats 3]

weft is timed whole process (`weft run`: read Parquet, score, write
Parquet) with 1 worker and with one per core; ONNX Runtime (one intra-op
thread) and the library (one thread, then all) are timed in process on the
array already in memory. Prints a markdown table of rows/s (median of the
repeats), after checking that weft's probabilities are ONNX Runtime's and
within 1e-5 of the library's.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from sklearn.neural_network import MLPClassifier
from xgboost import XGBClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/python"))
from onnx_models import FEATURES, convert, dataset  # noqa: E402

WORK = ROOT / "target/bench-models"
WASM = ROOT / "target/wasm32-wasip2/release/onnx_model.wasm"


def models(threads):
    """The three models, by the name convert() knows them as, with `threads`."""
    return {
        "forest": RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=threads, random_state=0),
        "xgb": XGBClassifier(n_estimators=300, max_depth=6, n_jobs=threads, random_state=0),
        "mlp": MLPClassifier(hidden_layer_sizes=(64, 64, 32), max_iter=200, random_state=0),
    }


def timed(run, repeats):
    """Median wall seconds of `run()` over `repeats`."""
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def weft_run(weft, name, workers, runtime):
    """`weft run` scoring `name` over the data; the output's probabilities."""
    manifest = WORK / f"{name}.yaml"
    manifest.write_text(
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: { name: bench }\nspec:\n"
        f"  plugins: {{ onnx: {{ path: {WASM} }} }}\n  input: {{ path: {WORK / 'data.parquet'} }}\n"
        f"  output: {{ path: {WORK / name}/ }}\n  steps:\n    - name: score\n      plugin: onnx\n"
        f"      mounts: [{{ path: ., as: /models }}]\n"
        f"      config: {{ model: /models/{name}.onnx, features: [{', '.join(FEATURES)}], "
        "outputs: { probabilities: p } }\n")
    env = dict(os.environ, WEFT_ONNXRUNTIME=runtime)
    command = [str(weft), "run", "-q", "--no-cache", "--compute", "cpu", "--workers", str(workers), str(manifest)]
    subprocess.run(command, check=True, env=env)
    return pd.read_parquet(WORK / name / "data.parquet")["p_1"].to_numpy(np.float64)


def library(model, x, threads):
    """`predict_proba` of `model` on `x` with `threads` (its `n_jobs`, and
    the BLAS threads an MLP's matrix products use)."""
    if "n_jobs" in model.get_params():
        model.set_params(n_jobs=threads)

    def run():
        with threadpool_limits(threads):
            return model.predict_proba(x)
    return run


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weft", default=str(ROOT / "target/release/weft"))
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    runtime = str(next(Path(ort.__file__).parent.glob("capi/libonnxruntime.so.*")))
    train = dataset(20_000, 0)
    data = dataset(args.rows, 1)[FEATURES]
    data.to_parquet(WORK / "data.parquet", index=False, row_group_size=65_536)
    x = data.to_numpy()
    cores = os.cpu_count()
    print(f"| {args.rows:,} rows x 8 f32, rows/s (median of {args.repeats}) | weft, 1 worker | weft, {cores} workers "
          f"| ONNX Runtime, 1 thread | library, 1 thread | library, {cores} threads | weft vs library (1 thread) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, model in models(1).items():
        model.fit(train[FEATURES].to_numpy(), train["label"].to_numpy())
        onnx.save(convert(name, model), WORK / f"{name}.onnx")
        sess = session(WORK / f"{name}.onnx")
        ours = weft_run(args.weft, name, 1, runtime)
        theirs = sess.run(["probabilities"], {"input": x})[0][:, 1]
        predicted = model.predict_proba(x)[:, 1]
        assert np.abs(ours - theirs).max() == 0, f"{name}: weft differs from ONNX Runtime"
        assert np.abs(ours - predicted).max() < 1e-5, f"{name}: {np.abs(ours - predicted).max()} from the library"
        walls = {
            "weft1": timed(lambda: weft_run(args.weft, name, 1, runtime), args.repeats),
            "weftN": timed(lambda: weft_run(args.weft, name, cores, runtime), args.repeats),
            "ort": timed(lambda: sess.run(["probabilities"], {"input": x}), args.repeats),
            "lib1": timed(library(model, x, 1), args.repeats),
            "libN": timed(library(model, x, cores), args.repeats),
        }
        rate = {k: args.rows / v for k, v in walls.items()}
        cells = " | ".join(f"{rate[k] / 1e3:,.0f}k" for k in ["weft1", "weftN", "ort", "lib1", "libN"])
        print(f"| {name} | {cells} | {rate['weft1'] / rate['lib1']:.2f}x |")


if __name__ == "__main__":
    main()
