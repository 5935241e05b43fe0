"""A step's config: a dataclass, its JSON Schema, and reading it on configure.

Declare the config as a dataclass. A field without a default is required;
its description comes from ``weft_sdk.field(description=...)`` (or
``dataclasses.field(metadata={"description": ...})``) or from a docstring
under the field::

    @dataclass
    class Config:
        \"\"\"Shift a column.\"\"\"

        column: str
        \"\"\"The column to shift.\"\"\"
        by: float = 0.0
        method: Literal["add", "sub"] = "sub"
        names: list[str] = weft_sdk.field(default_factory=list, min_items=1)

:func:`config_schema` gives the JSON Schema (draft 2020-12) the host checks
configs against, shaped as the Rust SDK's ``schemars`` output: ``title``,
``description``, ``properties`` with ``type``/``format``/``default``,
``enum`` for ``Literal`` and ``Enum`` fields, ``required``, nested
dataclasses under ``$defs``. Unknown fields are refused
(``additionalProperties: false``). :func:`parse_config` reads a config
document, raising :class:`~weft_sdk.errors.InvalidConfig` naming the field.
A ``ValueError`` raised in the dataclass's ``__post_init__`` becomes one too.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import textwrap
import types
import typing
from enum import Enum
from typing import Any, Literal, TypeVar

from ._typed import META, Mismatch, fields_of, from_plain, has_default, optional_of, to_plain
from .errors import InvalidConfig

C = TypeVar("C")

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"

_KEYWORDS = {
    "min_items": "minItems",
    "max_items": "maxItems",
    "minimum": "minimum",
    "maximum": "maximum",
}


def field(
    *,
    description: str | None = None,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
    min_items: int | None = None,
    max_items: int | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A dataclass field with a description and limits that both the
    schema states and :func:`parse_config` enforces."""
    given = {"min_items": min_items, "max_items": max_items, "minimum": minimum, "maximum": maximum}
    metadata: dict[str, Any] = {META: {k: v for k, v in given.items() if v is not None}}
    if description is not None:
        metadata["description"] = description
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def parse_config(cls: type[C], text: str) -> C:
    """The config of type ``cls`` in the JSON ``text``; ``null`` reads as ``{}``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidConfig(f"the config is not JSON: {e}") from None
    try:
        return typing.cast(C, from_plain(cls, {} if document is None else document))
    except Mismatch as e:
        raise InvalidConfig(str(e)) from None


def config_schema(cls: type, title: str | None = None) -> dict[str, Any]:
    """The JSON Schema of the config dataclass ``cls``."""
    defs: dict[str, Any] = {}
    root = {"$schema": SCHEMA_DRAFT, "title": title or cls.__name__}
    root.update(_object(cls, defs))
    if defs:
        root["$defs"] = defs
    return root


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    docs = field_docs(cls)
    schema: dict[str, Any] = {}
    doc = _class_doc(cls)
    if doc:
        schema["description"] = doc
    properties, required = {}, []
    for f, tp in fields_of(cls):
        properties[f.name] = _property(f, tp, docs.get(f.name), defs)
        if not has_default(f) and optional_of(tp) is None:
            required.append(f.name)
    schema.update(type="object", properties=properties)
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _property(f: dataclasses.Field[Any], tp: Any, doc: str | None, defs: dict[str, Any]) -> Any:
    schema: dict[str, Any] = {}
    description = f.metadata.get("description", doc)
    if description:
        schema["description"] = description
    schema.update(schema_of(tp, defs))
    for option, value in f.metadata.get(META, {}).items():
        schema[_KEYWORDS[option]] = value
    if f.default is not dataclasses.MISSING:
        schema["default"] = to_plain(f.default)
    elif f.default_factory is not dataclasses.MISSING:
        schema["default"] = to_plain(f.default_factory())
    return schema


_SIMPLE: dict[Any, dict[str, Any]] = {
    bool: {"type": "boolean"},
    int: {"type": "integer", "format": "int64"},
    float: {"type": "number", "format": "double"},
    str: {"type": "string"},
    Any: {},
}


def schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of values of annotation ``tp``; dataclasses go to ``defs``."""
    if tp in _SIMPLE:
        return dict(_SIMPLE[tp])
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # a placeholder against recursion
            defs[tp.__name__] = {"title": tp.__name__, **_object(tp, defs)}
        return {"$ref": f"#/$defs/{tp.__name__}"}
    inner = optional_of(tp)
    if inner is not None:
        return _nullable(schema_of(inner, defs))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return _union(typing.get_args(tp), defs)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _enum([m.value for m in tp])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return _enum(list(args))
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(args[1] if args else Any, defs)}
    if origin in (list, tuple):
        return _array(origin, args, defs)
    raise TypeError(f"the SDK cannot describe values of type {tp!r} in a schema")


def _array(origin: Any, args: tuple[Any, ...], defs: dict[str, Any]) -> dict[str, Any]:
    if origin is list or not args or (len(args) == 2 and args[1] is Ellipsis):
        return {"type": "array", "items": schema_of(args[0] if args else Any, defs)}
    if len(set(args)) == 1:
        items = {"items": schema_of(args[0], defs)}
    else:
        items = {"prefixItems": [schema_of(a, defs) for a in args]}
    return {"type": "array", **items, "minItems": len(args), "maxItems": len(args)}


def _union(members: tuple[Any, ...], defs: dict[str, Any]) -> dict[str, Any]:
    """One ``type`` list for a union of plain types, else ``anyOf``."""
    schemas = [{"type": "null"} if m is type(None) else schema_of(m, defs) for m in members]
    if all(set(s) == {"type"} or set(s) == {"type", "format"} for s in schemas):
        return {"type": list(dict.fromkeys(s["type"] for s in schemas))}
    return {"anyOf": schemas}


def _enum(values: list[Any]) -> dict[str, Any]:
    if all(isinstance(v, str) for v in values):
        return {"type": "string", "enum": values}
    return {"enum": values}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _class_doc(cls: type) -> str | None:
    """The class docstring, not the signature ``dataclass`` writes when there is none."""
    doc = inspect.getdoc(cls)
    if not doc or (doc.startswith(f"{cls.__name__}(") and doc.endswith(")")):
        return None
    return doc


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under the fields of ``cls``; none where its source
    cannot be read (read configs before building a component, where it can)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = next((n.body for n in tree.body if isinstance(n, ast.ClassDef)), [])
    docs = {}
    for node, after in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs
