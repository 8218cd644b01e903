"""SZY 206-2016 codec: CRC-8 against a polynomial-division reference, round trips of every
message, refusal of every malformed shape, and fuzzing that may only ever end in a FrameError or
in a frame that re-encodes to the very same bytes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watertel.protocols import FrameError, szy206
from watertel.protocols.common import CHINA
from watertel.protocols.szy206 import (Afn, DataType, FlowPoint, FlowVolume, Frame, LinkCheck, LinkCode, Pressure,
                                       QualityValue, RealtimeData, TimeLabel, WaterQuality)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T = datetime(2026, 11, 29, 8, 30, 15, tzinfo=CHINA)
LABEL = TimeLabel(15, 30, 8, 29, 5)


def reference_crc8(data: bytes) -> int:
    """The remainder of message·x⁸ divided by x⁸+x⁷+x⁶+x⁵+x²+1 over GF(2): the definition of a
    CRC with initial value 0 and no reflection, computed as one long division, not a register."""
    m = int.from_bytes(data, "big") << 8
    while m.bit_length() > 8:
        m ^= 0x1E5 << (m.bit_length() - 9)
    return m


def resign(frame: bytes) -> bytes:
    return frame[:-2] + bytes([reference_crc8(frame[3:-2]), frame[-1]])


def up(data_type: int, payload, afn: Afn = Afn.SELF_REPORT) -> Frame:
    return Frame(afn, True, data_type, 3, "330102", 1234, RealtimeData(payload, 0x0003, 0x8001, LABEL))


FLOW = up(DataType.FLOW_VOLUME, FlowVolume((FlowPoint(D("-12.345"), 987654), FlowPoint(D("123456.789"), 9999999999))))
QUALITY = up(DataType.WATER_QUALITY, WaterQuality(tuple(
    QualityValue(bit, value) for bit, value in [(0, D("12.5")), (1, D("7.21")), (4, D("523")), (9, D("0.35"))])))
PRESSURE = up(DataType.WATER_PRESSURE, Pressure((D("101.25"), D("0.00"), D("999999.99"))))
LOGIN = Frame(Afn.LINK_CHECK, True, 0, 0, "330102", 1, LinkCheck(LinkCode.LOGIN))

ROUND_TRIPS = {
    "self_report_flow": FLOW,
    "self_report_quality": QUALITY,
    "self_report_pressure": PRESSURE,
    "realtime_answer": up(DataType.FLOW_VOLUME, FlowVolume((FlowPoint(D("0.001"), 0),)), Afn.QUERY_REALTIME),
    "login": LOGIN,
    "logout": Frame(Afn.LINK_CHECK, True, 0, 0, "330102", 1, LinkCheck(LinkCode.LOGOUT)),
    "keepalive": Frame(Afn.LINK_CHECK, True, 0, 2, "330102", 65535, LinkCheck(LinkCode.KEEPALIVE)),
    "login_reply": szy206.reply(LOGIN),
    "self_report_confirm": szy206.reply(FLOW),
    "query_realtime": szy206.query_realtime("330102", 1234, DataType.FLOW_VOLUME, T, delay=10),
    "query_realtime_no_label": szy206.query_realtime("330102", 1234, DataType.FLOW_VOLUME, None),
    "login_confirm_00": szy206.reply(LOGIN, link_confirm=True),
    "flow_missing_and_flagged": up(DataType.FLOW_VOLUME, FlowVolume((
        FlowPoint(None, 987654), FlowPoint(D("12.345"), None), FlowPoint(D("999999.999"), 1, "m³/h"),
        FlowPoint(D("-0.001"), 2, "m³/h"), FlowPoint(D("-5.000"), 3, "m³/s")))),
    "set_clock": szy206.set_clock("330102", 1234, T, password=4321),
    "clock_answer": Frame(Afn.SET_CLOCK, True, 0, 3, "330102", 1234, szy206.ClockEcho(T)),
    "split": Frame(Afn.SELF_REPORT, True, 3, 3, "330102", 1234, szy206.Fragment(2, b"\x01\x02\x03")),
}
VALID = [szy206.encode(f) for f in ROUND_TRIPS.values()]


# ---------------------------------------------------------------- checksum


def test_crc8_check_value():
    assert reference_crc8(b"123456789") == 0xF7
    assert szy206.crc8(b"123456789") == 0xF7


@given(st.binary(max_size=300))
@FUZZ
def test_crc8_matches_the_reference(data):
    assert szy206.crc8(data) == reference_crc8(data)


def test_cs_covers_c_to_the_end_of_user_data():
    data = szy206.encode(FLOW)
    assert data[-2] == reference_crc8(data[3:-2]) and data[1] == len(data) - 5


# ---------------------------------------------------------------- round trips and layout


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip(name):
    data = szy206.encode(ROUND_TRIPS[name])
    assert szy206.decode(data) == ROUND_TRIPS[name]
    assert szy206.encode(szy206.decode(data)) == data


def test_flow_self_report_byte_layout():
    data = szy206.encode(FLOW)
    assert data[:3] == bytes([0x68, len(data) - 5, 0x68])
    assert data[3] == 0b1011_0011  # up, not split, frame count 3, data type 3
    assert data[4:9] == bytes.fromhex("330102D204")  # division 330102, station 1234 low byte first
    assert data[9] == 0xC0
    assert data[10:15] == bytes.fromhex("4523010080")  # -12.345: low byte first, sign in the top bit
    assert data[15:20] == bytes.fromhex("5476980000")  # 987654 m³
    assert data[20:25] == bytes.fromhex("8967452301")  # 123456.789
    assert data[30:34] == bytes.fromhex("03000180")  # alarm, terminal state
    assert data[34:39] == bytes.fromhex("1530082905")  # 08:30:15 on the 29th, 5 min allowed delay
    assert data[-1] == 0x16


def test_water_quality_layout_and_values():
    data = szy206.encode(QUALITY)
    assert data[10:15] == (1 | 2 | 16 | 512).to_bytes(5, "little")
    assert data[15:19] == bytes.fromhex("25010000")  # 12.5 °C, 1 decimal
    values = szy206.decode(data).message.payload.values
    assert [(v.parameter, v.value) for v in values] == [(0, D("12.5")), (1, D("7.21")), (4, D("523")), (9, D("0.35"))]


def test_replies_are_downlink_with_the_uplinks_address():
    for uplink in (LOGIN, FLOW):
        answer = szy206.decode(szy206.encode(szy206.reply(uplink)))
        assert (answer.uplink, answer.afn, answer.station) == (False, uplink.afn, uplink.station)
    assert szy206.encode(szy206.reply(LOGIN))[9:11] == b"\x02\xf0"
    assert szy206.encode(szy206.reply(FLOW))[9:11] == b"\xc0\x00"
    with pytest.raises(ValueError):
        szy206.reply(szy206.reply(FLOW))


def test_time_label_resolves_to_the_latest_such_day():
    label = TimeLabel(0, 0, 12, 31, 0)
    assert label.resolve(datetime(2026, 11, 29, tzinfo=CHINA)) == datetime(2026, 10, 31, 12, tzinfo=CHINA)
    assert LABEL.resolve(T).tzinfo is CHINA


# ---------------------------------------------------------------- refusals


def refused(data: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        szy206.decode(data)


def test_every_truncation_is_refused():
    data = szy206.encode(FLOW)
    for n in range(len(data)):
        refused(data[:n], "truncated")


def test_length():
    data = szy206.encode(FLOW)
    refused(data + b"\x16", "length")
    refused(bytes([0x68, data[1] + 1]) + data[2:], "truncated")
    refused(bytes([0x68, data[1] - 1]) + data[2:], "length")


def test_checksum_start_and_end_bytes():
    data = szy206.encode(FLOW)
    refused(data[:-2] + bytes([data[-2] ^ 0x80, 0x16]), "checksum")
    refused(b"\x69" + data[1:], "start bytes")
    refused(data[:2] + b"\x67" + data[3:], "start bytes")
    refused(data[:-1] + b"\x17", "end byte")


@pytest.mark.parametrize("offset, what", [(4, "division code"), (10, "flow"), (16, "volume"), (34, "time label")])
def test_bcd_digit_above_nine(offset, what):
    data = bytearray(szy206.encode(FLOW))
    data[offset] = 0x0B
    refused(resign(bytes(data)), f"BCD digit above 9 in {what}")


def test_unknown_afn_link_code_and_data_type():
    data = bytearray(szy206.encode(FLOW))
    data[9] = 0x55
    refused(resign(bytes(data)), "unknown AFN 55H")
    data = bytearray(szy206.encode(LOGIN))
    data[10] = 0xF3
    refused(resign(bytes(data)), "link check: unknown code F3H")
    data = bytearray(szy206.encode(FLOW))
    data[3] = (data[3] & 0xF0) | 2  # water level: not supported
    refused(resign(bytes(data)), "unsupported data type 2")


def test_impossible_time_label_and_clock():
    data = bytearray(szy206.encode(FLOW))
    data[36] = 0x24  # hour 24
    refused(resign(bytes(data)), "time label")
    data = bytearray(szy206.encode(ROUND_TRIPS["set_clock"]))
    data[14] = 0x13  # month 13
    refused(resign(bytes(data)), "clock: not a date")


def test_partial_points_and_unknown_quality_parameters():
    data = szy206.encode(FLOW)
    cut = data[:10] + data[11:-2]  # one byte fewer in the flow data
    refused(resign(bytes([0x68, cut[1] - 1]) + cut[2:] + b"\0\x16"), "whole number of 10-byte points")
    data = bytearray(szy206.encode(QUALITY))
    data[14] = 0x80  # parameter 39
    refused(resign(bytes(data)), "unknown water quality parameter bit 39")


def test_short_self_report_and_bad_confirmation():
    frame = bytes([0x68, 10, 0x68]) + szy206.encode(FLOW)[3:10] + b"\x00\x00\x00" + b"\0\x16"
    refused(resign(frame), "truncated: a self-report needs at least 9 bytes")
    data = bytearray(szy206.encode(szy206.reply(FLOW)))
    data[10] = 0x04
    refused(resign(bytes(data)), "work mode 04H")
    user = szy206.encode(szy206.reply(FLOW))[3:-2] + bytes.fromhex("050403")  # a Tp cut short
    refused(bytes([0x68, len(user), 0x68]) + user + bytes([szy206.crc8(user), 0x16]), "truncated: time label")


def test_confirmation_carries_work_mode_and_optional_time_label():
    """SL/T 427-2021 B.101: the confirmation is D (1 byte, the work mode 00H-03H) then Tp; the
    public SZY 206 platform code (hm1212/szy206-protocol) sends only the 00H byte. Both decode."""
    bare = szy206.decode(szy206.encode(szy206.reply(FLOW)))
    assert bare.message == szy206.Confirm(0, None)
    label = szy206.TimeLabel(5, 4, 3, 28, 10)
    full = szy206.Frame(Afn.SELF_REPORT, False, 3, 3, "330102", 1234, szy206.Confirm(2, label))
    data = szy206.encode(full)
    assert data[10:16] == bytes.fromhex("02 05 04 03 28 0A") and data[1] == 13
    assert szy206.decode(data) == full


@given(st.binary(max_size=120))
@FUZZ
def test_garbage_is_refused_or_round_trips(data):
    accepted_or_refused(data)


# ---------------------------------------------------------------- fuzzing


def accepted_or_refused(data: bytes) -> None:
    try:
        frame = szy206.decode(data)
    except FrameError as err:
        assert err.reason
    else:
        assert szy206.encode(frame) == data


@given(st.sampled_from(VALID), st.integers(0, 10_000), st.booleans())
@FUZZ
def test_bit_flips(frame, where, fix_crc):
    data = bytearray(frame)
    bit = where % (len(data) * 8)
    data[bit // 8] ^= 1 << bit % 8
    accepted_or_refused(resign(bytes(data)) if fix_crc else bytes(data))


@given(st.integers(0, 255), st.sampled_from(list(Afn) + [0x00]), st.binary(max_size=60))
@FUZZ
def test_well_framed_garbage(control, afn, data):
    """Random user data inside a correct envelope, so the fuzz reaches the message parsers."""
    user = bytes([control]) + bytes.fromhex("330102D204") + bytes([afn]) + data
    accepted_or_refused(bytes([0x68, len(user), 0x68]) + user + bytes([reference_crc8(user), 0x16]))


# ---------------------------------------------------------------- split frames (C D6, DIVS countdown)


@pytest.mark.parametrize("size", [2, 9, 40, 247])
def test_split_self_report_joins_to_the_single_frame_message(size):
    from watertel.protocols.multipart import SzyJoiner, split_szy

    whole = up(DataType.FLOW_VOLUME, FlowVolume(tuple(FlowPoint(D(f"{i}.125"), 1000 + i) for i in range(30))))
    parts = [szy206.encode(p) for p in split_szy(whole, size)]
    decoded = [szy206.decode(p) for p in parts]
    assert [f.message.countdown for f in decoded] == list(range(len(parts), 0, -1))  # SL/T 427-2021: 255..1
    assert all(p[3] & 0x40 for p in parts)  # D6 set in every part
    joiner = SzyJoiner()
    assert [joiner.feed(f) for f in decoded[:-1]] == [None] * (len(parts) - 1)
    joined = joiner.feed(decoded[-1])
    assert joined == whole
    confirm = szy206.reply(joined)  # confirmed once, as the single frame would be
    assert isinstance(confirm.message, szy206.Confirm) and not confirm.uplink
    with pytest.raises(ValueError, match="DIVS counts at most 255"):
        split_szy(whole, 1)


def test_split_parts_out_of_order_or_from_another_station_are_refused():
    from dataclasses import replace

    from watertel.protocols.multipart import SzyJoiner, split_szy

    parts = split_szy(FLOW, 5)
    joiner = SzyJoiner()
    joiner.feed(parts[0])
    with pytest.raises(FrameError, match="does not continue .*expected countdown"):
        joiner.feed(parts[2])
    joiner = SzyJoiner()
    joiner.feed(parts[0])
    with pytest.raises(FrameError, match="of 330102-99 .*does not continue"):
        joiner.feed(replace(parts[1], station=99))
    login = szy206.decode(szy206.encode(LOGIN))
    assert joiner.feed(login) is login  # frames that are not split pass through


def test_split_joined_data_is_checked_like_a_single_frame():
    from watertel.protocols.multipart import SzyJoiner

    joiner = SzyJoiner()
    bogus = Frame(Afn.SELF_REPORT, True, 3, 3, "330102", 1234, szy206.Fragment(1, b"\x01\x02\x03"))
    with pytest.raises(FrameError, match="truncated"):
        joiner.feed(bogus)


# ---------------------------------------------------------------- variants the sources show (issue 10)


def framed(c: int, afn: int, data: bytes) -> bytes:
    user = bytes([c]) + bytes.fromhex("330102D204") + bytes([afn]) + data
    return bytes([0x68, len(user), 0x68]) + user + bytes([reference_crc8(user), 0x16])


def test_b0h_query_without_time_label():
    """hm1212/szy206-protocol RealTimeDataFunction.write: C, A, AFN B0H, CS, 16H: no data, no Tp.
    Built the way that code builds it (L = C + A + AFN = 7); it decodes to a Query without a label,
    re-encodes to the same bytes, and a label cut short is still refused."""
    data = framed(0x03, 0xB0, b"")
    assert data[1] == 7 and len(data) == 12
    frame = szy206.decode(data)
    assert (frame.afn, frame.uplink, frame.data_type, frame.message) == (Afn.QUERY_REALTIME, False, 3, szy206.Query(None))
    assert szy206.encode(frame) == data
    assert szy206.decode(framed(0x03, 0xB0, bytes.fromhex("1530082905"))).message == szy206.Query(LABEL)
    refused(framed(0x03, 0xB0, bytes.fromhex("15300829")), "truncated: allowed delay")
    refused(framed(0x03, 0xB0, bytes.fromhex("153008290500")), "length: 1 unexpected bytes")


def test_link_check_answered_with_00h():
    """hm1212/szy206-protocol HeartReport.setAskPayload: C & 7FH (down), A, AFN 02H, data 00H, CS.
    The centre's 00H decodes as LinkConfirm; an RTU (uplink) sending 00H is still refused."""
    data = framed(0x00, 0x02, b"\x00")
    frame = szy206.decode(data)
    assert frame.message == szy206.LinkConfirm() and not frame.uplink
    assert szy206.encode(frame) == data
    assert szy206.encode(szy206.reply(LOGIN, link_confirm=True))[9:11] == b"\x02\x00"
    assert szy206.encode(szy206.reply(LOGIN))[9:11] == b"\x02\xf0"  # the echo stays the default
    refused(framed(0x80, 0x02, b"\x00"), "link check: unknown code 00H")
    refused(framed(0x00, 0x02, b"\x00\x00"), "length: 1 unexpected bytes")


def test_missing_flow_or_volume_is_aah():
    """SL/T 427-2021 (ThingsPanel/go-sl427 docs, 查询流量(水量)参数 注意): a meter measuring only one
    of the pair sends "AAAAAAAAA" for the other; hm1212 HexUtils.checkValue treats AAAA… as no
    value. Five AAH bytes decode to None (the gateway stores NaN, SENSOR_FAULT); a partly AAH
    field is not a value and is refused."""
    flow_missing = bytes.fromhex("AAAAAAAAAA 5476980000")
    volume_missing = bytes.fromhex("4523010000 AAAAAAAAAA")
    tail = bytes.fromhex("0000 0000 1530082905")
    frame = szy206.decode(framed(0x83, 0xC0, flow_missing + volume_missing + tail))
    assert frame.message.payload.points == (FlowPoint(None, 987654), FlowPoint(D("12.345"), None))
    refused(framed(0x83, 0xC0, bytes.fromhex("AAAAAAAA00 5476980000") + tail), "flow: top nibble|BCD digit")
    refused(framed(0x83, 0xC0, bytes.fromhex("4523010000 AAAA000000") + tail), "BCD digit above 9 in volume")


@pytest.mark.parametrize("top, flow, unit", [
    (0x00, "12.345", None), (0x80, "-12.345", None),  # SZY 206: sign in D7, unit as configured
    (0x30, "12.345", "m³/h"), (0xF0, "-12.345", "m³/h"),  # SL/T 427-2021: sign 00B/11B, unit 11B
    (0xC0, "-12.345", "m³/s"),  # SL/T 427-2021: sign 11B, unit 00B
    (0x39, "900012.345", "m³/h"),  # the hundred-thousands digit sits below the flags
])
def test_flow_top_byte_sign_and_sl427_unit_flag(top, flow, unit):
    """SL/T 427-2021 表35 (go-sl427 docs): BYTE 5 carries 符号位 (00B +, 11B -) and 单位 (00B m³/s,
    11B m³/h); SZY 206 (and hm1212 byteBuf2BigDecimal) the sign in D7. Each accepted top byte
    decodes to its sign and unit and re-encodes to the same bytes."""
    raw = bytes.fromhex("45230100") + bytes([top])
    data = framed(0x83, 0xC0, raw + bytes.fromhex("0100000000 0000 0000 1530082905"))
    point = szy206.decode(data).message.payload.points[0]
    assert (point.flow, point.unit) == (D(flow), unit)
    assert szy206.encode(szy206.decode(data)) == data


@pytest.mark.parametrize("top, unit", [(0x80, None), (0xF0, "m³/h"), (0xC0, "m³/s")])
def test_a_negative_zero_flow_keeps_its_sign(top, unit):
    """A meter may send zero with the sign set (found by test_bit_flips): it decodes to -0.000,
    not 0.000, so that it encodes back to the same top byte."""
    data = framed(0x83, 0xC0, bytes.fromhex("00000000") + bytes([top]) + bytes.fromhex("0100000000 0000 0000 1530082905"))
    point = szy206.decode(data).message.payload.points[0]
    assert point.flow.is_zero() and point.flow.is_signed() and point.unit == unit
    assert szy206.encode(szy206.decode(data)) == data


@pytest.mark.parametrize("top", [0x1, 0x2, 0x4, 0x7, 0x9, 0xB, 0xD, 0xE])
def test_flow_top_nibble_neither_form_is_refused(top):
    """An SZY 206 flow of 1 000 000 or more (a digit in D6-D4) collides with the SL/T 427-2021
    flags; those nibbles are refused with the reason rather than guessed."""
    raw = bytes.fromhex("45230100") + bytes([top << 4])
    refused(framed(0x83, 0xC0, raw + bytes.fromhex("0100000000 0000 0000 1530082905")), f"flow: top nibble {top:X}H")
    with pytest.raises(ValueError, match="does not fit 9 BCD digits"):
        szy206.encode(up(DataType.FLOW_VOLUME, FlowVolume((FlowPoint(D("1234567.891"), 0),))))
