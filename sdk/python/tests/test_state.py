"""States: CBOR as the Rust SDK writes it, every float bit for bit."""

import math
import random
import struct
import unittest
from dataclasses import dataclass

from weft_sdk import InvalidInput, Stats, state
from weft_sdk._cbor import decode, encode


def bits(value: float) -> int:
    return struct.unpack(">Q", struct.pack(">d", value))[0]


def any_float(rng: random.Random) -> float:
    """A float from any bits: NaN payloads, subnormals, ±0, ±inf, f32 and f16 values."""
    kind = rng.randrange(4)
    if kind == 0:
        raw = rng.getrandbits(64)
    elif kind == 1:
        raw = bits(struct.unpack(">f", struct.pack(">I", rng.getrandbits(32)))[0])
    elif kind == 2:
        raw = bits(struct.unpack(">e", struct.pack(">H", rng.getrandbits(16)))[0])
    else:
        return rng.choice([math.inf, -math.inf, -0.0, 0.0, math.nan, 5e-324, 1.7976931348623157e308])
    return struct.unpack(">d", struct.pack(">Q", raw))[0]


@dataclass
class Fitted:
    means: list[float]
    pairs: list[tuple[str, float]]
    scale: float | None
    counts: list[int]


class Cbor(unittest.TestCase):
    def test_every_float_round_trips_bit_for_bit(self) -> None:
        rng = random.Random(0x5EED)
        for _ in range(20000):
            value = any_float(rng)
            back = decode(encode(value))
            # Rust reads a signalling NaN narrower than f64 back quiet: those are never narrowed.
            self.assertEqual(bits(back), bits(value), hex(bits(value)))

    def test_floats_take_the_narrowest_exact_width_as_ciborium(self) -> None:
        cases = {1.5: "f93e00", 65504.0: "f97bff", 65520.0: "fa477ff000", 0.1: "fb3fb999999999999a",
                 -0.0: "f98000", math.inf: "f97c00", math.nan: "f97e00", 5.960464477539063e-08: "f90001"}  # fmt: skip
        for value, expected in cases.items():
            self.assertEqual(encode(value).hex(), expected, value)

    def test_integers_text_bytes_and_containers(self) -> None:
        value = [0, 23, 24, 255, 256, 2**32, 2**64 - 1, -1, -(2**64), "é", b"\x00", {"a": None, "b": True}]
        expected = "8c 00 17 1818 18ff 190100 1b0000000100000000 1bffffffffffffffff 20 3bffffffffffffffff 62c3a9 4100 a2 6161 f6 6162 f5"
        self.assertEqual(encode(value).hex(), expected.replace(" ", ""))
        self.assertEqual(decode(encode(value)), value)

    def test_indefinite_lengths_and_tags_are_read(self) -> None:
        self.assertEqual(decode(bytes.fromhex("9f0102ff")), [1, 2])
        self.assertEqual(decode(bytes.fromhex("bf6161f4ff")), {"a": False})
        self.assertEqual(decode(bytes.fromhex("c11a514b67b0")), 1363896240)


class States(unittest.TestCase):
    def test_dataclasses_round_trip_through_bytes(self) -> None:
        fitted = Fitted(means=[42.936244978842076, -0.0, math.inf], pairs=[("a", 1.5)], scale=None, counts=[3])
        back = state.decode(state.encode(fitted), Fitted)
        self.assertEqual([bits(m) for m in back.means], [bits(m) for m in fitted.means])
        self.assertEqual((back.pairs, back.scale, back.counts), ([("a", 1.5)], None, [3]))

    def test_stats_are_the_rust_struct(self) -> None:
        data = state.encode(Stats(count=1, nulls=0, sum=2.0, mean=2.0, m2=0.0, min=2.0, max=2.0))
        self.assertEqual(data[:3], state.MAGIC)
        self.assertEqual(decode(data[3:]), {"count": 1, "nulls": 0, "sum": 2.0, "mean": 2.0, "m2": 0.0, "min": 2.0, "max": 2.0})

    def test_json_states_of_the_first_rust_sdk_still_load(self) -> None:
        old = b'{"means":[42.936244978842076,-0.0],"pairs":[["a",1.5]],"scale":null,"counts":[3]}'
        back = state.decode(old, Fitted)
        self.assertEqual(bits(back.means[0]), bits(42.936244978842076))
        self.assertEqual(state.decode(b"null"), None)

    def test_foreign_bytes_are_refused_naming_the_cause(self) -> None:
        for data in (b"\x00\x01garbage", b"", b"\xd9\xd9\xf7\xff", state.encode(["text"])):
            with self.assertRaises(InvalidInput) as caught:
                state.decode(data, Fitted)
            self.assertIn("state does not belong to this step", caught.exception.message)
            self.assertIn("fit it again", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
