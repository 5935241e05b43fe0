"""The host inside a component: weft, through the bindings componentize-py
generates for ``wit/step.wit``, world ``plugin`` (module ``wit_world``).

Imported interfaces are modules of functions and resource classes; a
``result`` error arrives as ``componentize_py_types.Err`` and leaves the same
way. This is the only module that touches the bindings: values are converted
here, as ``convert.rs`` does for the Rust SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import step as wit_step
from wit_world.imports import compute as wit_compute
from wit_world.imports import log as wit_log
from wit_world.imports import metrics as wit_metrics
from wit_world.imports import model as wit_model
from wit_world.imports import types as wit

from .errors import Internal, InvalidConfig, InvalidInput, StepError, as_step_error
from .types import DeviceInfo, Dtype, Indicator, Port, QuantileMethod, Scalar, Stats, UnknownPolicy

if TYPE_CHECKING:
    from ._runtime import Runner

R = TypeVar("R")

_FROM_WIT_ERROR: dict[type, type[StepError]] = {
    wit.StepError_InvalidConfig: InvalidConfig,
    wit.StepError_InvalidInput: InvalidInput,
    wit.StepError_Internal: Internal,
}

_TO_WIT_ERROR: dict[str, Callable[[str], Any]] = {
    "invalid-config": wit.StepError_InvalidConfig,
    "invalid-input": wit.StepError_InvalidInput,
    "internal": wit.StepError_Internal,
}

_BUILDERS = {
    Dtype.F64: wit.Column.from_f64s,
    Dtype.F32: wit.Column.from_f32s,
    Dtype.S64: wit.Column.from_s64s,
    Dtype.BOOLEAN: wit.Column.from_bools,
    Dtype.TEXT: wit.Column.from_strings,
}

_READERS: dict[Dtype, Callable[[wit.Column], list[Any]]] = {
    Dtype.F64: wit.Column.to_f64s,
    Dtype.F32: wit.Column.to_f32s,
    Dtype.S64: wit.Column.to_s64s,
    Dtype.BOOLEAN: wit.Column.to_bools,
    Dtype.TEXT: wit.Column.to_strings,
}

_METHODS = {"lower": "LOWER_VALUE", "higher": "HIGHER_VALUE"}


def host(call: Callable[..., R], *args: Any) -> R:
    """``call(*args)``, its ``step-error`` raised as the SDK's error."""
    try:
        return call(*args)
    except Err as e:
        raise _FROM_WIT_ERROR[type(e.value)](e.value.value) from None


def to_wit_scalar(value: Scalar) -> wit.Scalar:
    """A scalar as WIT's variant."""
    if value is None:
        return wit.Scalar_Null()
    if isinstance(value, bool):
        return wit.Scalar_Boolean(value)
    if isinstance(value, int):
        return wit.Scalar_Int(value)
    if isinstance(value, float):
        return wit.Scalar_Float(value)
    return wit.Scalar_Text(value)


def from_wit_scalar(value: wit.Scalar) -> Scalar:
    """WIT's scalar variant as a plain value."""
    return None if isinstance(value, wit.Scalar_Null) else value.value


class WasmHost:
    """The weft host, through the generated bindings."""

    def column_from(self, dtype: Dtype, values: Sequence[Any], validity: Sequence[bool] | None) -> wit.Column:
        return _BUILDERS[dtype](list(values), None if validity is None else list(validity))

    def dtype(self, column: wit.Column) -> Dtype:
        return Dtype[column.dtype().name]

    def length(self, column: wit.Column) -> int:
        return column.len()

    def null_count(self, column: wit.Column) -> int:
        return column.null_count()

    def validity(self, column: wit.Column) -> list[bool] | None:
        return column.validity()

    def values(self, column: wit.Column, dtype: Dtype) -> list[Any]:
        return host(_READERS[dtype], column)

    def batch_from(self, names: list[str], columns: list[wit.Column]) -> wit.Batch:
        return host(wit.Batch.from_columns, names, columns)

    def num_rows(self, batch: wit.Batch) -> int:
        return batch.num_rows()

    def column_names(self, batch: wit.Batch) -> list[str]:
        return batch.column_names()

    def column(self, batch: wit.Batch, name: str) -> wit.Column | None:
        return batch.column(name)

    def with_columns(self, batch: wit.Batch, names: list[str], columns: list[wit.Column]) -> wit.Batch:
        return host(batch.with_columns, names, columns)

    def replace(self, batch: wit.Batch, name: str, names: list[str], columns: list[wit.Column]) -> wit.Batch:
        return host(batch.replace, name, names, columns)

    def column_stats(self, columns: list[wit.Column]) -> Stats:
        s = host(wit_compute.column_stats, columns)
        return Stats(s.count, s.nulls, s.sum, s.mean, s.m2, s.min, s.max)

    def quantiles(self, columns: list[wit.Column], qs: list[float], method: QuantileMethod) -> list[float]:
        chosen = wit_compute.QuantileMethod[_METHODS.get(method, method.upper())]
        return host(wit_compute.quantiles_with, columns, qs, chosen)

    def value_counts(self, columns: list[wit.Column]) -> list[tuple[Scalar, int]]:
        return [(from_wit_scalar(v), n) for v, n in host(wit_compute.value_counts, columns)]

    def affine(self, column: wit.Column, a: float, b: float) -> wit.Column:
        return host(wit_compute.affine, column, a, b)

    def fill_nulls(self, column: wit.Column, value: Scalar) -> wit.Column:
        return host(wit_compute.fill_nulls, column, to_wit_scalar(value))

    def one_hot(
        self, column: wit.Column, categories: list[Scalar], unknown: UnknownPolicy, kind: Indicator
    ) -> list[wit.Column]:
        cats = [to_wit_scalar(c) for c in categories]
        policy = wit_compute.UnknownPolicy[unknown.upper()]
        indicator = wit_compute.Indicator["BOOLEAN" if kind == "bool" else kind.upper()]
        return host(wit_compute.one_hot_as, column, cats, policy, indicator)

    def device(self) -> DeviceInfo:
        d = wit_compute.device()
        return DeviceInfo(d.name, d.backend, d.kind.name.lower().replace("_", "-"))

    def matmul(self, columns: list[wit.Column], weights: list[float], outputs: int) -> list[wit.Column]:
        return host(wit_compute.matmul, columns, weights, outputs)

    def histogram(self, columns: list[wit.Column], edges: list[float]) -> list[int]:
        return host(wit_compute.histogram, columns, edges)

    def digitize(self, column: wit.Column, edges: list[float], right: bool) -> wit.Column:
        return host(wit_compute.digitize, column, edges, right)

    def run_wgsl(
        self, source: str, entry: str, buffers: list[tuple[Any, bool]], workgroups: tuple[int, int, int]
    ) -> list[bytes]:
        bound = [wit_compute.Buffer(_buffer_source(s), writable) for s, writable in buffers]
        return host(wit_compute.run_wgsl, source, entry, bound, workgroups)

    def model_open(self, path: str) -> wit_model.Model:
        return host(wit_model.Model.open, path)

    def model_from_bytes(self, data: bytes) -> wit_model.Model:
        return host(wit_model.Model.from_bytes, data)

    def model_digest(self, model: wit_model.Model) -> str:
        return model.digest()

    def model_ports(self, model: wit_model.Model, which: str) -> list[Port]:
        ports = model.inputs() if which == "inputs" else model.outputs()
        return [Port(p.name, p.onnx_type, None if p.dtype is None else Dtype[p.dtype.name], list(p.shape))
                for p in ports]

    def model_run(self, model: wit_model.Model, features: list[wit.Column], outputs: list[str]) -> list[list[wit.Column]]:
        return host(model.run, features, outputs)

    def log(self, level: str, message: str) -> None:
        wit_log.log(wit_log.Level[level.upper()], message)

    def emit(self, name: str, value: float, labels: list[tuple[str, str]]) -> None:
        wit_metrics.emit(name, value, labels)

    def export(self, runner: Runner) -> type:
        return _exported(runner)


def _buffer_source(source: Any) -> wit_compute.BufferSource:
    if isinstance(source, bytes):
        return wit_compute.BufferSource_Bytes(source)
    return wit_compute.BufferSource_Column(source)


def _guarded(call: Callable[..., R], *args: Any) -> R:
    """``call(*args)``, any exception raised as a WIT ``step-error``."""
    try:
        return call(*args)
    except Exception as e:
        error = as_step_error(e)
        raise Err(_TO_WIT_ERROR[error.kind](error.message)) from None


def _exported(runner: Runner) -> type:
    """The class implementing the exported ``step`` interface over ``runner``."""

    class Step(exports.Step):
        """The exported ``step`` interface; componentize-py makes one per call."""

        def describe(self) -> wit_step.Metadata:
            d = runner.describe()
            kind = wit_step.Kind[d.kind.upper()]
            return wit_step.Metadata(d.name, d.version, kind, d.description, d.config_schema, d.stateful)

        def configure(self, config: str) -> None:
            _guarded(runner.configure, config)

        def fit(self, data: wit.Batch) -> None:
            _guarded(runner.fit, data)

        def state(self) -> bytes:
            return _guarded(runner.state)

        def load_state(self, state: bytes) -> None:
            _guarded(runner.load_state, state)

        def merge(self, states: list[bytes]) -> bytes:
            return _guarded(runner.merge, states)

        def transform(self, data: wit.Batch) -> wit.Batch:
            return _guarded(runner.transform, data)

        def update(self, data: wit.Batch) -> None:
            _guarded(runner.update, data)

        def report(self) -> list[wit_step.Metric]:
            metrics = _guarded(runner.report)
            return [wit_step.Metric(m.name, m.value, list(m.labels.items())) for m in metrics]

    return Step
