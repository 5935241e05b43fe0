"""`{{name}}`: the mean absolute error between a label column and a
prediction column, like scikit-learn's `mean_absolute_error`.

Every batch adds to running sums; `report` returns the metric, which the
host writes to report.json and metrics.prom and checks against gates.
"""

import math
from dataclasses import dataclass

import weft_sdk as weft
from weft_sdk import Batch, InvalidInput, Metric


@dataclass
class Config:
    """The step's `config:` in the pipeline; its JSON Schema is derived
    from this class and checked by the host before the step starts."""
    label: str
    """The column with the true values."""
    prediction: str
    """The column with the predictions."""


class MeanAbsoluteError(weft.Evaluate):
    """The step: its config and the running sums."""
    meta = weft.Meta("{{name}}", "0.1.0", "Mean absolute error of a prediction column")

    def configure(self, config: Config) -> None:
        self.config = config
        self.total, self.rows = 0.0, 0

    def update(self, batch: Batch) -> None:
        labels = batch.f64s(self.config.label)
        predictions = batch.f64s(self.config.prediction)
        for row, (y, p) in enumerate(zip(labels, predictions)):
            if math.isnan(y) or math.isnan(p):
                raise InvalidInput(f"row {row}: a missing label or prediction")
            self.total += abs(y - p)
            self.rows += 1

    def report(self) -> list[Metric]:
        value = self.total / self.rows if self.rows else math.nan
        return [Metric("mean_absolute_error", value)]


Step = weft.export(MeanAbsoluteError)  # what componentize-py exports as the `step` interface
