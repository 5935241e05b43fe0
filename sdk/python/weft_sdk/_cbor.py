"""A small CBOR (RFC 8949) codec that writes what Rust's ``ciborium`` writes.

Values: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists
(and tuples) and dicts. Lengths are definite, integers use their shortest
head, and a float is written in the narrowest of half, single and double
precision that gives back its exact bits (NaN payloads, -0.0 and infinities
included), as ``ciborium`` does: Rust and Python write the same bytes for the
same value, and every float reads back bit for bit.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Callable

_DOUBLE = (11, 52)
_SINGLE = (8, 23)
_HALF = (5, 10)


def _bits(value: float) -> int:
    return int.from_bytes(struct.pack(">d", value), "big")


def _float(bits: int) -> float:
    return float(struct.unpack(">d", bits.to_bytes(8, "big"))[0])


def _widen(narrow: int, exp_bits: int, man_bits: int) -> int:
    """The bits of the double equal to the narrower float ``narrow``."""
    sign = narrow >> (exp_bits + man_bits)
    exp = (narrow >> man_bits) & ((1 << exp_bits) - 1)
    man = narrow & ((1 << man_bits) - 1)
    bias = (1 << (exp_bits - 1)) - 1
    if exp == (1 << exp_bits) - 1:
        quiet = 1 << 51 if man else 0  # as Rust's conversions, which quiet a NaN
        return sign << 63 | 0x7FF << 52 | quiet | man << (52 - man_bits)
    if exp == 0:
        magnitude = _bits(math.ldexp(man, 1 - bias - man_bits))
        return sign << 63 | magnitude
    return sign << 63 | (exp - bias + 1023) << 52 | man << (52 - man_bits)


def _narrow(bits: int, exp_bits: int, man_bits: int) -> int | None:
    """The narrower float whose widening is exactly the double ``bits``."""
    sign = bits >> 63
    exp = (bits >> 52) & 0x7FF
    man = bits & ((1 << 52) - 1)
    bias = (1 << (exp_bits - 1)) - 1
    top = (1 << exp_bits) - 1
    if exp == 0x7FF:
        candidate = top << man_bits | man >> (52 - man_bits)
    elif exp == 0 and man == 0:
        candidate = 0
    else:
        unbiased = exp - 1023
        if unbiased + bias >= top:
            return None
        if unbiased + bias >= 1:
            candidate = (unbiased + bias) << man_bits | man >> (52 - man_bits)
        else:
            scaled = math.ldexp(abs(_float(bits)), bias - 1 + man_bits)
            if not scaled.is_integer() or scaled >= 1 << man_bits:
                return None
            candidate = int(scaled)
    candidate |= sign << (exp_bits + man_bits)
    return candidate if _widen(candidate, exp_bits, man_bits) == bits else None


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for minor, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | minor]) + value.to_bytes(size, "big")
    raise ValueError(f"integer {value} does not fit in 64 bits")


def _encode_float(value: float) -> bytes:
    bits = _bits(value)
    half = _narrow(bits, *_HALF)
    if half is not None:
        return b"\xf9" + half.to_bytes(2, "big")
    single = _narrow(bits, *_SINGLE)
    if single is not None:
        return b"\xfa" + single.to_bytes(4, "big")
    return b"\xfb" + bits.to_bytes(8, "big")


def encode(value: Any) -> bytes:
    """The CBOR bytes of ``value``."""
    out = bytearray()
    _write(value, out)
    return bytes(out)


def _write(value: Any, out: bytearray) -> None:
    if value is None:
        out += b"\xf6"
    elif isinstance(value, bool):
        out += b"\xf5" if value else b"\xf4"
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, float):
        out += _encode_float(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out += _head(3, len(raw)) + raw
    elif isinstance(value, (bytes, bytearray)):
        out += _head(2, len(value)) + bytes(value)
    elif isinstance(value, (list, tuple)):
        out += _head(4, len(value))
        for item in value:
            _write(item, out)
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for key, item in value.items():
            _write(key, out)
            _write(item, out)
    else:
        raise TypeError(f"cannot write a {type(value).__name__} as CBOR")


def decode(data: bytes) -> Any:
    """The one value in ``data``; ``ValueError`` says what is wrong."""
    reader = _Reader(data)
    value = reader.value()
    if reader.at != len(data):
        raise ValueError(f"{len(data) - reader.at} bytes left after the value")
    return value


_BREAK = object()


class _Reader:
    """Reads CBOR items from ``data``, starting at ``at``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ValueError(f"the bytes end inside an item (at byte {self.at})")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def argument(self, minor: int) -> int | None:
        """The head's argument; ``None`` for an indefinite length."""
        if minor < 24:
            return minor
        if minor == 31:
            return None
        if minor > 27:
            raise ValueError(f"malformed head (minor {minor}) at byte {self.at - 1}")
        return int.from_bytes(self.take(1 << (minor - 24)), "big")

    def value(self) -> Any:
        item = self.item()
        if item is _BREAK:
            raise ValueError(f"unexpected break at byte {self.at - 1}")
        return item

    def item(self) -> Any:
        initial = self.take(1)[0]
        major, minor = initial >> 5, initial & 31
        if major == 7:
            return self.simple(minor)
        argument = self.argument(minor)
        return _MAJORS[major](self, argument)

    def simple(self, minor: int) -> Any:
        if minor in (25, 26, 27):
            raw = int.from_bytes(self.take(1 << (minor - 24)), "big")
            width = {25: _HALF, 26: _SINGLE, 27: _DOUBLE}[minor]
            return _float(raw if minor == 27 else _widen(raw, *width))
        if minor == 31:
            return _BREAK
        known = {20: False, 21: True, 22: None, 23: None}
        if minor not in known:
            raise ValueError(f"unknown simple value {minor} at byte {self.at - 1}")
        return known[minor]

    def items(self, count: int | None) -> list[Any]:
        if count is not None:
            return [self.value() for _ in range(count)]
        found = []
        while (item := self.item()) is not _BREAK:
            found.append(item)
        return found

    def chunks(self, length: int | None, major: int) -> bytes:
        if length is not None:
            return self.take(length)
        parts = self.items(None)
        if any(not isinstance(p, (bytes, str)) for p in parts):
            raise ValueError(f"a segmented string holds another item (major {major})")
        return b"".join(p.encode("utf-8") if isinstance(p, str) else p for p in parts)


def _text(reader: _Reader, length: int | None) -> str:
    try:
        return reader.chunks(length, 3).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"text that is not UTF-8 ({e.reason})") from None


def _map(reader: _Reader, count: int | None) -> dict[Any, Any]:
    flat = reader.items(None if count is None else 2 * count)
    if len(flat) % 2:
        raise ValueError("a map ends after a key")
    try:
        return dict(zip(flat[0::2], flat[1::2]))
    except TypeError:
        raise ValueError("a map key is a list or a map") from None


def _need(argument: int | None) -> int:
    if argument is None:
        raise ValueError("an integer or tag with an indefinite length")
    return argument


_MAJORS: dict[int, Callable[[_Reader, int | None], Any]] = {
    0: lambda r, a: _need(a),
    1: lambda r, a: -1 - _need(a),
    2: lambda r, a: r.chunks(a, 2),
    3: _text,
    4: lambda r, a: r.items(a),
    5: _map,
    6: lambda r, a: (_need(a), r.value())[1],
}
