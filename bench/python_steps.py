"""The Python `scale` step against the Rust one and scikit-learn, whole
process, on ROWS rows x 8 float32 columns of Parquet (generated once into
target/bench-data/). Run by bench/python_steps.sh, which builds everything:

    .venv/bin/python bench/python_steps.py [--rows 10000000] [--repeats 3]

Prints a markdown table: component size and build time, the first run
(`--no-compile-cache`) with Winch (weft's default for a component this
large) and with Cranelift, then each tool's wall time and peak RSS (median
of the repeats, run in rotating order; the Python step under both
compilers), after checking that the outputs agree.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "target/bench-data"
WORK = ROOT / "target/bench-python"
WASM = {"rust": ROOT / "target/wasm32-wasip2/release/scale.wasm", "python": WORK / "scale.wasm"}
COMPILERS = {"python": "winch", "python-cranelift": "cranelift", "rust": "auto"}
COLUMNS = [f"f{i}" for i in range(8)]


def timed(command, **kw):
    """Wall seconds and peak RSS (MiB) of `command`, which must succeed."""
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"python_steps: {command} failed:\n{child.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def data(rows):
    """ROWS x 8 float32 normal columns, one row group per 1M rows."""
    path = DATA / f"f32x8-{rows}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        script = (
            "import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq\n"
            "rows, path = int(sys.argv[1]), sys.argv[2]\n"
            "rng = np.random.default_rng(15)\n"
            "t = pa.table({f'f{i}': rng.normal(i, 1 + i, rows).astype(np.float32) for i in range(8)})\n"
            "pq.write_table(t, path + '.part', row_group_size=1_000_000)\n"
        )
        subprocess.run([sys.executable, "-c", script, str(rows), str(path)], check=True)
        os.replace(f"{path}.part", path)
    return path


def manifest(tool, source):
    """A `weft run` manifest of one `scale` step (standard) from `tool`'s plugin."""
    path = WORK / f"{tool}.yaml"
    path.write_text(
        f"apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: {tool} }}\nspec:\n"
        f"  plugins: {{ scale: {{ path: {WASM[tool]} }} }}\n  input: {{ path: {source} }}\n"
        f"  output: {{ path: {WORK / tool}/ }}\n  steps:\n    - name: s\n      plugin: scale\n"
        f"      config: {{ columns: [{', '.join(COLUMNS)}], method: standard }}\n"
    )
    return path


SKLEARN = (
    "import sys, pyarrow as pa, pyarrow.parquet as pq\n"
    "from sklearn.preprocessing import StandardScaler\n"
    "t = pq.read_table(sys.argv[1]); x = t.to_pandas().to_numpy()\n"
    "y = StandardScaler().fit_transform(x)\n"
    "pq.write_table(pa.table({c: y[:, i] for i, c in enumerate(t.column_names)}), sys.argv[2])\n"
)


def command(tool, source, weft):
    """The command that runs `tool` on `source`."""
    if tool == "sklearn":
        return [sys.executable, "-c", SKLEARN, str(source), str(WORK / "sklearn.parquet")]
    plugin = "python" if tool.startswith("python") else tool
    return [str(weft), "run", "-q", "--no-cache", "--compute", "cpu", "--compiler", COMPILERS[tool],
            str(manifest(plugin, source))]


def outputs_agree():
    """Largest difference between the Python step's, the Rust step's and scikit-learn's outputs."""
    script = (
        "import sys, numpy as np, pyarrow.parquet as pq\n"
        "a, b, c = (pq.read_table(p).to_pandas()[[f'f{i}' for i in range(8)]].to_numpy(np.float64) for p in sys.argv[1:])\n"
        "print(max(float(np.abs(a - b).max()), float(np.abs(a - c).max())))\n"
    )
    paths = [WORK / "python/data.parquet", WORK / "rust/data.parquet", WORK / "sklearn.parquet"]
    out = subprocess.run([sys.executable, "-c", script, *map(str, paths)], check=True, capture_output=True, text=True)
    return float(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weft", default=str(ROOT / "target/release/weft"))
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    componentize = Path(sys.executable).with_name("componentize-py")
    build = [str(componentize), "-d", "wit", "-w", "plugin", "componentize", "scale",
             "-p", "plugins-py/scale", "-p", "sdk/python", "-o", str(WASM["python"])]
    built, _ = timed(build, cwd=ROOT)
    source = data(args.rows)
    first = {compiler: timed([args.weft, "run", "-q", "--no-compile-cache", "--compute", "cpu", "--compiler",
                              compiler, str(manifest("python", source))])[0] for compiler in ("winch", "cranelift")}
    tools = ["python", "python-cranelift", "rust", "sklearn"]
    for tool in tools:
        timed(command(tool, source, args.weft))
    diff = outputs_agree()
    runs = {tool: [] for tool in tools}
    for round_ in range(args.repeats):
        for tool in tools[round_ % len(tools):] + tools[:round_ % len(tools)]:
            runs[tool].append(timed(command(tool, source, args.weft)))
    size = WASM["python"].stat().st_size / 1e6
    print(f"Python `scale` component: {size:.1f} MB, built in {built:.1f} s; first `weft run` "
          f"of it (compile included, `--no-compile-cache`) {first['winch']:.1f} s with Winch (the default), "
          f"{first['cranelift']:.1f} s with Cranelift; outputs agree to {diff:.1e}.\n")
    print(f"| {args.rows:,} rows x 8 f32, standard scaling | wall (median of {args.repeats}) | peak RSS | vs Rust step |")
    print("| --- | ---: | ---: | ---: |")
    rust = statistics.median(w for w, _ in runs["rust"])
    labels = [("python", "weft, Python step (Winch)"), ("python-cranelift", "weft, Python step (Cranelift)"),
              ("rust", "weft, Rust step"), ("sklearn", "scikit-learn")]
    for tool, label in labels:
        wall = statistics.median(w for w, _ in runs[tool])
        rss = statistics.median(r for _, r in runs[tool])
        print(f"| {label} | {wall:.2f} s | {rss:.0f} MiB | {wall / rust:.2f}x |")


if __name__ == "__main__":
    main()
