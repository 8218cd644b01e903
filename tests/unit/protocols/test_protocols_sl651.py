"""SL 651-2014 codec: published frames, round trips of every message, refusal of every malformed
shape, and fuzzing (random bytes, bit flips, well-framed garbage) that may only ever end in a
FrameError or in a frame that re-encodes to the very same bytes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from watertel.protocols import FrameError, sl651
from watertel.protocols.common import CHINA
from watertel.protocols.sl651 import Category, Element, End, Frame, Function

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Frames published with worked explanations of the standard (link keep-alive, test report and
# its reply, timed report and its reply); their CRCs were computed by the RTUs that sent them.
KEEPALIVE = bytes.fromhex("7E7E01001234567812342F0008020003591011155111036BCA")
TEST_REPORT = bytes.fromhex("7E7E010012345678123430002B020003591011154947F1F1001234567848F0F05910111549"
                            "20190000052619000005392300000127381211150320FA")
TEST_REPLY = bytes.fromhex("7E7E00123456780112343080080200035910111549471B75D4")
TIMED_REPORT = bytes.fromhex("7E7E05001122334403E832002B020034170718110016F1F1001122334448F0F01707181100"
                             "201900004026190000403923000104903812109903A421")
TIMED_REPLY = bytes.fromhex("7E7E00112233440503E83280080200341707181100161BE5D4")
PUBLISHED = [KEEPALIVE, TEST_REPORT, TEST_REPLY, TIMED_REPORT, TIMED_REPLY]

T = datetime(2026, 11, 29, 8, 30, 15, tzinfo=CHINA)
OBS = datetime(2026, 11, 29, 8, 30, tzinfo=CHINA)


def reference_crc16_modbus(data: bytes) -> int:
    """Bit by bit, MSB-first register fed with each byte's bits reversed, result reflected:
    the textbook definition of a reflected CRC, independent of the codec's LSB-first loop."""
    reg = 0xFFFF
    for byte in data:
        for i in range(8):  # reflected input: least significant bit first
            top = (reg >> 15) ^ (byte >> i & 1)
            reg = ((reg << 1) & 0xFFFF) ^ (0x8005 if top else 0)
    return int(f"{reg:016b}"[::-1], 2)


def resign(frame: bytes) -> bytes:
    """The frame with a fresh CRC, to reach the checks behind the checksum."""
    return frame[:-2] + reference_crc16_modbus(frame[:-2]).to_bytes(2, "big")


def element(ident: int, definition: int, *values) -> Element:
    return Element(ident, definition, tuple(values))


def report(function: Function, elements, step=None) -> Frame:
    message = sl651.Report(7, T, "0012345678", Category.INTAKE, OBS, tuple(elements), step)
    return Frame(function, True, 1, "0012345678", 0x1234, End.ETX, message)


# ---------------------------------------------------------------- checksum


def test_crc16_modbus_known_vector():
    assert reference_crc16_modbus(b"123456789") == 0x4B37
    assert sl651.crc16(b"123456789") == 0x4B37


@given(st.binary(max_size=300))
@FUZZ
def test_crc16_matches_the_reference(data):
    assert sl651.crc16(data) == reference_crc16_modbus(data)


@pytest.mark.parametrize("frame", PUBLISHED)
def test_published_crcs_are_sent_high_byte_first(frame):
    assert frame[-2:] == reference_crc16_modbus(frame[:-2]).to_bytes(2, "big")


# ---------------------------------------------------------------- published frames


@pytest.mark.parametrize("frame", PUBLISHED)
def test_published_frames_decode_and_reencode_byte_for_byte(frame):
    assert sl651.encode(sl651.decode(frame)) == frame


def test_published_timed_report_values():
    f = sl651.decode(TIMED_REPORT)
    assert (f.function, f.uplink, f.centre, f.station, f.password, f.end) == (
        Function.TIMED, True, 5, "0011223344", 0x03E8, End.ETX)
    r = f.message
    assert r.serial == 0x34 and r.sent_at == datetime(2017, 7, 18, 11, 0, 16, tzinfo=CHINA)
    assert r.category == Category.RIVER and r.observed_at == datetime(2017, 7, 18, 11, 0, tzinfo=CHINA)
    assert [(e.ident, e.value) for e in r.elements] == [
        (0x20, D("4.0")), (0x26, D("4.0")), (0x39, D("10.490")), (0x38, D("10.99"))]
    assert r.observed_at.utcoffset() == timedelta(hours=8)


def test_published_replies_are_what_reply_builds():
    assert sl651.encode(sl651.reply(sl651.decode(TIMED_REPORT), End.ESC)) == TIMED_REPLY
    assert sl651.encode(sl651.reply(sl651.decode(TEST_REPORT), End.ESC)) == TEST_REPLY


def test_downlink_frames_carry_the_station_address_first():
    f = sl651.decode(TEST_REPLY)
    assert (f.uplink, f.station, f.centre, f.end) == (False, "0012345678", 1, End.ESC)


# ---------------------------------------------------------------- round trips


ROUND_TRIPS = {
    "keepalive": Frame(Function.LINK_KEEPALIVE, True, 1, "0012345678", 0, End.ETX, sl651.LinkCheck(1, T)),
    "test": report(Function.TEST, [element(0x38, 0x12, D("12.34"))]),
    "timed": report(Function.TIMED, [element(0x27, 0x2B, D("123.456")), element(0x39, 0x23, D("-1.250")),
                                     element(0x46, 0x22, D("7.25")), element(0x48, 0x20, D("512"))]),
    "added": report(Function.ADDED, [element(0x58, 0x1A, D("101.25")), element(0x20, 0x19, None)]),
    "hourly": report(Function.HOURLY, [
        element(0xF4, 0x60, *([D("0.5")] * 11 + [None])),
        element(0xF5, 0xC0, *([D("1.23")] * 10 + [None, D("655.34")])),
        element(0x45, 0x20, D(0x80000001))]),
    "evenly_timed": report(Function.EVENLY_TIMED, [element(0x39, 0x23, D("1.000"), D("1.005"), None)],
                           timedelta(minutes=5)),
    "evenly_timed_days": report(Function.EVENLY_TIMED, [element(0x20, 0x19, D("0.5"))], timedelta(days=1, hours=2)),
    "realtime_answer": report(Function.QUERY_REALTIME, [element(0x49, 0x18, D("3"))]),
    "clock_answer": Frame(Function.SET_CLOCK, True, 1, "0012345678", 0, End.ETX, sl651.ClockAnswer(9, T, "0012345678")),
    "query": sl651.query_realtime(1, "0012345678", 0x1234, 10, T),
    "set_clock": sl651.set_clock(1, "0012345678", 0x1234, 11, T),
    "ack": sl651.reply(report(Function.TIMED, []), End.ACK),
    "eot": sl651.reply(report(Function.TIMED, []), End.EOT),
    "esc": sl651.reply(report(Function.TIMED, []), End.ESC),
    "nak": sl651.reply(report(Function.TIMED, []), End.NAK),
    "packet_1_of_2": Frame(Function.TIMED, True, 1, "0012345678", 0, End.ETB, sl651.Fragment(2, 1, b"\x00\x01abc")),
    "packet_2_of_2": Frame(Function.TIMED, True, 1, "0012345678", 0, End.ETX, sl651.Fragment(2, 2, b"xyz")),
}


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip(name):
    frame = ROUND_TRIPS[name]
    data = sl651.encode(frame)
    assert sl651.decode(data) == frame
    assert sl651.encode(sl651.decode(data)) == data


def test_negative_invalid_and_decimals():
    data = sl651.encode(report(Function.TIMED, [element(0x39, 0x23, D("-1.250")), element(0x27, 0x2B, None)]))
    body = data.index(b"\x39\x23")
    assert data[body:body + 6] == bytes.fromhex("3923FF001250")
    assert data[body + 6:body + 13] == bytes.fromhex("272B") + b"\xaa" * 5
    values = [e.value for e in sl651.decode(data).message.elements]
    assert values == [D("-1.250"), None] and str(values[0]) == "-1.250"


def test_query_and_clock_frames_end_with_enq():
    for frame in (ROUND_TRIPS["query"], ROUND_TRIPS["set_clock"]):
        data = sl651.encode(frame)
        assert data[-3] == End.ENQ and data[11] >> 4 == 8


# ---------------------------------------------------------------- refusals


def refused(data: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        sl651.decode(data)


def test_every_truncation_is_refused():
    for n in range(len(TIMED_REPORT)):
        refused(TIMED_REPORT[:n], "truncated")


def test_extra_byte_is_a_length_error():
    refused(TIMED_REPORT + b"\x00", "length")


def test_length_field_disagreeing_with_the_body():
    data = bytearray(TIMED_REPORT)
    data[12] -= 1
    refused(bytes(data), "length")
    data[12] += 2
    refused(bytes(data), "truncated")


def test_checksum():
    refused(TIMED_REPORT[:-1] + bytes([TIMED_REPORT[-1] ^ 1]), "checksum")
    refused(TIMED_REPORT[:-2] + TIMED_REPORT[-1:] + TIMED_REPORT[-2:-1], "checksum")  # low byte first


def test_start_bytes():
    refused(resign(b"\x7e\x7f" + TIMED_REPORT[2:]), "start bytes")


def test_end_bytes():
    for bad in (0x00, End.ENQ, End.ESC):  # not an end byte; downlink end bytes on an uplink frame
        refused(resign(TIMED_REPORT[:-3] + bytes([bad]) + b"\0\0"), "end byte")
    refused(resign(TIMED_REPORT[:-3] + bytes([End.ETB]) + b"\0\0"), "ETB")
    refused(resign(TIMED_REPLY[:-3] + bytes([End.ETX]) + b"\0\0"), "end byte")


def test_text_start():
    data = bytearray(TIMED_REPORT)
    data[13] = 0x03
    refused(resign(bytes(data)), "text start")


def test_direction():
    data = bytearray(TIMED_REPORT)
    data[11] |= 0x40
    refused(resign(bytes(data)), "direction")


@pytest.mark.parametrize("offset, what", [(3, "station address"), (16, "send time"),
                                          (26, "station address"), (50, "element 39H")])
def test_bcd_digit_above_nine(offset, what):
    data = bytearray(TIMED_REPORT)
    data[offset] = 0x1A
    refused(resign(bytes(data)), f"BCD digit above 9 in {what}")


def test_impossible_dates():
    data = bytearray(TIMED_REPORT)
    data[17] = 0x13  # month 13
    refused(resign(bytes(data)), "send time: not a date")


def test_unknown_function_element_and_category():
    data = bytearray(TIMED_REPORT)
    data[10] = 0x99
    refused(resign(bytes(data)), "unknown function 99H")
    data = bytearray(TIMED_REPORT)
    data[data.index(b"\x39\x23")] = 0x99
    refused(resign(bytes(data)), "unknown element 99H")
    data = bytearray(TIMED_REPORT)
    data[data.index(b"\x48\xf0\xf0")] = 0x01
    refused(resign(bytes(data)), "unknown station category 01H")


def test_element_running_past_the_body():
    data = bytearray(TIMED_REPORT)
    data[data.index(b"\x38\x12") + 1] = 0x22  # the last element now claims 4 bytes; 2 are left
    refused(resign(bytes(data)), "truncated: element 38H needs 4 bytes, 2 left")


def test_series_definition_and_31h_shape():
    data = sl651.encode(report(Function.HOURLY, [element(0xF4, 0x60, *[D(0)] * 12)])).replace(b"\xf4\x60", b"\xf4\x58")
    refused(resign(data), "definition 58H, expected 60H")
    series = report(Function.EVENLY_TIMED, [element(0x39, 0x23, D(1), D(2))], timedelta(minutes=5))
    data = bytearray(sl651.encode(series))
    data[12] -= 1  # one byte fewer in the body: the last 4-byte value is cut
    refused(resign(bytes(data[:-4] + data[-3:])), "31H values")
    data = bytearray(sl651.encode(report(Function.EVENLY_TIMED, [element(0x39, 0x23, D(1))], timedelta(minutes=5))))
    data[data.index(b"\x04\x18") + 3] = 0x24  # 24 hours
    refused(resign(bytes(data)), "time step")


@given(st.binary(max_size=120))
@FUZZ
def test_garbage_is_refused(data):
    with pytest.raises(FrameError):
        sl651.decode(data)


# ---------------------------------------------------------------- fuzzing


def accepted_or_refused(data: bytes) -> None:
    try:
        frame = sl651.decode(data)
    except FrameError as err:
        assert err.reason
    else:
        assert sl651.encode(frame) == data


VALID = PUBLISHED + [sl651.encode(f) for f in ROUND_TRIPS.values()]


@given(st.sampled_from(VALID), st.integers(0, 10_000), st.booleans())
@FUZZ
def test_bit_flips(frame, where, fix_crc):
    data = bytearray(frame)
    bit = where % (len(data) * 8)
    data[bit // 8] ^= 1 << bit % 8
    accepted_or_refused(resign(bytes(data)) if fix_crc else bytes(data))


HEADS = [(TIMED_REPORT[:11], 0), (TIMED_REPLY[:11], 0x8000), (TIMED_REPORT[:10] + b"\x31", 0)]


@given(st.binary(max_size=200), st.sampled_from(HEADS), st.sampled_from([0x02, 0x16, 0x00]),
       st.sampled_from(list(End) + [0x00]))
@FUZZ
def test_well_framed_garbage(body, head, text_start, end):
    """Random bodies inside a correct envelope, so the fuzz reaches the body parsers."""
    start, direction = head
    data = start + (direction | len(body)).to_bytes(2, "big") + bytes([text_start]) + body + bytes([end])
    accepted_or_refused(resign(data + b"\0\0"))


@given(st.sampled_from([0x20, 0x27, 0x39, 0x45, 0xF4, 0xF5]), st.integers(0, 255), st.binary(max_size=40))
@example(0x20, 0x80, b"\x00\x01" + bytes(13) + b"\x01")  # 32 digits: decimal's 28-digit default rounded the last
@FUZZ
def test_well_framed_random_elements(ident, definition, value):
    body = TIMED_REPORT[14:14 + 8 + 8 + 7] + bytes([ident, definition]) + value
    data = TIMED_REPORT[:11] + len(body).to_bytes(2, "big") + b"\x02" + body + b"\x03"
    accepted_or_refused(resign(data + b"\0\0"))


# ---------------------------------------------------------------- multi-packet messages (SYN, ETB … ETX)


def _packets(frame: Frame, size: int) -> list[bytes]:
    from watertel.protocols.multipart import split_sl

    return [sl651.encode(p) for p in split_sl(frame, size)]


@pytest.mark.parametrize("size", [1, 7, 16, 60, 4092])
def test_multi_packet_report_joins_to_the_single_frame_message(size):
    from watertel.protocols.multipart import SlJoiner

    whole = report(Function.TIMED, [element(0x27, 0x2B, D("-12.345")), element(0x39, 0x23, D("10.49")),
                                    element(0x38, 0x12, None)])
    packets = _packets(whole, size)
    decoded = [sl651.decode(p) for p in packets]
    assert all(f.message.total == len(packets) for f in decoded)
    assert [f.end for f in decoded] == [End.ETB] * (len(packets) - 1) + [End.ETX]
    assert all(sl651.encode(f) == p for f, p in zip(decoded, packets))  # a packet round-trips on its own
    joiner = SlJoiner()
    assert [joiner.feed(f) for f in decoded[:-1]] == [None] * (len(packets) - 1)
    assert joiner.feed(decoded[-1]) == whole
    reply = sl651.reply(whole, End.ESC)  # acknowledged once, as the single frame would be
    assert reply.message.serial == 7 and not reply.uplink


def test_multi_packet_out_of_order_or_interleaved_is_refused_and_dropped():
    from watertel.protocols.multipart import SlJoiner

    first = report(Function.TIMED, [element(0x39, 0x23, D("1.5"))])
    parts = [sl651.decode(p) for p in _packets(first, 10)]
    joiner = SlJoiner()
    with pytest.raises(FrameError, match="packet 2 of .* without the packets before it"):
        joiner.feed(parts[1])
    joiner.feed(parts[0])
    with pytest.raises(FrameError, match="packet 3 of .* does not continue .*packet 2"):
        joiner.feed(parts[2])
    joiner.feed(parts[0])
    with pytest.raises(FrameError, match="packet 1 of .* starts a new message"):
        joiner.feed(parts[0])
    assert [joiner.feed(p) for p in parts[1:]][-1] == first  # the restarted message still completes
    single = sl651.decode(TIMED_REPORT)
    assert joiner.feed(single) is single  # single frames pass through
    bad_end = sl651.encode(replace_end(parts[0], End.ETX))
    with pytest.raises(FrameError, match="ends with ETX"):
        joiner.feed(sl651.decode(bad_end))


def replace_end(frame: Frame, end: End) -> Frame:
    from dataclasses import replace

    return replace(frame, end=end)


def test_multi_packet_size_is_bounded():
    from watertel.protocols.multipart import SlJoiner

    whole = report(Function.TIMED, [element(0x39, 0x23, D(i)) for i in range(50)])
    joiner = SlJoiner(max_bytes=100)
    with pytest.raises(FrameError, match="over 100 bytes"):
        for packet in _packets(whole, 30):
            joiner.feed(sl651.decode(packet))
