"""The native backend's kernels: the Rust kernels' semantics, over numpy."""

import math
import unittest

import numpy as np
import pyarrow as pa

from weft_sdk import Column, InvalidInput, compute
from weft_sdk.testing import batch

RNG = np.random.default_rng(3)
METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
           "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher",
           "midpoint", "nearest"]  # fmt: skip


def col(values: list, type_: pa.DataType | None = None) -> Column:
    return Column(pa.array(values, type=type_, from_pandas=False))


def lanes_reference(columns: list[list[float]]) -> tuple[float, float]:
    """Sum and m2 as kernels/src/stats.rs adds them: eight lanes, in order."""
    valid = [[v for v in c if v is not None and not math.isnan(v)] for c in columns]
    count = sum(len(v) for v in valid)

    def lane_total(values_of):
        lanes = [0.0] * 8
        for c in columns:
            for i, v in enumerate(c):
                lanes[i % 8] += values_of(v)
        total = 0.0
        for lane in lanes:
            total += lane
        return total

    ok = lambda v: v is not None and not math.isnan(v)  # noqa: E731
    total = lane_total(lambda v: v if ok(v) else 0.0)
    mean = total / count
    sq = lane_total(lambda v: (v - mean) * (v - mean) if ok(v) else 0.0)
    dev = lane_total(lambda v: v - mean if ok(v) else 0.0)
    return total, max(sq - dev * dev / count, 0.0)


class Kernels(unittest.TestCase):
    def test_stats_add_as_the_rust_kernel_does(self) -> None:
        a = list(RNG.normal(1e6, 3.0, 1001))
        a[5] = math.nan
        b = [1.5, None, 2.5, 1e-9]
        s = compute.column_stats([col(a), col(b)])
        total, m2 = lanes_reference([a, b])
        self.assertEqual((s.sum, s.m2), (total, m2))
        self.assertEqual((s.count, s.nulls), (1003, 2))
        self.assertEqual((s.min, s.max), (1e-9, max(v for v in a if not math.isnan(v))))
        self.assertAlmostEqual(s.variance(), np.nanvar(np.array(a + [1.5, np.nan, 2.5, 1e-9])), delta=1e-3)

    def test_stats_of_nothing_are_nan(self) -> None:
        s = compute.column_stats([col([None, math.nan], pa.float64())])
        self.assertEqual((s.count, s.nulls), (0, 2))
        self.assertTrue(math.isnan(s.mean) and math.isnan(s.variance()))

    def test_quantiles_are_numpys_for_every_method(self) -> None:
        values = list(RNG.normal(0, 1, 37)) + [None, math.nan]
        valid = np.array([v for v in values if v is not None and not math.isnan(v)])
        qs = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
        for method in METHODS:
            got = compute.quantiles([col(values, pa.float64())], qs, method)
            self.assertEqual(got, list(np.quantile(valid, qs, method=method)), method)
        with self.assertRaisesRegex(InvalidInput, r"quantile 1.5 is outside \[0, 1\]"):
            compute.quantiles([col([1.0])], [1.5])

    def test_value_counts_sort_and_count_nan_as_null(self) -> None:
        counts = compute.value_counts([col([10.0, 2.0, math.nan, -0.0, 0.0, None])])
        self.assertEqual(counts, [(0.0, 2), (2.0, 1), (10.0, 1), (None, 2)])
        self.assertEqual(compute.value_counts([col(["b", None, "a", "b"])]), [("a", 1), ("b", 2), (None, 1)])

    def test_affine_keeps_f32_and_nulls(self) -> None:
        out = compute.affine(col([3.0, None], pa.float32()), 1.0, 0.5)
        self.assertEqual((out.dtype.value, out.to_pylist()), ("f32", [1.0, None]))
        self.assertEqual(compute.affine(col([4], pa.int64()), 2.0, 3.0).to_pylist(), [6.0])

    def test_fill_nulls_follows_the_column_type(self) -> None:
        self.assertEqual(compute.fill_nulls(col([1.0, None, math.nan]), 9.0).to_pylist(), [1.0, 9.0, 9.0])
        filled = compute.fill_nulls(col([1, None], pa.int64()), 2.5)
        self.assertEqual((filled.dtype.value, filled.to_pylist()), ("f64", [1.0, 2.5]))
        self.assertEqual(compute.fill_nulls(col([1, None], pa.int64()), 7).to_pylist(), [1, 7])
        with self.assertRaisesRegex(InvalidInput, 'fill value x does not suit a Int64 column'):
            compute.fill_nulls(col([1, None], pa.int64()), "x")

    def test_one_hot_marks_categories_and_names_unknowns(self) -> None:
        cols = compute.one_hot(col(["x", "z", "y"]), ["x", "y"], "ignore")
        self.assertEqual([c.to_pylist() for c in cols], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        self.assertEqual(compute.one_hot(col([1.0, 2.0, 3.0]), [2], "ignore", "bool")[0].to_pylist(), [False, True, False])
        with self.assertRaisesRegex(InvalidInput, r'value "z" \(row 1\) was not seen when fitting; known categories: x, y'):
            compute.one_hot(col(["x", "z"]), ["x", "y"], "error")

    def test_histogram_and_digitize_are_numpys(self) -> None:
        x = [0.0, 1.0, 1.5, 2.0, 3.0, math.nan, None, 5.0]
        self.assertEqual(compute.histogram([col(x, pa.float64())], [0.0, 1.0, 2.0, 3.0]), [1, 2, 2])
        edges = [0.0, 1.0, 1.0, 3.0]
        values = [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 9.0]
        for right in (False, True):
            got = compute.digitize(col(values + [None]), edges, right).to_pylist()
            self.assertEqual(got, list(np.digitize(values, edges, right)) + [None])
        with self.assertRaisesRegex(InvalidInput, r"edge 2 \(1\) is below edge 1 \(2\)"):
            compute.digitize(col([1.0]), [0.0, 2.0, 1.0])

    def test_matmul_sums_in_f32_and_nulls_whole_rows(self) -> None:
        out = compute.matmul([col([1.0, None, 3.0]), col([2, 5, 4], pa.int64())], [1.0, 10.0, 2.0, 20.0], 2)
        self.assertEqual([c.to_pylist() for c in out], [[5.0, None, 11.0], [50.0, None, 110.0]])
        with self.assertRaisesRegex(InvalidInput, "3 weights do not make a 1×2 matrix"):
            compute.matmul([col([1.0])], [1.0, 2.0, 3.0], 2)

    def test_batches_refuse_what_the_host_refuses(self) -> None:
        b = batch(a=[1.0, 2.0], t=["x", "y"])
        self.assertEqual(b.replace("a", {"a0": col([0.0, 0.0]), "a1": col([1.0, 1.0])}).column_names, ["a0", "a1", "t"])
        with self.assertRaisesRegex(InvalidInput, 'column "b" has 1 rows, the batch 2'):
            b.with_columns({"b": col([1.0])})
        with self.assertRaisesRegex(InvalidInput, 'replace: no column "q" in the batch'):
            b.replace("q", {})
        with self.assertRaisesRegex(InvalidInput, "to-s64s does not accept a Float64 column"):
            b.column("a").to_s64s()


if __name__ == "__main__":
    unittest.main()
