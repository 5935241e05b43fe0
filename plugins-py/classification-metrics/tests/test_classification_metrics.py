"""The `classification-metrics` step against scikit-learn, run natively the way the
host runs an evaluate step (config as JSON, one instance updated batch by batch,
then report), and shards counted apart and added up."""

import contextlib
import io
import json
import math
import unittest

import numpy as np
import pyarrow as pa
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

import classification_metrics as cm
from weft_sdk import InvalidConfig, InvalidInput, Metric, StepError
from weft_sdk.testing import Harness, batch

RNG = np.random.default_rng(11)
BINARY = {"label": "y", "score": "s"}
MULTICLASS = {"label": "y", "prediction": "p"}


def split(batches: int, **columns: np.ndarray | list | pa.Array) -> list:
    """The columns cut into `batches` batches of uneven sizes."""
    rows = len(next(iter(columns.values())))
    cuts = [0, *sorted(RNG.choice(np.arange(1, rows), batches - 1, replace=False)), rows]
    return [batch(**{n: c[i:j] for n, c in columns.items()}) for i, j in zip(cuts, cuts[1:])]


def evaluate(config: dict, parts: list, log: io.StringIO | None = None) -> list[Metric]:
    """The metrics the step reports over `parts`; its warnings (the host's log) go to `log`."""
    with contextlib.redirect_stderr(log or io.StringIO()):
        return Harness(cm.ClassificationMetrics, config).evaluate([], parts)


def values(metrics: list[Metric]) -> dict[tuple, float]:
    """The metrics by (name, label...), each series once."""
    out = {(m.name, *m.labels.items()): m.value for m in metrics}
    assert len(out) == len(metrics), "a series reported twice"
    return out


def tpr_at(fpr: np.ndarray, tpr: np.ndarray, x: float) -> float:
    """The highest TPR of scikit-learn's ROC curve at FPR `x`: the last vertex at
    or before `x`, or the line from it to the next."""
    i = np.searchsorted(fpr, x, side="right") - 1
    if fpr[i] == x or i == len(fpr) - 1:
        return tpr[i]
    return tpr[i] + (tpr[i + 1] - tpr[i]) * (x - fpr[i]) / (fpr[i + 1] - fpr[i])


class Binary(unittest.TestCase):
    def check(self, got: dict, y: np.ndarray, s: np.ndarray, threshold: float = 0.5) -> None:
        """Every binary metric against scikit-learn, on `y` (bool) and scores `s`."""
        predicted = s >= threshold
        p, r, f, _ = precision_recall_fscore_support(y, predicted, average="binary")
        expected = {
            ("accuracy",): accuracy_score(y, predicted),
            ("precision",): p,
            ("recall",): r,
            ("f1",): f,
            ("roc_auc",): roc_auc_score(y, s),
            ("log_loss",): log_loss(y, s, labels=[False, True]),
        }
        cells = confusion_matrix(y, predicted, labels=[False, True]).ravel()
        for cell, n in zip(["tn", "fp", "fn", "tp"], cells):
            expected["confusion_matrix", ("cell", cell)] = n
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        for i in range(21):
            expected["roc_tpr", ("fpr", f"{i / 20:.2f}")] = tpr_at(fpr, tpr, i / 20)
        self.assertEqual(list(got), list(expected))  # the Rust step's order too
        for key, want in expected.items():
            self.assertAlmostEqual(got[key], want, delta=1e-12, msg=key)
        for key in [("accuracy",), ("precision",), ("recall",), ("f1",)]:
            self.assertEqual(got[key], expected[key], key)  # the same bits

    def test_probabilities_with_ties_over_batches(self) -> None:
        rows = 3000
        y = RNG.random(rows) < 0.3
        s = np.clip(np.round(RNG.normal(0.35 + 0.3 * y, 0.2), 2), 0.0, 1.0)  # ties, 0 and 1
        for threshold in (0.5, 0.42, 0.0, 1.0):
            got = evaluate({**BINARY, "threshold": threshold}, split(7, y=y.astype(int), s=s))
            self.check(values(got), y, s, threshold)

    def test_labels_of_every_kind_match_positive(self) -> None:
        rows = 500
        k = RNG.integers(0, 4, rows)
        s = RNG.random(rows)
        cases = [  # options, labels, the labels that are positive
            ({"positive": "yes"}, np.where(k == 1, "yes", "no").tolist(), k == 1),
            ({"positive": 2}, k, k == 2),  # the other classes are negatives
            ({"positive": 2}, np.where(k == 1, 2.0, -1.5), k == 1),  # an integer matches floats
            ({"positive": 2.0}, pa.array(k, pa.int64()), k == 2),
            ({}, pa.array(k == 1, pa.bool_()), k == 1),  # the default 1 matches true
            ({"positive": 0}, pa.array(k == 1, pa.bool_()), k != 1),
            ({"positive": False}, pa.array(k == 1, pa.bool_()), k != 1),
        ]
        for options, labels, y in cases:
            self.check(values(evaluate({**BINARY, **options}, split(3, y=labels, s=s))), y, s)

    def test_the_rust_steps_own_cases(self) -> None:
        got = values(evaluate(BINARY, [batch(y=[0, 0, 1, 1], s=[0.1, 0.4, 0.35, 0.8])]))
        self.assertEqual([got[(n,)] for n in ("accuracy", "precision", "recall")], [0.75, 1, 0.5])
        self.assertEqual(got[("roc_auc",)], 0.75)
        ll = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4.0
        self.assertAlmostEqual(got[("log_loss",)], ll, delta=1e-15)
        got = values(evaluate(BINARY, [batch(y=[0, 1, 0, 1], s=[0.5, 0.5, 0.2, 0.9])]))
        self.assertEqual(got[("roc_auc",)], 0.875)  # a tie counts half
        self.assertEqual(got[("confusion_matrix", ("cell", "fp"))], 1.0)  # threshold inclusive

    def test_one_class_gives_nan_auc_no_curve_and_a_log_loss(self) -> None:
        log = io.StringIO()
        got = values(evaluate(BINARY, [batch(y=[1, 1], s=[0.5, 0.25])], log))
        self.assertTrue(math.isnan(got[("roc_auc",)]))
        self.assertIn('only one class is present in column "y" (positive = 1)', log.getvalue())
        self.assertEqual([k for k in got if k[0] == "roc_tpr"], [])
        y, s = np.array([True, True]), np.array([0.5, 0.25])
        expected = log_loss(y, s, labels=[False, True])
        self.assertAlmostEqual(got[("log_loss",)], expected, delta=1e-15)
        self.assertEqual(got[("precision",)], 1.0)

    def test_scores_outside_the_unit_interval_give_nan_log_loss_only(self) -> None:
        y = RNG.random(200) < 0.5
        s = RNG.normal(0.0, 3.0, 200) + y
        log = io.StringIO()
        got = values(evaluate({**BINARY, "threshold": 0.0}, split(2, y=y, s=s), log))
        self.assertTrue(math.isnan(got[("log_loss",)]))
        self.assertIn('column "s" has scores outside [0, 1]', log.getvalue())
        self.assertEqual(got[("roc_auc",)], roc_auc_score(y, s))
        f1 = precision_recall_fscore_support(y, s >= 0, average="binary")[2]
        self.assertEqual(got[("f1",)], f1)


class Multiclass(unittest.TestCase):
    def check(self, metrics: list[Metric], y: list, p: list, names: list[str]) -> None:
        """Every multiclass metric against scikit-learn; `names`: the classes as text, sorted."""
        expected = {("accuracy",): accuracy_score(y, p)}
        for average in ("macro", "weighted"):
            prf = precision_recall_fscore_support(y, p, average=average, zero_division=0)
            for name, value in zip(["precision", "recall", "f1"], prf):
                expected[name, ("average", average)] = value
        per_class = precision_recall_fscore_support(y, p, zero_division=0)  # sorted union
        for c, class_values in zip(names, zip(*per_class)):
            for name, value in zip(["precision", "recall", "f1", "support"], class_values):
                expected[name, ("class", c)] = value
        got = values(metrics)
        self.assertEqual(list(got), list(expected))  # the Rust step's order too
        for key, want in expected.items():
            self.assertAlmostEqual(got[key], want, delta=1e-12, msg=key)

    def test_integer_classes_over_batches(self) -> None:
        rows = 2000
        y = RNG.integers(0, 5, rows)
        p = np.where(RNG.random(rows) < 0.6, y, RNG.integers(1, 7, rows))  # 5, 6: never true
        metrics = evaluate(MULTICLASS, split(5, y=y, p=p))
        self.check(metrics, y.tolist(), p.tolist(), ["0", "1", "2", "3", "4", "5", "6"])
        self.assertEqual(metrics[0].value, accuracy_score(y, p))  # the same bits

    def test_text_float_and_boolean_classes(self) -> None:
        rows = 600
        words = np.array(["b", "a", "ç", "B", "apple"])
        y, p = RNG.integers(0, 5, rows), RNG.integers(0, 4, rows)
        got = evaluate(MULTICLASS, split(3, y=words[y].tolist(), p=words[p].tolist()))
        self.check(got, words[y].tolist(), words[p].tolist(), sorted(words.tolist()))
        # scikit-learn takes these for a continuous target: it gets their ranks instead.
        numbers = np.array([-1.0, -0.0, 1e-5, 2.5, 3.0, 1e20])
        names = ["-1", "0", "0.00001", "2.5", "3", "100000000000000000000"]
        y, p = RNG.integers(0, 6, rows), RNG.integers(1, 6, rows)  # -0.0 is 0.0
        got = evaluate(MULTICLASS, split(3, y=numbers[y], p=np.abs(numbers[p])))
        self.check(got, y.tolist(), p.tolist(), names)
        yb, pb = (RNG.random(rows) < 0.5).tolist(), (RNG.random(rows) < 0.4).tolist()
        self.check(evaluate(MULTICLASS, split(2, y=yb, p=pb)), yb, pb, ["false", "true"])

    def test_the_rust_steps_own_cases(self) -> None:
        got = values(evaluate(MULTICLASS, [batch(y=[0, 1, 2, 0, 1, 2], p=[0, 2, 1, 0, 0, 1])]))
        self.assertEqual(got[("accuracy",)], 1.0 / 3.0)
        self.assertEqual(got[("precision", ("class", "0"))], 2.0 / 3.0)
        self.assertEqual(got[("f1", ("class", "0"))], 0.8)
        self.assertAlmostEqual(got[("precision", ("average", "macro"))], 2.0 / 9.0, delta=1e-15)
        got = values(evaluate(MULTICLASS, [batch(y=["a", "b"], p=["a", "c"])]))
        self.assertEqual(got[("support", ("class", "c"))], 0.0)
        self.assertEqual(got[("precision", ("average", "weighted"))], 0.5)


class Shards(unittest.TestCase):
    def test_counts_of_shards_add_up_to_one_pass(self) -> None:
        rows = 1500
        y = RNG.integers(0, 3, rows)
        s = np.round(RNG.random(rows), 3)
        p = np.where(RNG.random(rows) < 0.5, y, RNG.integers(0, 4, rows))
        for config in (BINARY, {**BINARY, "threshold": 0.3}, MULTICLASS):
            h = Harness(cm.ClassificationMetrics, config)
            parts = split(6, y=y, s=s, p=p)
            shards = [h.instance() for _ in range(3)]
            for i, part in enumerate(parts):
                shards[i % 3].update(part)
            merged = h.instance()
            for shard in shards:
                merged.absorb(shard)
            with contextlib.redirect_stderr(io.StringIO()):
                got = [(m.name, m.labels, repr(m.value)) for m in merged.report()]
            whole = [(m.name, m.labels, repr(m.value)) for m in evaluate(config, parts)]
            self.assertEqual(got, whole)


class Errors(unittest.TestCase):
    def test_configs_are_refused_naming_the_field(self) -> None:
        cases = {
            '{"score": "s"}': "label: missing",
            '{"label": 3, "score": "s"}': "label: expected a string",
            '{"label": "y"}': "give exactly one of `score`",
            '{"label": "y", "score": "s", "prediction": "p"}': "give exactly one of `score`",
            '{"label": "y", "prediction": "p", "threshold": 0.3}': "`threshold` and `positive`",
            '{"label": "y", "prediction": "p", "positive": "a"}': "`threshold` and `positive`",
            '{"label": "y", "score": "s", "treshold": 0.3}': 'unknown field "treshold"',
            '{"label": "y", "score": "s", "threshold": "x"}': "threshold: expected a number",
            '{"label": "y", "score": "s", "positive": [1]}': "positive: expected a boolean, an integer, a number or a string (or null), got array [1]",
        }
        for config, message in cases.items():
            with self.assertRaises(StepError, msg=config) as caught:
                cm.Step().configure(config)
            self.assertIsInstance(caught.exception, InvalidConfig, config)
            self.assertIn(message, caught.exception.message, config)

    def test_the_description_is_the_rust_steps(self) -> None:
        described = cm.Step().describe()
        self.assertEqual((described.name, described.kind, described.stateful),
                         ("classification-metrics", "evaluate", False))
        schema = json.loads(described.config_schema)
        fields = ["label", "score", "prediction", "threshold", "positive"]
        self.assertEqual((schema["required"], list(schema["properties"])), (["label"], fields))
        self.assertEqual(schema["properties"]["threshold"]["type"], ["number", "null"])

    def fails(self, config: dict, parts: list) -> str:
        with self.assertRaises(InvalidInput) as caught:
            evaluate(config, parts)
        return caught.exception.message

    def test_missing_columns_and_mixed_kinds_are_named(self) -> None:
        message = self.fails(BINARY, [batch(y=[1], p=[1])])
        self.assertIn('no column "s" in the input (columns: y, p)', message)
        self.assertIn('no column "p" in the input', self.fails(MULTICLASS, [batch(y=[1], s=[1.0])]))
        self.assertIn('column "s" holds text values', self.fails(BINARY, [batch(y=[1], s=["a"])]))
        message = self.fails(MULTICLASS, [batch(y=["a"], p=[1])])
        self.assertIn('column "y" holds text but column "p" holds numbers', message)
        message = self.fails(BINARY, [batch(y=["yes", "no"], s=[0.1, 0.2])])
        wanted = 'column "y" holds text, but `positive` is 1 (numbers); give `positive` as text'
        self.assertIn(wanted, message)
        message = self.fails({**BINARY, "positive": 2}, [batch(y=[True], s=[0.1])])
        self.assertIn("holds booleans, but `positive` is 2 (numbers)", message)

    def test_missing_values_are_counted_over_every_batch(self) -> None:
        null = pa.array([None], pa.float64())
        parts = [batch(y=[0, 1, 1], s=[math.nan, 0.5, math.inf]), batch(y=[0], s=null)]
        message = self.fails(BINARY, parts)
        self.assertIn('column "s" has 3 NaN, infinite or null values (of 4 rows)', message)
        parts = [batch(y=[0, None, 1], s=[0.1, 0.2, 0.3]), batch(y=[math.nan], s=[0.4])]
        self.assertIn('column "y" has 2 null values (of 4 rows)', self.fails(BINARY, parts))
        parts = [batch(y=["a", "b"], p=["a", None]), batch(y=["c"], p=[None])]
        self.assertIn('column "p" has 2 null values (of 3 rows)', self.fails(MULTICLASS, parts))
        parts = [batch(y=[1.0, math.nan], p=[1.0, 2.0]), batch(y=null, p=[math.nan])]
        self.assertIn('column "y" has 2 null values (of 3 rows)', self.fails(MULTICLASS, parts))
        empty = {"y": pa.array([], pa.int64()), "s": pa.array([], pa.float64())}
        for config in (BINARY, MULTICLASS):
            nothing = batch(**empty, p=empty["y"])
            self.assertIn("no rows to evaluate", self.fails(config, [nothing]))
            self.assertIn("no rows to evaluate", self.fails(config, []))


if __name__ == "__main__":
    unittest.main()
