"""The extended profile format: BCD, bits, composite totalisers, writable points with safety
limits, registers claimed twice, the JSON Schema, and errors that read `file:line: key: problem (fix)`.

This file holds the tests that need no server and start no process; the others are in
tests/integration/firmware_profiles/test_profile_format.py."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest
import yaml

from watertel import firmware_profiles
from watertel.firmware_profiles import Point, Profile
from watertel.firmware_profiles.codec import DecodeError, decode, encode, place, plan, representable
from watertel.firmware_profiles.schema import SCHEMA_PATH, render
from watertel.config import ConfigError


def point(**kw) -> Point:
    return Point.model_validate({"name": "p", "address": 0, **kw})


# --- codec: new types ----------------------------------------------------------------------------


@pytest.mark.parametrize("order, regs", [("ABCD", [0x1234, 0x5678]), ("CDAB", [0x5678, 0x1234]),
                                         ("BADC", [0x3412, 0x7856]), ("DCBA", [0x7856, 0x3412])])
def test_bcd32_word_orders(order, regs):
    p = point(type="bcd32", order=order)
    assert decode(p, regs) == 12345678
    assert encode(p, 12345678) == regs


def test_bcd16_scale_saturation_and_invalid_digits():
    p = point(type="bcd16", scale=0.1)
    assert decode(p, [0x0213]) == pytest.approx(21.3)
    assert encode(p, 21.3) == [0x0213]
    assert encode(p, 5000.0) == [0x9999] and encode(p, -1.0) == [0x0000]  # saturates, never wraps
    with pytest.raises(DecodeError, match="0x12AB is not BCD"):
        decode(p, [0x12AB])


def test_bits_of_a_register_and_coils():
    b3 = point(type="bit", bit=3)
    assert decode(b3, [0b1000]) == 1.0 and decode(b3, [0b0111]) == 0.0
    assert encode(b3, 1) == [0b1000] and encode(b3, 0) == [0]
    coil = point(type="bit", function="coil")
    assert decode(coil, [1]) == 1.0 and encode(coil, 1.0) == [1] and encode(coil, 0.2) == [0]


def test_place_keeps_the_other_bits_of_a_shared_register():
    image = [0xFF00, 0]
    place(point(type="bit", bit=0), 1, image)
    place(point(type="bit", bit=9), 0, image)
    assert image == [0xFD01, 0]
    place(point(type="u32", address=0), 0x12345678, image)
    assert image == [0x1234, 0x5678]


def test_composite_totaliser_u32_plus_u16_fraction():
    p = point(type="u32", order="CDAB", fraction={"address": 2, "type": "u16", "scale": 0.001})
    assert p.first == 0 and p.count == 3
    assert encode(p, 15234.567) == [15234, 0, 567]
    assert decode(p, [15234, 0, 567]) == pytest.approx(15234.567)
    assert encode(p, 9.9996) == [10, 0, 0]  # rounding carries into the integer part
    assert encode(p, -3.0) == [0, 0, 0]  # an unsigned totaliser saturates at zero


def test_composite_totaliser_fraction_before_integer_and_signed():
    p = point(address=1, type="i32", fraction={"address": 0, "type": "i16", "scale": 0.01})
    assert p.first == 0 and p.count == 3
    assert encode(p, -5.25) == [0xFFE7, 0xFFFF, 0xFFFB]  # fraction -25, then integer -5: same sign
    assert decode(p, [0xFFE7, 0xFFFF, 0xFFFB]) == pytest.approx(-5.25)


def test_composite_totaliser_i32_plus_f32_fraction():
    p = point(type="i32", fraction={"address": 2, "type": "f32"})
    regs = encode(p, 1234.75)
    assert regs[:2] == [0, 1234] and regs[2:] == [0x3F40, 0]  # 0.75 = 0x3F400000
    assert decode(p, regs) == 1234.75
    assert decode(p, encode(p, -7.5)) == -7.5


CASES = [
    {"type": "u16", "scale": 0.1}, {"type": "i16", "order": "BADC"}, {"type": "u32", "order": "CDAB"},
    {"type": "i32", "order": "DCBA", "scale": 0.01}, {"type": "bcd16"}, {"type": "bcd32", "order": "CDAB"},
    {"type": "u32", "fraction": {"address": 2, "type": "u16", "scale": 0.001}},
    {"type": "bcd32", "fraction": {"address": 2, "type": "bcd16", "scale": 0.0001}},
    {"type": "bit", "bit": 7},
]


@pytest.mark.parametrize("spec", CASES, ids=lambda c: json.dumps(c))
def test_encode_is_the_inverse_of_decode_on_valid_registers(spec):
    """decode then encode gives back the registers, for every valid register content tried."""
    p, rng = point(**spec), random.Random(7)
    tried = 0
    while tried < 300:
        regs = [rng.randrange(0x10000) for _ in range(p.count)]
        if p.type.value == "bit":
            regs = [regs[0] & (1 << p.bit)]
        try:
            value = decode(p, regs)
        except DecodeError:
            continue  # not BCD
        if p.fraction and not _canonical(p, regs):
            continue
        assert encode(p, value) == regs, (regs, value)
        assert representable(p, value) == value
        tried += 1


def _canonical(p: Point, regs: list[int]) -> bool:
    """A totaliser's fraction below one step of the integer part (what a device serves)."""
    frac = Point.model_validate({"name": "f", "address": 0, "type": p.fraction.type.value,
                                 "order": p.fraction.order.value, "scale": p.fraction.scale})
    return abs(decode(frac, regs[p.type.registers:])) < abs(p.scale)


@pytest.mark.parametrize("type_", ["f32", "f64"])
def test_float_registers_round_trip(type_):
    p, rng = point(type=type_, order="DCBA"), random.Random(3)
    for _ in range(300):
        regs = [rng.randrange(0x10000) for _ in range(p.count)]
        value = decode(p, regs)
        if value == value:  # NaN has many encodings
            assert encode(p, value) == regs


def test_plan_reads_coils_and_discrete_inputs_up_to_2000_bits():
    prof = Profile.model_validate({"vendor": "V", "model": "M", "kind": "pump", "points": [
        {"name": f"c{i}", "function": "coil", "address": i, "type": "bit"} for i in range(2100)]})
    assert [(b.function.value, b.address, b.count) for b in plan(prof)] == [("coil", 0, 2000), ("coil", 2000, 100)]


# --- safety limits -------------------------------------------------------------------------------


def test_write_limits_refuse_unsafe_commands():
    speed = firmware_profiles.load("pump_vfd").point("speed_setpoint").write
    assert speed.problem(40) is None and speed.problem(45, current=42) is None
    assert "below the safety minimum 25" in speed.problem(10)
    assert "above the safety maximum 50" in speed.problem(55)
    assert "exceeds the largest step 5" in speed.problem(50, current=30)
    run = firmware_profiles.load("pump_vfd").point("run_command").write
    assert run.problem(1) is None and "not one of the allowed values" in run.problem(2)
    assert "not a number" in run.problem(float("nan"))


# --- errors: file:line: key: problem (fix) -------------------------------------------------------

HEAD = "vendor: V\nmodel: M\nkind: pump\npoints:\n"

BAD = {  # point YAML (line 5) → expected message after "points.0<key>: "
    "coil_not_bit": ("{name: a, function: coil, address: 0, type: u16}", ": a coil holds one bit (use type: bit)"),
    "bit_without_number": ("{name: a, address: 0, type: bit}",
                           ": a bit of a holding register needs its number (add bit: 0..15)"),
    "bit_number_on_coil": ("{name: a, function: coil, address: 0, type: bit, bit: 2}",
                           ": a coil is a single bit (remove bit: 2)"),
    "bit_out_of_register": ("{name: a, address: 0, type: bit, bit: 16}",
                            ".bit: Input should be less than or equal to 15, got 16 (use a number <= 15)"),
    "scaled_bit": ("{name: a, address: 0, type: bit, bit: 1, scale: 2}",
                   ": a bit reads 0 or 1 (remove scale, offset and fraction)"),
    "bit_field_on_u16": ("{name: a, address: 0, type: u16, bit: 1}", ": bit is only for type bit (remove bit, or use type: bit)"),
    "fraction_on_float": ("{name: a, address: 0, type: f32, fraction: {address: 2, type: u16, scale: 0.001}}",
                          ": a totaliser's integer part is an integer type (use u16, u32, i32 or BCD)"),
    "fraction_elsewhere": ("{name: a, address: 0, type: u32, fraction: {address: 5, type: u16, scale: 0.001}}",
                           ": fraction must sit directly after or before the integer part (use fraction.address: 2)"),
    "fraction_bit": ("{name: a, address: 0, type: u32, fraction: {address: 2, type: bit}}",
                     ".fraction.type: a fraction is u16, i16, u32, i32, f32 or BCD, got 'bit' (use one of these)"),
    "fraction_too_coarse": ("{name: a, address: 0, type: u32, scale: 0.01, fraction: {address: 2, type: u16, scale: 1}}",
                            ": fraction.scale must be smaller than scale (e.g. scale 1 m3, fraction.scale 0.001)"),
    "write_input": ("{name: a, function: input, address: 0, type: u16, write: {max: 3}}",
                    ": a input is read-only (use function holding or coil, or remove write)"),
    "write_outside_range": ("{name: a, address: 0, type: u16, range: [0, 50], write: {max: 60}}",
                            ": write.max 60 lies outside range [0.0, 50.0] (a command must not set an invalid value; narrow the limit)"),
    "write_min_above_max": ("{name: a, address: 0, type: u16, write: {min: 9, max: 3}}",
                            ".write: write.min must not exceed write.max (got 9.0 > 3.0; swap them)"),
    "write_step_zero": ("{name: a, address: 0, type: u16, write: {max_step: 0}}",
                        ".write.max_step: Input should be greater than 0, got 0 (use a number > 0)"),
    "bad_type": ("{name: a, address: 0, type: bcd}", ".type: Input should be 'u16', 'i16', 'u32', 'i32', 'f32', 'f64', "
                 "'bcd16', 'bcd32' or 'bit', got 'bcd' (use one of 'u16', 'i16', 'u32', 'i32', 'f32', 'f64', 'bcd16', 'bcd32' or 'bit')"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_point_is_rejected_with_file_line_key_problem_and_fix(case, tmp_path):
    text, expected = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(HEAD + f"  - {text}\n")
    with pytest.raises(ConfigError) as info:
        firmware_profiles.load(path)
    assert info.value.problems == [f"{path}:5: points.0{expected}"]


LAYOUT = {
    "same_register": ("  - {name: a, address: 0, type: u32}\n  - {name: b, address: 1, type: u16}\n",
                      "points.1: holding register 1 is already used by a"),
    "fraction_overlap": ("  - {name: a, address: 3, type: u16}\n"
                         "  - {name: b, address: 1, type: u32, fraction: {address: 3, type: u16, scale: 0.01}}\n",
                         "points.1: holding register 3 is already used by a"),
    "same_bit": ("  - {name: a, address: 4, type: bit, bit: 2}\n  - {name: b, address: 4, type: bit, bit: 2}\n",
                 "points.1: holding register 4 is already used by a"),
    "status_register": ("  - {name: a, address: 0, type: u16}\n  - {name: b, address: 9, type: u16}\n"
                        "status: {address: 9, faults: {0: x}}\n", "points.1: holding register 9 is already used by status"),
    "same_coil": ("  - {name: a, function: coil, address: 4, type: bit}\n"
                  "  - {name: b, function: coil, address: 4, type: bit}\n", "points.1: coil bit 4 is already used by a"),
}


@pytest.mark.parametrize("case", sorted(LAYOUT))
def test_register_claimed_twice_is_rejected_at_the_second_point(case, tmp_path):
    text, expected = LAYOUT[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(HEAD + text)
    with pytest.raises(ConfigError) as info:
        firmware_profiles.load(path)
    assert info.value.problems == [
        f"{path}:6: {expected} (move one of them, or make both bit points with different bits)"]


def test_shared_register_bits_and_status_flags_are_allowed(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "  - {name: a, address: 4, type: bit, bit: 2}\n  - {name: b, address: 4, type: bit, bit: 3}\n"
                    "  - {name: c, address: 5, type: bit, bit: 0}\n  - {name: d, function: coil, address: 4, type: bit}\n"
                    "status: {address: 5, faults: {0: x}}\n")
    assert [p.name for p in firmware_profiles.load(path).points] == ["a", "b", "c", "d"]


# --- JSON Schema ---------------------------------------------------------------------------------


def test_shipped_schema_is_current():
    assert SCHEMA_PATH.read_text() == render(), "run: watertel profile schema > firmware_profiles/profile.schema.json"


def test_schema_accepts_the_shipped_profiles_and_rejects_bad_ones():
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in firmware_profiles.profile_paths():
        validator.validate(yaml.safe_load(path.read_text()))
    good = {"vendor": "V", "model": "M", "kind": "pump", "points": [{"name": "a", "address": 0, "type": "u16"}]}
    validator.validate(good)
    for bad in ({**good, "colour": 1}, {**good, "kind": "boiler"},
                {**good, "points": [{"name": "a", "address": 0, "type": "bcd"}]},
                {**good, "points": [{"name": "a", "address": 70000, "type": "u16"}]},
                {**good, "points": [{"name": "a", "address": 0, "type": "u16", "bit": 16}]}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


def test_shipped_profiles_point_editors_at_the_schema():
    for path in firmware_profiles.profile_paths():
        assert path.read_text().startswith("# yaml-language-server: $schema=profile.schema.json\n"), path.name


def test_edge_decode_flags_registers_that_are_not_bcd_as_garbled():
    from watertel.edge_agent.poll.decode import to_readings
    from watertel.readings import Quality

    prof = firmware_profiles.load("chlorine_analyser")
    blocks = {b: [0] * b.count for b in plan(prof)}
    holding = next(b for b in blocks if b.function.value == "holding")
    blocks[holding] = [50, 0x0A13]  # setpoint 0.5 mg/L, then a firmware "version" with a nibble above 9
    got = {r.point: r for r in to_readings(prof, "S", 0, blocks)}
    assert got["firmware_version"].quality is Quality.COMM_ERROR and got["firmware_version"].value != got["firmware_version"].value
    assert got["low_alarm_setpoint"].quality is Quality.OK and got["low_alarm_setpoint"].value == 0.5
    assert got["residual_chlorine"].quality is Quality.OK
