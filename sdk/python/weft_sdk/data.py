"""Columns and batches: handles to data that stays on the host.

A step copies in only the columns it reads (``batch.f64s("age")``), passes
the others through untouched (:meth:`Batch.with_columns` shares them), and
leaves heavy math to :mod:`weft_sdk.compute`.

A batch handed to ``fit``, ``transform`` or ``update`` lives for that call
only: keep the columns you need (``batch.column(name)``), not the batch.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._host import HOST, Handle
from .errors import InvalidInput
from .types import Dtype


class Column:
    """An immutable column on the host (an Arrow array)."""

    __slots__ = ("handle",)

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    @classmethod
    def of(cls, dtype: Dtype, values: Sequence[Any], validity: Sequence[bool] | None = None) -> Column:
        """A column of ``dtype`` from ``values``; ``validity[i] == False`` marks a null."""
        return cls(HOST.column_from(dtype, values, validity))

    @classmethod
    def from_f64s(cls, values: Sequence[float], validity: Sequence[bool] | None = None) -> Column:
        """A column of f64 values."""
        return cls.of(Dtype.F64, values, validity)

    @classmethod
    def from_f32s(cls, values: Sequence[float], validity: Sequence[bool] | None = None) -> Column:
        """A column of f32 values."""
        return cls.of(Dtype.F32, values, validity)

    @classmethod
    def from_s64s(cls, values: Sequence[int], validity: Sequence[bool] | None = None) -> Column:
        """A column of 64-bit integers."""
        return cls.of(Dtype.S64, values, validity)

    @classmethod
    def from_bools(cls, values: Sequence[bool], validity: Sequence[bool] | None = None) -> Column:
        """A column of booleans."""
        return cls.of(Dtype.BOOLEAN, values, validity)

    @classmethod
    def from_strings(cls, values: Sequence[str], validity: Sequence[bool] | None = None) -> Column:
        """A column of strings."""
        return cls.of(Dtype.TEXT, values, validity)

    @property
    def dtype(self) -> Dtype:
        """Element type."""
        return HOST.dtype(self.handle)

    def __len__(self) -> int:
        return HOST.length(self.handle)

    @property
    def null_count(self) -> int:
        """Nulls."""
        return HOST.null_count(self.handle)

    def validity(self) -> list[bool] | None:
        """Validity per row, or ``None`` when nothing is null."""
        return HOST.validity(self.handle)

    def to_f64s(self) -> list[float]:
        """Numeric values as floats; nulls read as NaN."""
        return HOST.values(self.handle, Dtype.F64)

    def to_f32s(self) -> list[float]:
        """Numeric values rounded to f32; nulls read as NaN."""
        return HOST.values(self.handle, Dtype.F32)

    def to_s64s(self) -> list[int]:
        """Integers; nulls read as 0. Float columns are refused."""
        return HOST.values(self.handle, Dtype.S64)

    def to_bools(self) -> list[bool]:
        """Booleans; nulls read as ``False``."""
        return HOST.values(self.handle, Dtype.BOOLEAN)

    def to_strings(self) -> list[str]:
        """Any column rendered as text; nulls read as ``""``."""
        return HOST.values(self.handle, Dtype.TEXT)

    def to_pylist(self) -> list[Any]:
        """Values in their own type, with ``None`` for nulls (NaN stays NaN)."""
        dtype = Dtype.F64 if self.dtype is Dtype.F32 else self.dtype
        values = HOST.values(self.handle, dtype)
        valid = self.validity()
        return values if valid is None else [v if ok else None for v, ok in zip(values, valid)]

    def __repr__(self) -> str:
        return f"Column({self.dtype.value}, {len(self)} rows)"


def _split(columns: Mapping[str, Column]) -> tuple[list[str], list[Handle]]:
    return list(columns), [c.handle for c in columns.values()]


class Batch:
    """An immutable set of equally long, named columns on the host."""

    __slots__ = ("handle",)

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    @classmethod
    def from_columns(cls, columns: Mapping[str, Column]) -> Batch:
        """A batch of the named columns, in order."""
        return cls(HOST.batch_from(*_split(columns)))

    @property
    def num_rows(self) -> int:
        """Rows."""
        return HOST.num_rows(self.handle)

    @property
    def column_names(self) -> list[str]:
        """Column names, in order."""
        return HOST.column_names(self.handle)

    def get(self, name: str) -> Column | None:
        """The named column, or ``None``."""
        handle = HOST.column(self.handle, name)
        return None if handle is None else Column(handle)

    def column(self, name: str) -> Column:
        """The named column; :class:`InvalidInput` lists the columns there are."""
        found = self.get(name)
        if found is None:
            names = ", ".join(self.column_names)
            raise InvalidInput(f'no column "{name}" in the input (columns: {names})')
        return found

    def numeric(self, name: str) -> Column:
        """The named column, checked to hold numbers."""
        column = self.column(name)
        if not column.dtype.numeric:
            raise InvalidInput(
                f'column "{name}" holds {column.dtype.value} values; this step needs numbers'
            )
        return column

    def f64s(self, name: str) -> list[float]:
        """The named numeric column as floats (nulls read as NaN)."""
        return self.numeric(name).to_f64s()

    def nullable_f64s(self, name: str) -> list[float | None]:
        """The named numeric column as floats with nulls as ``None``; NaN stays NaN."""
        column = self.numeric(name)
        values, valid = column.to_f64s(), column.validity()
        return list(values) if valid is None else [v if ok else None for v, ok in zip(values, valid)]

    def with_columns(self, columns: Mapping[str, Column]) -> Batch:
        """This batch with the named columns replaced in place, or appended;
        untouched columns are shared, not copied."""
        return Batch(HOST.with_columns(self.handle, *_split(columns)))

    def replace(self, name: str, columns: Mapping[str, Column]) -> Batch:
        """This batch with column ``name`` replaced, at its position, by
        ``columns`` (none drops it)."""
        return Batch(HOST.replace(self.handle, name, *_split(columns)))

    def __repr__(self) -> str:
        return f"Batch({self.num_rows} rows: {', '.join(self.column_names)})"

