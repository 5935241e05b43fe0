"""Trained models (ONNX) the host compiles once and runs natively: the WIT
``model`` interface (contract 0.1.4, weft's docs/models.md).

Inside weft the host runs the model with ONNX Runtime; under CPython (unit
tests) the same calls go to the ``onnxruntime`` package. ``features`` fill
the model's inputs in order (an input ``[N, k]`` takes ``k`` columns, an
input ``[N]`` one; nulls read as NaN), and each output ``[N]`` comes back as
one column, ``[N, C]`` as ``C``::

    model = Model.open("/models/churn.onnx")      # a folder mounted into the step
    [[p0, p1]] = model.run([tenure, charges], ["probabilities"])
"""

from __future__ import annotations

from typing import Sequence

from ._host import HOST
from .data import Column
from .types import Port

__all__ = ["Model", "Port"]


class Model:
    """A compiled model the host holds for the step."""

    def __init__(self, handle: object) -> None:
        self.handle = handle

    @staticmethod
    def open(path: str) -> Model:
        """The ONNX model at ``path``, as the step sees it."""
        return Model(HOST.model_open(path))

    @staticmethod
    def from_bytes(data: bytes) -> Model:
        """The ONNX model in ``data``."""
        return Model(HOST.model_from_bytes(data))

    def digest(self) -> str:
        """sha256 of the model file, hex."""
        return HOST.model_digest(self.handle)

    def inputs(self) -> list[Port]:
        """The inputs, in the graph's order."""
        return HOST.model_ports(self.handle, "inputs")

    def outputs(self) -> list[Port]:
        """The outputs, in the graph's order."""
        return HOST.model_ports(self.handle, "outputs")

    def run(self, features: Sequence[Column], outputs: Sequence[str]) -> list[list[Column]]:
        """The columns of each output named in ``outputs``, in that order."""
        made = HOST.model_run(self.handle, [c.handle for c in features], list(outputs))
        return [[Column(c) for c in group] for group in made]
