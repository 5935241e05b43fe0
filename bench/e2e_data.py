"""The end-to-end benchmark's data, and the check that two outputs agree.

Both run in a process of their own (`python bench/e2e_data.py make ROWS
PATH`, `... compare REFERENCE OTHER`), so that the timing process never
holds numpy or pyarrow: a child's peak RSS starts at its parent's RSS when
it forks, and must not carry that.
"""

import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from e2e_tools import CAT, NUM

SEED = 20261206
CHUNK = 1_000_000
TOLERANCE = 1e-9


def make(rows, path):
    """Write `rows` rows of input to `path`, deterministically.

    Numbers are float64 with 5 % nulls; c5 and c40 are text with 5 and 40
    skewed categories (a00, a01, ...) and 3 % nulls; label is int64 0/1.
    Each 1M rows are one row group, from their own seeded generator.
    """
    writer = None
    for index, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        rng = np.random.default_rng([SEED, index])
        columns = {c: pa.array(rng.normal(10 * i, 1 + i, n), mask=rng.random(n) < 0.05) for i, c in enumerate(NUM)}
        for c in CAT:
            k = int(c[1:])
            weights = 1 / np.arange(1, k + 1)
            codes = pa.array(rng.choice(k, n, p=weights / weights.sum()), mask=rng.random(n) < 0.03)
            values = pa.array([f"a{j:02d}" for j in range(k)])
            columns[c] = pa.DictionaryArray.from_arrays(codes, values).cast(pa.string())
        columns["label"] = pa.array(rng.integers(0, 2, n), pa.int64())
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
    writer.close()


def compare(reference, other):
    """How `other` differs from `reference`: {"problems": [...], "diff": max abs diff}.

    Column names are compared as a set, then the row count; then each
    common column as float64, one at a time (nulls as NaN, which must sit at
    the same rows), within TOLERANCE.
    """
    ref, out = pq.ParquetFile(reference), pq.ParquetFile(other)
    ref_names, out_names = set(ref.schema_arrow.names), set(out.schema_arrow.names)
    problems = []
    if ref_names != out_names:
        problems.append(f"columns only in weft's output: {sorted(ref_names - out_names)}, "
                        f"only in this one: {sorted(out_names - ref_names)}")
    if ref.metadata.num_rows != out.metadata.num_rows:
        problems.append(f"{out.metadata.num_rows} rows, weft {ref.metadata.num_rows}")
        return {"problems": problems, "diff": float("nan")}
    worst = 0.0
    for name in sorted(ref_names & out_names):
        try:
            a, b = (f.read([name]).column(0).cast(pa.float64()).to_numpy() for f in (ref, out))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            problems.append(f"column {name} is not numeric: {e}")
            continue
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append(f"column {name}: missing values at other rows")
        diff = float(np.nanmax(np.abs(a - b), initial=0.0))
        if diff > TOLERANCE:
            problems.append(f"column {name}: max abs diff {diff:.3g} > {TOLERANCE:g}")
        worst = max(worst, diff)
    return {"problems": problems, "diff": worst}


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(int(sys.argv[2]), sys.argv[3])
    else:
        print(json.dumps(compare(sys.argv[2], sys.argv[3])))
