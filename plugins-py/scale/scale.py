"""`scale`: scikit-learn's `StandardScaler` and `MinMaxScaler`, as weft's Rust `scale` step does
them (same config, same state bytes): host kernels fit the statistics and `affine` scales."""

import math
from dataclasses import dataclass
from functools import reduce
from typing import Literal

import weft_sdk as weft
from weft_sdk import Batch, Column, InvalidConfig, InvalidInput, Stats, compute

EPSILON = 2.0**-52  # numpy's finfo(float).eps


@dataclass
class Columns:
    columns: list[str] = weft.field(min_items=1)
    """Numeric columns to scale; the others pass through."""


@dataclass
class Standard(Columns):
    """`StandardScaler`: `(x - mean) / std`."""
    method: Literal["standard"]
    with_mean: bool = True
    """Subtract the mean."""
    with_std: bool = True
    """Divide by the standard deviation."""


@dataclass
class MinMax(Columns):
    """`MinMaxScaler`: `[min, max]` onto `feature_range`."""
    method: Literal["minmax"]
    feature_range: tuple[float, float] = (0.0, 1.0)
    """The range `[min, max]` values are scaled to."""
    clip: bool = False
    """Clip values outside the fitted range to `feature_range`."""

    def __post_init__(self) -> None:
        if self.feature_range[0] >= self.feature_range[1]:
            raise InvalidConfig(f"feature_range: minimum not below maximum: {self.feature_range}")


@dataclass(frozen=True)
class Fit:
    """The state of one column: its statistics (a map, as the Rust step writes it)."""
    stats: Stats


def nonzero(scale: float) -> float:
    """scikit-learn's `_handle_zeros_in_scale`: scales near zero become 1."""
    return 1.0 if scale < 10.0 * EPSILON else scale


def clip(column: Column, low: float, high: float) -> Column:
    """`column` with its values clipped to `[low, high]`; nulls and NaN stay."""
    values = [v if math.isnan(v) else min(max(v, low), high) for v in column.to_f64s()]
    return Column.from_f64s(values, column.validity())


class Scale(weft.Transform):
    """The step: its config, what fit has seen so far, and the fitted `(a, b)`."""
    meta = weft.Meta("scale", "0.1.0", "Standard or min-max scaling (scikit-learn)", stateful=True)

    def configure(self, config: Standard | MinMax) -> None:
        self.config = config
        self.seen = [Stats() for _ in config.columns]

    def fit(self, batch: Batch) -> None:
        for i, name in enumerate(self.config.columns):
            self.seen[i] = self.seen[i].merge(compute.column_stats([batch.numeric(name)]))

    def state(self) -> list[Fit]:
        return [Fit(stats) for stats in self.seen]

    def load_state(self, state: list[Fit]) -> None:
        if len(state) != len(self.config.columns):
            raise InvalidInput("the state was fitted for other columns")
        self.params = [self.scaling(fit.stats) for fit in state]

    def merge(self, states: list[list[Fit]]) -> list[Fit]:
        if any(len(s) != len(self.config.columns) for s in states):
            raise InvalidInput("states were fitted for different columns")
        columns = range(len(self.config.columns))
        return [Fit(reduce(Stats.merge, (s[i].stats for s in states), Stats())) for i in columns]

    def transform(self, batch: Batch) -> Batch:
        scaled = {}
        for name, (a, b) in zip(self.config.columns, self.params):
            scaled[name] = compute.affine(batch.numeric(name), a, b)
            if isinstance(self.config, MinMax) and self.config.clip:
                scaled[name] = clip(scaled[name], *self.config.feature_range)
        return batch.with_columns(scaled)

    def scaling(self, s: Stats) -> tuple[float, float]:
        """`(a, b)` such that the scaled value is `(x - a) * b`."""
        if isinstance(self.config, Standard):
            var, n, drift = s.variance(), float(s.count), s.count * s.mean * EPSILON
            constant = var <= n * EPSILON * var + drift * drift  # sklearn's _is_constant_feature
            scale = 1.0 if not self.config.with_std or constant else nonzero(math.sqrt(var))
            return (s.mean if self.config.with_mean else 0.0), 1.0 / scale
        low, high = self.config.feature_range
        scale = (high - low) / nonzero(s.max - s.min)
        return s.min - low / scale, scale


Step = weft.export(Scale)  # what componentize-py exports as the `step` interface
