"""The serving benchmark's two halves in Python.

    serve_ref.py data DIR        training rows and request bodies (1, 100, 10000
                                 rows; JSON columns and Arrow IPC streams)
    serve_ref.py serve DIR PORT  a minimal scikit-learn HTTP service: the same
                                 3-step transform (impute mean, standard scale,
                                 one-hot), fitted on the same rows, answering
                                 POST /v1/transform with JSON columns
    serve_ref.py agree A B       both answers (JSON files) carry the same numbers
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["x1", "x2", "x3", "x4"]


def rows(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(10 * i, 1 + i, n) for i, c in enumerate(NUMERIC)})
    for c in ["x1", "x2"]:
        frame.loc[rng.random(n) < 0.1, c] = np.nan
    frame["plan"] = rng.choice(["basic", "pro", "enterprise"], n)
    return frame


def columns_json(frame):
    return json.dumps({"columns": {c: [None if pd.isna(v) else v for v in frame[c].tolist()] for c in frame}})


def data(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows(20000, 1).to_csv(folder / "train.csv", index=False)
    for n in [1, 100, 10000]:
        (folder / f"body-{n}.json").write_text(columns_json(rows(n, n)))
        table = pa.Table.from_pandas(rows(n, n), preserve_index=False)
        with pa.ipc.new_stream(folder / f"body-{n}.arrows", table.schema) as stream:
            stream.write_table(table)


def fitted(folder):
    train = pd.read_csv(Path(folder) / "train.csv")
    numeric = Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())])
    transform = ColumnTransformer(
        [("numeric", numeric, NUMERIC), ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
        sparse_threshold=0,
    )
    return transform.fit(train)


def serve(folder, port):
    transform = fitted(folder)
    names = list(transform.get_feature_names_out())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            frame = pd.DataFrame(body["columns"])
            out = transform.transform(frame)
            answer = json.dumps({"columns": {n: out[:, i].tolist() for i, n in enumerate(names)}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def agree(weft_file, python_file):
    """Both services' answers to the same request carry the same numbers."""
    weft = json.loads(Path(weft_file).read_text())["columns"]
    ref = json.loads(Path(python_file).read_text())["columns"]
    pairs = [(c, f"numeric__{c}") for c in NUMERIC]
    pairs += [(f"plan={p}", f"plan__plan_{p}") for p in ["basic", "enterprise", "pro"]]
    for ours, theirs in pairs:
        np.testing.assert_allclose(np.array(weft[ours], float), np.array(ref[theirs], float), rtol=1e-9, atol=1e-9)
    print(f"serve.sh: both services agree on {len(pairs)} columns", file=sys.stderr)


if __name__ == "__main__":
    commands = {
        "data": lambda: data(sys.argv[2]),
        "serve": lambda: serve(sys.argv[2], sys.argv[3]),
        "agree": lambda: agree(sys.argv[2], sys.argv[3]),
    }
    commands[sys.argv[1]]()
