"""The bytes of a fitted state, in the Rust SDK's format.

A state is CBOR behind the self-describe tag ``0xd9d9f7``, written as Rust's
``ciborium`` writes a ``serde`` value: a dataclass is a map of its fields in
order (a Rust struct), a list or tuple an array, ``None`` null. Each float is
stored in the narrowest width that gives back its exact bits, so every float
survives the round trip (±inf, -0.0 and NaN payloads included), and the same
state gives the same bytes, hence the same digest, from a Python or a Rust
step. A Rust step's state reads into the matching dataclasses and back.

States the Rust SDK 0.1.0 wrote as JSON still load, as exactly as JSON allows.
"""

from __future__ import annotations

import json
from typing import Any

from . import _cbor
from ._typed import from_plain, to_plain
from .errors import Internal, InvalidInput

#: The CBOR self-describe tag (55799) that starts every state.
MAGIC = b"\xd9\xd9\xf7"


def encode(state: Any) -> bytes:
    """The bytes of ``state`` (plain values or dataclasses)."""
    try:
        return MAGIC + _cbor.encode(to_plain(state))
    except (TypeError, ValueError) as e:
        raise Internal(f"cannot encode state: {e}") from None


def decode(data: bytes, tp: Any = Any) -> Any:
    """The state in ``data``, converted to the annotation ``tp``."""
    try:
        return from_plain(tp, _plain(data))
    except ValueError as e:  # malformed bytes, or a Mismatch with the type
        raise InvalidInput(
            f"state does not belong to this step or version: {e}; fit it again with this plugin"
        ) from None


def _plain(data: bytes) -> Any:
    if data.startswith(MAGIC):
        return _cbor.decode(data[len(MAGIC) :])
    if _looks_like_json(data):
        try:
            return json.loads(data)
        except ValueError as e:
            raise ValueError(f"JSON state: {e}") from None
    raise ValueError(f"{len(data)} bytes that are neither a CBOR state nor a JSON one")


def _looks_like_json(data: bytes) -> bool:
    start = data.lstrip()[:1]
    return start != b"" and start in b'{["-0123456789ntf'
