"""Firmware profiles: the shipped ones load, the codec's word orders, read planning, and errors that
name the file, line and key (library and `watertel profile check`).

This file holds the tests that need no server and start no process; the others are in
tests/integration/firmware_profiles/test_profiles.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from watertel import firmware_profiles
from watertel.firmware_profiles import DataType, Function, Point, Profile, WordOrder
from watertel.firmware_profiles.codec import Block, decode, encode, plan, representable
from watertel.firmware_profiles.model import MAX_REGISTERS_PER_READ
from watertel.config import ConfigError

from tests.support.profiles import GOOD, write

SHIPPED = firmware_profiles.profile_paths()


# --- shipped profiles ----------------------------------------------------------------------------


def test_the_eight_profiles_ship():
    assert {p.stem for p in SHIPPED} >= {
        "emf_flow_meter", "ultrasonic_flow_meter", "pressure_4_20ma", "wq_multiparam", "chlorine_analyser",
        "pump_vfd", "well_level", "energy_meter"}
    kinds = {firmware_profiles.load(p).kind for p in SHIPPED}
    assert kinds >= {"flow_meter", "pressure", "water_quality", "pump", "level", "energy_meter"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_profile_loads_and_plans(path):
    profile = firmware_profiles.load(path)
    assert profile == firmware_profiles.load(path.stem)  # by name and by path alike
    assert profile.points
    blocks = plan(profile)
    assert all(0 < b.count <= MAX_REGISTERS_PER_READ for b in blocks)
    for p in profile.points:
        assert any(b.function == p.function and b.covers(p.address, p.count) for b in blocks), p.name
    if profile.status:
        assert any(b.function == profile.status.function and b.covers(profile.status.address, 1) for b in blocks)
    for p in profile.points:
        value = (p.range[0] + p.range[1]) / 2 if p.range else 42.0
        if p.type is DataType.BIT:
            value = 1.0
        assert representable(p, value) == pytest.approx(value, rel=1e-6, abs=p.scale)


def test_shipped_profiles_read_in_one_request_per_table():
    """Each shipped map is contiguous within each Modbus table: one request per table per poll."""
    for path in SHIPPED:
        prof = firmware_profiles.load(path)
        assert len(plan(prof)) == len({p.function for p in prof.points}), path.stem


def test_load_by_unknown_name_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot read"):
        firmware_profiles.load("no_such_profile")


# --- codec ---------------------------------------------------------------------------------------


def point(type_: str, order: str = "ABCD", **kw) -> Point:
    return Point(name="p", address=0, type=type_, order=order, **kw)


F32_12_5 = {"ABCD": [0x4148, 0x0000], "CDAB": [0x0000, 0x4148], "BADC": [0x4841, 0x0000], "DCBA": [0x0000, 0x4841]}
U32_0X12345678 = {
    "ABCD": [0x1234, 0x5678], "CDAB": [0x5678, 0x1234], "BADC": [0x3412, 0x7856], "DCBA": [0x7856, 0x3412],
}
I32_MINUS_2 = {"ABCD": [0xFFFF, 0xFFFE], "CDAB": [0xFFFE, 0xFFFF], "BADC": [0xFFFF, 0xFEFF], "DCBA": [0xFEFF, 0xFFFF]}
F64_1_0 = {  # 1.0 = 0x3FF0000000000000
    "ABCD": [0x3FF0, 0, 0, 0], "CDAB": [0, 0, 0, 0x3FF0], "BADC": [0xF03F, 0, 0, 0], "DCBA": [0, 0, 0, 0xF03F],
}


@pytest.mark.parametrize("order", list(WordOrder), ids=str)
def test_f32_word_orders(order):
    assert decode(point("f32", order), F32_12_5[order]) == 12.5
    assert encode(point("f32", order), 12.5) == F32_12_5[order]


@pytest.mark.parametrize("order", list(WordOrder), ids=str)
def test_u32_word_orders(order):
    assert decode(point("u32", order), U32_0X12345678[order]) == 0x12345678
    assert encode(point("u32", order), 0x12345678) == U32_0X12345678[order]


@pytest.mark.parametrize("order", list(WordOrder), ids=str)
def test_i32_negative_word_orders(order):
    assert decode(point("i32", order), I32_MINUS_2[order]) == -2
    assert encode(point("i32", order), -2) == I32_MINUS_2[order]


@pytest.mark.parametrize("order", list(WordOrder), ids=str)
def test_f64_word_orders(order):
    assert decode(point("f64", order), F64_1_0[order]) == 1.0
    assert encode(point("f64", order), 1.0) == F64_1_0[order]


def test_word_orders_are_distinct_for_an_asymmetric_value():
    assert len({tuple(encode(point("f32", o), 12.5)) for o in WordOrder}) == 4


def test_u16_and_i16():
    assert decode(point("u16"), [0xFFFE]) == 65534
    assert decode(point("i16"), [0xFFFE]) == -2
    assert decode(point("i16"), [0x8000]) == -32768
    assert encode(point("i16"), -2) == [0xFFFE]
    assert encode(point("i16"), -32768) == [0x8000]
    assert encode(point("u16"), 65535) == [0xFFFF]


def test_i16_negative_with_scale():
    p = point("i16", scale=0.001, unit="MPa")
    assert decode(p, [0xFFFE]) == pytest.approx(-0.002)
    assert encode(p, -0.002) == [0xFFFE]
    assert encode(p, 1.6) == [1600]


def test_scale_and_offset():
    p = point("u16", scale=0.1, offset=-40.0)  # e.g. temperature = raw / 10 - 40
    assert decode(p, [650]) == pytest.approx(25.0)
    assert encode(p, 25.0) == [650]
    assert decode(p, [0]) == pytest.approx(-40.0)
    f = point("f32", "CDAB", scale=2.0, offset=1.0)
    assert decode(f, F32_12_5["CDAB"]) == 26.0  # 12.5 * 2 + 1
    assert encode(f, 26.0) == F32_12_5["CDAB"]


def test_integer_encode_rounds_to_the_nearest_step():
    p = point("u16", scale=0.01)
    assert encode(p, 12.346) == [1235]
    assert representable(p, 12.346) == pytest.approx(12.35)
    assert representable(point("f32"), 0.1) == pytest.approx(0.1, rel=1e-7) and representable(point("f32"), 0.1) != 0.1


def test_decode_wants_the_point_register_count():
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode(point("f32"), [0x4148])
    with pytest.raises(ValueError, match="needs 1 registers"):
        decode(point("u16"), [1, 2])


def test_encode_outside_the_integer_range_gives_the_nearest_representable_value():
    assert encode(point("u16"), -3.0) == [0]
    assert encode(point("u16"), 70000.0) == [0xFFFF]
    assert encode(point("i16"), -40000.0) == [0x8000]


# --- plan ----------------------------------------------------------------------------------------


def profile(points: list[dict], status: dict | None = None) -> Profile:
    return Profile.model_validate({"vendor": "V", "model": "M", "kind": "pump", "points": points, "status": status})


def p(name: str, address: int, type_: str = "u16", function: str = "holding") -> dict:
    return {"name": name, "address": address, "type": type_, "function": function}


def test_plan_coalesces_contiguous_registers():
    prof = profile([p("a", 0, "f32"), p("b", 2, "u16"), p("c", 3, "u32"), p("d", 5, "f64")])
    assert plan(prof) == [Block(Function.HOLDING, 0, 9)]


def test_plan_sorts_points_given_out_of_order_and_merges_overlaps():
    prof = profile([p("c", 4, "u16"), p("a", 0, "f32"), p("b", 2, "u32"), p("overlap", 1, "u32")])
    assert plan(prof) == [Block(Function.HOLDING, 0, 5)]


def test_plan_splits_at_gaps():
    prof = profile([p("a", 0, "f32"), p("b", 3, "u16"), p("c", 4, "u16"), p("d", 100, "u32")])
    assert plan(prof) == [Block(Function.HOLDING, 0, 2), Block(Function.HOLDING, 3, 2), Block(Function.HOLDING, 100, 2)]


def test_plan_splits_functions():
    prof = profile([p("a", 0, "u16", "input"), p("b", 1, "u16", "holding"), p("c", 1, "u16", "input")],
                   status={"function": "holding", "address": 0, "faults": {0: "x"}})
    assert plan(prof) == [Block(Function.HOLDING, 0, 2), Block(Function.INPUT, 0, 2)]


def test_plan_includes_the_status_register():
    prof = profile([p("a", 0, "f32")], status={"address": 2, "faults": {0: "x"}})
    assert plan(prof) == [Block(Function.HOLDING, 0, 3)]
    prof = profile([p("a", 0, "f32")], status={"address": 10, "faults": {0: "x"}})
    assert plan(prof) == [Block(Function.HOLDING, 0, 2), Block(Function.HOLDING, 10, 1)]


def test_plan_splits_at_125_registers():
    prof = profile([p(f"r{i}", i) for i in range(130)])
    assert plan(prof) == [Block(Function.HOLDING, 0, 125), Block(Function.HOLDING, 125, 5)]
    prof = profile([p(f"r{i}", i) for i in range(125)])
    assert plan(prof) == [Block(Function.HOLDING, 0, 125)]
    assert plan(profile([p(f"r{i}", i) for i in range(10)]), max_registers=4) == [
        Block(Function.HOLDING, 0, 4), Block(Function.HOLDING, 4, 4), Block(Function.HOLDING, 8, 2)]


def test_plan_never_splits_a_value_across_requests():
    prof = profile([p(f"f{i}", 2 * i, "f32") for i in range(70)])  # f32 at 124..125 straddles 125
    blocks = plan(prof)
    assert blocks == [Block(Function.HOLDING, 0, 124), Block(Function.HOLDING, 124, 16)]
    for q in prof.points:
        assert sum(b.covers(q.address, q.count) for b in blocks) == 1, q.name


def test_block_slice_and_covers():
    block = Block(Function.HOLDING, 10, 4)
    assert block.slice([100, 101, 102, 103], 12, 2) == [102, 103]
    assert block.covers(10, 4) and block.covers(13, 1)
    assert not block.covers(9, 1) and not block.covers(13, 2)


# --- configuration errors ------------------------------------------------------------------------


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        firmware_profiles.load(path)
    assert info.value.path == str(path)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_good_profile_written_by_hand_loads(tmp_path):
    prof = firmware_profiles.load(write(tmp_path, GOOD))
    assert prof.point("flow").scale == 2.5 and prof.point("flow").type is DataType.F32


def test_bad_value_names_file_line_and_key(tmp_path):
    path = write(tmp_path, GOOD.replace("scale: 2.5", "scale: 0"))
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:9: points.0.scale: ")
    assert problem.endswith("points.0.scale: must be a finite non-zero number, got 0 "
                            "(use the value of one raw step, e.g. 0.01)"), problem


def test_unknown_keys_are_errors(tmp_path):
    path = write(tmp_path, GOOD + "    colour: red\nfirmware: 2\n")
    assert sorted(problems(path)) == sorted([
        f"{path}:10: points.0.colour: unknown key (remove it or check its spelling)",
        f"{path}:11: firmware: unknown key (remove it or check its spelling)",
    ])


def test_missing_keys_are_errors(tmp_path):
    path = write(tmp_path, GOOD.replace("vendor: Acme\n", "").replace("    type: f32\n", ""))
    found = problems(path)
    assert f"{path}:2: vendor: required key is missing (add it)" in found
    assert f"{path}:5: points.0.type: required key is missing (add it)" in found  # the point's first line
    assert len(found) == 2


def test_every_problem_is_listed_with_its_line(tmp_path):
    path = write(tmp_path, """\
vendor: Acme
model: F-1
kind: boiler
transport: {baudrate: 0, parity: X}
points:
  - {name: Flow, address: 70000, type: f16, order: ABDC}
  - {name: ok, address: 1, type: u16, range: [10, 0]}
status: {address: 3, faults: {16: bad_bit}}
""")
    found = problems(path)
    for expected in (
        f"{path}:3: kind: ", f"{path}:4: transport.baudrate: ", f"{path}:4: transport.parity: ",
        f"{path}:6: points.0.name: ", f"{path}:6: points.0.address: ", f"{path}:6: points.0.type: ",
        f"{path}:6: points.0.order: ", f"{path}:7: points.1: ", f"{path}:8: status.faults: ",
    ):
        assert sum(line.startswith(expected) for line in found) == 1, (expected, found)
    assert any("range must be [low, high]" in line for line in found)
    assert any("fault bits are numbered 0..15" in line for line in found)


def test_duplicate_point_names(tmp_path):
    path = write(tmp_path, GOOD + "  - {name: flow, address: 2, type: u16}\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2: (top level): ") and "repeated: flow" in problem


@pytest.mark.parametrize("text, line", [
    ("vendor: [unclosed\nmodel: M\n", 2),
    ("vendor: A\n  model: B\n", 2),
    ("points:\n  - {name: a, address: 0\n", 3),
    ("vendor: A\nmodel: 'x\n", 3),  # the string runs to the end of the file
], ids=["bracket", "indent", "brace", "quote"])
def test_invalid_yaml_names_file_and_line(tmp_path, text, line):
    path = write(tmp_path, text)
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:{line}: not valid YAML"), problem


def test_empty_and_non_mapping_files(tmp_path):
    empty = problems(write(tmp_path, "", "empty.yaml"))
    assert any("vendor: required key is missing" in line for line in empty)
    listed = problems(write(tmp_path, "- a\n- b\n", "list.yaml"))
    assert len(listed) == 1 and "(top level)" in listed[0]


# --- watertel profile check ----------------------------------------------------------------------
