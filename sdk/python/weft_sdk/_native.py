"""The host under CPython, for unit tests: columns are pyarrow arrays, the
kernels those of :mod:`._kernels`, metrics and logs kept in memory.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from ._kernels import (
    STORAGE,
    affine,
    column_stats,
    digitize,
    dtype_of,
    fill_nulls,
    floats,
    histogram,
    matmul,
    one_hot,
    quantiles,
    refused,
    render,
    value_counts,
    values_f32,
)
from .errors import Internal, InvalidInput, as_step_error
from ._onnx import NativeModel
from .types import DeviceInfo, Dtype, Metric, Port

if TYPE_CHECKING:
    from ._runtime import Runner


class NativeBatch:
    """Named Arrow arrays of equal length."""

    def __init__(self, names: list[str], columns: list[pa.Array], rows: int) -> None:
        check(names, [len(c) for c in columns], rows)
        self.names, self.columns, self.rows = names, columns, rows


def check(names: list[str], lengths: list[int], rows: int) -> None:
    """Whether columns of ``lengths`` named ``names`` make a batch of ``rows`` rows."""
    if len(names) != len(lengths):
        raise InvalidInput(f"{len(names)} names for {len(lengths)} columns")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f'column "{name}" appears twice in the batch')
        seen.add(name)
    for name, length in zip(names, lengths):
        if length != rows:
            raise InvalidInput(f'column "{name}" has {length} rows, the batch {rows}')


class NativeHost:
    """The host's types and kernels, in-process (see the module's docstring)."""

    def __init__(self) -> None:
        self.emitted: list[Metric] = []

    def column_from(self, dtype: Dtype, values: Sequence[Any], validity: Sequence[bool] | None) -> pa.Array:
        if validity is not None and len(validity) != len(values):
            raise InvalidInput(f"validity has {len(validity)} entries but there are {len(values)} values")
        nulls = None if validity is None else ~np.asarray(validity, dtype=bool)
        if nulls is not None and not nulls.any():
            nulls = None
        return pa.array(list(values) if dtype is Dtype.TEXT else np.asarray(values), type=STORAGE[dtype], mask=nulls)

    def dtype(self, column: pa.Array) -> Dtype:
        return dtype_of(column) or Dtype.TEXT

    def length(self, column: pa.Array) -> int:
        return len(column)

    def null_count(self, column: pa.Array) -> int:
        return int(column.null_count)

    def validity(self, column: pa.Array) -> list[bool] | None:
        return None if column.null_count == 0 else column.is_valid().to_pylist()

    def values(self, column: pa.Array, dtype: Dtype) -> list[Any]:
        readers: dict[Dtype, Callable[[pa.Array], list[Any]]] = {
            Dtype.F64: lambda c: floats(c, "to-f64s")[0].tolist(),
            Dtype.F32: lambda c: values_f32(c).tolist(),
            Dtype.S64: self._s64s,
            Dtype.BOOLEAN: self._bools,
            Dtype.TEXT: self._strings,
        }
        return readers[dtype](column)

    def _s64s(self, column: pa.Array) -> list[int]:
        if dtype_of(column) is not Dtype.S64:
            raise refused("to-s64s", column, "an integer column")
        return column.cast(pa.int64()).fill_null(0).to_pylist()

    def _bools(self, column: pa.Array) -> list[bool]:
        if dtype_of(column) is not Dtype.BOOLEAN:
            raise refused("to-bools", column, "a boolean column")
        return column.fill_null(False).to_pylist()

    def _strings(self, column: pa.Array) -> list[str]:
        if dtype_of(column) is Dtype.TEXT:
            return column.cast(pa.string()).fill_null("").to_pylist()
        return ["" if v is None else render(v) for v in column.to_pylist()]

    def batch_from(self, names: list[str], columns: list[pa.Array]) -> NativeBatch:
        return NativeBatch(names, columns, len(columns[0]) if columns else 0)

    def num_rows(self, batch: NativeBatch) -> int:
        return batch.rows

    def column_names(self, batch: NativeBatch) -> list[str]:
        return list(batch.names)

    def column(self, batch: NativeBatch, name: str) -> pa.Array | None:
        return batch.columns[batch.names.index(name)] if name in batch.names else None

    def with_columns(self, batch: NativeBatch, names: list[str], columns: list[pa.Array]) -> NativeBatch:
        out_names, out = list(batch.names), list(batch.columns)
        for name, column in zip(names, columns):
            if name in out_names:
                out[out_names.index(name)] = column
            else:
                out_names.append(name)
                out.append(column)
        return NativeBatch(out_names, out, batch.rows)

    def replace(self, batch: NativeBatch, name: str, names: list[str], columns: list[pa.Array]) -> NativeBatch:
        if name not in batch.names:
            raise InvalidInput(f'replace: no column "{name}" in the batch')
        at = batch.names.index(name)
        out_names = batch.names[:at] + names + batch.names[at + 1 :]
        return NativeBatch(out_names, batch.columns[:at] + columns + batch.columns[at + 1 :], batch.rows)

    column_stats = staticmethod(column_stats)
    quantiles = staticmethod(quantiles)
    value_counts = staticmethod(value_counts)
    affine = staticmethod(affine)
    fill_nulls = staticmethod(fill_nulls)
    one_hot = staticmethod(one_hot)
    matmul = staticmethod(matmul)
    histogram = staticmethod(histogram)
    digitize = staticmethod(digitize)

    def device(self) -> DeviceInfo:
        return DeviceInfo(name="cpu", backend="cpu", kind="cpu-fallback")

    def run_wgsl(self, source: str, entry: str, buffers: list[Any], workgroups: tuple[int, int, int]) -> list[bytes]:
        raise Internal(
            f"run_wgsl({entry!r}): custom GPU kernels run only inside the weft host; "
            "test this step with `weft run`"
        )

    def model_open(self, path: str) -> NativeModel:
        try:
            with open(path, "rb") as f:
                return NativeModel(f.read())
        except OSError as e:
            raise InvalidInput(f"model {path!r}: {e.strerror}") from None

    def model_from_bytes(self, data: bytes) -> NativeModel:
        return NativeModel(bytes(data))

    def model_digest(self, model: NativeModel) -> str:
        return model.digest

    def model_ports(self, model: NativeModel, which: str) -> list[Port]:
        return model.ports(which)

    def model_run(self, model: NativeModel, features: list[pa.Array], outputs: list[str]) -> list[list[pa.Array]]:
        return model.run(features, outputs)

    def log(self, level: str, message: str) -> None:
        print(f"{level}: {message}", file=sys.stderr)

    def emit(self, name: str, value: float, labels: list[tuple[str, str]]) -> None:
        self.emitted.append(Metric(name, value, dict(labels)))

    def export(self, runner: Runner) -> type:
        return _exported(runner)


def _exported(runner: Runner) -> type:
    """The native stand-in of the component's export: the same calls, each
    on a fresh object as componentize-py makes them, errors as step errors."""

    def call(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(_: object, *args: Any) -> Any:
            try:
                return method(*args)
            except Exception as e:
                raise as_step_error(e) from e

        wrapped.__doc__ = method.__doc__
        return wrapped

    names = ("describe", "configure", "fit", "state", "load_state", "merge", "transform", "update", "report")
    return type("Step", (), {n: call(getattr(runner, n)) for n in names})
