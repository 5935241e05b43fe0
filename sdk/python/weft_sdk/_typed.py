"""Plain values (what JSON and CBOR hold) to typed ones and back, led by
type annotations: how configs are read and states are written and read.

Supported annotations: ``bool``, ``int``, ``float``, ``str``, ``bytes``,
``list[T]``, ``tuple[T, ...]``, ``tuple[A, B]``, ``dict[str, T]``,
``Optional[T]``, ``Literal[...]``, ``Enum`` subclasses, dataclasses, unions
of scalars, unions of dataclasses told apart by a ``Literal`` field they
all have (a tag, as serde's ``#[serde(tag = "...")]``), and ``Any``. A mistake is a :class:`Mismatch` naming the path to the value,
e.g. ``feature_range[1]: expected a number, got "x"``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from typing import Any, Literal, Union

#: The key of a field's metadata that holds the SDK's options (see ``config.field``).
META = "weft"


class Mismatch(ValueError):
    """A value that does not fit its annotation; ``str`` names the path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)


def shown(value: Any) -> str:
    """``value`` as a short JSON text, for messages."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def kind_of(value: Any) -> str:
    """The JSON name of ``value``'s type."""
    for py, name in ((type(None), "null"), (bool, "boolean"), (int, "integer"), (float, "number")):
        if isinstance(value, py):
            return name
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def optional_of(tp: Any) -> Any | None:
    """``T`` when ``tp`` is ``Optional[T]``."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) == 1 and len(typing.get_args(tp)) == 2:
            return rest[0]
    return None


def fields_of(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    """The fields of dataclass ``cls`` with their resolved annotations."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def has_default(f: dataclasses.Field[Any]) -> bool:
    """Whether a field may be left out."""
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def from_plain(tp: Any, value: Any, path: str = "") -> Any:
    """``value`` converted to ``tp``; raises :class:`Mismatch`."""
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, value, path)
    inner = optional_of(tp)
    if inner is not None:
        return None if value is None else from_plain(inner, value, path)
    if typing.get_origin(tp) in (Union, types.UnionType):
        if tag_of(typing.get_args(tp)) is not None:
            return _tagged(typing.get_args(tp), value, path)
        return _union(typing.get_args(tp), value, path)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _choice(tp, [m.value for m in tp], value, path)
    origin = typing.get_origin(tp)
    if origin is Literal:
        return _choice(None, list(typing.get_args(tp)), value, path)
    if origin in (list, tuple):
        return _sequence(tp, value, path)
    if origin is dict:
        return _mapping(tp, value, path)
    return _scalar(tp, value, path)


def _choice(enum: type[Enum] | None, allowed: list[Any], value: Any, path: str) -> Any:
    for a in allowed:
        if type(a) is type(value) and a == value:
            return enum(value) if enum else value
    choices = ", ".join(shown(a) for a in allowed)
    raise Mismatch(path, f"{shown(value)} is not one of {choices}")


def _sequence(tp: Any, value: Any, path: str) -> Any:
    if not isinstance(value, (list, tuple)):
        raise Mismatch(path, f"expected an array, got {kind_of(value)} {shown(value)}")
    args = typing.get_args(tp) or (Any,)
    if typing.get_origin(tp) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise Mismatch(path, f"expected {len(args)} items, got {len(value)}")
        return tuple(from_plain(t, v, f"{path}[{i}]") for i, (t, v) in enumerate(zip(args, value)))
    items = [from_plain(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if typing.get_origin(tp) is tuple else items


def _mapping(tp: Any, value: Any, path: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise Mismatch(path, f"expected an object, got {kind_of(value)} {shown(value)}")
    key_type, value_type = typing.get_args(tp) or (Any, Any)
    return {
        from_plain(key_type, k, path): from_plain(value_type, v, f"{path}.{k}" if path else str(k))
        for k, v in value.items()
    }


_SCALARS: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "a boolean"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
    bytes: ((bytes,), "bytes"),
}


def tag_of(members: tuple[Any, ...]) -> tuple[str, dict[str, type]] | None:
    """For a union of dataclasses: the field that tells them apart (each
    member declares it ``Literal[...]`` with values of its own) and which
    member each value selects; ``None`` for other unions."""
    classes = [m for m in members if m is not type(None)]
    if not classes or not all(dataclasses.is_dataclass(m) and isinstance(m, type) for m in classes):
        return None
    hints = [dict((f.name, tp) for f, tp in fields_of(m)) for m in classes]
    for name in hints[0]:
        literals = [h.get(name) for h in hints]
        if not all(typing.get_origin(t) is Literal for t in literals):
            continue
        chosen = {v: m for m, t in zip(classes, literals) for v in typing.get_args(t)}
        if len(chosen) == sum(len(typing.get_args(t)) for t in literals):
            return name, chosen
    names = ", ".join(m.__name__ for m in classes)
    raise TypeError(f"the union of {names} needs a Literal field with other values in each to tell them apart")


def _tagged(members: tuple[Any, ...], value: Any, path: str) -> Any:
    tag, chosen = typing.cast(tuple[str, dict[str, type]], tag_of(members))
    if value is None and type(None) in members:
        return None
    if not isinstance(value, dict):
        raise Mismatch(path, f"expected an object, got {kind_of(value)} {shown(value)}")
    at = f"{path}.{tag}" if path else tag
    if tag not in value:
        choices = ", ".join(shown(v) for v in chosen)
        raise Mismatch(at, f"missing (a required field): one of {choices}")
    member = _choice(None, list(chosen), value[tag], at)
    return _dataclass(chosen[member], value, path)


def _union(members: tuple[Any, ...], value: Any, path: str) -> Any:
    """``value`` as the first of the scalar ``members`` that takes it as it
    is (``True`` stays a boolean, ``1`` an integer where both are allowed)."""
    if value is None and type(None) in members:
        return None
    scalars = [m for m in members if m in _SCALARS]
    for member in sorted(scalars, key=list(_SCALARS).index):
        try:
            return _scalar(member, value, path)
        except Mismatch:
            continue
    names = [_SCALARS[m][1] for m in scalars]
    listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)
    nullable = " (or null)" if type(None) in members else ""
    raise Mismatch(path, f"expected {listed}{nullable}, got {kind_of(value)} {shown(value)}")


def _scalar(tp: Any, value: Any, path: str) -> Any:
    if tp not in _SCALARS:
        raise TypeError(f"{path or 'value'}: the SDK cannot read values of type {tp!r}")
    accepted, name = _SCALARS[tp]
    if not isinstance(value, accepted) or (tp is not bool and isinstance(value, bool)):
        raise Mismatch(path, f"expected {name}, got {kind_of(value)} {shown(value)}")
    return float(value) if tp is float else value


def _dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise Mismatch(path, f"expected an object, got {kind_of(value)} {shown(value)}")
    fields = fields_of(cls)
    names = [f.name for f, _ in fields]
    unknown = [k for k in value if k not in names]
    if unknown:
        known = ", ".join(names) or "none"
        raise Mismatch(path, f"unknown field {shown(unknown[0])}; the fields are: {known}")
    found = {}
    for f, tp in fields:
        at = f"{path}.{f.name}" if path else f.name
        if f.name in value:
            found[f.name] = checked(f, from_plain(tp, value[f.name], at), at)
        elif optional_of(tp) is not None and not has_default(f):
            found[f.name] = None
        elif not has_default(f):
            raise Mismatch(at, "missing (a required field)")
    try:
        return cls(**found)
    except ValueError as e:  # a check in ``__post_init__``
        raise Mismatch(path, str(e)) from None


def checked(f: dataclasses.Field[Any], value: Any, path: str) -> Any:
    """``value`` after the limits of ``weft_sdk.field`` (items, bounds)."""
    options = f.metadata.get(META, {})
    if isinstance(value, (list, tuple, dict)):
        low, high = options.get("min_items"), options.get("max_items")
        if low is not None and len(value) < low:
            raise Mismatch(path, f"needs at least {low} items, got {len(value)}")
        if high is not None and len(value) > high:
            raise Mismatch(path, f"takes at most {high} items, got {len(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = options.get("minimum"), options.get("maximum")
        if low is not None and value < low:
            raise Mismatch(path, f"{shown(value)} is below the minimum {shown(low)}")
        if high is not None and value > high:
            raise Mismatch(path, f"{shown(value)} is above the maximum {shown(high)}")
    return value


def to_plain(value: Any) -> Any:
    """``value`` as plain values: dataclasses become dicts (fields in
    order), enums their values, tuples lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return to_plain(value.value)
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    return value
