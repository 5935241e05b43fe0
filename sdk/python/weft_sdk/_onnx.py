"""Models under CPython: the ``model`` interface over the ``onnxruntime``
package, as the host runs them (inputs filled from columns in order, nulls
as NaN; an output ``[N]`` one column, ``[N, C]`` ``C``), for unit tests."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import InvalidInput
from .types import Dtype, Port

_ELEMENTS = {
    "tensor(float)": (np.float32, Dtype.F32),
    "tensor(double)": (np.float64, Dtype.F64),
    "tensor(int64)": (np.int64, Dtype.S64),
    "tensor(int32)": (np.int32, Dtype.S64),
    "tensor(bool)": (np.bool_, Dtype.BOOLEAN),
    "tensor(string)": (np.object_, Dtype.TEXT),
}


class NativeModel:
    """An ``onnxruntime`` session and the model's ports."""

    def __init__(self, data: bytes) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise InvalidInput("natively, models run on the onnxruntime package: pip install onnxruntime") from None
        try:
            self.session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise InvalidInput(f"not a model ONNX Runtime can load: {e}") from None
        self.digest = hashlib.sha256(data).hexdigest()

    def ports(self, which: str) -> list[Port]:
        args = self.session.get_inputs() if which == "inputs" else self.session.get_outputs()
        return [Port(a.name, a.type, _ELEMENTS.get(a.type, (None, None))[1],
                     [d if isinstance(d, int) else -1 for d in a.shape]) for a in args]

    def run(self, features: list[pa.Array], outputs: list[str]) -> list[list[pa.Array]]:
        feeds, at = {}, 0
        inputs = self.session.get_inputs()
        for arg in inputs:
            shape = arg.shape
            width = 1 if len(shape) == 1 else (shape[1] if isinstance(shape[1], int) else len(features) - at)
            group = features[at:at + width]
            if len(group) != width:
                raise InvalidInput(f"the model takes more feature columns than the {len(features)} given")
            at += width
            kind = _ELEMENTS.get(arg.type, (None,))[0]
            values = [np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.float64) for c in group]
            matrix = np.stack(values, axis=1).astype(kind)
            feeds[arg.name] = matrix[:, 0] if len(shape) == 1 else matrix
        if at != len(features):
            raise InvalidInput(f"the model takes {at} feature columns, got {len(features)}")
        return [_columns(v) for v in self.session.run(outputs, feeds)]


def _columns(value: Any) -> list[pa.Array]:
    array = np.asarray(value)
    if array.ndim == 1:
        return [pa.array(array)]
    return [pa.array(array[:, j]) for j in range(array.shape[1])]
