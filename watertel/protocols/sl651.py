"""SL 651-2014 (水文监测数据通信规约) in HEX/BCD mode: hydrological RTU <-> centre (ASCII mode:
``sl651_ascii``, chosen by ``decode`` from the start byte and by ``encode`` from ``Frame.ascii``).

Frame (uplink; a downlink frame carries the station address first, then the centre's)::

    offset  bytes  field
    0       2      7E 7E                        start of a HEX/BCD frame
    2       1      centre address               downlink: station address (5)
    3       5      station address, 10 BCD      downlink: centre address (1)
    8       2      password, high byte first
    10      1      function code (2FH, 30H-34H, 37H, 4AH)
    11      2      direction (high 4 bits: 0 up, 8 down) | body length (low 12 bits)
    13      1      STX 02, or SYN 16 then 3 bytes: packets in all (12 bits), this one (12 bits)
    14      n      body
    14+n    1      end: ETX 03 / ETB 17 up; ENQ 05, ACK 06, NAK 15, EOT 04, ESC 1B down
    15+n    2      CRC-16/MODBUS of bytes 0 .. 14+n, high byte first

Report body (30H test, 31H evenly timed, 32H timed, 33H add, 34H hourly; the answer to 37H)::

    serial (2) | send time YYMMDDhhmmss (6 BCD) | F1 F1 station (5 BCD) category (1)
    | F0 F0 observation time YYMMDDhhmm (5 BCD) | 31H only: 04 18 step DDhhmm (3 BCD)
    | elements: identifier (1) | definition (1: bytes << 3 | decimals) | value

A value is BCD, most significant digit first; a leading FFH makes it negative, all AAH bytes mark
it invalid (decoded as ``None``). Checked against the standard's public examples (the CRC and
layout vectors in the tests come from published frames).

Assumptions, where the key facts and public examples are silent:

- Downlink bodies (replies, 37H query, 4AH set clock) are serial + send time only; a reply echoes
  the report's serial and send time, as the published examples do. The RTU sets its clock to the
  send time of a 4AH frame; its answer is serial + send time + ``F1 F1`` + station address.
- 31H carries one element after the step code, with as many values as the length allows.
- F4H (5-minute rainfall in the last hour, 12 x 1 byte, 0.1 mm) and F5H-FCH (5-minute relative
  water levels, 12 x 2 bytes, 0.01 m) are binary with all-FFH invalid; 45H (status and alarms) is
  a 32-bit field. Identifiers outside :data:`ELEMENTS` (including the FFH extension) are refused.
- The body length of a multi-packet (SYN) frame counts the 3 packet bytes; such a frame's body is
  kept whole (:class:`Fragment`) until the packets are joined, which is the receiver's job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Context, Decimal

from watertel.protocols import sl651_ascii
from watertel.protocols.common import CHINA, FrameError, Reader, bcd_digits, bcd_int, bcd_time, time_bcd, to_bcd
from watertel.protocols.sl651_frame import (  # the frame model, re-exported: callers use sl651.Frame, …
    ELEMENTS, HEADER, MIN_FRAME, SERIES, START, STATUS_BITS, STX, SYN, Category, ClockAnswer,
    Downlink, Element, End, Fragment, Frame, Function, LinkCheck, Message, Report, crc16, end_code,
)

# An element holds up to 31 bytes (62 digits); decimal's default 28-digit context would round the
# longest ones on scaling, and the frame would no longer encode back to its own bytes.
EXACT = Context(prec=80)

# ---------------------------------------------------------------- decoding


def decode(data: bytes) -> Frame:
    """One complete frame (HEX/BCD, or ASCII when it starts with SOH 01H), or :class:`FrameError`
    naming the first thing wrong with it."""
    if sl651_ascii.is_ascii_frame(data):
        return sl651_ascii.decode(data)
    if len(data) < MIN_FRAME:
        raise FrameError(f"truncated: {len(data)} bytes, a frame has at least {MIN_FRAME}")
    if data[:2] != START:
        raise FrameError(f"start bytes: expected 7E7E (or SOH 01 for ASCII), got {data[:2].hex().upper()}")
    word = int.from_bytes(data[11:13], "big")
    direction, length = word >> 12, word & 0xFFF
    expected = HEADER + length + 3
    if len(data) < expected:
        raise FrameError(f"truncated: the length field says {expected} bytes, got {len(data)}")
    if len(data) > expected:
        raise FrameError(f"length: the length field says {expected} bytes, got {len(data)}")
    sent, computed = int.from_bytes(data[-2:], "big"), crc16(data[:-2])
    if sent != computed:
        raise FrameError(f"checksum: CRC {sent:04X}, computed {computed:04X}")
    if direction not in (0x0, 0x8):
        raise FrameError(f"direction: {direction:X} (0 up, 8 down)")
    return _frame(data, direction == 0, length)


def _frame(data: bytes, uplink: bool, length: int) -> Frame:
    station_at, centre_at = (3, 2) if uplink else (2, 7)
    station = bcd_digits(data[station_at:station_at + 5], "station address")
    try:
        function = Function(data[10])
    except ValueError:
        raise FrameError(f"unknown function {data[10]:02X}H") from None
    end = end_code(data[-3], uplink, data[13])
    body = Reader(data, HEADER, HEADER + length)
    message = _fragment(body) if data[13] == SYN else _message(function, uplink, body)
    return Frame(function, uplink, data[centre_at], station, int.from_bytes(data[8:10], "big"), end, message)


def _fragment(body: Reader) -> Fragment:
    word = int.from_bytes(body.take(3, "packet count"), "big")
    total, number = word >> 12, word & 0xFFF
    if not 1 <= number <= total:
        raise FrameError(f"packet count: packet {number} of {total}")
    return Fragment(total, number, body.take(body.left(), "body"))


def _message(function: Function, uplink: bool, body: Reader) -> Message:
    serial = int.from_bytes(body.take(2, "serial number"), "big")
    sent_at = bcd_time(body.take(6, "send time"), "send time")
    if not uplink:
        return _done(body, Downlink(serial, sent_at))
    if function == Function.LINK_KEEPALIVE:
        return _done(body, LinkCheck(serial, sent_at))
    if function == Function.SET_CLOCK:
        return _done(body, ClockAnswer(serial, sent_at, _station_tag(body)))
    station = _station_tag(body)
    category = _category(body.byte("station category"))
    if body.take(2, "observation time identifier") != b"\xf0\xf0":
        raise FrameError("report: expected observation time identifier F0F0")
    observed_at = bcd_time(body.take(5, "observation time"), "observation time")
    if function == Function.EVENLY_TIMED:
        step = _step(body)
        return Report(serial, sent_at, station, category, observed_at, (_series(body),), step)
    return Report(serial, sent_at, station, category, observed_at, _elements(body))


def _done(body: Reader, message: Message) -> Message:
    if body.left():
        raise FrameError(f"length: {body.left()} unexpected bytes after the body")
    return message


def _station_tag(body: Reader) -> str:
    if body.take(2, "station identifier") != b"\xf1\xf1":
        raise FrameError("body: expected station address identifier F1F1")
    return bcd_digits(body.take(5, "station address"), "station address")


def _category(byte: int) -> Category:
    try:
        return Category(byte)
    except ValueError:
        raise FrameError(f"unknown station category {byte:02X}H") from None


def _step(body: Reader) -> timedelta:
    if body.take(2, "time step code") != b"\x04\x18":
        raise FrameError("31H report: expected time step code 0418")
    days, hours, minutes = (bcd_int(bytes([b]), "time step") for b in body.take(3, "time step"))
    if hours > 23 or minutes > 59:
        raise FrameError(f"time step: {days:02d}{hours:02d}{minutes:02d} is not DDhhmm")
    return timedelta(days=days, hours=hours, minutes=minutes)


def _known(ident: int) -> int:
    if ident not in ELEMENTS:
        raise FrameError(f"unknown element {ident:02X}H")
    return ident


def _elements(body: Reader) -> tuple[Element, ...]:
    elements = []
    while body.left():
        ident = _known(body.byte("element identifier"))
        definition = body.byte("element definition")
        elements.append(_series_element(ident, definition, body) if ident in SERIES
                        else Element(ident, definition, (_value(ident, definition, body),)))
    return tuple(elements)


def _size(ident: int, definition: int) -> int:
    if not definition >> 3:
        raise FrameError(f"element {ident:02X}H: definition {definition:02X}H gives 0 bytes")
    return definition >> 3


def _value(ident: int, definition: int, body: Reader) -> Decimal | None:
    raw = body.take(_size(ident, definition), f"element {ident:02X}H")
    if ident == STATUS_BITS:
        return Decimal(int.from_bytes(raw, "big"))
    if raw == b"\xaa" * len(raw):
        return None
    negative = len(raw) > 1 and raw[0] == 0xFF
    magnitude = Decimal(bcd_int(raw[1:] if negative else raw, f"element {ident:02X}H"))
    return (magnitude.copy_negate() if negative else magnitude).scaleb(-(definition & 7), EXACT)


def _series_element(ident: int, definition: int, body: Reader) -> Element:
    expected, width, decimals = SERIES[ident]
    if definition != expected:
        raise FrameError(f"element {ident:02X}H: definition {definition:02X}H, expected {expected:02X}H")
    raw = body.take(definition >> 3, f"element {ident:02X}H")
    values = (int.from_bytes(raw[i:i + width], "big") for i in range(0, len(raw), width))
    return Element(ident, definition, tuple(None if v == (1 << 8 * width) - 1 else Decimal(v).scaleb(-decimals)
                                            for v in values))


def _series(body: Reader) -> Element:
    ident = _known(body.byte("element identifier"))
    if ident in SERIES or ident == STATUS_BITS:
        raise FrameError(f"31H report: element {ident:02X}H cannot be a series")
    definition = body.byte("element definition")
    size = _size(ident, definition)
    if not body.left() or body.left() % size:
        raise FrameError(f"length: 31H values of {size} bytes do not fill the {body.left()} bytes left")
    return Element(ident, definition, tuple(_value(ident, definition, body) for _ in range(body.left() // size)))


# ---------------------------------------------------------------- encoding


def encode(frame: Frame) -> bytes:
    """The frame's bytes (ASCII mode if ``frame.ascii``); a field that does not fit raises
    ValueError (a caller's bug)."""
    if frame.ascii:
        return sl651_ascii.encode(frame)
    body = _body(frame.function, frame.message)
    if len(body) > 0xFFF:
        raise ValueError(f"body of {len(body)} bytes exceeds the 12-bit length")
    if len(frame.station) != 10 or not frame.station.isdigit():
        raise ValueError(f"station address: 10 digits (got {frame.station!r})")
    station, centre = bytes.fromhex(frame.station), bytes([frame.centre])
    head = START + (centre + station if frame.uplink else station + centre) + frame.password.to_bytes(2, "big")
    word = (0 if frame.uplink else 0x8000) | len(body)
    text = SYN if isinstance(frame.message, Fragment) else STX
    out = head + bytes([frame.function]) + word.to_bytes(2, "big") + bytes([text]) + body + bytes([frame.end])
    return out + crc16(out).to_bytes(2, "big")


def _body(function: Function, message: Message) -> bytes:
    if isinstance(message, Fragment):
        return ((message.total << 12) | message.number).to_bytes(3, "big") + message.body
    out = message.serial.to_bytes(2, "big") + time_bcd(message.sent_at, 6)
    if isinstance(message, ClockAnswer):
        return out + b"\xf1\xf1" + to_bcd(int(message.station), 5, "station")
    if isinstance(message, Report):
        return out + _report_body(function, message)
    return out


def _report_body(function: Function, report: Report) -> bytes:
    out = b"\xf1\xf1" + to_bcd(int(report.station), 5, "station") + bytes([report.category])
    out += b"\xf0\xf0" + time_bcd(report.observed_at, 5)
    if function == Function.EVENLY_TIMED:
        assert report.step is not None, "a 31H report needs its time step"
        minutes = int(report.step.total_seconds()) // 60
        out += b"\x04\x18" + to_bcd(minutes // 1440, 1) + to_bcd(minutes // 60 % 24, 1) + to_bcd(minutes % 60, 1)
    return out + b"".join(_element_bytes(e) for e in report.elements)


def _element_bytes(element: Element) -> bytes:
    out = bytes([element.ident, element.definition])
    if element.ident in SERIES:
        _, width, decimals = SERIES[element.ident]
        return out + b"".join(((1 << 8 * width) - 1 if v is None else int(v.scaleb(decimals))).to_bytes(width, "big")
                              for v in element.values)
    return out + b"".join(_value_bytes(element, v) for v in element.values)


def _value_bytes(element: Element, value: Decimal | None) -> bytes:
    size = element.definition >> 3
    if element.ident == STATUS_BITS:
        return int(value or 0).to_bytes(size, "big")
    if value is None:
        return b"\xaa" * size
    scaled = value.scaleb(element.definition & 7, EXACT)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"element {element.ident:02X}H: {value} has more than {element.definition & 7} decimals")
    if value.is_signed():
        return b"\xff" + to_bcd(int(-scaled), size - 1, f"element {element.ident:02X}H")
    return to_bcd(int(scaled), size, f"element {element.ident:02X}H")


# ---------------------------------------------------------------- what a centre sends


def reply(report: Frame, end: End = End.EOT) -> Frame:
    """The centre's answer to an uplink frame: ACK/EOT (done, hang up) or ESC (stay online)."""
    message = report.message
    serial, sent_at = (0, datetime.now(CHINA)) if isinstance(message, Fragment) else (message.serial, message.sent_at)
    return Frame(report.function, False, report.centre, report.station, report.password, end,
                 Downlink(serial, sent_at), report.ascii)


def query_realtime(centre: int, station: str, password: int, serial: int, sent_at: datetime) -> Frame:
    return Frame(Function.QUERY_REALTIME, False, centre, station, password, End.ENQ, Downlink(serial, sent_at))


def set_clock(centre: int, station: str, password: int, serial: int, now: datetime) -> Frame:
    """The RTU takes ``now`` (the frame's send time) as its clock."""
    return Frame(Function.SET_CLOCK, False, centre, station, password, End.ENQ, Downlink(serial, now))
