"""The values the SDK shares with the host: dtypes, scalars, statistics,
kernel options, metrics and a step's description."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Union

#: One value (a fill value or a category): ``None`` is null. ``1`` and
#: ``1.0`` differ, as WIT's ``int`` and ``float`` do.
Scalar = Union[None, bool, int, float, str]

#: numpy's ``method=`` of ``numpy.quantile``.
QuantileMethod = Literal[
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
]

#: What ``one_hot`` does with a value that is not among the categories.
UnknownPolicy = Literal["error", "ignore"]

#: The type of ``one_hot``'s indicator columns (scikit-learn's ``dtype``).
Indicator = Literal["float64", "float32", "uint8", "bool"]


class Dtype(Enum):
    """Element type of a column; the value is the WIT name."""

    F32 = "f32"
    F64 = "f64"
    S64 = "s64"
    BOOLEAN = "boolean"
    TEXT = "text"

    @property
    def numeric(self) -> bool:
        """Whether the type is a number."""
        return self in (Dtype.F32, Dtype.F64, Dtype.S64)


@dataclass(frozen=True)
class Stats:
    """Summary of the valid (non-null, non-NaN) values of numeric columns.

    The fields and their order are the Rust SDK's, so a state holding
    ``Stats`` is the same CBOR in both languages.
    """

    count: int = 0
    """Number of valid values."""
    nulls: int = 0
    """Number of nulls and NaNs."""
    sum: float = 0.0
    """Sum of the valid values."""
    mean: float = 0.0
    """Mean of the valid values (NaN when there are none)."""
    m2: float = 0.0
    """Sum of squared deviations from the mean."""
    min: float = 0.0
    """Smallest valid value (NaN when there are none)."""
    max: float = 0.0
    """Largest valid value (NaN when there are none)."""

    def variance(self) -> float:
        """Population variance (ddof 0); NaN when there are no values."""
        return self.m2 / self.count if self.count else math.nan

    def merge(self, other: Stats) -> Stats:
        """Statistics of the union of two disjoint sets of values (Chan et
        al.), computed as the Rust SDK computes them."""
        nulls = self.nulls + other.nulls
        if self.count == 0:
            return _with_nulls(other, nulls)
        if other.count == 0:
            return _with_nulls(self, nulls)
        na, nb = float(self.count), float(other.count)
        delta = other.mean - self.mean
        total = self.sum + other.sum
        return Stats(
            count=self.count + other.count,
            nulls=nulls,
            sum=total,
            mean=total / (na + nb),
            m2=self.m2 + other.m2 + delta * delta * na * nb / (na + nb),
            min=_fmin(self.min, other.min),
            max=_fmax(self.max, other.max),
        )


def _with_nulls(stats: Stats, nulls: int) -> Stats:
    return Stats(stats.count, nulls, stats.sum, stats.mean, stats.m2, stats.min, stats.max)


def _fmin(a: float, b: float) -> float:
    """Rust's ``f64::min``: NaN only when both are."""
    return b if math.isnan(a) else a if math.isnan(b) else min(a, b)


def _fmax(a: float, b: float) -> float:
    """Rust's ``f64::max``: NaN only when both are."""
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


@dataclass(frozen=True)
class DeviceInfo:
    """The device behind the host's kernels."""

    name: str
    """Adapter name, e.g. ``NVIDIA H200``, or ``cpu``."""
    backend: str
    """Graphics backend (``vulkan``), or ``cpu``."""
    kind: str
    """``discrete``, ``integrated``, ``other``, ``software`` or ``cpu-fallback``."""


@dataclass(frozen=True)
class Metric:
    """A named value an evaluate step reports."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Meta:
    """What a step says about itself (WIT ``metadata`` less kind and schema)."""

    name: str
    version: str
    description: str = ""
    stateful: bool = False


@dataclass(frozen=True)
class Port:
    """An input or output of a model."""

    name: str
    """The name in the graph."""
    onnx_type: str
    """ONNX Runtime's spelling of its type, e.g. ``Tensor<f32>(dyn, 8)``."""
    dtype: Dtype | None
    """The column type of its values, when the host feeds or reads it."""
    shape: list[int]
    """Dimensions; -1 where dynamic (the rows)."""
