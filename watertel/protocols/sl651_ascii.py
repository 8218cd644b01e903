"""SL 651-2014 in ASCII mode: the same messages as HEX/BCD mode, written as characters.

Frame (uplink; a downlink frame carries the station address first, then the centre's)::

    offset  chars  field
    0       1      SOH 01H                      start of an ASCII frame (HEX mode: 7E 7E)
    1       2      centre address, 2 hex digits downlink: station address (10)
    3       10     station address, 10 digits   downlink: centre address (2)
    13      4      password, 4 hex digits
    17      2      function code, 2 hex digits
    19      4      direction (0 up, 8 down) + body length in characters, 4 hex digits
    23      1      STX 02H
    24      n      body (printable ASCII)
    24+n    1      end: ETX 03H up; ENQ, ACK, NAK, EOT, ESC down (as in HEX mode)
    25+n    4      CRC-16/MODBUS of chars 0 .. 24+n, 4 upper-case hex digits

Body: serial (4 hex digits) and send time (YYMMDDhhmmss, 12 digits), nothing more for a
keep-alive (2FH) or a centre's frame; a report (30H, 32H-34H, the answer to 37H) goes on with
space-separated fields, each preceded by one space, and ends with one space::

    0001 231201100000 ST 0012345678 H TT 2312011000 PJ 12.5 Z -1.234 VT 12.60 _

``ST`` station (10 digits) and category (its letter: the category codes are the letters' codes,
48H ``H`` river …), ``TT`` observation time (YYMMDDhhmm), then identifier and value per element,
the value in decimal text (``-`` for negative, as many decimals as it has). The element is
returned as in HEX mode (:class:`~watertel.protocols.sl651.Element`) with the definition byte a
HEX frame would need for that text, so a report can be forwarded in either mode.

Sources: SOH 01H as the ASCII start and the shared control characters (every SL 651 source);
``ST`` and ``ZT`` identifiers (yu-xiaoyao/sl651-2014-server ``EleIdentifierEnum``); the header
as hex characters at these offsets, ``ST``/``TT`` groups, space-separated identifier/value pairs
with a trailing space and the CRC as 4 hex characters over the ASCII bytes
(wainshine/SL651 ``sl651/decoder.py`` ``_decode_new_ascii``, ``encoder.py`` ``build_ascii_body``).
Not confirmed by any source we could read (see the README): the other identifiers (the
standard's element table as commonly cited), the category as a letter (wainshine writes two
hex digits), the space right after the send time, upper-case hex only, the value text rules
(no leading zeros, no exponent). Not supported in ASCII (refused, or ValueError on encoding):
31H evenly timed reports, hourly series (F4H-FCH), 45H status, invalid (AAH) values, 4AH
answers, multi-packet (SYN) frames.
"""

from __future__ import annotations

import re
from decimal import Decimal

from watertel.protocols.common import FrameError, bcd_time, time_bcd
from watertel.protocols.sl651_frame import (
    Category, Downlink, Element, End, Frame, Function, LinkCheck, Report, crc16, end_code,
)

SOH, STX, SYN = 0x01, 0x02, 0x16
HEADER = 24  # SOH .. STX
MIN_FRAME = HEADER + 16 + 1 + 4  # serial and send time, end, CRC
REPORTS = {Function.TEST, Function.TIMED, Function.ADDED, Function.HOURLY, Function.QUERY_REALTIME}
IDENTIFIERS: dict[int, str] = {
    0x03: "C", 0x1A: "P1", 0x1F: "PD", 0x20: "PJ", 0x26: "PT", 0x27: "Q", 0x38: "VT", 0x39: "Z",
    0x3A: "ZB", 0x3B: "ZU", 0x46: "PH", 0x47: "DO", 0x48: "COND", 0x49: "TURB", 0x4A: "CODMN",
    0x4B: "REDOX", 0x4C: "NH4N", 0x4D: "TP", 0x4E: "TN", **{0x58 + i: f"WP{i + 1}" for i in range(8)},
}
BY_NAME = {name: ident for ident, name in IDENTIFIERS.items()}
HEX = re.compile(rb"[0-9A-F]+")
VALUE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def is_ascii_frame(data: bytes) -> bool:
    return data[:1] == bytes([SOH])


# ---------------------------------------------------------------- decoding


def decode(data: bytes) -> Frame:
    """One complete ASCII frame, or :class:`FrameError` naming the first thing wrong with it."""
    if len(data) < MIN_FRAME:
        raise FrameError(f"truncated: {len(data)} bytes, an ASCII frame has at least {MIN_FRAME}")
    if data[0] != SOH:
        raise FrameError(f"start byte: expected SOH 01, got {data[0]:02X}")
    word = _hex(data[19:23], "length field")
    direction, length = word >> 12, word & 0xFFF
    expected = HEADER + length + 5
    if len(data) < expected:
        raise FrameError(f"truncated: the length field says {expected} bytes, got {len(data)}")
    if len(data) > expected:
        raise FrameError(f"length: the length field says {expected} bytes, got {len(data)}")
    sent, computed = _hex(data[-4:], "CRC"), crc16(data[:-4])
    if sent != computed:
        raise FrameError(f"checksum: CRC {sent:04X}, computed {computed:04X}")
    if direction not in (0x0, 0x8):
        raise FrameError(f"direction: {direction:X} (0 up, 8 down)")
    uplink = direction == 0
    station_at, centre_at = (3, 1) if uplink else (1, 11)
    station = _digits(data[station_at:station_at + 10], "station address")
    centre = _hex(data[centre_at:centre_at + 2], "centre address")
    password = _hex(data[13:17], "password")
    code = _hex(data[17:19], "function code")
    try:
        function = Function(code)
    except ValueError:
        raise FrameError(f"unknown function {code:02X}H") from None
    if data[23] == SYN:
        raise FrameError("ASCII multi-packet (SYN) frames are not supported")
    end = end_code(data[-5], uplink, data[23])
    body = data[HEADER:HEADER + length]
    if any(not 0x20 <= b <= 0x7E for b in body):
        raise FrameError("body: an ASCII body has printable characters only")
    message = _message(function, uplink, body.decode("ascii"))
    return Frame(function, uplink, centre, station, password, End(end), message, ascii=True)


def _hex(raw: bytes, what: str) -> int:
    if not HEX.fullmatch(raw):
        raise FrameError(f"{what}: {raw!r} is not upper-case hex digits")
    return int(raw, 16)


def _digits(raw: bytes | str, what: str) -> str:
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    if not (text.isascii() and text.isdigit()):
        raise FrameError(f"{what}: {text!r} is not decimal digits")
    return text


def _message(function: Function, uplink: bool, body: str) -> Downlink | LinkCheck | Report:
    if len(body) < 16:
        raise FrameError(f"truncated: serial and send time need 16 characters, the body has {len(body)}")
    serial = _hex(body[:4].encode(), "serial number")
    sent_at = bcd_time(bytes.fromhex(_digits(body[4:16], "send time")), "send time")
    rest = body[16:]
    if not uplink or function == Function.LINK_KEEPALIVE:
        if rest:
            raise FrameError(f"length: {len(rest)} unexpected characters after the send time")
        return Downlink(serial, sent_at) if not uplink else LinkCheck(serial, sent_at)
    if function not in REPORTS:
        raise FrameError(f"function {function:02X}H is not supported in ASCII mode (layout unverified)")
    if not (rest.startswith(" ") and rest.endswith(" ")):
        raise FrameError("report: fields are preceded by one space and the body ends with one space")
    fields = rest[1:-1].split(" ")
    if "" in fields:
        raise FrameError("report: fields are separated by exactly one space")
    if len(fields) < 5 or fields[0] != "ST" or fields[3] != "TT":
        raise FrameError("report: expected ST station category TT observation-time")
    station = _digits(fields[1], "station address")
    if len(station) != 10:
        raise FrameError(f"station address: 10 digits (got {len(station)})")
    category = _category(fields[2])
    obs = _digits(fields[4], "observation time")
    if len(obs) != 10:
        raise FrameError(f"observation time: YYMMDDhhmm, 10 digits (got {len(obs)})")
    observed_at = bcd_time(bytes.fromhex(obs), "observation time")
    pairs = fields[5:]
    if len(pairs) % 2:
        raise FrameError(f"element {pairs[-1]!r}: identifier without a value")
    elements = tuple(_element(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))
    return Report(serial, sent_at, station, category, observed_at, elements)


def _category(text: str) -> Category:
    if len(text) != 1:
        raise FrameError(f"station category: one letter (got {text!r})")
    try:
        return Category(ord(text))
    except ValueError:
        raise FrameError(f"unknown station category {text!r}") from None


def _element(name: str, text: str) -> Element:
    if name not in BY_NAME:
        raise FrameError(f"unknown element {name!r} (ASCII identifiers: {', '.join(sorted(BY_NAME))})")
    if not VALUE.fullmatch(text):
        raise FrameError(f"element {name}: {text!r} is not a decimal value")
    value = Decimal(text)
    return Element(BY_NAME[name], definition(value, name), (value,))


def definition(value: Decimal, what: str = "value") -> int:
    """The HEX-mode definition byte (bytes << 3 | decimals) that carries ``value`` exactly."""
    sign, digits, exponent = value.as_tuple()
    decimals = max(0, -int(exponent))
    if decimals > 7:
        raise FrameError(f"element {what}: {value} has more than 7 decimals")
    size = (len(digits) + 1) // 2 + (1 if sign else 0)
    if size > 31:
        raise FrameError(f"element {what}: {value} has too many digits")
    return size << 3 | decimals


# ---------------------------------------------------------------- encoding


def encode(frame: Frame) -> bytes:
    """The frame's ASCII bytes; a message ASCII mode cannot carry raises ValueError."""
    body = _body(frame)
    if len(body) > 0xFFF:
        raise ValueError(f"body of {len(body)} characters exceeds the 12-bit length")
    if len(frame.station) != 10 or not frame.station.isdigit():
        raise ValueError(f"station address: 10 digits (got {frame.station!r})")
    if frame.end == End.ETB:
        raise ValueError("ASCII multi-packet (ETB) frames are not supported")
    centre = f"{frame.centre:02X}"
    head = frame.station + centre if not frame.uplink else centre + frame.station
    word = (0 if frame.uplink else 0x8000) | len(body)
    out = (bytes([SOH]) + f"{head}{frame.password:04X}{frame.function:02X}{word:04X}".encode() + bytes([STX])
           + body.encode() + bytes([frame.end]))
    return out + f"{crc16(out):04X}".encode()


def _body(frame: Frame) -> str:
    message = frame.message
    if not isinstance(message, (Downlink, LinkCheck, Report)):
        raise ValueError(f"{type(message).__name__} is not supported in ASCII mode")
    out = f"{message.serial:04X}{time_bcd(message.sent_at, 6).hex()}"
    if not isinstance(message, Report):
        return out
    if frame.function not in REPORTS:
        raise ValueError(f"function {frame.function:02X}H reports are not supported in ASCII mode")
    fields = ["ST", message.station, chr(message.category), "TT", time_bcd(message.observed_at, 5).hex()]
    for element in message.elements:
        if element.ident not in IDENTIFIERS or len(element.values) != 1:
            raise ValueError(f"element {element.ident:02X}H has no ASCII form here")
        if element.value is None:
            raise ValueError(f"element {element.ident:02X}H: ASCII mode has no invalid (AAH) value")
        fields += [IDENTIFIERS[element.ident], format(element.value, "f")]
    return out + " " + " ".join(fields) + " "
