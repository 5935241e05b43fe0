"""Native tests: the step runs as the host runs it, on weft_sdk's native
kernels; the numbers are checked against plain Python arithmetic."""

import unittest

from weft_sdk import InvalidInput
from weft_sdk.testing import Harness, batch

from {{module}} import MeanAbsoluteError


def harness() -> Harness:
    return Harness(MeanAbsoluteError, {"label": "y", "prediction": "p"})


class MeanAbsoluteErrorTest(unittest.TestCase):
    def test_averages_the_absolute_errors_of_every_batch(self) -> None:
        data = [batch(y=[1.0, 2.0], p=[1.5, 2.0]), batch(y=[3.0], p=[1.0])]
        metrics = harness().evaluate([], data)
        self.assertEqual(metrics[0].name, "mean_absolute_error")
        self.assertEqual(metrics[0].value, 2.5 / 3.0)  # (0.5 + 0 + 2) / 3

    def test_a_missing_prediction_is_refused_with_its_row(self) -> None:
        with self.assertRaisesRegex(InvalidInput, "row 1"):
            harness().evaluate([], [batch(y=[1.0, 2.0], p=[1.0, None])])


if __name__ == "__main__":
    unittest.main()
