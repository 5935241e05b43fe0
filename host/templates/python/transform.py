"""`{{name}}`: centre numeric columns on the mean fitted over the training
data, and optionally divide by the standard deviation, like scikit-learn's
`StandardScaler`.

Fit asks the host for each column's statistics (`compute.column_stats`), the
state is those statistics (mergeable across shards; how many values each
column had goes to the run's metrics), and transform is one host `affine`
call per column, so no value passes through Python. Other columns pass
through untouched.
"""

import math
from dataclasses import dataclass
from functools import reduce

import weft_sdk as weft
from weft_sdk import Batch, InvalidInput, Stats, compute, metrics


@dataclass
class Config:
    """The step's `config:` in the pipeline; its JSON Schema is derived
    from this class and checked by the host before the step starts."""
    columns: list[str] = weft.field(min_items=1)
    """Numeric columns to centre."""
    scale: bool = False
    """Also divide by the standard deviation."""


class Center(weft.Transform):
    """The step: its config, what fit has seen, and the loaded `(mean, 1/sd)`."""
    meta = weft.Meta("{{name}}", "0.1.0", "Centre numeric columns on their fitted mean", stateful=True)

    def configure(self, config: Config) -> None:
        self.config = config
        self.seen = [Stats() for _ in config.columns]

    def fit(self, batch: Batch) -> None:
        for i, name in enumerate(self.config.columns):
            self.seen[i] = self.seen[i].merge(compute.column_stats([batch.numeric(name)]))

    def state(self) -> list[Stats]:
        for name, seen in zip(self.config.columns, self.seen):
            metrics.emit("fitted_values", float(seen.count), {"column": name})
        return self.seen

    def load_state(self, state: list[Stats]) -> None:
        if len(state) != len(self.config.columns):
            raise InvalidInput("the state was fitted for other columns")
        sd = [math.sqrt(s.variance()) for s in state]
        self.params = [(s.mean, 1.0 / d if self.config.scale and d > 0 else 1.0) for s, d in zip(state, sd)]

    def merge(self, states: list[list[Stats]]) -> list[Stats]:
        columns = range(len(self.config.columns))
        return [reduce(Stats.merge, (s[i] for s in states), Stats()) for i in columns]

    def transform(self, batch: Batch) -> Batch:
        centred = {}
        for name, (mean, inverse) in zip(self.config.columns, self.params):
            centred[name] = compute.affine(batch.numeric(name), mean, inverse)  # (x - mean) * inverse
        return batch.with_columns(centred)


Step = weft.export(Center)  # what componentize-py exports as the `step` interface
