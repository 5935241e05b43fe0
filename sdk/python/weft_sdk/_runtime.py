"""The exported ``step`` interface, over one step class.

componentize-py makes a fresh instance of the exported class for every call,
so nothing a step keeps on that instance survives from ``fit`` to ``state``.
A :class:`Runner` (one per component instance, held by the exported class)
keeps the one configured step instead, and does what the Rust SDK's export
glue and its steps do: configs are parsed and checked, states go through
bytes, and a stateful step asked to transform (or update) after fitting,
with no ``load-state`` in between, first loads its own state.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any

from . import state as states
from ._host import HOST, Handle
from .config import config_schema, parse_config
from .data import Batch
from .errors import Internal
from .step import Evaluate, NoConfig, Step, Transform
from .types import Metric


@dataclass(frozen=True)
class Description:
    """What ``describe`` returns (WIT ``metadata``)."""

    name: str
    version: str
    kind: str
    description: str
    config_schema: str
    stateful: bool


def _annotation(function: Any, name: str, default: Any) -> Any:
    hints = typing.get_type_hints(function)
    return hints.get(name, default)


class Runner:
    """The configured step of one component instance, called as the host
    calls it: batches come and go as host handles, states as bytes."""

    def __init__(self, cls: type[Step]) -> None:
        if not issubclass(cls, (Transform, Evaluate)):
            raise TypeError(f"{cls.__name__} must derive from weft_sdk.Transform or weft_sdk.Evaluate")
        self.cls = cls
        config = _annotation(cls.configure, "config", Any)
        self.config_type = NoConfig if config is Any else config
        self.state_type = _annotation(cls.state, "return", Any)
        # Computed now: inside a component this runs at build time, when the
        # sources (for field docstrings) can still be read.
        schema = config_schema(self.config_type, title=cls.meta.name)
        self.description = Description(
            name=cls.meta.name,
            version=cls.meta.version,
            kind=cls.kind,
            description=cls.meta.description,
            config_schema=json.dumps(schema, separators=(",", ":")),
            stateful=cls.meta.stateful,
        )
        self.step: Step | None = None
        self.unloaded = True

    def describe(self) -> Description:
        """Name, version, kind, description, config schema, statefulness."""
        return self.description

    def configure(self, text: str) -> None:
        """A new step from the config document ``text``."""
        step = self.cls()
        step.configure(parse_config(self.config_type, text))
        self.step, self.unloaded = step, True

    def fit(self, batch: Handle) -> None:
        """Learn from one batch."""
        self.configured().fit(Batch(batch))
        self.unloaded = True

    def state(self) -> bytes:
        """The fitted state as bytes."""
        return states.encode(self.configured().state())

    def load_state(self, data: bytes) -> None:
        """Use the state in ``data``."""
        self.configured().load_state(states.decode(data, self.state_type))
        self.unloaded = False

    def merge(self, data: list[bytes]) -> bytes:
        """The bytes of the states in ``data``, merged."""
        decoded = [states.decode(d, self.state_type) for d in data]
        return states.encode(self.configured().merge(decoded))

    def transform(self, batch: Handle) -> Handle:
        """One batch transformed; never the input itself (the host owns that)."""
        step = self.ready()
        if not isinstance(step, Transform):
            raise Internal("transform is not available on an evaluate step")
        given = Batch(batch)
        out = step.transform(given)
        return (out.with_columns({}) if out is given else out).handle

    def update(self, batch: Handle) -> None:
        """Accumulate one batch."""
        step = self.ready()
        if not isinstance(step, Evaluate):
            raise Internal("update is not available on a transform step")
        step.update(Batch(batch))

    def report(self) -> list[Metric]:
        """The metrics over everything seen."""
        step = self.configured()
        if not isinstance(step, Evaluate):
            raise Internal("report is not available on a transform step")
        return list(step.report())

    def configured(self) -> Step:
        """The configured step."""
        if self.step is None:
            raise Internal("configure was not called")
        return self.step

    def ready(self) -> Step:
        """The step, having loaded its own state if it fitted since it last loaded one."""
        if self.description.stateful and self.unloaded:
            self.load_state(self.state())
        return self.configured()


def export(cls: type[Step]) -> type:
    """The class to export as the component's ``step`` interface; assign it
    to ``Step`` in the module componentize-py builds (``Step = export(MyStep)``).

    Under CPython it is a stand-in with the same calls, over native batches.
    """
    return HOST.export(Runner(cls))
