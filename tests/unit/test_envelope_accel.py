"""The optional C payload code (watertel/_payload.c) against the pure-Python code it stands in for:
the same bytes sealed, the same readings opened, the same refusals, no leaked references."""

from __future__ import annotations

import math
import struct
import sys

import pytest
from hypothesis import given, strategies as st

from watertel import envelope
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, EnvelopeError, decode_payload, open_envelope, seal
from watertel.readings import Quality, Reading

from tests.support.checks import need

KEY = SM2PrivateKey.generate()
T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def accel():
    need(envelope._accel is not None, "the C payload accelerator (watertel._payload, built by pip install)")
    return envelope._accel


def python_only(fn, *args):
    """``fn(*args)`` with the accelerator switched off."""
    saved, envelope._accel = envelope._accel, None
    try:
        return fn(*args)
    finally:
        envelope._accel = saved


def outcome(fn, *args):
    """The result or the exception (type and message) of ``fn(*args)``."""
    try:
        return ("ok", fn(*args))
    except Exception as err:  # noqa: BLE001 - the comparison is the point
        return ("error", type(err).__name__, str(err))


names = st.sampled_from(["ST-1", "ST-2", "flow", "pressure", "m3/h", "MPa", "泵站", "-", "x" * 255])
readings = st.lists(st.builds(
    Reading, names, names, st.integers(-2**63, 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2**53, 2**53),
    st.sampled_from(["m3/h", "MPa", "", "pH"]), st.sampled_from(list(Quality))), min_size=1, max_size=600)


def same_readings(a: tuple[Reading, ...], b: tuple[Reading, ...]) -> bool:
    return len(a) == len(b) and all(x.same_as(y) and type(x) is type(y) is Reading for x, y in zip(a, b))


@given(readings)
def test_c_and_python_encode_the_same_bytes_and_decode_the_same_readings(rows):
    fast = envelope._encode_payload(rows)
    assert fast == python_only(envelope._encode_payload, rows)
    opened = decode_payload(fast)
    assert same_readings(opened, python_only(decode_payload, fast))
    expected = tuple(r._replace(unit=r.unit or "-", value=float(r.value)) for r in rows)
    assert same_readings(opened, expected)
    assert all(type(r.t_ms) is int and type(r.value) is float and type(r.quality) is Quality for r in opened)


row_bytes = st.builds(lambda s, p, u, t, v, q: struct.pack(">HHHq", s, p, u, t) + v + bytes([q]),
                      st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(-2**63, 2**63 - 1),
                      st.binary(min_size=8, max_size=8), st.integers(0, 12))


@given(st.lists(row_bytes, min_size=1, max_size=8), st.binary(max_size=60))
def test_any_rows_are_decoded_or_refused_alike(rows, noise):
    """Rows whose codes may run past the table (2 names, 9 qualities), and random bytes: the C rows
    or the Python refusal, always alike."""
    payload = b"\x00\x02\x02S1\x01u" + struct.pack(">I", len(rows)) + b"".join(rows)
    for candidate in (payload, noise):
        fast, slow = outcome(decode_payload, candidate), python_only(outcome, decode_payload, candidate)
        if fast[0] == "ok":
            assert slow[0] == "ok" and same_readings(fast[1], slow[1])
        else:
            assert fast == slow


def test_bad_codes_get_the_python_reasons():
    good = envelope._encode_payload([Reading("S1", "flow", T0, 1.0, "m3/h")])
    bad_quality = good[:-1] + bytes([len(Quality)])
    bad_index = good[:-23] + struct.pack(">H", 9) + good[-21:]
    for payload, reason in ((bad_quality, "bad_quality"), (bad_index, "bad_index")):
        with pytest.raises(EnvelopeError) as err:
            decode_payload(payload)
        assert err.value.reason == reason


@pytest.mark.parametrize("bad", [
    [("S1", "flow", T0, 1.0, "m3/h")],  # five fields
    [Reading(1, "flow", T0, 1.0, "m3/h")],  # a name that is not text
    [Reading("S1", "flow", 2**63, 1.0, "m3/h")],  # time past int64
    [Reading("S1", "flow", 1.5, 1.0, "m3/h")],  # time not an integer
    [Reading("S1", "flow", T0, "1.0", "m3/h")],  # value not a number
    [Reading("S1", "flow", T0, 1.0, "m3/h", 256)],  # quality past a byte
    [Reading("S1", "flow", T0, 1.0, "m3/h", -1)],
    "not readings",
])
def test_what_the_c_code_refuses_fails_as_the_python_code_fails(bad):
    fast = outcome(seal, bad, KEY, "gw-1", "k1", ChainState(), T0)
    slow = python_only(outcome, seal, bad, KEY, "gw-1", "k1", ChainState(), T0)
    assert fast[0] == "error" and fast == slow


def test_what_the_c_code_leaves_to_python_is_sealed_as_python_seals_it():
    """Objects that could run Python code inside the C loop (a str subclass, an __index__ time, a
    __float__ value) are handed to the Python code, which makes the same bytes as always."""
    class Name(str):
        pass

    class Millis:
        def __index__(self) -> int:
            return T0

    class Value:
        def __float__(self) -> float:
            return 2.5

    rows = [Reading(Name("S1"), "flow", T0, 1.0, "m3/h"), Reading("S1", "flow", Millis(), Value(), "m3/h")]
    for row in rows:
        with pytest.raises(TypeError):
            envelope._accel.encode_rows([row], "-")
        assert envelope._encode_payload([row]) == python_only(envelope._encode_payload, [row])
    assert decode_payload(envelope._encode_payload(rows[1:]))[0] == Reading("S1", "flow", T0, 2.5, "m3/h")


def test_too_many_names_is_refused_by_both():
    rows = [Reading(f"S{i}", "flow", T0, 1.0, "m3/h") for i in range(0x10000)]
    for run in (lambda: envelope._encode_payload(rows), lambda: python_only(envelope._encode_payload, rows)):
        with pytest.raises(ValueError, match="too many distinct names"):
            run()


def test_no_reference_is_leaked_or_lost(accel):
    """Every name, quality and the row type keep their reference counts across many opens and
    refusals: a C refcount slip would show here long before it crashed a gateway."""
    rows = [Reading("S1", p, T0 + i, float(i), u, Quality(i % 3)) for i, (p, u) in
            enumerate([("flow", "m3/h"), ("pressure", "MPa")] * 50)]
    data, _ = seal(rows, KEY, "gw-1", "k1", ChainState(), T0)
    payload = envelope.parse(data).payload
    names, pos = envelope._string_table(payload)
    watched = [*names, *envelope._QUALITY_BY_CODE, Reading, names]
    bad = payload[:-1] + bytes([200])
    opened = open_envelope(data, lambda g, k: KEY.public)
    before = [sys.getrefcount(obj) for obj in watched]
    for _ in range(200):
        decoded = accel.decode_rows(payload, pos + 4, 100, names, envelope._QUALITY_BY_CODE, Reading)
        assert decoded == opened.readings
        with pytest.raises(IndexError):
            accel.decode_rows(bad, pos + 4, 100, names, envelope._QUALITY_BY_CODE, Reading)
        accel.encode_rows(rows, "-")
    del decoded
    assert [sys.getrefcount(obj) for obj in watched] == before


def test_the_c_code_checks_its_own_bounds(accel):
    names, qualities = ("a",), envelope._QUALITY_BY_CODE
    for offset, count in ((0, 2), (-1, 1), (30, 0), (0, -1)):
        with pytest.raises(ValueError):
            accel.decode_rows(bytes(23), offset, count, names, qualities, Reading)
    with pytest.raises(TypeError):
        accel.decode_rows(bytes(23), 0, 1, names, qualities, dict)
    assert accel.decode_rows(bytes(23), 0, 1, names, qualities, Reading) == (Reading("a", "a", 0, 0.0, "a"),)
    assert math.isnan(accel.decode_rows(bytes(14) + struct.pack(">d", math.nan) + b"\0", 0, 1, names, qualities,
                                        Reading)[0].value)
