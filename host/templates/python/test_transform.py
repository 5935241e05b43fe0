"""Native tests: the step runs as the host runs it (fit over batches, state
through bytes, fresh instances on several workers), on weft_sdk's native
kernels; the numbers are checked against plain Python arithmetic."""

import math
import unittest

from weft_sdk import InvalidInput
from weft_sdk.testing import Harness, batch

from {{module}} import Center


class CenterTest(unittest.TestCase):
    def test_centres_on_the_mean_of_every_batch(self) -> None:
        data = [batch(x=[1.0, 2.0], id=[1, 2]), batch(x=[3.0, 6.0], id=[1, 2])]
        out = Harness(Center, {"columns": ["x"]}).run(data, workers=2)
        self.assertEqual(out[0].f64s("x"), [-2.0, -1.0])  # mean 3
        self.assertEqual(out[1].f64s("x"), [0.0, 3.0])
        self.assertEqual(out[1].f64s("id"), [1.0, 2.0], "other columns pass through")

    def test_scales_by_the_population_standard_deviation(self) -> None:
        out = Harness(Center, {"columns": ["x"], "scale": True}).run([batch(x=[1.0, 5.0, None])])
        values = out[0].f64s("x")
        self.assertEqual(values[:2], [-1.0, 1.0])  # mean 3, variance 4
        self.assertTrue(math.isnan(values[2]), "nulls stay missing")

    def test_shards_merge_into_the_state_of_the_whole(self) -> None:
        harness = Harness(Center, {"columns": ["x"]})
        data = [batch(x=[1.0, 2.0]), batch(x=[3.0, 6.0])]
        whole = harness.state_of(harness.fit(data))
        merged = harness.state_of(harness.fit_shards([data[:1], data[1:]]))
        self.assertEqual((merged[0].count, merged[0].mean), (whole[0].count, whole[0].mean))

    def test_a_text_column_is_refused_by_name(self) -> None:
        with self.assertRaisesRegex(InvalidInput, '"x"'):
            Harness(Center, {"columns": ["x"]}).run([batch(x=["a", "b"])])


if __name__ == "__main__":
    unittest.main()
