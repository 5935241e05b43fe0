"""The exported step: what the component does between the host and a step."""

import json
import unittest
from dataclasses import dataclass

import weft_sdk as weft
from weft_sdk import Batch, Evaluate, InvalidInput, Meta, Metric, StepError, Transform, compute
from weft_sdk.testing import Harness, batch, emitted_metrics


@dataclass
class Shift:
    column: str
    """The column to shift by its mean."""


class Center(Transform):
    """Subtracts the mean it fitted; keeps everything on `self`."""

    meta = Meta("center", "1.2.3", "x - mean", stateful=True)

    def configure(self, config: Shift) -> None:
        self.config, self.seen = config, weft.Stats()

    def fit(self, batch: Batch) -> None:
        self.seen = self.seen.merge(compute.column_stats([batch.numeric(self.config.column)]))

    def state(self) -> weft.Stats:
        return self.seen

    def load_state(self, state: weft.Stats) -> None:
        self.mean = state.mean

    def transform(self, batch: Batch) -> Batch:
        if self.mean > 100:
            raise ZeroDivisionError("too big")
        column = compute.affine(batch.numeric(self.config.column), self.mean, 1.0)
        return batch.with_columns({self.config.column: column})


class Same(Transform):
    meta = Meta("same", "0.1.0")

    def transform(self, batch: Batch) -> Batch:
        return batch


class Count(Evaluate):
    meta = Meta("count", "0.1.0")

    def configure(self, config: weft.NoConfig) -> None:
        self.rows = 0

    def update(self, batch: Batch) -> None:
        self.rows += batch.num_rows
        weft.metrics.emit("rows_seen", batch.num_rows, {"step": "count"})

    def report(self) -> list[Metric]:
        return [Metric("rows", self.rows, {"set": "all"})]


class Exported(unittest.TestCase):
    def test_every_call_on_a_fresh_object_sees_one_step(self) -> None:
        step = weft.export(Center)
        step().configure('{"column": "x"}')
        step().fit(batch(x=[1.0, 3.0]).handle)
        out = Batch(step().transform(batch(x=[4.0]).handle))  # no load-state: derived
        self.assertEqual(out.f64s("x"), [2.0])
        self.assertEqual(weft.state.decode(step().state(), weft.Stats).count, 2)

    def test_describe_reports_the_schema_and_kind(self) -> None:
        d = weft.export(Center)().describe()
        self.assertEqual((d.name, d.version, d.kind, d.stateful), ("center", "1.2.3", "transform", True))
        schema = json.loads(d.config_schema)
        self.assertEqual((schema["title"], schema["required"]), ("center", ["column"]))
        self.assertEqual(schema["properties"]["column"]["description"], "The column to shift by its mean.")

    def test_errors_keep_their_kind_and_say_where(self) -> None:
        step = weft.export(Center)
        step().configure('{"column": "x"}')
        with self.assertRaises(StepError) as caught:
            step().fit(batch(y=[1.0]).handle)
        self.assertEqual(caught.exception.kind, "invalid-input")
        self.assertRegex(caught.exception.message, r'no column "x"[\s\S]*tests/test_runtime.py:\d+ in fit')
        step().load_state(weft.state.encode(weft.Stats(count=1, sum=200.0, mean=200.0)))
        with self.assertRaises(StepError) as caught:
            step().transform(batch(x=[1.0]).handle)
        self.assertEqual(caught.exception.kind, "internal")
        self.assertRegex(caught.exception.message, r"^ZeroDivisionError: too big; raised at tests/test_runtime.py:\d+ in transform")
        with self.assertRaisesRegex(StepError, "center does not implement merge"):
            step().merge([])
        with self.assertRaisesRegex(StepError, "update is not available on a transform step"):
            step().update(batch(x=[1.0]).handle)

    def test_a_transform_never_hands_back_its_input(self) -> None:
        step = weft.export(Same)
        step().configure("null")
        given = batch(x=[1.0])
        out = step().transform(given.handle)
        self.assertIsNot(out, given.handle)
        self.assertEqual(Batch(out).f64s("x"), [1.0])

    def test_an_evaluate_step_reports_and_emits(self) -> None:
        metrics = Harness(Count).evaluate([], [batch(x=[1.0, 2.0]), batch(x=[3.0])])
        self.assertEqual(metrics, [Metric("rows", 3, {"set": "all"})])
        self.assertEqual([m.value for m in emitted_metrics()], [2.0, 1.0])

    def test_a_harness_merges_shards_like_one_fit(self) -> None:
        h = Harness(Center, {"column": "x"})
        with self.assertRaisesRegex(StepError, "does not implement merge"):
            h.fit_shards([[batch(x=[1.0])], [batch(x=[3.0])]])
        self.assertEqual(h.state_of(h.fit([batch(x=[1.0]), batch(x=[3.0])])).mean, 2.0)
        with self.assertRaises(InvalidInput):
            h.loaded(b"\x00")


if __name__ == "__main__":
    unittest.main()
