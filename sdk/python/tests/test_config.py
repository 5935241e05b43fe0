"""Configs: the JSON Schema of a dataclass, and errors that name the field."""

import enum
import json
import unittest
from dataclasses import dataclass, field
from typing import Literal, Optional, Union

import weft_sdk as weft
from weft_sdk import InvalidConfig, config_schema, parse_config


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Inner:
    """A nested part."""

    depth: int = 1


@dataclass
class Config:
    """What the step does."""

    column: str
    """The column to read."""
    by: float = 1.0
    mode: Literal["add", "sub"] = "sub"
    colour: Colour = Colour.RED
    names: list[str] = weft.field(default_factory=list, max_items=2, description="Up to two names.")
    pair: tuple[float, float] = (0.0, 1.0)
    mixed: tuple[int, str] = (1, "a")
    label: Optional[str] = None
    weights: dict[str, float] = field(default_factory=dict, metadata={"description": "Per column."})
    inner: Inner = field(default_factory=Inner)
    rate: float = weft.field(default=0.5, minimum=0.0, maximum=1.0)

    def __post_init__(self) -> None:
        if self.by == 0:
            raise ValueError("by: must not be 0")


class Schema(unittest.TestCase):
    def test_the_schema_reads_as_schemars_writes_it(self) -> None:
        schema = config_schema(Config)
        self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual((schema["title"], schema["description"]), ("Config", "What the step does."))
        self.assertEqual(schema["required"], ["column"])
        self.assertIs(schema["additionalProperties"], False)
        p = schema["properties"]
        self.assertEqual(p["column"], {"description": "The column to read.", "type": "string"})
        self.assertEqual(p["by"], {"type": "number", "format": "double", "default": 1.0})
        self.assertEqual(p["mode"], {"type": "string", "enum": ["add", "sub"], "default": "sub"})
        self.assertEqual(p["colour"], {"type": "string", "enum": ["red", "blue"], "default": "red"})
        self.assertEqual(p["names"]["description"], "Up to two names.")
        self.assertEqual((p["names"]["items"], p["names"]["maxItems"]), ({"type": "string"}, 2))
        self.assertEqual(p["pair"]["minItems"], 2)
        self.assertEqual(p["mixed"]["prefixItems"][1], {"type": "string"})
        self.assertEqual(p["label"], {"type": ["string", "null"], "default": None})
        self.assertEqual(p["weights"]["additionalProperties"], {"type": "number", "format": "double"})
        self.assertEqual(p["inner"]["$ref"], "#/$defs/Inner")
        self.assertEqual(schema["$defs"]["Inner"]["properties"]["depth"]["default"], 1)
        self.assertEqual((p["rate"]["minimum"], p["rate"]["maximum"]), (0.0, 1.0))

    def test_the_schema_accepts_the_defaults_it_states(self) -> None:
        import jsonschema

        schema = config_schema(Config)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate({"column": "x", "mixed": [2, "b"], "inner": {"depth": 3}}, schema)
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate({"column": "x", "mode": "mul"}, schema)


class Parse(unittest.TestCase):
    def test_a_config_reads_into_the_dataclass(self) -> None:
        config = parse_config(Config, '{"column": "x", "by": 2, "colour": "blue", "pair": [1, 2], "inner": {"depth": 4}}')
        self.assertEqual((config.by, config.colour, config.pair, config.inner.depth), (2.0, Colour.BLUE, (1.0, 2.0), 4))
        self.assertIsInstance(config.by, float)

    def test_mistakes_name_the_field(self) -> None:
        cases = {
            "{": "the config is not JSON",
            "{}": "column: missing (a required field)",
            '{"column": 1}': "column: expected a string, got integer 1",
            '{"column": "x", "by": true}': "by: expected a number, got boolean true",
            '{"column": "x", "by": 0}': "by: must not be 0",
            '{"column": "x", "mode": "mul"}': 'mode: "mul" is not one of "add", "sub"',
            '{"column": "x", "names": ["a", "b", "c"]}': "names: takes at most 2 items, got 3",
            '{"column": "x", "pair": [1]}': "pair: expected 2 items, got 1",
            '{"column": "x", "inner": {"depth": 1.5}}': "inner.depth: expected an integer, got number 1.5",
            '{"column": "x", "weights": {"a": "b"}}': 'weights.a: expected a number, got string "b"',
            '{"column": "x", "rate": 2}': "rate: 2.0 is above the maximum 1.0",
            '{"column": "x", "colum": "y"}': 'unknown field "colum"; the fields are: column, by',
        }
        for text, message in cases.items():
            with self.assertRaises(InvalidConfig, msg=text) as caught:
                parse_config(Config, text)
            self.assertIn(message, caught.exception.message, text)


@dataclass
class Labelled:
    """A field that takes any scalar, as a class label does."""

    positive: Optional[Union[bool, int, float, str]] = None


class Unions(unittest.TestCase):
    def test_a_union_of_scalars_is_one_type_list(self) -> None:
        schema = config_schema(Labelled)["properties"]["positive"]
        self.assertEqual(schema["type"], ["boolean", "integer", "number", "string", "null"])

    def test_each_value_keeps_its_own_type(self) -> None:
        for text, value in [("true", True), ("1", 1), ("2.5", 2.5), ('"a"', "a"), ("null", None)]:
            got = parse_config(Labelled, f'{{"positive": {text}}}').positive
            self.assertEqual((type(got), got), (type(value), value), text)

    def test_other_values_are_refused_naming_the_field(self) -> None:
        with self.assertRaisesRegex(InvalidConfig, r"positive: expected a boolean, an integer, a number or a string \(or null\), got array"):
            parse_config(Labelled, '{"positive": [1]}')


@dataclass
class Shared:
    columns: list[str]
    """Columns to use."""


@dataclass
class Add(Shared):
    """Add a constant."""

    op: Literal["add", "plus"]
    by: float = 1.0


@dataclass
class Clip(Shared):
    """Clip to a range."""

    op: Literal["clip"]
    low: float
    by: str = "row"


class Tagged(unittest.TestCase):
    """A union of dataclasses told apart by a ``Literal`` field, read flat."""

    def test_the_tag_picks_the_member(self) -> None:
        add = parse_config(Add | Clip, '{"columns": ["a"], "op": "plus", "by": 2}')
        clip = parse_config(Add | Clip, '{"columns": ["a"], "op": "clip", "low": 0}')
        self.assertEqual((type(add), add.by, type(clip), clip.low), (Add, 2.0, Clip, 0.0))

    def test_mistakes_name_the_field(self) -> None:
        cases = {
            '{"columns": ["a"]}': 'op: missing (a required field): one of "add", "plus", "clip"',
            '{"columns": ["a"], "op": "mul"}': 'op: "mul" is not one of "add", "plus", "clip"',
            '{"columns": ["a"], "op": "add", "low": 1}': 'unknown field "low"; the fields are: columns, op, by',
            '{"columns": ["a"], "op": "clip"}': "low: missing (a required field)",
            '{"columns": ["a"], "op": "clip", "low": 0, "by": 1}': "by: expected a string, got integer 1",
            '[1]': "expected an object, got array",
        }
        for text, message in cases.items():
            with self.assertRaises(InvalidConfig, msg=text) as caught:
                parse_config(Add | Clip, text)
            self.assertIn(message, caught.exception.message, text)

    def test_the_schema_refuses_what_parsing_refuses(self) -> None:
        import jsonschema

        schema = config_schema(Add | Clip, title="op")
        jsonschema.Draft202012Validator.check_schema(schema)
        self.assertEqual(schema["properties"]["columns"]["description"], "Columns to use.")
        self.assertEqual(schema["properties"]["op"]["enum"], ["add", "plus", "clip"])
        self.assertEqual(schema["required"], ["columns", "op"])
        good = ['{"columns": ["a"], "op": "plus", "by": 2}', '{"columns": ["a"], "op": "clip", "low": 0, "by": "col"}']
        bad = [
            '{"columns": ["a"]}',
            '{"columns": ["a"], "op": "mul"}',
            '{"columns": ["a"], "op": "add", "low": 1}',
            '{"columns": ["a"], "op": "clip"}',
            '{"columns": ["a"], "op": "clip", "low": 0, "by": 1}',
            '{"columns": ["a"], "op": "add", "by": "row"}',
        ]
        for text in good:
            jsonschema.validate(json.loads(text), schema)
            parse_config(Add | Clip, text)
        for text in bad:
            with self.assertRaises(jsonschema.ValidationError, msg=text):
                jsonschema.validate(json.loads(text), schema)
            with self.assertRaises(InvalidConfig, msg=text):
                parse_config(Add | Clip, text)

    def test_members_without_a_tag_are_refused_when_described(self) -> None:
        with self.assertRaisesRegex(TypeError, "needs a Literal field"):
            config_schema(Inner | Labelled)


if __name__ == "__main__":
    unittest.main()
