"""Kernels the host runs natively over columns (the WIT ``compute`` interface).

Every kernel treats nulls and NaN alike as missing. Inside weft they run in
the host (on the CPU, or a GPU); in native tests on pyarrow and numpy, with
the same results. A column or parameter that does not fit raises
:class:`~weft_sdk.errors.InvalidInput`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from ._host import HOST
from .data import Column
from .types import DeviceInfo, Indicator, QuantileMethod, Scalar, Stats, UnknownPolicy


def _handles(columns: Sequence[Column]) -> list[object]:
    return [c.handle for c in columns]


def column_stats(columns: Sequence[Column]) -> Stats:
    """Statistics of the valid values of all ``columns`` together."""
    return HOST.column_stats(_handles(columns))


def quantiles(
    columns: Sequence[Column], qs: Sequence[float], method: QuantileMethod = "linear"
) -> list[float]:
    """Exact quantiles of the valid values of all ``columns`` together, as
    ``numpy.quantile(values, qs, method=method)``; NaN when there are none;
    a ``q`` outside [0, 1] is an error."""
    return HOST.quantiles(_handles(columns), list(qs), method)


def value_counts(columns: Sequence[Column]) -> list[tuple[Scalar, int]]:
    """Distinct values and their counts over all ``columns``, sorted by
    value; nulls and NaN counted last as ``None``."""
    return HOST.value_counts(_handles(columns))


def affine(column: Column, a: float, b: float) -> Column:
    """``(x - a) * b`` per value; nulls stay null. f32 stays f32 (computed in
    f32), other numbers give f64."""
    return Column(HOST.affine(column.handle, a, b))


def fill_nulls(column: Column, value: Scalar) -> Column:
    """Nulls (and NaN) replaced by ``value``; an integer column filled with
    a float becomes f64."""
    return Column(HOST.fill_nulls(column.handle, value))


def one_hot(
    column: Column,
    categories: Sequence[Scalar],
    unknown: UnknownPolicy = "error",
    kind: Indicator = "float64",
) -> list[Column]:
    """One indicator column of type ``kind`` per category, in order; a value
    outside the categories is an error or a row of zeros (``unknown``)."""
    return [Column(h) for h in HOST.one_hot(column.handle, list(categories), unknown, kind)]


def device() -> DeviceInfo:
    """Where the host runs its kernels."""
    return HOST.device()


def matmul(columns: Sequence[Column], weights: Sequence[float], outputs: int) -> list[Column]:
    """``columns`` (rows × k, as f32) times ``weights`` (k × ``outputs``,
    row-major), as ``outputs`` f32 columns; a row with a null anywhere is null."""
    return [Column(h) for h in HOST.matmul(_handles(columns), list(weights), outputs)]


def histogram(columns: Sequence[Column], edges: Sequence[float]) -> list[int]:
    """Counts of the valid values of all ``columns`` per bin between
    consecutive ``edges``, as ``numpy.histogram`` (the last bin closed)."""
    return HOST.histogram(_handles(columns), list(edges))


def digitize(column: Column, edges: Sequence[float], right: bool = False) -> Column:
    """The bin of every value among non-decreasing ``edges``, as
    ``numpy.digitize(x, edges, right)``: an s64 column; nulls and NaN give null."""
    return Column(HOST.digitize(column.handle, list(edges), right))


@dataclass(frozen=True)
class Buffer:
    """A storage buffer of a custom GPU kernel, bound at
    ``@group(0) @binding(i)`` for its position ``i``: raw bytes (a non-zero
    multiple of 4) or a numeric column's values as f32, uploaded by the host."""

    source: bytes | Column
    writable: bool = False

    @classmethod
    def f32s(cls, values: Sequence[float], writable: bool = False) -> Buffer:
        """A buffer of little-endian f32 ``values``."""
        return cls(struct.pack(f"<{len(values)}f", *values), writable)


def run_wgsl(
    source: str, entry: str, buffers: Sequence[Buffer], workgroups: tuple[int, int, int]
) -> list[bytes]:
    """Run the compute entry point ``entry`` of the WGSL ``source`` over
    ``workgroups``; returns the writable buffers' contents, in order. Needs
    the weft host: natively it raises :class:`~weft_sdk.errors.Internal`."""
    bound = [(b.source.handle if isinstance(b.source, Column) else b.source, b.writable) for b in buffers]
    return HOST.run_wgsl(source, entry, bound, workgroups)


def f32s_of(data: bytes) -> list[float]:
    """Little-endian bytes (a buffer ``run_wgsl`` returned) as f32 values."""
    return list(struct.unpack(f"<{len(data) // 4}f", data[: len(data) // 4 * 4]))
