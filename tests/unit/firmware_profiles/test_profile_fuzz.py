"""Property tests (hypothesis) of the profile decoder: any register words, for every point of every
shipped profile and for every data type and word order, decode to a value the type can hold or to
the documented DecodeError, never to any other exception; and a reading that is not a finite
value inside the point's range is flagged (its quality is not OK). A few seconds in CI;
`HYPOTHESIS_PROFILE=long` runs ten times as many examples."""

from __future__ import annotations

import math
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watertel import firmware_profiles
from watertel.edge_agent.poll.decode import to_readings
from watertel.firmware_profiles import DataType, Fraction, Function, Point, WordOrder
from watertel.firmware_profiles.codec import DecodeError, decode, plan
from watertel.readings import Quality

EXAMPLES = 1500 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 150
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILES = {path.stem: firmware_profiles.load(path) for path in firmware_profiles.profile_paths()}
WORD = st.integers(0, 0xFFFF)
FLOATS = (DataType.F32, DataType.F64)
F32_MAX = struct.unpack(">f", bytes.fromhex("7f7fffff"))[0]
RAW_LIMITS = {  # what each integer type can hold
    DataType.U16: (0, 0xFFFF), DataType.I16: (-0x8000, 0x7FFF), DataType.U32: (0, 0xFFFF_FFFF),
    DataType.I32: (-0x8000_0000, 0x7FFF_FFFF), DataType.BCD16: (0, 9999), DataType.BCD32: (0, 99_999_999),
    DataType.BIT: (0, 1),
}


def holds_float(point: Point) -> bool:
    return point.type in FLOATS or bool(point.fraction and point.fraction.type in FLOATS)


def representable(type_: DataType, scale: float) -> tuple[float, float]:
    """Lowest and highest value ``raw × scale`` can take for the type (floats: ±max, or ±inf)."""
    if type_ in RAW_LIMITS:
        low, high = RAW_LIMITS[type_]
    else:
        low, high = (-F32_MAX, F32_MAX) if type_ is DataType.F32 else (-math.inf, math.inf)
    return tuple(sorted((low * scale, high * scale)))


def bounds(point: Point) -> tuple[float, float]:
    low, high = representable(point.type, point.scale)
    if point.fraction:
        f_low, f_high = representable(point.fraction.type, point.fraction.scale)
        low, high = low + f_low, high + f_high
    return low + point.offset, high + point.offset


def assert_decodes_within(point: Point, words: list[int]) -> None:
    try:
        value = decode(point, words)
    except DecodeError:
        assert point.type in (DataType.BCD16, DataType.BCD32) or (
            point.fraction and point.fraction.type in (DataType.BCD16, DataType.BCD32)), point
        return
    assert isinstance(value, float), (point.name, value)
    if math.isnan(value):  # only a float register can hold NaN
        assert DataType.F32 in (point.type, point.fraction and point.fraction.type) or point.type is DataType.F64
        return
    low, high = bounds(point)
    slack = 1e-9 * max(1.0, abs(low), abs(high))
    assert low - slack <= value <= high + slack, (point.name, words, value, (low, high))


# --- every point of every shipped profile ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROFILES))
@FUZZ
@given(data=st.data())
def test_every_profile_point_decodes_any_words(name, data):
    for point in PROFILES[name].points:
        words = data.draw(st.lists(WORD, min_size=point.count, max_size=point.count), label=point.name)
        if point.function.is_bit:
            words = [w & 1 for w in words]
        assert_decodes_within(point, words)


@pytest.mark.parametrize("name", sorted(PROFILES))
@FUZZ
@given(data=st.data())
def test_a_whole_poll_of_random_words_is_flagged_when_not_a_good_value(name, data):
    """to_readings, as the agent calls it: blocks of random words (or a failed block)."""
    profile = PROFILES[name]
    blocks = {}
    for block in plan(profile):
        failed = data.draw(st.sampled_from([None, None, None, Quality.TIMEOUT, Quality.EXCEPTION]))
        top = 1 if block.function.is_bit else 0xFFFF
        blocks[block] = failed or data.draw(st.lists(st.integers(0, top), min_size=block.count, max_size=block.count))
    readings = to_readings(profile, "ST-1", 1_700_000_000_000, blocks)
    assert [r.point for r in readings] == [p.name for p in profile.points]
    for point, reading in zip(profile.points, readings):
        assert isinstance(reading.quality, Quality)
        if point.range and reading.quality is Quality.OK:
            assert point.range[0] <= reading.value <= point.range[1], (point.name, reading)
        if not math.isfinite(reading.value) and (point.range or not holds_float(point)):
            assert reading.quality is not Quality.OK, (point.name, reading)  # float without range: see below


# Found by the test above: a float register holding inf or NaN (0x7F80 0000, 0x7FC0 0000) decoded
# to a non-finite value marked OK when the point had no range (a NaN or inf only fails a range
# check). Shipped points that had it: energy_meter.reactive_energy (f64, no range) and
# ultrasonic_flow_meter.net_total (i32 + f32 fraction, no range); now OUT_OF_RANGE.
NON_FINITE = [("energy_meter", "reactive_energy", math.inf), ("energy_meter", "reactive_energy", math.nan),
              ("ultrasonic_flow_meter", "net_total", math.inf)]  # the last: +inf in the f32 fraction register


def _non_finite_words(point, value: float) -> list[int]:
    """The point's registers holding ``value`` in its own word order (in the fraction, if it has one)."""
    from watertel.firmware_profiles.codec import _pack

    if not point.fraction:
        return _pack(point.type, point.order, value)
    main, rest = _pack(point.type, point.order, 0), _pack(point.fraction.type, point.fraction.order, value)
    return main + rest if point.fraction.address > point.address else rest + main


@pytest.mark.parametrize(("name", "point_name", "value"), NON_FINITE)
def test_a_non_finite_value_is_never_quality_ok(name, point_name, value):
    profile = PROFILES[name]
    blocks = {}
    point = next(p for p in profile.points if p.name == point_name)
    words = _non_finite_words(point, value)
    for block in plan(profile):
        regs = [0] * block.count
        if block.covers(point.first, point.count):
            regs[point.first - block.address : point.first - block.address + point.count] = words
        blocks[block] = regs
    reading = next(r for r in to_readings(profile, "ST-1", 1, blocks) if r.point == point_name)
    assert not math.isfinite(reading.value)
    assert reading.quality is not Quality.OK, reading


# --- every data type and word order, any scale and offset ----------------------------------------

NUMERIC = [t for t in DataType if t is not DataType.BIT]
SCALE = st.floats(1e-6, 1e6).flatmap(lambda s: st.sampled_from([s, -s]))
OFFSET = st.floats(-1e6, 1e6)


@st.composite
def points(draw) -> Point:
    kind = draw(st.sampled_from(["plain", "fraction", "bit"]))
    if kind == "bit":
        function = draw(st.sampled_from(list(Function)))
        bit = None if function.is_bit else draw(st.integers(0, 15))
        return Point(name="p", function=function, address=draw(st.integers(0, 1000)), type=DataType.BIT, bit=bit)
    type_ = draw(st.sampled_from([t for t in NUMERIC if t.is_integer] if kind == "fraction" else NUMERIC))
    address, scale = draw(st.integers(10, 1000)), draw(SCALE)
    fraction = None
    if kind == "fraction":
        f_type = draw(st.sampled_from([t for t in NUMERIC if t is not DataType.F64]))
        after = draw(st.booleans())
        f_address = address + type_.registers if after else address - f_type.registers
        f_scale = scale * draw(st.floats(1e-6, 0.5)) if f_type is not DataType.F32 else draw(SCALE)
        fraction = Fraction(address=f_address, type=f_type, order=draw(st.sampled_from(list(WordOrder))), scale=f_scale)
    return Point(name="p", address=address, type=type_, order=draw(st.sampled_from(list(WordOrder))),
                 scale=scale, offset=draw(OFFSET), fraction=fraction)


@FUZZ
@given(point=points(), data=st.data())
def test_every_type_and_word_order_decodes_any_words(point, data):
    words = data.draw(st.lists(WORD, min_size=point.count, max_size=point.count))
    if point.function.is_bit:
        words = [w & 1 for w in words]
    assert_decodes_within(point, words)


@FUZZ
@given(point=points(), data=st.data())
def test_a_wrong_number_of_words_is_a_value_error_naming_the_point(point, data):
    words = data.draw(st.lists(WORD, max_size=8).filter(lambda w: len(w) != point.count))
    with pytest.raises(ValueError, match=f"p: needs {point.count} registers"):
        decode(point, words)
