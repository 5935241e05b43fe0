"""The classes a step derives from: :class:`Transform` or :class:`Evaluate`.

A step is a class with a ``meta`` (:class:`~weft_sdk.types.Meta`) and the
calls the host makes, in this order: ``configure`` once, ``fit`` for every
batch of the input (stateful steps), ``state`` to save what fit learned,
``load_state`` on fresh instances (workers, ``weft serve``), ``merge`` to
combine shard states, then ``transform`` per batch, or ``update`` per batch
and ``report`` at the end.

Keep everything on ``self``: the SDK keeps one configured instance per
component instance, whatever componentize-py does between calls. The types
come from the annotations: ``configure(self, config: Config)`` names the
config dataclass (its JSON Schema is what ``describe`` reports), and
``state(self) -> State`` the type that ``load_state`` and ``merge`` receive,
decoded from bytes (see :mod:`weft_sdk.state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .data import Batch
from .errors import Internal
from .types import Meta, Metric


@dataclass(frozen=True)
class NoConfig:
    """The config of a step that takes none: ``{}`` (or ``null``)."""


class Step:
    """What every step has: a config, an optional fitted state, and the
    calls that build, fit, save, load and merge it."""

    meta: ClassVar[Meta]
    kind: ClassVar[str]

    def configure(self, config: Any) -> None:
        """Take the config, already checked against its dataclass."""
        self.config = config

    def fit(self, batch: Batch) -> None:
        """Learn from one batch (of the reference data, for evaluate steps)."""

    def state(self) -> Any:
        """What fit learned so far, as plain values or dataclasses."""
        return None

    def load_state(self, state: Any) -> None:
        """Use a state fitted earlier, possibly by another instance."""

    def merge(self, states: list[Any]) -> Any:
        """Combine states fitted on disjoint shards of the input."""
        if self.meta.stateful:
            raise Internal(f"{self.meta.name} does not implement merge")
        return states[0] if states else None


class Transform(Step):
    """A step that turns each batch into a new batch, optionally after fitting
    a state on the whole input."""

    kind = "transform"

    def transform(self, batch: Batch) -> Batch:
        """Transform one batch."""
        raise NotImplementedError(f"{type(self).__name__} does not implement transform")


class Evaluate(Step):
    """A step that reads every batch and reports metrics at the end,
    optionally against a reference it fitted first."""

    kind = "evaluate"

    def update(self, batch: Batch) -> None:
        """Accumulate one batch."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update")

    def report(self) -> list[Metric]:
        """The metrics over everything seen."""
        raise NotImplementedError(f"{type(self).__name__} does not implement report")
