"""Write weft pipeline steps in Python.

A step is a class deriving from :class:`Transform` (batch in, batch out) or
:class:`Evaluate` (batches in, metrics out), with a ``meta`` and a config
dataclass, exported with ``Step = export(MyStep)`` and built into a
WebAssembly component with componentize-py against weft's ``wit/step.wit``
(world ``plugin``).

Data stays on the host: a :class:`Batch` is a set of named :class:`Column`
handles. Read only the columns you need, pass the rest through untouched
(:meth:`Batch.with_columns` shares them), and leave heavy math to the host's
:mod:`~weft_sdk.compute` kernels.

Under CPython the same API runs on a native backend (pyarrow and numpy)
with the host's semantics, so a step is unit-tested without WebAssembly;
:class:`weft_sdk.testing.Harness` runs it the way the host does.
"""

from . import compute, log, metrics, model
from ._runtime import export
from .config import config_schema, field, parse_config
from .data import Batch, Column
from .errors import Internal, InvalidConfig, InvalidInput, StepError
from .step import Evaluate, NoConfig, Step, Transform
from .types import DeviceInfo, Dtype, Meta, Metric, Scalar, Stats

__all__ = [
    "Batch",
    "Column",
    "DeviceInfo",
    "Dtype",
    "Evaluate",
    "Internal",
    "InvalidConfig",
    "InvalidInput",
    "Meta",
    "Metric",
    "NoConfig",
    "Scalar",
    "Stats",
    "Step",
    "StepError",
    "Transform",
    "compute",
    "config_schema",
    "export",
    "field",
    "log",
    "metrics",
    "model",
    "parse_config",
]
