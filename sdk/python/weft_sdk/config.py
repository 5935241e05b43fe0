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
(``additionalProperties: false``). A union of dataclasses with a ``Literal``
tag field (``Standard | MinMax``, each with its own ``method: Literal[...]``)
is one flat object whose tag picks the member, as serde's internally tagged
enums read: another member's options are refused by name. :func:`parse_config` reads a config
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

from ._typed import META, Mismatch, fields_of, from_plain, has_default, optional_of, tag_of, to_plain
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
    """The JSON Schema of the config dataclass (or tagged union of them) ``cls``."""
    defs: dict[str, Any] = {}
    root = {"$schema": SCHEMA_DRAFT, "title": title or getattr(cls, "__name__", "Config")}
    members = typing.get_args(cls) if typing.get_origin(cls) in (typing.Union, types.UnionType) else ()
    root.update(_tagged(members, defs) if members else _object(cls, defs))
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
        members = typing.get_args(tp)
        if tag_of(members) is None:
            return _union(members, defs)
        tagged = _tagged(members, defs)
        return {"anyOf": [tagged, {"type": "null"}]} if type(None) in members else tagged
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


def _tagged(members: tuple[Any, ...], defs: dict[str, Any]) -> dict[str, Any]:
    """One object for a tagged union of dataclasses: the properties of all
    members, and for each tag value an ``if``/``then`` that refuses the
    fields of the others and requires its own."""
    tag, chosen = typing.cast(tuple[str, dict[str, type]], tag_of(members))
    classes = list(dict.fromkeys(chosen.values()))
    shapes = [_object(c, defs) for c in classes]
    names = list(dict.fromkeys(n for shape in shapes for n in shape["properties"]))
    merged = {}
    for name in names:
        found = [shape["properties"][name] for shape in shapes if name in shape["properties"]]
        merged[name] = found[0] if all(f == found[0] for f in found) else {}
    merged[tag] = _enum(list(chosen))
    branches = []
    for c, shape in zip(classes, shapes):
        own = shape["properties"]
        then: dict[str, Any] = {n: own[n] if n in own else False for n in names if merged[n] != own.get(n)}
        then.pop(tag, None)
        values = [v for v, m in chosen.items() if m is c]
        branch = {"properties": then, "required": shape.get("required", [])}
        branches.append({"if": {"properties": {tag: {"enum": values}}, "required": [tag]}, "then": branch})
    docs = [f"{c.__name__}: {_class_doc(c)}" for c in classes if _class_doc(c)]
    schema: dict[str, Any] = {"description": "\n".join(docs)} if docs else {}
    common = [n for n in shapes[0].get("required", []) if all(n in s.get("required", []) for s in shapes)]
    schema.update(type="object", properties=merged, required=list(dict.fromkeys([*common, tag])))
    return {**schema, "additionalProperties": False, "allOf": branches}


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
    """Docstrings written under the fields of ``cls`` and the dataclasses it
    derives from; none where a source cannot be read (read configs before
    building a component, where it can)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
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
