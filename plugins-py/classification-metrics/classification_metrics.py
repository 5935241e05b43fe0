"""`classification-metrics`: binary and multiclass classification metrics (scikit-learn 1.9), as
weft's Rust step reports them. `update` only counts rows (per score and class, or per label and
prediction) in `Counter`s, in C loops; `report` derives every metric from the counts, and the
counts of shards add up (`absorb`) to those of the whole input."""

import json
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import partial, reduce
from itertools import accumulate, compress, repeat
from operator import add, eq, mul, ne, not_
from typing import Any, Optional, Union

import weft_sdk as weft
from weft_sdk import Batch, Dtype, InvalidConfig, InvalidInput, Metric

EPSILON = 2.0**-52  # f64::EPSILON: log_loss clips probabilities to [eps, 1 - eps]
ROC_POINTS = 20  # intervals of the false-positive-rate grid `roc_tpr` is reported on
KINDS = ("booleans", "numbers", "text")  # as Rust orders classes of different kinds


@dataclass
class Config:
    """Binary (`score`) or multiclass (`prediction`) metrics; give exactly one:
    `{"label", "score", "threshold", "positive"}` (binary) or
    `{"label", "prediction"}` (multiclass)."""
    label: str
    """Column of true labels."""
    score: Optional[str] = None
    """Binary: column of scores or probabilities of the positive class."""
    prediction: Optional[str] = None
    """Multiclass: column of predicted classes."""
    threshold: Optional[float] = None
    """Binary: predict positive when score >= threshold (default 0.5)."""
    positive: Optional[Union[bool, int, float, str]] = None
    """Binary: the positive label (default 1)."""

    def __post_init__(self) -> None:
        if (self.score is None) == (self.prediction is None):
            raise InvalidConfig("give exactly one of `score` (binary: a score column) or "
                                "`prediction` (multiclass: a predicted-class column)")
        if self.prediction is not None and (self.threshold, self.positive) != (None, None):
            raise InvalidConfig("`threshold` and `positive` apply only with `score` (binary); "
                                "remove them or give `score` instead of `prediction`")


def classed(value: Any) -> Any:
    """A class as the Rust step compares them: numbers as f64, -0.0 as 0.0."""
    return value if isinstance(value, (bool, str)) else float(value) + 0.0


def text(value: Any) -> str:
    """A class as Rust's `Display` writes it: `true`, `3`, `2.5`, `0.0001` (no exponent), `inf`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value) if math.isinf(value) else format(Decimal(repr(value)).normalize(), "f")
    return value


def read(batch: Batch, name: str) -> tuple[str, list[Any], int]:
    """The kind of the named column, its values (`None` where null) and how many are missing."""
    column = batch.column(name)
    kind = {Dtype.BOOLEAN: KINDS[0], Dtype.TEXT: KINDS[2]}.get(column.dtype, KINDS[1])
    values = column.to_pylist()
    return kind, values, values.count(None) + sum(map(ne, values, values))  # nulls and NaN


def prf(tp: int, predicted: int, support: int) -> list[float]:
    """Precision, recall and F1 (`2 tp / (true + predicted)`) as scikit-learn computes them: 0.0
    where a denominator is 0 (its default `zero_division`)."""
    ratios = ((tp, predicted), (tp, support), (2 * tp, predicted + support))
    return [float(n) / float(d) if d else 0.0 for n, d in ratios]


def metric(name: str, value: float, **labels: str) -> Metric:
    return Metric(name, float(value), labels)


def named(values: list[float], **labels: str) -> list[Metric]:
    return [metric(n, v, **labels) for n, v in zip(("precision", "recall", "f1"), values)]


def tpr_at(fprs: list[float], tprs: list[float], x: float) -> float:
    """The highest TPR the ROC curve reaches at FPR `x`, over the segments through `x` (linear
    between vertices: tied scores give a diagonal)."""
    lo, hi = max(bisect_left(fprs, x) - 1, 0), bisect_right(fprs, x)
    segments = zip(fprs[lo:hi], tprs[lo:hi], fprs[lo + 1 : hi + 1], tprs[lo + 1 : hi + 1])
    return max(t1 if f1 == f0 else t0 + (t1 - t0) * (x - f0) / (f1 - f0)
               for f0, t0, f1, t1 in segments)


class ClassificationMetrics(weft.Evaluate):
    """The step: its config and the rows counted so far."""
    meta = weft.Meta("classification-metrics", "0.1.0",
                     "Binary and multiclass classification metrics (scikit-learn semantics)")

    def configure(self, config: Config) -> None:
        self.config = config
        self.positive = classed(1 if config.positive is None else config.positive)
        self.kind = {bool: KINDS[0], str: KINDS[2]}.get(type(self.positive), KINDS[1])
        self.negatives, self.positives = Counter(), Counter()  # binary: rows per score
        self.pairs = Counter()  # multiclass: rows per (kind, label, prediction)
        self.tally = Counter()  # rows, and rows missing a label, score or prediction

    def absorb(self, other: "ClassificationMetrics") -> None:
        """Add the counts of a step that saw another shard of the input."""
        for counts in ("negatives", "positives", "pairs", "tally"):
            getattr(self, counts).update(getattr(other, counts))

    def update(self, batch: Batch) -> None:
        c, p = self.config, self.positive
        kind, labels, missing = read(batch, c.label)
        if c.score is None:
            predicted_kind, predictions, unpredicted = read(batch, c.prediction)
            if kind != predicted_kind:
                raise InvalidInput(f"column {json.dumps(c.label)} holds {kind} but column "
                                   f"{json.dumps(c.prediction)} holds {predicted_kind}; labels and "
                                   "predictions must be of one kind (scikit-learn rejects a mix)")
            self.pairs.update(zip(repeat(kind), labels, predictions))
            self.tally.update(rows=len(labels), label=missing, prediction=unpredicted)
            return
        if self.kind != kind and not (kind == KINDS[0] and p in (0.0, 1.0)):  # as numpy compares
            raise InvalidInput(f"column {json.dumps(c.label)} holds {kind}, but `positive` is "
                               f"{text(p)} ({self.kind}); give `positive` as {kind}")
        scores = batch.numeric(c.score).to_f64s()
        positive = list(map(partial(eq, p), labels))  # rows missing a label or score count too,
        self.negatives.update(compress(scores, map(not_, positive)))  # and `report` then refuses
        self.positives.update(compress(scores, positive))
        bad = len(scores) - sum(map(math.isfinite, scores))
        self.tally.update(rows=len(labels), label=missing, score=bad)

    def report(self) -> list[Metric]:
        c, t = self.config, self.tally
        if not t["rows"]:
            raise InvalidInput("no rows to evaluate: the input is empty "
                               "(scikit-learn raises ValueError on empty input)")
        checks = [(c.label, "label", "null"), (c.score, "score", "NaN, infinite or null"),
                  (c.prediction, "prediction", "null")]
        for column, role, what in checks:
            if t[role]:
                raise InvalidInput(f"column {json.dumps(column)} has {t[role]} {what} values (of "
                                   f"{t['rows']} rows); scikit-learn rejects them: drop or fill "
                                   "those rows first")
        return self.binary() if c.score is not None else self.multiclass()

    def binary(self) -> list[Metric]:
        c, rows = self.config, self.tally["rows"]
        scores = sorted(self.negatives.keys() | self.positives.keys())  # distinct, ascending
        negs, poss = (list(map(n.get, scores, repeat(0))) for n in (self.negatives, self.positives))
        neg, pos = sum(negs), sum(poss)
        at = bisect_left(scores, 0.5 if c.threshold is None else c.threshold)  # >= threshold
        fp, tp = sum(negs[at:]), sum(poss[at:])
        accuracy = metric("accuracy", float(tp + neg - fp) / float(rows))
        out = [accuracy, *named(prf(tp, tp + fp, pos))]
        fps, tps = (list(accumulate(reversed(n))) for n in (negs, poss))  # from the top score down
        out += [metric("roc_auc", self.roc_auc(negs, tps)),
                metric("log_loss", self.log_loss(scores, negs, poss))]
        for cell, n in (("tn", neg - fp), ("fp", fp), ("fn", pos - tp), ("tp", tp)):
            out.append(metric("confusion_matrix", n, cell=cell))
        if neg and pos:  # the ROC curve through (0, 0) and a vertex per distinct score
            fprs, tprs = [0.0, *(f / neg for f in fps)], [0.0, *(t / pos for t in tps)]
            for x in (i / ROC_POINTS for i in range(ROC_POINTS + 1)):
                out.append(metric("roc_tpr", tpr_at(fprs, tprs, x), fpr=f"{x:.2f}"))
        return out

    def roc_auc(self, negs: list[int], tps: list[int]) -> float:
        """The trapezoid over distinct scores, exact (twice the area times neg * pos is whole)."""
        neg, pos = sum(negs), tps[-1]
        if not (neg and pos):
            weft.log.warn(f"only one class is present in column {json.dumps(self.config.label)} "
                          f"(positive = {text(self.positive)}): roc_auc is undefined and "
                          "reported as NaN, as scikit-learn does")
            return math.nan
        # From the top score down: negatives * (positives above + positives at or above).
        twice = sum(map(mul, reversed(negs), map(add, [0, *tps[:-1]], tps)))
        return float(twice) / (2.0 * neg * pos)

    def log_loss(self, scores: list[float], negs: list[int], poss: list[int]) -> float:
        """Mean cross-entropy, probabilities clipped to `[eps, 1 - eps]`; NaN outside [0, 1]."""
        if scores[0] < 0.0 or scores[-1] > 1.0:
            weft.log.warn(f"column {json.dumps(self.config.score)} has scores outside [0, 1]: "
                          "log_loss needs probabilities and is reported as NaN "
                          "(scikit-learn raises ValueError)")
            return math.nan
        terms = (n * -math.log(min(max(1.0 - s, EPSILON), 1.0 - EPSILON))
                 + p * -math.log(min(max(s, EPSILON), 1.0 - EPSILON))
                 for s, n, p in zip(scores, negs, poss))
        return reduce(add, terms, 0.0) / float(sum(negs) + sum(poss))  # Rust's plain sum

    def multiclass(self) -> list[Metric]:
        rows = self.tally["rows"]
        counts: dict[tuple[int, Any], list[int]] = {}  # [true positives, predicted, support]
        for (kind, label, predicted), n in self.pairs.items():
            label, predicted = ((KINDS.index(kind), classed(v)) for v in (label, predicted))
            counts.setdefault(label, [0, 0, 0])[2] += n
            counts.setdefault(predicted, [0, 0, 0])[1] += n
            counts[label][0] += n * (label == predicted)
        classes = [(text(k[1]), prf(*counts[k]), counts[k][2]) for k in sorted(counts)]
        correct = sum(tp for tp, _, _ in counts.values())
        out = [metric("accuracy", float(correct) / float(rows))]
        # Rust's plain sums, not Python 3.12's compensated `sum`:
        mean = [reduce(add, (v[i] for _, v, _ in classes), 0.0) / len(classes) for i in range(3)]
        weighted = [reduce(add, (v[i] * float(s) for _, v, s in classes), 0.0) / float(rows)
                    for i in range(3)]
        out += named(mean, average="macro") + named(weighted, average="weighted")
        for name, values, support in classes:
            label = {"class": name}
            out += named(values, **label) + [metric("support", support, **label)]
        return out


Step = weft.export(ClassificationMetrics)  # what componentize-py exports as the `step` interface
