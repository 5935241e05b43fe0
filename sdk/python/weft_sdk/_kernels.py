"""weft's compute kernels under CPython, over numpy and pyarrow, for the
native backend: they follow the Rust kernels (``kernels/src``).

Nulls and NaN both count as missing. ``column_stats`` adds in the same eight
lanes in the same order as the Rust kernel, so its sums, means and m2 are
the same bits; ``quantiles`` is ``numpy.quantile``, which the Rust kernel
reproduces. Messages follow the kernels' (Arrow type names included).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import InvalidInput
from .types import Dtype, Indicator, QuantileMethod, Scalar, Stats, UnknownPolicy

#: Lanes of the Rust kernel's sums (``LANES`` in kernels/src/stats.rs).
LANES = 8

_ARROW_NAMES = {
    "double": "Float64", "float": "Float32", "halffloat": "Float16", "bool": "Boolean",
    "string": "Utf8", "large_string": "LargeUtf8", "string_view": "Utf8View",
}  # fmt: skip

STORAGE = {Dtype.F64: pa.float64(), Dtype.F32: pa.float32(), Dtype.S64: pa.int64(),
            Dtype.BOOLEAN: pa.bool_(), Dtype.TEXT: pa.string()}  # fmt: skip

_INDICATORS = {"float64": pa.float64(), "float32": pa.float32(), "uint8": pa.uint8(), "bool": pa.bool_()}

_CATEGORICAL = "a numeric, boolean or text column"


def dtype_of(array: pa.Array) -> Dtype | None:
    """The weft type of an Arrow array, as the host sees it."""
    t = array.type
    if pa.types.is_float64(t):
        return Dtype.F64
    if pa.types.is_float32(t) or pa.types.is_float16(t):
        return Dtype.F32
    if pa.types.is_integer(t):
        return Dtype.S64
    if pa.types.is_boolean(t):
        return Dtype.BOOLEAN
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return Dtype.TEXT
    return None


def arrow_name(array: pa.Array) -> str:
    """Arrow's (Rust) name of the array's type, e.g. ``Float64`` or ``Utf8``."""
    name = str(array.type)
    if name in _ARROW_NAMES:
        return _ARROW_NAMES[name]
    if name.startswith(("int", "uint")):
        return name.replace("uint", "UInt").replace("int", "Int")
    return name


def refused(kernel: str, array: pa.Array, expected: str) -> InvalidInput:
    """The error of a kernel given a column of the wrong type."""
    return InvalidInput(f"{kernel} does not accept a {arrow_name(array)} column (expected {expected})")


def show(value: Scalar) -> str:
    """``value`` as Rust's ``Display`` writes a scalar (``2.0`` as ``2``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


def floats(array: pa.Array, kernel: str) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as f64 values (nulls as NaN) and where they are valid."""
    if dtype_of(array) not in (Dtype.F32, Dtype.F64, Dtype.S64):
        raise refused(kernel, array, "a numeric column")
    values = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return values, ~np.isnan(values)


def nulls_of(array: pa.Array) -> np.ndarray | None:
    """Where the array is null, or ``None`` when nowhere."""
    return None if array.null_count == 0 else ~np.asarray(array.is_valid())


def lane_sums(start: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``start`` plus ``values`` added lane by lane (value ``i`` to lane
    ``i % 8``) in order, as the Rust kernel's loops add them."""
    padded = np.zeros(-(-len(values) // LANES) * LANES)
    padded[: len(values)] = values
    return np.add.reduce(np.vstack([start[None, :], padded.reshape(-1, LANES)]), axis=0)


def fold(lanes: np.ndarray) -> float:
    """The lanes summed left to right (not ``sum()``, which compensates)."""
    total = 0.0
    for lane in lanes.tolist():
        total += lane
    return total


def column_stats(arrays: list[pa.Array]) -> Stats:
    """The Rust kernel's two passes: sums, then squared deviations with a
    rounding correction (as scikit-learn)."""
    parts = [floats(a, "column-stats") for a in arrays]
    rows = sum(len(a) for a in arrays)
    count = int(sum(int(valid.sum()) for _, valid in parts))
    if count == 0:
        return Stats(nulls=rows, mean=math.nan, min=math.nan, max=math.nan)
    lanes = np.zeros(LANES)
    for values, valid in parts:
        lanes = lane_sums(lanes, np.where(valid, values, 0.0))
    total = fold(lanes)
    mean = total / count
    sq, dev = np.zeros(LANES), np.zeros(LANES)
    for values, valid in parts:
        d = np.where(valid, values - mean, 0.0)
        sq, dev = lane_sums(sq, d * d), lane_sums(dev, d)
    s, d = fold(sq), fold(dev)
    m2 = s - d * d / count
    valid_values = np.concatenate([values[valid] for values, valid in parts])
    return Stats(
        count=count,
        nulls=rows - count,
        sum=total,
        mean=mean,
        m2=0.0 if math.isnan(m2) or m2 < 0.0 else m2,
        min=float(valid_values.min()),
        max=float(valid_values.max()),
    )


def quantiles(arrays: list[pa.Array], qs: list[float], method: QuantileMethod) -> list[float]:
    """``numpy.quantile`` of the valid values of all columns together."""
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise InvalidInput(f"quantile {show(q)} is outside [0, 1]")
    parts = [floats(a, "quantiles") for a in arrays]
    values = np.concatenate([v[ok] for v, ok in parts]) if parts else np.zeros(0)
    if len(values) == 0:
        return [math.nan] * len(qs)
    return [float(v) for v in np.quantile(values, qs, method=method)]


def common_dtype(arrays: list[pa.Array], kernel: str) -> Dtype | None:
    """The one weft type of all columns."""
    found = None
    for a in arrays:
        d = dtype_of(a)
        if d is None:
            raise refused(kernel, a, _CATEGORICAL)
        if found is not None and d != found:
            raise InvalidInput(f"{kernel}: columns have different types")
        found = d
    return found


Key = tuple[str, Any] | None


def _key(kind: str, value: Any) -> Key:
    if kind == "f":
        return None if math.isnan(value) else ("f", value + 0.0)
    return (kind, value)


_KIND = {Dtype.F64: "f", Dtype.F32: "f", Dtype.S64: "i", Dtype.BOOLEAN: "b", Dtype.TEXT: "t"}


def keys(array: pa.Array) -> list[Key]:
    """Every row's key: null (and NaN) is ``None``, otherwise ``(kind, value)``."""
    dtype = dtype_of(array)
    assert dtype is not None
    if dtype is Dtype.S64:
        array = array.cast(pa.int64())
    kind = _KIND[dtype]
    return [None if v is None else _key(kind, v) for v in array.to_pylist()]


def category_key(value: Scalar, dtype: Dtype) -> Key:
    """The key a category matches in a column of ``dtype`` (Rust's ``Key::of_scalar``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return _key("f", float(value)) if dtype in (Dtype.F32, Dtype.F64) else ("i", value)
    if isinstance(value, float):
        if dtype is Dtype.S64 and value.is_integer():
            return ("i", int(value))
        return _key("f", value)
    return ("t", value)


_RANK = {"b": 0, "i": 1, "f": 2, "t": 3}


def _order(key: Key) -> tuple[int, Any]:
    return (4, 0) if key is None else (_RANK[key[0]], key[1])


def value_counts(arrays: list[pa.Array]) -> list[tuple[Scalar, int]]:
    """Distinct values with counts, sorted, nulls last."""
    common_dtype(arrays, "value-counts")
    counts: Counter[Key] = Counter()
    for a in arrays:
        counts.update(keys(a))
    return [(None if k is None else k[1], n) for k, n in sorted(counts.items(), key=lambda kn: _order(kn[0]))]


def masked(values: np.ndarray, nulls: np.ndarray | None, type_: pa.DataType) -> pa.Array:
    """An Arrow array of ``values`` with ``nulls``."""
    return pa.array(values, type=type_, mask=nulls)


def affine(array: pa.Array, a: float, b: float) -> pa.Array:
    """``(x - a) * b``; f32 stays f32 and is computed in f32."""
    if pa.types.is_float32(array.type):
        x = array.to_numpy(zero_copy_only=False).astype(np.float32)
        return masked((x - np.float32(a)) * np.float32(b), nulls_of(array), pa.float32())
    values, _ = floats(array, "affine")
    return masked((values - a) * b, nulls_of(array), pa.float64())


def fill_nulls(array: pa.Array, value: Scalar) -> pa.Array:
    """Nulls (and NaN in float columns) replaced by ``value``."""
    dtype = dtype_of(array)
    mismatch = InvalidInput(f"fill value {show(value)} does not suit a {arrow_name(array)} column")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None:
        raise mismatch
    if dtype is None:
        raise refused("fill-nulls", array, _CATEGORICAL)
    if dtype is Dtype.S64 and isinstance(value, int) and not isinstance(value, bool):
        return array.cast(pa.int64()).fill_null(value)
    if dtype in (Dtype.F32, Dtype.F64, Dtype.S64) and number:
        target = np.float32 if dtype is Dtype.F32 else np.float64
        x = array.to_numpy(zero_copy_only=False).astype(target)
        return pa.array(np.where(np.isnan(x), target(value), x))
    if dtype is Dtype.BOOLEAN and isinstance(value, bool):
        return array.fill_null(value)
    if dtype is Dtype.TEXT and isinstance(value, str):
        return array.cast(pa.string()).fill_null(value)
    raise mismatch


def one_hot(array: pa.Array, categories: list[Scalar], unknown: UnknownPolicy, kind: Indicator) -> list[pa.Array]:
    """One indicator column per category, in order."""
    dtype = common_dtype([array], "one-hot")
    assert dtype is not None
    index = {category_key(c, dtype): i for i, c in enumerate(categories)}
    hot = np.zeros((len(categories), len(array)), dtype=np.uint8)
    for row, key in enumerate(keys(array)):
        if key in index:
            hot[index[key], row] = 1
        elif unknown == "error":
            value = json.dumps(show(None if key is None else key[1]), ensure_ascii=False)
            known = ", ".join(show(c) for c in categories)
            raise InvalidInput(f"value {value} (row {row}) was not seen when fitting; known categories: {known}")
    return [pa.array(bits, type=pa.uint8()).cast(_INDICATORS[kind]) for bits in hot]


def matmul(arrays: list[pa.Array], weights: list[float], outputs: int) -> list[pa.Array]:
    """Columns (m×k, f32) times weights (k×n), summed in f32 in order of k."""
    k, n = len(arrays), outputs
    if k == 0 or n == 0 or k * n != len(weights):
        raise InvalidInput(
            f"matmul: {len(weights)} weights do not make a {k}×{n} matrix ({k} columns × {n} outputs)"
        )
    m = len(arrays[0])
    for a in arrays:
        if len(a) != m:
            raise InvalidInput(f"matmul: columns differ in length ({len(a)} and {m} rows)")
    nulls = np.zeros(m, dtype=bool)
    for a in arrays:
        floats(a, "matmul")
        if a.null_count:
            nulls |= ~np.asarray(a.is_valid())
    w = np.asarray(weights, dtype=np.float32).reshape(k, n)
    product = np.zeros((m, n), dtype=np.float32)
    for j, a in enumerate(arrays):
        x = np.where(nulls, np.float32(0), values_f32(a))
        product += x[:, None] * w[j]
    mask = nulls if nulls.any() else None
    return [masked(product[:, i], mask, pa.float32()) for i in range(n)]


def values_f32(array: pa.Array) -> np.ndarray:
    """A numeric column as f32 (nulls as NaN), as ``to-f32s``."""
    values, _ = floats(array, "to-f32s")
    if pa.types.is_float32(array.type):
        return array.to_numpy(zero_copy_only=False).astype(np.float32)
    return values.astype(np.float32)


def histogram(arrays: list[pa.Array], edges: list[float]) -> list[int]:
    """Counts per bin, as ``numpy.histogram`` (the last bin closed)."""
    e = np.asarray(edges, dtype=np.float64)
    if len(e) < 2 or np.isnan(e).any() or (np.diff(e) < 0).any():
        raise InvalidInput("histogram: edges must be at least two non-decreasing numbers (no NaN)")
    bins = len(e) - 1
    counts = np.zeros(bins, dtype=np.int64)
    for a in arrays:
        values, valid = floats(a, "histogram")
        x = values[valid & (values >= e[0]) & (values <= e[-1])]
        at = np.minimum(np.searchsorted(e, x, side="right") - 1, bins - 1)
        counts += np.bincount(at, minlength=bins)
    return [int(c) for c in counts]


def check_bins(edges: list[float]) -> None:
    """Refuse edges ``digitize`` cannot search: none, NaN, or decreasing."""
    problem = None
    if not edges:
        problem = "there are none"
    elif any(math.isnan(e) for e in edges):
        problem = f"edge {next(i for i, e in enumerate(edges) if math.isnan(e))} is NaN"
    else:
        down = next((i for i in range(len(edges) - 1) if edges[i] > edges[i + 1]), None)
        if down is not None:
            problem = f"edge {down + 1} ({show(edges[down + 1])}) is below edge {down} ({show(edges[down])})"
    if problem:
        raise InvalidInput(f"digitize: edges must be one or more non-decreasing numbers, but {problem}")


def digitize(array: pa.Array, edges: list[float], right: bool) -> pa.Array:
    """``numpy.digitize``; nulls and NaN give null."""
    check_bins(edges)
    values, valid = floats(array, "digitize")
    bins = np.searchsorted(np.asarray(edges), values, side="left" if right else "right")
    return masked(bins.astype(np.int64), None if valid.all() else ~valid, pa.int64())


def render(value: Any) -> str:
    """A value as text, as the host's ``to-strings`` renders non-text columns."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
    return show(value)
