"""SL 651-2014 ASCII mode (SOH 01H): round trips of every supported message, property-tested
round trips, refusal of every malformed shape, and `watertel frame decode` picking ASCII or HEX
from the start byte.

The layout is the one wainshine/SL651 (sl651-toolkit/sl651/decoder.py ``_decode_new_ascii``,
encoder.py ``build_ascii_body``) reads and writes: header fields as hex characters at fixed
offsets, STX, serial + send time, space-separated ``ST``/``TT`` groups and identifier/value
pairs with a trailing space, the CRC-16/MODBUS as 4 hex characters over SOH .. end byte. No
published ASCII frame was found, so the vectors here are built from that layout, not quoted.

This file holds the tests that need no server and start no process; the others are in
tests/integration/protocols/test_protocols_sl651_ascii.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watertel.protocols import FrameError, sl651, sl651_ascii
from watertel.protocols.common import CHINA
from watertel.protocols.sl651 import Category, Downlink, Element, End, Frame, Function, LinkCheck, Report

from tests.support.sl651_ascii import STATION, T, TIMED, element, good, report

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


ROUND_TRIPS = {
    "timed": TIMED,
    "test": report(Function.TEST),
    "added": report(Function.ADDED, element(0x27, "0.001")),
    "hourly": report(Function.HOURLY, element(0x1A, "0"), element(0x58, "101.25")),
    "realtime_answer": report(Function.QUERY_REALTIME, element(0x46, "7.21")),
    "keepalive": Frame(Function.LINK_KEEPALIVE, True, 5, STATION, 0x03E8, End.ETX, LinkCheck(7, T), ascii=True),
    "reply_esc": sl651.reply(TIMED, End.ESC),
    "reply_eot": sl651.reply(TIMED, End.EOT),
    "query": Frame(Function.QUERY_REALTIME, False, 5, STATION, 0, End.ENQ, Downlink(9, T), ascii=True),
}
ROUND_TRIPS["no_elements"] = Frame(Function.TIMED, True, 5, STATION, 0x03E8, End.ETX,
                                   Report(1, T, STATION, Category.RIVER, T, ()), ascii=True)
TIMED_BYTES = (b"\x0105001234567803E8320049\x02"
               b"0001231201100000 ST 0012345678 H TT 2312011000 PJ 12.5 Z -1.234 VT 12.60 \x03")


def crc(frame: bytes) -> bytes:
    return frame + f"{sl651.crc16(frame):04X}".encode()


def framed(head: bytes, body: bytes, end: int = 0x03) -> bytes:
    """SOH + head (centre, station, password, function: 18 chars) + length + STX + body + end + CRC."""
    return crc(b"\x01" + head + f"{len(body):04X}".encode() + b"\x02" + body + bytes([end]))


UP_HEAD = b"05" + STATION.encode() + b"03E8" + b"32"


# ---------------------------------------------------------------- round trips and layout


def test_timed_report_layout():
    data = sl651.encode(TIMED)
    assert data == crc(TIMED_BYTES)
    assert data[19:23] == f"{len(TIMED_BYTES) - 25:04X}".encode()  # body characters between STX and ETX
    assert data[-4:] == f"{sl651.crc16(data[:-4]):04X}".encode()  # CRC over SOH .. ETX, as hex characters


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip(name):
    data = sl651.encode(ROUND_TRIPS[name])
    assert data[:1] == b"\x01"
    assert sl651.decode(data) == ROUND_TRIPS[name]
    assert sl651.encode(sl651.decode(data)) == data


def test_reply_is_downlink_ascii_with_station_first():
    data = sl651.encode(sl651.reply(TIMED, End.ESC))
    assert data[1:13] == STATION.encode() + b"05" and data[19:20] == b"8" and data[-5] == End.ESC
    assert data[24:40] == b"0001231201100000"  # the report's serial and send time echoed


def test_ascii_values_convert_to_hex_mode():
    """A decoded ASCII report carries the definition a HEX frame needs: it can be sent on in HEX."""
    hexed = sl651.encode(Frame(**{**sl651.decode(sl651.encode(TIMED)).__dict__, "ascii": False}))
    assert hexed[:2] == b"\x7e\x7e"
    values = [(e.ident, e.value) for e in sl651.decode(hexed).message.elements]
    assert values == [(0x20, D("12.5")), (0x39, D("-1.234")), (0x38, D("12.60"))]


values = st.decimals(min_value=-10**6, max_value=10**6, allow_nan=False, allow_infinity=False, places=3)


elements = st.tuples(st.sampled_from(sorted(sl651_ascii.IDENTIFIERS)), values).map(
    lambda p: Element(p[0], sl651_ascii.definition(p[1]), (p[1],)))


@given(st.lists(elements, max_size=6),
       st.integers(0, 0xFFFF), st.sampled_from([Function.TEST, Function.TIMED, Function.ADDED, Function.HOURLY]),
       st.sampled_from(list(Category)), st.integers(0, 10**10 - 1), st.integers(0, 0xFFFF),
       st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
@FUZZ
def test_property_round_trip(elements, serial, function, category, station, password, when):
    sent = when.replace(microsecond=0, tzinfo=CHINA)
    observed = sent.replace(second=0)
    frame = Frame(function, True, serial % 256, f"{station:010d}", password, End.ETX,
                  Report(serial, sent, f"{station:010d}", category, observed, tuple(elements)), ascii=True)
    data = sl651.encode(frame)
    assert sl651.decode(data) == frame
    assert sl651.encode(sl651.decode(data)) == data
    reply = sl651.reply(frame, End.EOT)
    assert sl651.decode(sl651.encode(reply)) == reply


# ---------------------------------------------------------------- refusals


def refused(data: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        sl651.decode(data)


def test_every_truncation_is_refused():
    data = good()
    for n in range(1, len(data)):
        with pytest.raises(FrameError, match="truncated|length"):
            sl651.decode(data[:n])


def test_frame_level_refusals():
    data = good()
    refused(data + b"0", "length: the length field says")
    refused(data[:-1] + (b"0" if data[-1:] != b"0" else b"1"), "checksum")
    refused(data[:-4] + data[-4:].lower() if data[-4:] != data[-4:].lower() else data[:-4] + b"zzzz",
            "CRC: .* is not upper-case hex")
    refused(crc(data[:19] + b"4" + data[20:-4]), "direction: 4")
    refused(crc(data[:19] + b"00G0" + data[23:-4]), "length field: .* is not upper-case hex")


@pytest.mark.parametrize("head, match", [
    (b"05" + b"00123A5678" + b"03E8" + b"32", "station address: .* is not decimal digits"),
    (b"0g" + STATION.encode() + b"03E8" + b"32", "centre address"),
    (b"05" + STATION.encode() + b"03e8" + b"32", "password"),
    (b"05" + STATION.encode() + b"03E8" + b"99", "unknown function 99H"),
])
def test_header_fields(head, match):
    refused(framed(head, TIMED_BYTES[24:-1]), match)


def test_text_start_and_end_bytes():
    body = TIMED_BYTES[24:-1]
    refused(framed(UP_HEAD, body, end=0x05), "end byte: 05 is not one of ETX")
    refused(framed(UP_HEAD, body, end=0x17), "end byte: ETB .* in a single-packet")
    syn = crc(b"\x01" + UP_HEAD + f"{len(body):04X}".encode() + b"\x16" + body + b"\x03")
    refused(syn, "ASCII multi-packet")
    stx = crc(b"\x01" + UP_HEAD + f"{len(body):04X}".encode() + b"\x00" + body + b"\x03")
    refused(stx, "text start")


@pytest.mark.parametrize("body, match", [
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ 12.5\x07 ", "printable characters only"),
    (b"000123120110000", "truncated: 44 bytes, an ASCII frame has at least 45"),
    (b"00012312011000AA", "send time: .* is not decimal digits"),
    (b"0001231301100000", "send time: not a date"),
    (b"0001231201100000ST 0012345678 H TT 2312011000 ", "preceded by one space"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000", "preceded by one space"),
    (b"0001231201100000 ST 0012345678 H TT  2312011000 ", "exactly one space"),
    (b"0001231201100000 TT 2312011000 ST 0012345678 H ", "expected ST station category TT"),
    (b"0001231201100000 ST 0012345678 H ", "expected ST station category TT"),
    (b"0001231201100000 ST 012345678 H TT 2312011000 ", "station address: 10 digits"),
    (b"0001231201100000 ST 0012345678 X TT 2312011000 ", "unknown station category 'X'"),
    (b"0001231201100000 ST 0012345678 48 TT 2312011000 ", "station category: one letter"),
    (b"0001231201100000 ST 0012345678 H TT 231201100 ", "observation time: YYMMDDhhmm"),
    (b"0001231201100000 ST 0012345678 H TT 2313011000 ", "observation time: not a date"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ ", "identifier without a value"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 XX 1 ", "unknown element 'XX'"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 ZT 1 ", "unknown element 'ZT'"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ 012.5 ", "not a decimal value"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ 1E2 ", "not a decimal value"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ 1. ", "not a decimal value"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ +1 ", "not a decimal value"),
    (b"0001231201100000 ST 0012345678 H TT 2312011000 PJ 0.12345678 ", "more than 7 decimals"),
])
def test_report_body_refusals(body, match):
    refused(framed(UP_HEAD, body), match)


def test_messages_ascii_mode_does_not_carry():
    refused(framed(b"05" + STATION.encode() + b"03E8" + b"31", TIMED_BYTES[24:-1]), "31H is not supported in ASCII")
    refused(framed(b"05" + STATION.encode() + b"03E8" + b"4A", b"0001231201100000 ST 0012345678"),
            "4AH is not supported in ASCII")
    refused(framed(b"05" + STATION.encode() + b"03E8" + b"2F", b"0001231201100000 "), "1 unexpected characters")
    for bad in (report(Function.TIMED, Element(0x39, 0x23, (None,))),
                report(Function.TIMED, Element(0xF4, 0x60, (D("0.1"),) * 12)),
                report(Function.TIMED, Element(0x45, 0x20, (D(1),))),
                Frame(Function.EVENLY_TIMED, True, 5, STATION, 0, End.ETX,
                      Report(1, T, STATION, Category.RIVER, T, (element(0x39, "1"),), timedelta(minutes=5)), ascii=True),
                Frame(Function.SET_CLOCK, True, 5, STATION, 0, End.ETX, sl651.ClockAnswer(1, T, STATION), ascii=True)):
        with pytest.raises(ValueError):
            sl651.encode(bad)


@given(st.binary(max_size=120))
@FUZZ
def test_garbage_after_soh_is_refused_or_round_trips(data):
    data = b"\x01" + data
    try:
        frame = sl651.decode(data)
    except FrameError as err:
        assert err.reason
    else:
        assert sl651.encode(frame) == data


@given(st.text(alphabet="0123456789ABCDEFHSTPJZVQ .-", max_size=80))
@FUZZ
def test_well_framed_text_bodies(body):
    """Random report text inside a correct envelope, so the fuzz reaches the body parser."""
    data = framed(UP_HEAD, body.encode())
    try:
        frame = sl651.decode(data)
    except FrameError as err:
        assert err.reason
    else:
        assert sl651.encode(frame) == data


# ---------------------------------------------------------------- the command line
