"""SZY 206-2016 (水资源监测数据传输规约): water-resource RTU <-> regulator's platform.

Frame::

    offset  bytes  field
    0       1      68H
    1       1      L: bytes from C to the end of the user data (DIVS, A, AFN, data, AUX included)
    2       1      68H
    3       1      C: D7 direction (1 up) | D6 split | D5-D4 frame count | D3-D0 data type
    [4      1      DIVS: countdown of a split frame, only when D6 is set]
    +0      5      A: administrative division (3 BCD, province first) | station (2, low byte first)
    +5      1      AFN
    +6      n      data [+ AUX]
    3+L     1      CS: CRC-8, polynomial 0xE5, initial 0, no reflection, over C .. end of user data
    4+L     1      16H

Self-report (AFN C0H up; also the answer to a B0H query)::

    payload by C's data type | alarm state (2) | terminal state (2) | time label (5)

    3  flow/volume: per point, flow (5 BCD, low byte first, 3 decimals, sign in the top bit)
                    then cumulative volume (5 BCD, low byte first, m³)
    10 water quality: parameter bitmap (5, low byte first, bit i = parameter i), then per set bit
                    a value of 4 BCD bytes, low byte first, with that parameter's decimals
    15 water pressure: per point 4 BCD bytes, low byte first, 2 decimals, kPa
    time label: second, minute, hour, day (BCD) | allowed delay (1 byte, minutes)

Checked against SL/T 427-2021 (the successor of SZY 206-2016 with the same frame; its text is in
ThingsPanel/go-sl427 ``docs/SL_T 427-2021 水资源监测数据传输规约.txt``) and one public SZY 206
platform codec (hm1212/szy206-protocol); the README lists each item and its source. Still
assumptions (no source found):

- The division code's three BCD bytes read in order (330102 → 33 01 02); the station address
  A2 is binary, low byte first (the standard's general rule: low byte first).
- The centre's reply to 02H (link check) echoes the link code (or is 00H, as hm1212 sends).
  Replies are downlink frames with the uplink's frame count and data type, not split. The C0H
  confirmation is the work mode byte (00H-03H) and, optionally, a time label (both decode).
- Downlink B0H (query real-time values) has an AUX of the 5-byte time label, or nothing;
  downlink 11H (set clock) has the clock (second, minute, hour, day, month, year; 6 BCD) then an
  AUX of the password (2 bytes, binary, low byte first) and the time label. The RTU answers 11H
  with the 6-byte clock it set.
- Water-quality parameters 0-10 and their decimals (the 4-byte BCD values and 5-byte bitmap are
  confirmed); a frame with any other bit set is refused rather than misread. Other data types
  (rainfall, water level, …) are refused as unsupported.
- Flow/volume, as SL/T 427-2021 表35-36 allows: five AAH bytes mark a value the meter does not
  have (decoded as ``None``; hm1212 also treats AAAA… as no value). The flow's top byte: SZY 206
  puts the sign in D7 (high nibble 0 or 8); SL/T 427-2021 puts a two-bit sign (00B +, 11B -) and
  a two-bit unit (00B m³/s, 11B m³/h) there, above the hundred-thousands digit. Nibbles 0, 8
  (unflagged, ``unit`` None: the station's configured unit), 3, F (m³/h) and C (m³/s, negative)
  decode; any other high nibble is refused, so an SZY 206 flow of 1 000 000 or more (a digit in
  D6-D4) is no longer accepted.
- B0H from the centre may carry no time label (hm1212 sends none); the centre may answer a 02H
  link check with 00H (hm1212) instead of the echo: both decode, ``reply`` echoes unless asked.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum

from watertel.protocols.common import CHINA, FrameError, Reader, bcd_digits, bcd_int, jsonable, to_bcd
from watertel.protocols.crc import crc8_szy206

START, STOP = 0x68, 0x16
MIN_FRAME = 12  # 68 L 68 C A(5) AFN CS 16


class Afn(IntEnum):
    LINK_CHECK = 0x02
    SET_CLOCK = 0x11
    QUERY_REALTIME = 0xB0
    SELF_REPORT = 0xC0


class DataType(IntEnum):
    FLOW_VOLUME = 3
    WATER_QUALITY = 10
    WATER_PRESSURE = 15


class LinkCode(IntEnum):
    LOGIN = 0xF0
    LOGOUT = 0xF1
    KEEPALIVE = 0xF2


# bitmap position: (name, unit, decimals)
WATER_QUALITY = {
    0: ("water_temperature", "°C", 1), 1: ("ph", "", 2), 2: ("dissolved_oxygen", "mg/L", 1),
    3: ("permanganate_index", "mg/L", 1), 4: ("conductivity", "µS/cm", 0), 5: ("redox_potential", "mV", 1),
    6: ("turbidity", "NTU", 0), 7: ("cod", "mg/L", 1), 8: ("bod5", "mg/L", 1),
    9: ("ammonia_nitrogen", "mg/L", 2), 10: ("total_nitrogen", "mg/L", 2),
}


@dataclass(frozen=True)
class TimeLabel:
    """When a frame was sent, to the second, and how many minutes late it may still be used.

    It carries no month or year: :meth:`resolve` places it in the latest month that has the day
    and does not put it more than a day after ``reference``."""

    second: int
    minute: int
    hour: int
    day: int
    delay: int = 0

    @classmethod
    def of(cls, when: datetime, delay: int = 0) -> TimeLabel:
        local = when.astimezone(CHINA)
        return cls(local.second, local.minute, local.hour, local.day, delay)

    def resolve(self, reference: datetime) -> datetime:
        year, month = reference.astimezone(CHINA).year, reference.astimezone(CHINA).month
        for _ in range(13):
            if self.day <= calendar.monthrange(year, month)[1]:
                when = datetime(year, month, self.day, self.hour, self.minute, self.second, tzinfo=CHINA)
                if when <= reference + timedelta(days=1):
                    return when
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        raise ValueError(f"no month has day {self.day}")  # unreachable: every year has a 31st


FLOW_UNITS = {0x0: (False, None), 0x8: (True, None), 0x3: (False, "m³/h"), 0xF: (True, "m³/h"),
              0xC: (True, "m³/s")}  # top nibble of the flow: (negative, unit flagged by SL/T 427-2021)
MISSING = b"\xaa" * 5  # SL/T 427-2021: a flow or volume the meter does not measure


@dataclass(frozen=True)
class FlowPoint:
    """One meter's flow and cumulative volume; ``None`` where it sent AAH (no such value).

    ``unit`` is the SL/T 427-2021 unit flag: ``"m³/h"`` (11B), ``"m³/s"`` (only a negative flow
    can say so: a positive m³/s flow has the same bytes as an unflagged one), or ``None`` when
    the frame does not say (SZY 206 sign bit only): the station's configured unit applies."""

    flow: Decimal | None
    volume: int | None  # m³
    unit: str | None = None


@dataclass(frozen=True)
class FlowVolume:
    points: tuple[FlowPoint, ...]


@dataclass(frozen=True)
class QualityValue:
    parameter: int  # bitmap position
    value: Decimal

    def json_extra(self) -> dict:
        name, unit, _ = WATER_QUALITY[self.parameter]
        return {"name": name, "unit": unit}


@dataclass(frozen=True)
class WaterQuality:
    values: tuple[QualityValue, ...]


@dataclass(frozen=True)
class Pressure:
    values: tuple[Decimal, ...]  # kPa


Payload = FlowVolume | WaterQuality | Pressure


@dataclass(frozen=True)
class RealtimeData:
    """C0H self-report, or the RTU's answer to B0H."""

    payload: Payload
    alarm: int  # alarm state bits
    status: int  # terminal state bits
    time: TimeLabel

    def json_extra(self) -> dict:
        return {"observed_at": jsonable(self.time.resolve(datetime.now(CHINA)))}


@dataclass(frozen=True)
class LinkCheck:
    code: LinkCode


@dataclass(frozen=True)
class Confirm:
    """The centre's acknowledgement of a C0H self-report.

    ``mode`` is the work mode the terminal is to keep (00H compatible, 01H self-report, 02H
    query/answer, 03H maintenance); ``time`` the optional time label (SL/T 427-2021 B.101 gives
    the confirmation the self-report's structure, Tp included; the public SZY 206 platform code
    sends none), which a terminal may set its clock from."""

    mode: int = 0
    time: TimeLabel | None = None


@dataclass(frozen=True)
class LinkConfirm:
    """A centre's answer 00H to a 02H link check (hm1212 sends this instead of the echo)."""


@dataclass(frozen=True)
class Query:
    time: TimeLabel | None = None  # hm1212 sends B0H with no time label


@dataclass(frozen=True)
class SetClock:
    clock: datetime
    password: int
    time: TimeLabel


@dataclass(frozen=True)
class ClockEcho:
    clock: datetime


@dataclass(frozen=True)
class Fragment:
    """One part of a split frame; the parts are joined before the data means anything."""

    countdown: int
    data: bytes


Message = RealtimeData | LinkCheck | LinkConfirm | Confirm | Query | SetClock | ClockEcho | Fragment


@dataclass(frozen=True)
class Frame:
    afn: Afn
    uplink: bool
    data_type: int  # C D3-D0
    fcb: int  # C D5-D4
    division: str  # 6 digits
    station: int
    message: Message

    def json_extra(self) -> dict:
        return {"protocol": "szy206", "afn_code": f"{self.afn:02X}H"}


def crc8(data: bytes) -> int:
    """CRC-8, polynomial x⁷+x⁶+x⁵+x²+1 (0xE5), initial 0, MSB first, no final XOR (table-driven)."""
    return crc8_szy206(data)


# ---------------------------------------------------------------- decoding


def decode(data: bytes) -> Frame:
    """One complete frame, or :class:`FrameError` naming the first thing wrong with it."""
    if len(data) < MIN_FRAME:
        raise FrameError(f"truncated: {len(data)} bytes, a frame has at least {MIN_FRAME}")
    if data[0] != START or data[2] != START:
        raise FrameError(f"start bytes: expected 68 L 68, got {data[:3].hex(' ').upper()}")
    expected = data[1] + 5
    if len(data) < expected:
        raise FrameError(f"truncated: L says {expected} bytes, got {len(data)}")
    if len(data) > expected:
        raise FrameError(f"length: L says {expected} bytes, got {len(data)}")
    if data[-1] != STOP:
        raise FrameError(f"end byte: expected 16, got {data[-1]:02X}")
    if crc8(data[3:-2]) != data[-2]:
        raise FrameError(f"checksum: CS {data[-2]:02X}, computed {crc8(data[3:-2]):02X}")
    return _frame(Reader(data, 3, len(data) - 2))


def _frame(user: Reader) -> Frame:
    c = user.byte("control")
    uplink, split, fcb, data_type = bool(c & 0x80), bool(c & 0x40), (c >> 4) & 3, c & 0x0F
    countdown = user.byte("split countdown") if split else None
    if countdown == 0:
        raise FrameError("split frame: DIVS 0 (the countdown runs 255 to 1, 1 in the last part)")
    division = bcd_digits(user.take(3, "division code"), "division code")
    station = int.from_bytes(user.take(2, "station address"), "little")
    try:
        afn = Afn(user.byte("AFN"))
    except ValueError:
        raise FrameError(f"unknown AFN {user.data[user.pos - 1]:02X}H") from None
    if countdown is not None:
        message: Message = Fragment(countdown, user.take(user.left(), "data"))
    else:
        message = _message(afn, uplink, data_type, user)
    if user.left():
        raise FrameError(f"length: {user.left()} unexpected bytes after the {afn.name} data")
    return Frame(afn, uplink, data_type, fcb, division, station, message)


def _message(afn: Afn, uplink: bool, data_type: int, user: Reader) -> Message:
    if afn == Afn.LINK_CHECK:
        code = user.byte("link code")
        if code == 0 and not uplink:
            return LinkConfirm()
        return LinkCheck(_link_code(code))
    if afn == Afn.SET_CLOCK:
        return ClockEcho(_clock(user)) if uplink else SetClock(_clock(user), _le(user, 2, "password"),
                                                                _time_label(user))
    if not uplink:
        if afn == Afn.QUERY_REALTIME:
            return Query(_time_label(user) if user.left() else None)
        return _confirm(user)
    payload = _payload(data_type, Reader(user.data, user.pos, user.end - 9))
    user.pos = user.end - 9
    return RealtimeData(payload, _le(user, 2, "alarm state"), _le(user, 2, "terminal state"), _time_label(user))


def _link_code(byte: int) -> LinkCode:
    try:
        return LinkCode(byte)
    except ValueError:
        raise FrameError(f"link check: unknown code {byte:02X}H (F0 login, F1 logout, F2 keep-alive)") from None


def _confirm(user: Reader) -> Confirm:
    mode = user.byte("confirmation")
    if mode > 3:
        raise FrameError(f"C0H confirmation: work mode {mode:02X}H (00H-03H)")
    if not user.left():
        return Confirm(mode)
    return Confirm(mode, _time_label(user))


def _le(user: Reader, n: int, what: str) -> int:
    return int.from_bytes(user.take(n, what), "little")


def _le_bcd(raw: bytes, what: str) -> int:
    return bcd_int(raw[::-1], what)


def _time_label(user: Reader) -> TimeLabel:
    s, m, h, d = (bcd_int(bytes([b]), "time label") for b in user.take(4, "time label"))
    if s > 59 or m > 59 or h > 23 or not 1 <= d <= 31:
        raise FrameError(f"time label: day {d} {h:02d}:{m:02d}:{s:02d} is not a time")
    return TimeLabel(s, m, h, d, user.byte("allowed delay"))


def _clock(user: Reader) -> datetime:
    s, mi, h, d, mo, y = (bcd_int(bytes([b]), "clock") for b in user.take(6, "clock"))
    try:
        return datetime(2000 + y, mo, d, h, mi, s, tzinfo=CHINA)
    except ValueError as err:
        raise FrameError(f"clock: not a date/time ({err})") from None


def _payload(data_type: int, data: Reader) -> Payload:
    if data.end < data.pos:
        raise FrameError(f"truncated: a self-report needs at least 9 bytes after AFN, has {data.end - data.pos + 9}")
    if data_type == DataType.FLOW_VOLUME:
        return FlowVolume(tuple(_flow_point(data) for _ in range(_points(data, 10, "flow/volume"))))
    if data_type == DataType.WATER_PRESSURE:
        return Pressure(tuple(Decimal(_le_bcd(data.take(4, "pressure"), "pressure")).scaleb(-2)
                              for _ in range(_points(data, 4, "pressure"))))
    if data_type == DataType.WATER_QUALITY:
        return _water_quality(data)
    raise FrameError(f"unsupported data type {data_type} in a self-report (3 flow, 10 quality, 15 pressure)")


def _points(data: Reader, size: int, what: str) -> int:
    if not data.left() or data.left() % size:
        raise FrameError(f"length: {data.left()} bytes of {what} data is not a whole number of {size}-byte points")
    return data.left() // size


def _flow_point(data: Reader) -> FlowPoint:
    raw, volume = data.take(5, "flow"), data.take(5, "volume")
    cubic = None if volume == MISSING else _le_bcd(volume, "volume")
    if raw == MISSING:
        return FlowPoint(None, cubic)
    top = raw[4] >> 4
    if top not in FLOW_UNITS:
        raise FrameError(f"flow: top nibble {top:X}H is neither a sign bit (0, 8) nor an SL/T 427-2021 "
                         f"sign and unit (0, 3, C, F): {raw.hex().upper()}")
    negative, unit = FLOW_UNITS[top]
    magnitude = Decimal(_le_bcd(raw[:4] + bytes([raw[4] & 0x0F]), "flow")).scaleb(-3)
    # copy_negate, not unary minus: a flagged negative zero stays -0.000, so it encodes back to its bytes
    return FlowPoint(magnitude.copy_negate() if negative else magnitude, cubic, unit)


def _water_quality(data: Reader) -> WaterQuality:
    bitmap = _le(data, 5, "water quality bitmap")
    unknown = [bit for bit in range(40) if bitmap >> bit & 1 and bit not in WATER_QUALITY]
    if unknown:
        raise FrameError(f"unknown water quality parameter bit {unknown[0]}")
    values = tuple(QualityValue(bit, Decimal(_le_bcd(data.take(4, WATER_QUALITY[bit][0]), WATER_QUALITY[bit][0]))
                                .scaleb(-WATER_QUALITY[bit][2]))
                   for bit in sorted(WATER_QUALITY) if bitmap >> bit & 1)
    if data.left():
        raise FrameError(f"length: {data.left()} bytes after the water quality values")
    return WaterQuality(values)


# ---------------------------------------------------------------- encoding


def encode(frame: Frame) -> bytes:
    """The frame's bytes; a field that does not fit raises ValueError (a caller's bug)."""
    split = isinstance(frame.message, Fragment)
    if not (0 <= frame.fcb <= 3 and 0 <= frame.data_type <= 15):
        raise ValueError(f"control: frame count 0-3 and data type 0-15 (got {frame.fcb}, {frame.data_type})")
    c = (0x80 if frame.uplink else 0) | (0x40 if split else 0) | frame.fcb << 4 | frame.data_type
    if len(frame.division) != 6 or not frame.division.isdigit():
        raise ValueError(f"division code: 6 digits (got {frame.division!r})")
    user = bytes([c]) + (bytes([frame.message.countdown]) if split else b"")
    user += bytes.fromhex(frame.division) + frame.station.to_bytes(2, "little") + bytes([frame.afn])
    user += _message_bytes(frame.message, frame.data_type)
    if len(user) > 0xFF:
        raise ValueError(f"user data of {len(user)} bytes exceeds L")
    return bytes([START, len(user), START]) + user + bytes([crc8(user), STOP])


def _message_bytes(message: Message, data_type: int) -> bytes:
    if isinstance(message, Fragment):
        return message.data
    if isinstance(message, LinkCheck):
        return bytes([message.code])
    if isinstance(message, LinkConfirm):
        return b"\x00"
    if isinstance(message, Confirm):
        return bytes([message.mode]) + (_label_bytes(message.time) if message.time else b"")
    if isinstance(message, Query):
        return _label_bytes(message.time) if message.time else b""
    if isinstance(message, SetClock):
        return _clock_bytes(message.clock) + message.password.to_bytes(2, "little") + _label_bytes(message.time)
    if isinstance(message, ClockEcho):
        return _clock_bytes(message.clock)
    return (_payload_bytes(message.payload) + message.alarm.to_bytes(2, "little")
            + message.status.to_bytes(2, "little") + _label_bytes(message.time))


def _le_to_bcd(value: int, n: int, what: str) -> bytes:
    return to_bcd(value, n, what)[::-1]


def _label_bytes(label: TimeLabel) -> bytes:
    return b"".join(to_bcd(v, 1) for v in (label.second, label.minute, label.hour, label.day)) + bytes([label.delay])


def _clock_bytes(clock: datetime) -> bytes:
    local = clock.astimezone(CHINA)
    return b"".join(to_bcd(v, 1) for v in (local.second, local.minute, local.hour, local.day, local.month,
                                            local.year - 2000))


def _payload_bytes(payload: Payload) -> bytes:
    if isinstance(payload, FlowVolume):
        return b"".join(_flow_bytes(p) + (MISSING if p.volume is None else _le_to_bcd(p.volume, 5, "volume"))
                        for p in payload.points)
    if isinstance(payload, Pressure):
        return b"".join(_le_to_bcd(_scaled(v, 2, "pressure"), 4, "pressure") for v in payload.values)
    bitmap = sum(1 << v.parameter for v in payload.values)
    return bitmap.to_bytes(5, "little") + b"".join(
        _le_to_bcd(_scaled(v.value, WATER_QUALITY[v.parameter][2], WATER_QUALITY[v.parameter][0]), 4, "quality")
        for v in sorted(payload.values, key=lambda v: v.parameter))


def _scaled(value: Decimal, decimals: int, what: str) -> int:
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what}: {value} has more than {decimals} decimals")
    return int(scaled)


def _flow_bytes(point: FlowPoint) -> bytes:
    if point.flow is None:
        return MISSING
    raw = bytearray(to_bcd(abs(_scaled(point.flow, 3, "flow")), 5, "flow"))
    if raw[0] > 0x09:
        raise ValueError(f"flow: {point.flow} does not fit 9 BCD digits below the sign and unit bits")
    flags = {v: k for k, v in FLOW_UNITS.items()}
    key = (point.flow.is_signed(), point.unit)
    if point.unit == "m³/s" and not point.flow.is_signed():
        key = (False, None)  # SL/T 427-2021 00B 00B: the same bytes as an unflagged positive flow
    if key not in flags:
        raise ValueError(f"flow: unit {point.unit!r} (None, 'm³/s' or 'm³/h')")
    raw[0] |= flags[key] << 4
    return bytes(raw[::-1])


# ---------------------------------------------------------------- what a centre sends


def reply(frame: Frame, link_confirm: bool = False) -> Frame:
    """The acknowledgement an uplink 02H or C0H frame needs from the centre: a 02H link check is
    echoed, or answered 00H with ``link_confirm`` (as hm1212's platform does)."""
    if not frame.uplink or frame.afn not in (Afn.LINK_CHECK, Afn.SELF_REPORT) or isinstance(frame.message, Fragment):
        raise ValueError(f"no reply is defined for a {'up' if frame.uplink else 'down'}link {frame.afn.name} frame")
    message: Message = Confirm()
    if isinstance(frame.message, LinkCheck):
        message = LinkConfirm() if link_confirm else frame.message
    return Frame(frame.afn, False, frame.data_type, frame.fcb, frame.division, frame.station, message)


def query_realtime(division: str, station: int, data_type: DataType, now: datetime | None, delay: int = 0) -> Frame:
    """B0H; ``now`` None sends it without a time label, as hm1212 does."""
    label = TimeLabel.of(now, delay) if now is not None else None
    return Frame(Afn.QUERY_REALTIME, False, data_type, 3, division, station, Query(label))


def set_clock(division: str, station: int, now: datetime, password: int = 0, delay: int = 0) -> Frame:
    return Frame(Afn.SET_CLOCK, False, 0, 3, division, station, SetClock(now, password, TimeLabel.of(now, delay)))
