"""Native tests of a step, run the way the host runs it (CPython only).

The host never keeps a step between phases: it fits one instance over every
batch, asks it for its state as bytes, and gives those bytes to fresh
instances (one per worker, and again in ``weft serve``) through
``load_state`` before they transform. Shards of a large input are fitted
apart and their states merged. A :class:`Harness` does the same, through the
same code the component runs (config parsed from JSON, states as bytes), so
a test catches what only shows there: a state that does not survive its
bytes, a transform that relies on what ``fit`` left on ``self``, a merge
that differs from fitting the whole input::

    harness = Harness(Scale, {"columns": ["x"], "method": "standard"})
    out = harness.run([batch(x=[1.0, 2.0]), batch(x=[3.0, float("nan")])], workers=2)
"""

from __future__ import annotations

import json
from typing import Any, Generic, Mapping, Sequence, TypeVar

import numpy as np
import pyarrow as pa

from . import state as states
from ._host import HOST
from ._native import NativeBatch, NativeHost
from ._runtime import Runner
from .data import Batch, Column
from .step import Step
from .types import Metric

T = TypeVar("T", bound=Step)

assert isinstance(HOST, NativeHost), "weft_sdk.testing runs under CPython only"


def batch(**columns: Any) -> Batch:
    """A batch from named columns: pyarrow arrays, numpy arrays or lists
    (``None`` is null; NaN stays a NaN value, as in Arrow)."""
    arrays = [c if isinstance(c, pa.Array) else pa.array(c, from_pandas=False) for c in columns.values()]
    return Batch.from_columns({n: Column(a) for n, a in zip(columns, arrays)})


def from_arrow(table: pa.Table | pa.RecordBatch) -> Batch:
    """A batch of the columns of an Arrow table."""
    return batch(**{name: pa.array(table.column(name)) for name in table.column_names})


def to_arrow(data: Batch) -> pa.Table:
    """The columns of a batch as an Arrow table."""
    handle: NativeBatch = data.handle
    return pa.table(dict(zip(handle.names, handle.columns)))


def to_numpy(data: Batch, name: str) -> np.ndarray:
    """A numeric column as a float64 numpy array (nulls as NaN)."""
    return np.asarray(data.numeric(name).to_f64s(), dtype=np.float64)


def emitted_metrics() -> list[Metric]:
    """Metrics emitted so far (by ``weft_sdk.metrics.emit``); drains them."""
    assert isinstance(HOST, NativeHost)
    drained, HOST.emitted[:] = list(HOST.emitted), []
    return drained


class Harness(Generic[T]):
    """Runs step class ``cls`` configured with one config as the host does:
    every phase on fresh instances, states only as bytes."""

    def __init__(self, cls: type[T], config: Mapping[str, Any] | None = None) -> None:
        self.cls = cls
        self.config = json.dumps(config)

    def runner(self) -> Runner:
        """A fresh component instance, configured from the JSON text."""
        runner = Runner(self.cls)
        runner.configure(self.config)
        return runner

    def instance(self) -> T:
        """A fresh configured step, to call directly."""
        step = self.runner().step
        assert isinstance(step, self.cls)
        return step

    def fit(self, batches: Sequence[Batch]) -> bytes:
        """The bytes of the state one instance fits over all ``batches``."""
        runner = self.runner()
        for b in batches:
            runner.fit(b.handle)
        return runner.state()

    def fit_shards(self, shards: Sequence[Sequence[Batch]]) -> bytes:
        """The state fitted shard by shard, each on its own instance, and
        merged by another, as ``weft merge-states`` does."""
        return self.runner().merge([self.fit(shard) for shard in shards])

    def loaded(self, data: bytes) -> Runner:
        """A fresh instance that loaded the state in ``data``."""
        runner = self.runner()
        runner.load_state(data)
        return runner

    def state_of(self, data: bytes) -> Any:
        """The state in ``data``, decoded as the step's ``state()`` annotation says."""
        return states.decode(data, self.runner().state_type)

    def _workers(self, fit: Sequence[Batch], workers: int) -> list[Runner]:
        if not self.cls.meta.stateful:
            return [self.runner() for _ in range(max(workers, 1))]
        data = self.fit(fit)
        return [self.loaded(data) for _ in range(max(workers, 1))]

    def run(self, batches: Sequence[Batch], workers: int = 1) -> list[Batch]:
        """``weft run``: fit on all ``batches``, then transform them on
        ``workers`` instances in turn, each loaded from the state's bytes."""
        return self.transform(batches, batches, workers)

    def transform(self, fit: Sequence[Batch], batches: Sequence[Batch], workers: int = 1) -> list[Batch]:
        """``weft run --state``: transform ``batches`` on ``workers``
        instances in turn, each loaded from the state ``fit`` gives."""
        instances = self._workers(fit, workers)
        return [Batch(instances[i % len(instances)].transform(b.handle)) for i, b in enumerate(batches)]

    def evaluate(self, reference: Sequence[Batch], batches: Sequence[Batch]) -> list[Metric]:
        """An evaluation: a stateful step fits its reference (through bytes),
        then one instance sees every batch and reports."""
        runner = self._workers(reference, 1)[0]
        for b in batches:
            runner.update(b.handle)
        return runner.report()
