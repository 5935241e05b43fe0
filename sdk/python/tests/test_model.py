"""Models under CPython: the native backend runs the ``model`` interface on
the onnxruntime package, with the host's column mapping."""

import unittest

import numpy as np
import pyarrow as pa
from onnx import TensorProto, helper, numpy_helper

from weft_sdk import Column, InvalidInput
from weft_sdk.model import Model
from weft_sdk.types import Dtype

WEIGHTS = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]], dtype=np.float32)
BIAS = np.array([0.1, -0.2], dtype=np.float32)


def affine_model() -> bytes:
    """``y = x @ WEIGHTS + BIAS`` for x float [N, 3]."""
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="dense")],
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(WEIGHTS, "w"), numpy_helper.from_array(BIAS, "b")],
    )
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


class Models(unittest.TestCase):
    def test_features_fill_the_input_and_outputs_come_back_as_columns(self) -> None:
        model = Model.from_bytes(affine_model())
        self.assertEqual([(p.name, p.dtype, p.shape) for p in model.inputs()], [("x", Dtype.F32, [-1, 3])])
        self.assertEqual(len(model.digest()), 64)
        x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
        columns = [Column(pa.array(x[:, j])) for j in range(3)]
        [[y0, y1]] = model.run(columns, ["y"])
        want = x.astype(np.float32) @ WEIGHTS + BIAS
        np.testing.assert_allclose(np.column_stack([y0.to_f64s(), y1.to_f64s()]), want, rtol=1e-6)

    def test_nulls_read_as_nan(self) -> None:
        model = Model.from_bytes(affine_model())
        columns = [Column(pa.array([1.0, None])), Column(pa.array([2.0, 2.0])), Column(pa.array([3.0, 3.0]))]
        [[y0, _]] = model.run(columns, ["y"])
        self.assertTrue(np.isnan(y0.to_f64s()[1]) and not np.isnan(y0.to_f64s()[0]))

    def test_mistakes_are_invalid_input(self) -> None:
        with self.assertRaisesRegex(InvalidInput, "not a model ONNX Runtime can load"):
            Model.from_bytes(affine_model()[:20])
        with self.assertRaisesRegex(InvalidInput, "nowhere.onnx"):
            Model.open("/nowhere.onnx")
        model = Model.from_bytes(affine_model())
        with self.assertRaisesRegex(InvalidInput, "takes 3 feature columns, got 4"):
            model.run([Column(pa.array([1.0]))] * 4, ["y"])


if __name__ == "__main__":
    unittest.main()
