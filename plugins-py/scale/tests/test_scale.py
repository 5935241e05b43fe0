"""The `scale` step against scikit-learn, run natively the way the host runs
it (fit, state as bytes, fresh instances that load it and transform)."""

import math
import unittest

import numpy as np
import pyarrow as pa
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import scale
from weft_sdk import Batch, InvalidConfig, InvalidInput, StepError
from weft_sdk.testing import Harness, batch, to_numpy

RNG = np.random.default_rng(7)


def data(rows: int = 600, batches: int = 4) -> tuple[list, np.ndarray]:
    """Batches of columns `a` (f64), `b` (f32), `c` (int64) and `t` (text),
    with NaN in `a` and `b`, and the same values as one float64 matrix."""
    a = RNG.normal(50.0, 12.0, rows)
    b = RNG.uniform(-3.0, 7.0, rows).astype(np.float32)
    c = RNG.integers(-100, 100, rows)
    a[RNG.random(rows) < 0.1] = np.nan
    b[RNG.random(rows) < 0.1] = np.nan
    t = [f"row{i}" for i in range(rows)]
    cuts = np.linspace(0, rows, batches + 1).astype(int)
    parts = [
        batch(a=a[i:j], b=pa.array(b[i:j], pa.float32()), c=c[i:j], t=t[i:j])
        for i, j in zip(cuts, cuts[1:])
    ]
    return parts, np.column_stack([a, b.astype(np.float64), c.astype(np.float64)])


def joined(out: list, name: str) -> np.ndarray:
    return np.concatenate([to_numpy(o, name) for o in out])


def run(config: dict, parts: list, workers: int = 2) -> list:
    return Harness(scale.Scale, {"columns": ["a", "b", "c"], **config}).run(parts, workers)


class AgainstScikitLearn(unittest.TestCase):
    def check(self, out: list, expected: np.ndarray) -> None:
        for k, (name, rtol) in enumerate([("a", 1e-12), ("b", 2e-6), ("c", 1e-12)]):
            got = joined(out, name)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(expected[:, k]), err_msg=name)
            np.testing.assert_allclose(got, expected[:, k], rtol=rtol, atol=rtol, err_msg=name)

    def test_standard(self) -> None:
        for with_mean in (True, False):
            for with_std in (True, False):
                parts, x = data()
                options = {"with_mean": with_mean, "with_std": with_std}
                out = run({"method": "standard", **options}, parts)
                self.check(out, StandardScaler(**options).fit_transform(x))

    def test_minmax_with_range_and_clip(self) -> None:
        parts, x = data()
        probe, y = data(rows=200, batches=1)
        h = Harness(scale.Scale, {"columns": ["a", "b", "c"], "method": "minmax",
                                  "feature_range": [-1.0, 2.0], "clip": True})  # fmt: skip
        out = h.transform(parts, probe, workers=1)
        sk = MinMaxScaler(feature_range=(-1.0, 2.0), clip=True).fit(x)
        self.check(out, sk.transform(y))

    def test_constant_and_nearly_constant_columns_are_centered_not_divided(self) -> None:
        values = np.full(100, 1e9) + RNG.normal(0, 1e-6, 100)  # a few ulps apart
        for column in (np.full(100, 7.0), values):
            out = Harness(scale.Scale, {"columns": ["x"], "method": "standard"}).run([batch(x=column)])
            expected = StandardScaler().fit_transform(column[:, None])[:, 0]
            # Centred only: the means may differ in their last bit (1e9's ulp is 1.2e-7).
            np.testing.assert_allclose(to_numpy(out[0], "x"), expected, atol=3e-7)

    def test_other_columns_pass_through(self) -> None:
        parts, _ = data()
        out = run({"method": "minmax"}, parts)
        for given, got in zip(parts, out):
            self.assertEqual(got.column_names, ["a", "b", "c", "t"])
            self.assertEqual(got.column("t").to_strings(), given.column("t").to_strings())
            self.assertIs(got.column("t").dtype, given.column("t").dtype)


class States(unittest.TestCase):
    def test_the_state_is_the_rust_steps_cbor(self) -> None:
        h = Harness(scale.Scale, {"columns": ["x"], "method": "standard"})
        state = h.fit([batch(x=[1.0, math.nan]), batch(x=[3.0, 5.0])])
        # [{"stats": {"count": 3, "nulls": 1, "sum": 9.0, "mean": 3.0, "m2": 8.0,
        #  "min": 1.0, "max": 5.0}}], floats as halves: what ciborium writes.
        expected = (
            "d9d9f7 81 a1 657374617473 a7 65636f756e74 03 656e756c6c73 01 6373756d f94880"
            " 646d65616e f94200 626d32 f94800 636d696e f93c00 636d6178 f94500"
        )
        self.assertEqual(state.hex(), expected.replace(" ", ""))

    def test_merged_shards_equal_one_fit(self) -> None:
        parts, _ = data()
        for method in ("standard", "minmax"):
            h = Harness(scale.Scale, {"columns": ["a", "b", "c"], "method": method})
            whole = h.loaded(h.fit(parts)).transform(parts[0].handle)
            merged = h.loaded(h.fit_shards([parts[:1], parts[1:]])).transform(parts[0].handle)
            for name in "abc":
                a, b = (to_numpy(Batch(o), name) for o in (whole, merged))
                if method == "minmax":  # extrema merge exactly
                    np.testing.assert_array_equal(a, b)
                np.testing.assert_allclose(a, b, rtol=1e-12)

    def test_transform_right_after_fit_on_the_exported_step(self) -> None:
        step = scale.Step  # componentize-py calls a fresh instance every time
        step().configure('{"columns": ["x"], "method": "minmax"}')
        step().fit(batch(x=[0.0, 10.0]).handle)
        out = Batch(step().transform(batch(x=[5.0]).handle))
        self.assertEqual(out.f64s("x"), [0.5])


class Errors(unittest.TestCase):
    def configure(self, config: str) -> StepError:
        with self.assertRaises(StepError) as caught:
            scale.Step().configure(config)
        return caught.exception

    def test_configs_are_refused_naming_the_field(self) -> None:
        cases = {
            '{"method": "standard"}': "columns: missing",
            '{"columns": [], "method": "standard"}': "columns: needs at least 1 items",
            '{"columns": ["x"], "method": "robust"}': '"robust" is not one of "standard", "minmax"',
            '{"columns": ["x"], "method": "minmax", "clip": 1}': "clip: expected a boolean",
            '{"columns": ["x"], "method": "minmax", "feature_range": [1, 0]}': "feature_range: minimum",
            '{"columns": ["x"], "method": "minmax", "feature_range": [0, "a"]}': "feature_range[1]",
            '{"columns": ["x"], "method": "minmax", "with_men": true}': 'unknown field "with_men"',
            '{"columns": ["x"], "method": "standard", "clip": true}': 'unknown field "clip"',
            '{"columns": ["x"], "method": "minmax", "with_std": false}': 'unknown field "with_std"',
            '{"columns": ["x"]}': 'method: missing (a required field): one of "standard", "minmax"',
        }
        for config, message in cases.items():
            error = self.configure(config)
            self.assertIsInstance(error, InvalidConfig, config)
            self.assertIn(message, error.message, config)

    def test_bad_input_names_the_column(self) -> None:
        h = Harness(scale.Scale, {"columns": ["x"], "method": "standard"})
        with self.assertRaisesRegex(InvalidInput, r'no column "x" in the input \(columns: y\)'):
            h.fit([batch(y=[1.0])])
        with self.assertRaisesRegex(InvalidInput, 'column "x" holds text values'):
            h.fit([batch(x=["a"])])


if __name__ == "__main__":
    unittest.main()
