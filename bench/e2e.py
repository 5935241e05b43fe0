"""End-to-end benchmark: `weft run` against polars, DuckDB and scikit-learn.

Generates the data (cached in target/bench-data/), checks on the smallest
size that every tool's output agrees with weft's, then times each tool as
its own process, in rotating order, and prints a markdown section; with
--write it also replaces that section in BENCHMARKS.md. The pipelines are in
e2e_tools.py. Run through bench/e2e.sh, which builds weft and installs the
Python packages first.
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from e2e_tools import weft_manifest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "target/bench-data"
WORK = ROOT / "target/bench-e2e"
PLUGINS = ROOT / "target/wasm32-wasip2/release"
HERE = Path(__file__).resolve().parent
TOOLS = ("weft", "polars", "duckdb", "sklearn")
TITLE = "## End to end: weft vs polars, DuckDB, scikit-learn"
START, END = "<!-- e2e:start -->", "<!-- e2e:end -->"


def parse_rows(text):
    """Row counts from `50k,1M,2.5M` (suffixes k and M)."""
    scale = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        factor = scale.get(item[-1:], 1)
        sizes.append(int(float(item.rstrip("km")) * factor))
    return sorted(sizes)


def label(rows):
    """A row count as the table shows it: 50k, 1M, 2.5M."""
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:g}M"
    return f"{rows / 1_000:g}k" if rows >= 1_000 else str(rows)


def make_data(rows):
    """The input of `rows` rows: generated once (by e2e_data.py), then cached."""
    path = DATA / f"e2e-{rows}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        print(f"e2e: generating {path.relative_to(ROOT)}", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "e2e_data.py"), "make", str(rows), str(partial)], check=True)
        partial.rename(path)
    return path


def run_tool(tool, weft, source, folder):
    """Run one tool as its own process; returns (wall s, peak RSS MiB, output).

    Wall is time.monotonic around the child; peak RSS is that child's own
    ru_maxrss, from os.wait4. A child's ru_maxrss starts at its parent's RSS
    at the fork, so this process holds no data (about 11 MiB). Raises
    RuntimeError("failed (why)", end of the child's output) when it fails.
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if tool == "weft":
        manifest = folder / "pipeline.yaml"
        manifest.write_text(weft_manifest(PLUGINS, source, folder / "out"))
        # A fresh output folder: no run is answered from the output cache.
        # Without --no-cache, the plugins come compiled from weft's on-disk
        # cache (filled by the agreement run), as on a user's second run.
        command = [str(weft), "run", "-q", "--compute", "cpu", str(manifest)]
        output = folder / "out/data.parquet"
    else:
        output = folder / "out.parquet"
        command = [sys.executable, str(HERE / "e2e_tools.py"), tool, str(source), str(output)]
    log = folder / "log.txt"
    with open(log, "wb") as sink:
        start = time.monotonic()
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
    child.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        why = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        raise RuntimeError(f"failed ({why})", log.read_text(errors="replace")[-2000:])
    return wall, usage.ru_maxrss / 1024, output


def compare(reference, other):
    """How `other` differs from `reference` (e2e_data.compare, in its own process)."""
    command = [sys.executable, str(HERE / "e2e_data.py"), "compare", str(reference), str(other)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def check_agreement(args, rows):
    """Run every tool once on `rows` rows and compare each output with weft's.

    Returns {tool: max abs diff}; exits non-zero when any tool disagrees.
    """
    source = make_data(rows)
    folders = {tool: WORK / f"check-{tool}" for tool in ("weft", *args.tools)}
    outputs = {}
    for tool, folder in folders.items():
        try:
            outputs[tool] = run_tool(tool, args.weft, source, folder)[2]
        except RuntimeError as e:
            sys.exit(f"e2e: {tool} {e.args[0]} at {label(rows)} rows, so nothing is timed:\n{e.args[1]}")
    diffs, failed = {}, False
    for tool in args.tools:
        if tool == "weft":
            continue
        found = compare(outputs["weft"], outputs[tool])
        problems, diffs[tool] = found["problems"], found["diff"]
        print(f"agreement at {label(rows)} rows: {tool} vs weft: max abs diff {diffs[tool]:.3g}", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        failed |= bool(problems)
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        sys.exit("e2e: the tools' outputs disagree with weft's; not timing them")
    return diffs


def time_size(args, rows):
    """Time every tool `--repeats` times on `rows` rows, in rotating order.

    Returns {tool: [(wall, rss), ...]} or {tool: "error message"} for a tool
    that failed (it is not run again at this size).
    """
    source = make_data(rows)
    results = {tool: [] for tool in args.tools}
    for round_ in range(args.repeats):
        shift = round_ % len(args.tools)
        for tool in args.tools[shift:] + args.tools[:shift]:
            if isinstance(results[tool], str):
                continue
            folder = WORK / f"{tool}-{rows}"
            try:
                wall, rss, _ = run_tool(tool, args.weft, source, folder)
                results[tool].append((wall, rss))
                print(f"{label(rows)} rows, round {round_ + 1}: {tool} {wall:.2f} s, {rss:.0f} MiB",
                      file=sys.stderr)
            except RuntimeError as e:
                print(f"{label(rows)} rows: {tool} {e.args[0]}:\n{e.args[1]}", file=sys.stderr)
                results[tool] = e.args[0]
            shutil.rmtree(folder, ignore_errors=True)
    return results


def machine():
    """CPU model, core count and RAM of this machine, in words."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return f"{models[0] if models else 'unknown CPU'}, {shell('nproc')} cores, {kib / 2**20:.1f} GiB RAM"


def shell(*command):
    """The first line a command prints, or 'unknown'."""
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def versions(weft):
    """The versions the table was measured with, in words."""
    python = ", ".join(f"{name} {metadata.version(name)}"
                       for name in ("polars", "duckdb", "pyarrow", "pandas", "scikit-learn", "numpy"))
    where = weft.relative_to(ROOT) if weft.is_relative_to(ROOT) else weft
    return (f"weft {shell('git', 'rev-parse', '--short', 'HEAD')} (`{where}`, {shell('rustc', '--version')}), "
            f"{python}, Python {sys.version.split()[0]}")


def render(args, diffs, results):
    """The markdown section: how it was run, and one table of every size."""
    repeats = args.repeats
    lines = [
        TITLE,
        "",
        "The same pipeline in each tool, each run as its own process (wall and peak RSS are the whole "
        "process's, start-up and Parquet read and write included): median imputation and standard scaling "
        "of six float64 columns (5 % nulls), most-frequent imputation and one-hot encoding of two text "
        "columns of 5 and 40 categories (3 % nulls) into uint8 indicators (polars' `to_dummies` type; "
        "weft's one-hot `dtype: uint8`), a label passed through; Parquet in and out, each tool's "
        "default Parquet writer settings. "
        "Each tool uses its default threads (all cores for weft, polars and DuckDB). "
        "Pipelines in `bench/e2e_tools.py`. weft runs with `--compute cpu` into a fresh output folder each "
        "time, its plugins compiled in its on-disk cache by an earlier run.",
        "",
        f"Command: `./bench/e2e.sh {shlex.join(sys.argv[1:])}`, {datetime.date.today()}.  ",
        f"Machine: {machine()}.  ",
        f"Versions: {versions(args.weft)}.  ",
        f"Agreement with weft's output at {label(min(args.rows))} rows (max abs diff): "
        + (", ".join(f"{tool} {d:.1e}" for tool, d in diffs.items()) or "only weft ran") + ".",
        "",
        f"| rows | tool | wall (median of {repeats}) | spread (min–max) | peak RSS (median) | vs polars |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for rows, by_tool in results.items():
        base = by_tool.get("polars")
        base = statistics.median(w for w, _ in base) if isinstance(base, list) and base else None
        for tool, runs in by_tool.items():
            if isinstance(runs, str):
                lines.append(f"| {label(rows)} | {tool} | {runs} | | | |")
                continue
            walls = [w for w, _ in runs]
            wall = statistics.median(walls)
            ratio = f"{wall / base:.2f}×" if base else "n/a"
            lines.append(f"| {label(rows)} | {tool} | {wall:.2f} s | {min(walls):.2f}–{max(walls):.2f} s "
                         f"| {statistics.median(r for _, r in runs):.0f} MiB | {ratio} |")
    return "\n".join(lines) + "\n"


def write_benchmarks(section):
    """Put the section between the e2e markers of BENCHMARKS.md (appended the first time)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    block = f"{START}\n{section}{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def parse_args():
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weft", default=str(ROOT / "target/release/weft"), help="the weft binary to run")
    parser.add_argument("--rows", type=parse_rows, default=parse_rows("1M,5M,20M"), help="sizes, e.g. 50k,1M,20M")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each tool at each size")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    parser.add_argument("--write", action="store_true", help="also write the section into BENCHMARKS.md")
    args = parser.parse_args()
    args.tools = [t.strip() for t in args.tools.split(",")]
    unknown = set(args.tools) - set(TOOLS)
    if unknown or args.repeats < 1:
        parser.error(f"unknown tools {sorted(unknown)}" if unknown else "--repeats must be at least 1")
    args.weft = Path(args.weft).resolve()
    if not os.access(args.weft, os.X_OK):
        parser.error(f"no weft binary at {args.weft} (the agreement check needs it; see --weft)")
    return args


def main():
    """Check agreement, time every size, print (and maybe write) the section."""
    args = parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    diffs = check_agreement(args, min(args.rows))
    results = {rows: time_size(args, rows) for rows in args.rows}
    section = render(args, diffs, results)
    print(section)
    if args.write:
        write_benchmarks(section)
        print("e2e: wrote the section into BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
